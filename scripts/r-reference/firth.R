# Reference values for cartreg's Firth-penalised Cox model (cartreg.stats.cox_firth.coxphf and
# `cartreg survival --firth`), from R coxphf 1.13 (not in Debian: see README.md for the install).
#
#   R_LIBS_USER=/work/rlib Rscript scripts/r-reference/firth.R      (from the repository root)
#
# Each case writes tests/fixtures/r/data/firth_<name>.csv (complete cases only: coxphf takes
# n = nrow(data), so rows with NA would break it) and tests/fixtures/r/firth_<name>.json with the
# CLI arguments and coxphf(..., pl = TRUE) defaults: coef, Wald se, profile penalised-likelihood
# CI, P (R's 1 - pchisq, and the same statistic's upper tail computed without cancellation),
# penalised log-likelihoods and iterations.

suppressMessages({library(survival); library(coxphf)})
invisible(Sys.setlocale("LC_COLLATE", "C"))
out_dir <- file.path("tests", "fixtures", "r")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)
source(file.path("scripts", "r-reference", "json.R"))
source(file.path("scripts", "r-reference", "design.R"))

firth_case <- function(name, df, covariates, refs = list(), note = "") {
  df <- df[complete.cases(df[, c("time", "event", covariates)]), c("time", "event", covariates)]
  wr <- write_read(paste0("firth_", name), df)
  ds <- design(wr$d, covariates, refs)
  d <- ds$d
  fml <- as.formula(paste("Surv(time, event) ~", paste(ds$rhs, collapse = " + ")))
  fit <- coxphf(fml, data = d)
  # the penalised LR statistic, recovered without the cancellation of 1 - pchisq where possible
  chi <- qchisq(fit$prob, 1, lower.tail = FALSE)
  ml <- suppressWarnings(coxph(fml, data = d, ties = "breslow"))
  res <- list(dataset = jstr(name), csv = jstr(wr$path), note = jstr(note),
              r_version = jstr(R.version.string),
              coxphf_version = jstr(as.character(packageVersion("coxphf"))),
              cli = jsarr(c("--time", "time", "--event", "event", "--covariates",
                            paste(covariates, collapse = ","),
                            unlist(lapply(names(refs), function(v)
                              c("--reference-level", paste0(v, "=", refs[[v]])))),
                            "--firth")),
              names = jsarr(ds$terms), n = jnum(fit$n), events = jnum(sum(d$event)),
              coef = jarr(fit$coefficients), se = jarr(sqrt(diag(fit$var))),
              hr = jarr(exp(fit$coefficients)), ci_lower = jarr(fit$ci.lower),
              ci_upper = jarr(fit$ci.upper), p = jarr(fit$prob), chi2_from_p = jarr(chi),
              loglik = jarr(fit$loglik), iter = jnum(fit$iter),
              iter_ci = jmat(fit$iter.ci), var = jmat(fit$var),
              ml_coef = jarr(coef(ml)))
  writeLines(jobj(res), file.path(out_dir, paste0("firth_", name, ".json")))
  cat(sprintf("%-22s n=%d iter=%d\n", name, fit$n, fit$iter))
}

data(breast, package = "coxphf")
br <- data.frame(time = breast$TIME, event = breast$CENS, T = breast$T, N = breast$N,
                 G = breast$G, CD = breast$CD)
firth_case("breast", br, c("T", "N", "G", "CD"), note = "coxphf's own example (breast)")

lung2 <- data.frame(time = lung$time, event = as.integer(lung$status == 2), age = lung$age,
                    sex = ifelse(lung$sex == 1, "male", "female"), ph.ecog = lung$ph.ecog)
firth_case("lung_ecog", lung2, c("age", "sex", "ph.ecog"), refs = list(ph.ecog = "0"),
           note = "ph.ecog=3 has one patient: a sparse level")

# a sparse class: 3 patients, all with early events (monotone likelihood in coxph)
vet <- data.frame(time = veteran$time, event = veteran$status, karno = veteran$karno,
                  celltype = as.character(veteran$celltype))
sparse <- order(vet$time)[c(2, 4, 7)]
vet$class <- ifelse(seq_len(nrow(vet)) %in% sparse, "rare", ifelse(vet$celltype == "large", "B", "A"))
vet$event[sparse] <- 1
firth_case("veteran_sparse", vet, c("class", "karno"), note = "class rare: 3 patients, 3 early events")

# monotone likelihood: x = 1 fails first at every event time
mono <- data.frame(time = c(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), event = c(1, 1, 1, 0, 1, 1, 0, 1, 0, 1),
                   x = c(1, 1, 1, 1, 0, 0, 0, 0, 0, 0), z = c(0.5, -1.2, 0.3, 2.1, -0.7, 0.9, 1.4, -0.2, 0.0, 1.1))
firth_case("monotone", mono, c("x", "z"), note = "coxph diverges for x; coxphf is finite")
