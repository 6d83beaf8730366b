# Reference values for cartreg's regression models with real covariates (issue 12, parts 2 and 4):
# factor covariates, case weights, robust and cluster-robust variance in coxph, weighted
# Kaplan-Meier (survfit(weights=)), Fine-Gray models (cmprsk::crr) and cause-specific Cox models.
#
#   Rscript scripts/r-reference/regression.R            (from the repository root)
#
# Each case writes its input as CSV (tests/fixtures/r/data/reg_<name>.csv, missing = empty cell),
# reads it back so that R and cartreg see the same numbers, and writes
# tests/fixtures/r/reg_<name>.json with the cartreg CLI arguments that must reproduce it and R's
# numbers at 17 significant digits. Term names are cartreg's ("COL=LEVEL" for a factor level).
# Text columns are factors (levels sorted in the C locale; reference = first level unless given);
# numeric columns are numeric unless listed in `factors` (cartreg: --reference-level COL=LEVEL).
# Needs survival and cmprsk.

suppressMessages({library(survival); library(cmprsk)})
invisible(Sys.setlocale("LC_COLLATE", "C"))
out_dir <- file.path("tests", "fixtures", "r")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)
source(file.path("scripts", "r-reference", "json.R"))

source(file.path("scripts", "r-reference", "design.R"))   # write_read(), design()

cox_terms <- function(fit, terms) {
  s <- summary(fit)
  coef <- unname(coef(fit))
  naive <- if (is.null(fit$naive.var)) fit$var else fit$naive.var
  se <- sqrt(diag(naive))
  rse <- if (is.null(fit$naive.var)) NULL else sqrt(diag(fit$var))
  use <- if (is.null(rse)) se else rse
  z <- coef / use
  list(names = jsarr(terms), coef = jarr(coef), se = jarr(se),
       robust_se = if (is.null(rse)) "null" else jarr(rse),
       hr = jarr(exp(coef)), ci_lower = jarr(exp(coef - qnorm(0.975) * use)),
       ci_upper = jarr(exp(coef + qnorm(0.975) * use)), z = jarr(z),
       p = jarr(2 * pnorm(-abs(z))), p_summary = jarr(s$coefficients[, ncol(s$coefficients)]),
       loglik = jarr(fit$loglik), n = jnum(fit$n), events = jnum(fit$nevent),
       var = jmat(matrix(fit$var, length(coef))))
}

