# Reference values for cartreg's Cox proportional hazards fit (cartreg.stats.cox.coxph).
#
#   Rscript scripts/r-reference/cox.R            (from the repository root)
#
# For each case (public data shipped with R `survival`, plus small hand-made edge cases) it
#   1. writes the input columns as CSV to tests/fixtures/r/data/cox_<name>.csv
#      (missing = empty cell; the event column is 0/1),
#   2. reads that CSV back (so R and cartreg see the very same numbers),
#   3. fits coxph(Surv(time, event) ~ factor(group) + numerics [+ strata(s)], ties = ...)
#      and writes tests/fixtures/r/cox_<name>.json: coefficients, SE, HR, Wald CI, z, p,
#      var, means, loglik, LR / Wald / score tests, n, events, rows dropped, iterations and
#      R's warnings. Numbers are written with 17 significant digits.
# Term names are cartreg's: "COL=LEVEL" for a group level, the column name for a numeric.
# No packages beyond `survival` are needed (JSON is written by hand).

suppressMessages(library(survival))
invisible(Sys.setlocale("LC_COLLATE", "C"))   # factor levels sorted like Python's sorted()

out_dir <- file.path("tests", "fixtures", "r")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)

source(file.path("scripts", "r-reference", "json.R"))   # jnum, jarr, jstr, jsarr, jmat, jobj