# ---- Cox with factors, weights, robust and cluster variance; weighted KM by group ----------
cox_case <- function(name, df, covariates, refs = list(), weights = NULL, cluster = NULL,
                     robust = FALSE, ties = "efron", group = NULL, note = "") {
  wr <- write_read(name, df)
  # drop rows missing anything used (weights/cluster included), as cartreg does; factor levels
  # are then those of the rows used (model.frame turns text into factors after na.omit)
  used <- c("time", "event", covariates, weights, cluster, group)
  keep <- complete.cases(wr$d[, used, drop = FALSE])
  ds <- design(wr$d[keep, ], covariates, refs)
  d <- wr$d
  dd <- ds$d
  fml <- paste("Surv(time, event) ~", paste(ds$rhs, collapse = " + "))
  args <- list(formula = as.formula(fml), data = dd, ties = ties)
  if (robust) args$robust <- TRUE
  if (!is.null(weights)) args$weights <- dd[[weights]]
  if (!is.null(cluster)) args$cluster <- dd[[cluster]]
  fit <- do.call(coxph, args)
  # score residuals (unweighted, per row of dd) for checking the sandwich pieces
  sres <- residuals(fit, type = "score")
  cli <- c("--time", "time", "--event", "event", "--covariates", paste(covariates, collapse = ","),
           "--ties", ties)
  for (v in names(refs)) cli <- c(cli, "--reference-level", paste0(v, "=", refs[[v]]))
  if (!is.null(weights)) cli <- c(cli, "--weights", weights)
  if (!is.null(cluster)) cli <- c(cli, "--cluster", cluster)
  if (robust) cli <- c(cli, "--robust")
  if (!is.null(group)) cli <- c(cli, "--group", group)
  res <- c(list(dataset = jstr(name), csv = jstr(wr$path), note = jstr(note),
                r_version = jstr(R.version.string),
                survival_version = jstr(as.character(packageVersion("survival"))),
                call = jstr(paste(fml, if (!is.null(weights)) paste0("weights=", weights) else "",
                                  if (!is.null(cluster)) paste0("cluster=", cluster) else "",
                                  if (robust) "robust=TRUE" else "", "ties=", ties)),
                cli = jsarr(cli), n_rows = jnum(nrow(d)), excluded = jnum(sum(!keep)),
                score_resid = jmat(as.matrix(sres))),
           cox_terms(fit, ds$terms))
  # weighted Kaplan-Meier (survfit(weights=) default variance) overall or by group
  if (!is.null(weights)) {
    kfml <- if (is.null(group)) Surv(time, event) ~ 1 else as.formula(paste("Surv(time, event) ~", group))
    km <- if (is.null(cluster)) survfit(kfml, data = dd, weights = dd[[weights]]) else
      survfit(kfml, data = dd, weights = dd[[weights]], cluster = dd[[cluster]])
    strata <- if (is.null(km$strata)) rep("all", length(km$time)) else
      rep(sub(paste0("^", group, "="), "", names(km$strata)), km$strata)
    res$km_strata <- jsarr(strata)
    res$km_time <- jarr(km$time); res$km_n_risk <- jarr(km$n.risk)
    res$km_n_event <- jarr(km$n.event); res$km_surv <- jarr(km$surv)
    res$km_std_err <- jarr(km$std.err); res$km_lower <- jarr(km$lower)
    res$km_upper <- jarr(km$upper)
    tab <- summary(km)$table
    if (is.null(dim(tab))) tab <- t(as.matrix(tab))
    res$km_median <- jarr(tab[, "median"]); res$km_median_lower <- jarr(tab[, "0.95LCL"])
    res$km_median_upper <- jarr(tab[, "0.95UCL"])
    res$km_robust <- if (!is.null(cluster) || any(dd[[weights]] != floor(dd[[weights]]))) "true" else "false"
    res$km_integer_weights <- if (all(dd[[weights]] == floor(dd[[weights]]))) "true" else "false"
  }
  writeLines(jobj(res), file.path(out_dir, paste0("reg_", name, ".json")))
  cat(sprintf("%-24s n=%d events=%d\n", name, fit$n, fit$nevent))
}

lung2 <- data.frame(time = lung$time, event = as.integer(lung$status == 2),
                    inst = lung$inst, age = lung$age,
                    sex = ifelse(lung$sex == 1, "male", "female"),
                    ph.ecog = lung$ph.ecog, ph.karno = lung$ph.karno, wt.loss = lung$wt.loss)
lung2$weight_loss <- ifelse(is.na(lung$wt.loss), NA, ifelse(lung$wt.loss > 5, "yes", "no"))
lung2$w <- round(0.4 + ((seq_len(nrow(lung2)) * 37) %% 11) / 7, 6)       # non-integer weights
lung2$fw <- 1 + (seq_len(nrow(lung2)) %% 3)                              # integer weights
vet <- data.frame(time = veteran$time, event = veteran$status,
                  celltype = as.character(veteran$celltype), karno = veteran$karno,
                  age = veteran$age, trt = ifelse(veteran$trt == 2, "TRUE", "FALSE"),
                  prior = veteran$prior)
vet$w <- round(0.3 + ((seq_len(nrow(vet)) * 13) %% 17) / 9, 6)
vet$site <- paste0("c", (seq_len(nrow(vet)) * 7) %% 9)
col2 <- colon[colon$etype == 2, ]
col2 <- data.frame(time = col2$time, event = col2$status, rx = as.character(col2$rx),
                   age = col2$age, nodes = col2$nodes, obstruct = col2$obstruct,
                   differ = col2$differ)
col2$time_m <- ceiling(col2$time / 30.4375)
col2$w <- round(0.5 + ((seq_len(nrow(col2)) * 29) %% 13) / 6, 6)
col2$center <- paste0("site", (seq_len(nrow(col2)) * 11) %% 23)
colm <- col2; colm$time <- colm$time_m     # months: heavy ties for Efron with weights

cox_case("lung_factors", lung2, c("age", "sex", "ph.ecog", "weight_loss"),
         refs = list(ph.ecog = "1"), note = "text, yes/no and forced numeric factor; NAs")
cox_case("veteran_factors_breslow", vet, c("celltype", "karno", "trt"),
         refs = list(celltype = "large"), ties = "breslow", note = "TRUE/FALSE text factor")
cox_case("lung_weights_robust", lung2, c("age", "sex"), weights = "w", robust = TRUE,
         group = "sex", note = "non-integer weights: survfit uses the robust (IJ) variance")
cox_case("lung_weights_cluster", lung2, c("age", "sex", "ph.karno"), weights = "w",
         cluster = "inst", note = "cluster(inst), NA inst dropped")
cox_case("lung_fweights", lung2, c("age", "sex"), weights = "fw", group = "sex",
         note = "integer weights: survfit uses Greenwood on weighted counts; no robust")
cox_case("lung_robust_noweights", lung2, c("age", "ph.ecog"), robust = TRUE,
         note = "robust=TRUE without weights")
cox_case("veteran_cluster_breslow", vet, c("celltype", "karno"), cluster = "site",
         ties = "breslow", note = "cluster without weights, Breslow")
vet_unused <- vet
vet_unused$celltype[c(3, 50)] <- "zz_unused"
vet_unused$karno[c(3, 50)] <- NA
cox_case("veteran_unused_level", vet_unused, c("celltype", "karno"), refs = list(celltype = "large"),
         note = "level zz_unused occurs only in rows with a missing karno: dropped, as model.frame does")
cox_case("colon_months_weights_cluster", colm, c("rx", "age", "nodes", "obstruct"),
         refs = list(rx = "Obs"), weights = "w", cluster = "center", group = "rx",
         note = "heavily tied months: Efron with weights; cluster")

# ---- competing risks: Fine-Gray (crr) and cause-specific Cox ------------------------------
cr_case <- function(name, df, covariates, refs = list(), causes = c(1, 2), note = "") {
  wr <- write_read(name, df)
  used <- c("time", "status", covariates)
  d <- wr$d
  keep <- complete.cases(d[, used, drop = FALSE])
  ds <- design(d[keep, ], covariates, refs)
  dd <- ds$d
  mm <- model.matrix(as.formula(paste("~", paste(ds$rhs, collapse = " + "))), dd)[, -1, drop = FALSE]
  out <- list(dataset = jstr(name), csv = jstr(wr$path), note = jstr(note),
              r_version = jstr(R.version.string),
              cmprsk_version = jstr(as.character(packageVersion("cmprsk"))),
              survival_version = jstr(as.character(packageVersion("survival"))),
              covariates = jsarr(covariates), names = jsarr(ds$terms),
              refs = jsarr(if (length(refs)) paste0(names(refs), "=", unlist(refs)) else character(0)),
              n_rows = jnum(nrow(d)), excluded = jnum(sum(!keep)))
  for (k in causes) {
    fg <- crr(dd$time, dd$status, mm, failcode = k, cencode = 0)
    se <- sqrt(diag(fg$var)); z <- fg$coef / se
    pre <- paste0("fg", k, "_")
    out[[paste0(pre, "coef")]] <- jarr(fg$coef); out[[paste0(pre, "se")]] <- jarr(se)
    out[[paste0(pre, "hr")]] <- jarr(exp(fg$coef))
    out[[paste0(pre, "ci_lower")]] <- jarr(exp(fg$coef - qnorm(0.975) * se))
    out[[paste0(pre, "ci_upper")]] <- jarr(exp(fg$coef + qnorm(0.975) * se))
    out[[paste0(pre, "p")]] <- jarr(2 * pnorm(-abs(z)))
    out[[paste0(pre, "loglik")]] <- jnum(fg$loglik)
    out[[paste0(pre, "loglik_null")]] <- jnum(fg$loglik.null)
    out[[paste0(pre, "converged")]] <- if (fg$converged) "true" else "false"
    out[[paste0(pre, "n")]] <- jnum(fg$n)
    out[[paste0(pre, "var")]] <- jmat(fg$var)
    # cause-specific Cox: other causes censored
    dd$.ev <- as.integer(dd$status == k)
    cs <- coxph(as.formula(paste("Surv(time, .ev) ~", paste(ds$rhs, collapse = " + "))), data = dd)
    s <- summary(cs)
    pre <- paste0("cs", k, "_")
    out[[paste0(pre, "coef")]] <- jarr(coef(cs)); out[[paste0(pre, "se")]] <- jarr(sqrt(diag(cs$var)))
    out[[paste0(pre, "hr")]] <- jarr(exp(coef(cs)))
    out[[paste0(pre, "ci_lower")]] <- jarr(s$conf.int[, 3]); out[[paste0(pre, "ci_upper")]] <- jarr(s$conf.int[, 4])
    out[[paste0(pre, "p")]] <- jarr(s$coefficients[, 5])
    out[[paste0(pre, "loglik")]] <- jarr(cs$loglik)
    out[[paste0(pre, "events")]] <- jnum(cs$nevent)
  }
  writeLines(jobj(out), file.path(out_dir, paste0("reg_", name, ".json")))
  cat(sprintf("%-24s n=%d\n", name, nrow(dd)))
}