# ---- one case ----------------------------------------------------------------------------
run_case <- function(name, df, group = NULL, reference = NULL, numeric = character(0),
                     strata = NULL, ties = "efron", infinite = character(0), note = "") {
  path <- file.path(data_dir, paste0("cox_", name, ".csv"))
  write.csv(df, path, row.names = FALSE, na = "")
  d <- read.csv(path, stringsAsFactors = FALSE)

  rhs <- character(0)
  terms <- character(0)
  if (!is.null(group)) {
    g <- factor(d[[group]])                       # numeric columns sort numerically, text in C order
    if (!is.null(reference)) g <- relevel(g, ref = reference)
    d$.g <- g
    rhs <- c(rhs, ".g")
    terms <- c(terms, paste0(group, "=", levels(g)[-1]))
  }
  rhs <- c(rhs, numeric)
  terms <- c(terms, numeric)
  if (!is.null(strata)) rhs <- c(rhs, sprintf("strata(%s)", strata))
  fml <- as.formula(paste("Surv(time, event) ~", paste(rhs, collapse = " + ")))

  warns <- character(0)
  fit <- withCallingHandlers(
    coxph(fml, data = d, ties = ties),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  s <- summary(fit, conf.int = 0.95)
  coef <- unname(coef(fit))
  se <- unname(sqrt(diag(fit$var)))
  se[is.na(coef)] <- NA
  z <- coef / se
  cf <- s$coefficients
  ci <- s$conf.int
  # summary() tables, matched by row (NA coefficients have NA rows in the table)
  hr <- unname(ci[, "exp(coef)"])
  lower <- unname(ci[, "lower .95"])
  upper <- unname(ci[, "upper .95"])
  zz <- unname(cf[, "z"])
  p <- unname(cf[, "Pr(>|z|)"])
  stopifnot(length(hr) == length(coef))

  res <- list(
    dataset = jstr(name),
    csv = jstr(file.path("data", paste0("cox_", name, ".csv"))),
    r_version = jstr(R.version.string),
    survival_version = jstr(as.character(packageVersion("survival"))),
    call = jstr(paste(deparse(fml), collapse = " ")),
    note = jstr(note),
    time = jstr("time"), event = jstr("event"),
    group = jstr(group), reference = jstr(if (is.null(group)) NULL else levels(d$.g)[1]),
    numeric = jsarr(numeric), strata = jstr(strata), ties = jstr(ties),
    n_rows = jnum(nrow(d)),
    names = jsarr(terms),
    coef = jarr(coef), se = jarr(se), hr = jarr(hr), ci_lower = jarr(lower),
    ci_upper = jarr(upper), z = jarr(zz), p = jarr(p),
    var = jmat(matrix(fit$var, length(coef))), means = jarr(fit$means),
    loglik_null = jnum(fit$loglik[1]), loglik = jnum(fit$loglik[2]),
    lr_chi2 = jnum(s$logtest[["test"]]), lr_df = jnum(s$logtest[["df"]]),
    lr_p = jnum(s$logtest[["pvalue"]]),
    # summary() rounds the Wald statistic to 2 decimals; fit$wald.test is the full value
    wald_chi2 = jnum(fit$wald.test),
    wald_p = jnum(pchisq(fit$wald.test, s$waldtest[["df"]], lower.tail = FALSE)),
    score_chi2 = jnum(s$sctest[["test"]]), score_p = jnum(s$sctest[["pvalue"]]),
    n = jnum(fit$n), events = jnum(fit$nevent),
    excluded = jnum(length(fit$na.action)),
    iterations = jnum(fit$iter),
    r_warnings = jsarr(warns),
    expected_infinite = jsarr(infinite)
  )
  writeLines(jobj(res), file.path(out_dir, paste0("cox_", name, ".json")))
  cat(sprintf("%-28s n=%d events=%d iter=%d %s\n", name, fit$n, fit$nevent, fit$iter,
              paste(warns, collapse = " | ")))
}

# ---- data --------------------------------------------------------------------------------
lung2 <- data.frame(time = lung$time, event = as.integer(lung$status == 2), inst = lung$inst,
                    sex = lung$sex, age = lung$age, ph.ecog = lung$ph.ecog,
                    ph.karno = lung$ph.karno, wt.loss = lung$wt.loss)
lung_m <- lung2
lung_m$time <- ceiling(lung2$time / 30.4375)      # months: heavy ties

vet <- data.frame(time = veteran$time, event = veteran$status, trt = veteran$trt,
                  celltype = as.character(veteran$celltype), karno = veteran$karno,
                  age = veteran$age, prior = veteran$prior)
ova <- data.frame(time = ovarian$futime, event = ovarian$fustat, age = ovarian$age,
                  rx = ovarian$rx, resid.ds = ovarian$resid.ds, ecog.ps = ovarian$ecog.ps)
pbc2 <- data.frame(time = pbc$time, event = as.integer(pbc$status == 2), age = pbc$age,
                   log_bili = log(pbc$bili), albumin = pbc$albumin, edema = pbc$edema,
                   stage = pbc$stage, trt = pbc$trt)

# a group with no events: censored patients followed beyond 600 days form their own level
noev <- lung2
noev$grp <- ifelse(noev$event == 0 & noev$time > 600, "late_censored",
                   ifelse(noev$sex == 1, "male", "female"))

# non-convergence: two groups without events in a 10-row toy (R runs out of iterations)
toy <- data.frame(time = 1:10, event = c(1, 1, 0, 1, 0, 1, 0, 0, 0, 0),
                  g = c("a", "a", "a", "a", "b", "b", "c", "c", "c", "c"))

# aliased columns: a constant and an exact multiple of age
alias <- lung2[, c("time", "event", "age", "sex")]
alias$one <- 1
alias$age2 <- 2 * alias$age

# times that differ by less than sqrt(.Machine$double.eps) are merged by aeqSurv (timefix)
tfix <- data.frame(time = c(5, 5 + 1e-10, 3, 3, 8, 8 - 1e-11, 2, 9, 6, 7, 4, 1),
                   event = c(1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1),
                   x = c(0.5, 1.2, -0.3, 2.0, 0.1, -1.1, 0.7, 0.0, 1.5, -0.4, 0.9, 0.3),
                   s = c(1, 1, 2, 2, 1, 1, 2, 1, 2, 1, 2, 2))

# ---- cases -------------------------------------------------------------------------------
run_case("lung_ecog", lung2, group = "ph.ecog", reference = "0",
         note = "ph.ecog has one NA row and a level (3) with one patient")
run_case("lung_ecog_age", lung2, group = "ph.ecog", reference = "1", numeric = "age")
run_case("lung_sex_age_efron", lung2, numeric = c("sex", "age"))
run_case("lung_sex_age_breslow", lung2, numeric = c("sex", "age"), ties = "breslow")
run_case("lung_strata_inst", lung2, numeric = c("sex", "age", "ph.karno"), strata = "inst",
         note = "NA in inst and ph.karno")
run_case("lung_months_efron", lung_m, group = "ph.ecog", reference = "0",
         numeric = c("age", "wt.loss"), note = "time in months: heavily tied")
run_case("lung_months_breslow", lung_m, group = "ph.ecog", reference = "0",
         numeric = c("age", "wt.loss"), ties = "breslow")
run_case("lung_months_strata_sex", lung_m, numeric = c("age", "ph.karno"), strata = "sex")
run_case("lung_months_strata_sex_breslow", lung_m, numeric = c("age", "ph.karno"),
         strata = "sex", ties = "breslow")
run_case("veteran_celltype_karno", vet, group = "celltype", reference = "large",
         numeric = "karno")
run_case("veteran_celltype_breslow", vet, group = "celltype", reference = "large",
         numeric = c("karno", "age", "prior"), ties = "breslow")
run_case("veteran_strata_trt", vet, group = "celltype", reference = "squamous",
         numeric = "karno", strata = "trt")
run_case("ovarian_rx_age", ova, numeric = c("rx", "age"))
run_case("ovarian_resid", ova, group = "resid.ds", reference = "2", numeric = c("age", "ecog.ps"))
run_case("pbc_stage", pbc2, group = "stage", reference = "1",
         numeric = c("age", "log_bili", "albumin", "edema"), note = "stage has NA rows")
run_case("noevent_group", noev, group = "grp", reference = "male", numeric = "age",
         infinite = "grp=late_censored", note = "level late_censored has no events")
run_case("nonconverged_toy", toy, group = "g", reference = "a",
         infinite = c("g=b", "g=c"), note = "R runs out of iterations (monotone likelihood)")
run_case("aliased", alias, numeric = c("age", "sex", "one", "age2"),
         note = "one is constant, age2 = 2 * age: NA coefficients")
run_case("timefix", tfix, numeric = "x", note = "times 1e-10 apart are merged (aeqSurv)")
run_case("timefix_strata", tfix, numeric = "x", strata = "s",
         note = "aeqSurv merging inside strata, tied event and censored rows")