m2 <- mgus2
mg <- data.frame(time = ifelse(m2$pstat == 0, m2$futime, m2$ptime),
                 status = ifelse(m2$pstat == 0, 2 * m2$death, 1),
                 age = m2$age, sex = as.character(m2$sex), hgb = m2$hgb, mspike = m2$mspike)
cr_case("mgus2_crr", mg, c("age", "sex", "hgb", "mspike"), note = "pcm (1) vs death (2); ties; NAs")

set.seed(10)
n <- 200
ex <- data.frame(time = round(rexp(n) * 10) / 2, status = sample(0:2, n, replace = TRUE),
                 x1 = runif(n), x2 = runif(n), grp = sample(c("a", "b", "c"), n, replace = TRUE))
cr_case("cmprsk_ties", ex, c("x1", "x2", "grp"), refs = list(grp = "b"),
        note = "cmprsk's example, times rounded to 0.5: many ties across causes and censoring")

# bmt-like: months to relapse (1) or non-relapse mortality (2), disease factor, age
set.seed(2024)
n <- 160
disease <- sample(c("ALL", "AML", "CML"), n, replace = TRUE, prob = c(.3, .45, .25))
age <- round(rnorm(n, 40, 12))
lp1 <- 0.4 * (disease == "ALL") - 0.3 * (disease == "CML")
lp2 <- 0.02 * (age - 40)
t1 <- rexp(n, 0.03 * exp(lp1)); t2 <- rexp(n, 0.02 * exp(lp2)); cc <- runif(n, 6, 60)
tt <- pmin(t1, t2, cc)
bmt <- data.frame(time = ceiling(tt), status = ifelse(tt == cc, 0, ifelse(tt == t1, 1, 2)),
                  disease = disease, age = age)
bmt$age[c(5, 17)] <- NA
cr_case("bmt_like", bmt, c("disease", "age"), note = "bmt-like: relapse vs NRM in months")

# ---- robust variance with strata (Python API: coxph(..., strata=, weights=, robust=True)) ----
strata_case <- function(name, df, covariates, strata, weights, ties = "efron") {
  wr <- write_read(name, df)
  keep <- complete.cases(wr$d[, c("time", "event", covariates, strata, weights)])
  dd <- wr$d[keep, ]
  fml <- as.formula(paste("Surv(time, event) ~", paste(covariates, collapse = " + "),
                          sprintf("+ strata(%s)", strata)))
  fit <- coxph(fml, data = dd, weights = dd[[weights]], robust = TRUE, ties = ties)
  res <- c(list(dataset = jstr(name), csv = jstr(wr$path), strata = jstr(strata),
                weights = jstr(weights), covariates = jsarr(covariates), ties = jstr(ties),
                excluded = jnum(sum(!keep)), score_resid = jmat(as.matrix(residuals(fit, "score")))),
           cox_terms(fit, covariates))
  writeLines(jobj(res), file.path(out_dir, paste0("reg_", name, ".json")))
  cat(sprintf("%-24s n=%d events=%d\n", name, fit$n, fit$nevent))
}
lung_m <- lung2
lung_m$time <- ceiling(lung_m$time / 30.4375)
strata_case("lung_months_strata_robust", lung_m, c("age", "ph.karno"), "inst", "w")
strata_case("lung_strata_robust_breslow", lung2, c("age", "ph.karno"), "sex", "w", ties = "breslow")
