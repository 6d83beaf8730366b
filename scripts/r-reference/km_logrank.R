# Reference values for cartreg's Kaplan-Meier, reverse-KM follow-up and log-rank tests.
#
#   Rscript scripts/r-reference/km_logrank.R            (from the repository root)
#
# For each data set (public data shipped with R `survival`, plus small hand-made edge cases) it
#   1. writes the input columns as CSV to tests/fixtures/r/data/<name>.csv (missing = empty cell),
#   2. reads that CSV back (so R and cartreg see the very same numbers), and
#   3. writes tests/fixtures/r/km_<name>.json with, for conf.type log, log-log and plain:
#      survfit steps (overall and by group), summary(fit)$table median + CI, quantile(),
#      summary(fit, times=, extend=TRUE), the reverse-KM median follow-up, and survdiff
#      (plain and stratified). Numbers are written with 17 significant digits.
# No packages beyond `survival` are needed (JSON is written by hand).

suppressMessages(library(survival))
invisible(Sys.setlocale("LC_COLLATE", "C"))   # factor levels sorted like Python's sorted()

out_dir <- file.path("tests", "fixtures", "r")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)

source(file.path("scripts", "r-reference", "json.R"))   # jnum, jarr, jstr, jsarr, jmat, jobj

probs <- c(0.1, 0.25, 0.5, 0.75, 0.9)

curve_json <- function(f, at) {
  tab <- summary(f)$table
  q <- quantile(f, probs = probs)
  s <- summary(f, times = at, extend = TRUE)
  jobj(list(
    n = jnum(f$n), events = jnum(sum(f$n.event)),
    time = jarr(f$time), n_risk = jarr(f$n.risk), n_event = jarr(f$n.event),
    n_censor = jarr(f$n.censor), surv = jarr(f$surv), std_err = jarr(f$std.err),
    lower = jarr(f$lower), upper = jarr(f$upper),
    median = jnum(tab[["median"]]), median_lower = jnum(tab[[8]]), median_upper = jnum(tab[[9]]),
    quantile = jobj(list(probs = jarr(probs), est = jarr(q$quantile), lower = jarr(q$lower),
                         upper = jarr(q$upper))),
    at = jobj(list(time = jarr(s$time), n_risk = jarr(s$n.risk), n_event = jarr(s$n.event),
                   n_censor = jarr(s$n.censor), surv = jarr(s$surv), std_err = jarr(s$std.err),
                   lower = jarr(s$lower), upper = jarr(s$upper)))
  ))
}

followup_json <- function(f) {
  tab <- summary(f)$table
  jobj(list(median = jnum(tab[["median"]]), lower = jnum(tab[[8]]), upper = jnum(tab[[9]])))
}

survdiff_json <- function(sd) {
  jobj(list(chisq = jnum(sd$chisq), df = jnum(length(sd$n[rowSums(as.matrix(sd$exp)) > 0]) - 1),
            p = jnum(sd$pvalue), n = jarr(as.vector(sd$n)), levels = jsarr(sub("^g=", "", names(sd$n))),
            observed = jarr(if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs),
            expected = jarr(if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp),
            var = jarr(as.vector(sd$var))))
}

# spec: name, data.frame, time, event column, event expression (on the re-read data), group,
# strata, times for summary(times=)
reference <- function(name, df, time, event, ev, group = NULL, strata = NULL, at = numeric(0)) {
  path <- file.path(data_dir, paste0("km_", name, ".csv"))
  write.csv(df, path, row.names = FALSE, na = "")
  d <- read.csv(path, stringsAsFactors = FALSE, na.strings = "")
  d$.t <- d[[time]]
  d$.e <- ev(d)
  res <- list(
    dataset = jstr(name), csv = jstr(paste0("data/km_", name, ".csv")),
    r_version = jstr(R.version.string), survival_version = jstr(as.character(packageVersion("survival"))),
    time = jstr(time), event = jstr(event), group = jstr(group), strata = jstr(strata),
    n_rows = jnum(nrow(d)), at = jarr(at),
    excluded_overall = jnum(sum(is.na(d$.t) | is.na(d$.e)))
  )
  fits <- list(); fus <- list()
  for (ct in c("log", "log-log", "plain")) {
    f1 <- survfit(Surv(.t, .e) ~ 1, data = d, conf.type = ct)
    r1 <- survfit(Surv(.t, 1 - .e) ~ 1, data = d, conf.type = ct)
    fit_ct <- list(overall = curve_json(f1, at))
    fu_ct <- list(overall = followup_json(r1))
    if (!is.null(group)) {
      d$g <- d[[group]]
      fg <- survfit(Surv(.t, .e) ~ g, data = d, conf.type = ct)
      rg <- survfit(Surv(.t, 1 - .e) ~ g, data = d, conf.type = ct)
      labs <- sub("^g=", "", names(fg$strata))
      gl <- list(); fl <- list()
      for (i in seq_along(labs)) {
        gl[[labs[i]]] <- curve_json(fg[i], at)
        fl[[labs[i]]] <- followup_json(rg[i])
      }
      fit_ct$groups <- jobj(gl); fu_ct$groups <- jobj(fl)
      fit_ct$levels <- jsarr(labs)
      fit_ct$excluded <- jnum(sum(is.na(d$.t) | is.na(d$.e) | is.na(d$g)))
    }
    fits[[ct]] <- jobj(fit_ct); fus[[ct]] <- jobj(fu_ct)
  }
  res$fits <- jobj(fits)
  res$followup <- jobj(fus)
  if (!is.null(group)) {
    res$survdiff <- survdiff_json(survdiff(Surv(.t, .e) ~ g, data = d))
    if (!is.null(strata)) {
      d$s <- d[[strata]]
      res$survdiff_strat <- survdiff_json(survdiff(Surv(.t, .e) ~ g + strata(s), data = d))
      res$excluded_strat <- jnum(sum(is.na(d$.t) | is.na(d$.e) | is.na(d$g) | is.na(d$s)))
    }
  }
  writeLines(jobj(res), file.path(out_dir, paste0("km_", name, ".json")))
  cat("wrote", name, "\n")
}

is2 <- function(col) function(d) as.integer(d[[col]] == 2)
is1 <- function(col) function(d) as.integer(d[[col]] == 1)

# lung: status 1 = censored, 2 = dead (R's Surv coding); ph.ecog has a missing value; many ties
lung_d <- lung[, c("time", "status", "sex", "ph.ecog", "age", "ph.karno")]
reference("lung_sex", lung_d, "time", "status", is2("status"), "sex", "ph.ecog",
          at = c(0, 90, 182.5, 365, 730, 1000, 2000))
reference("lung_ecog", lung_d, "time", "status", is2("status"), "ph.ecog", "sex",
          at = c(-5, 100, 365, 500, 1022, 1100))
# lung in months: fractional times written with 15 significant digits
lm_d <- data.frame(months = lung$time / 30.4375, status = lung$status, sex = lung$sex)
reference("lung_months", lm_d, "months", "status", is2("status"), "sex", NULL, at = c(3, 6, 12, 24))
# veteran: 4 cell types (text labels), stratified by treatment
reference("veteran", veteran[, c("time", "status", "celltype", "trt", "karno")], "time", "status",
          is1("status"), "celltype", "trt", at = c(30, 90, 180, 365, 999))
# ovarian: 26 patients, unreached medians
reference("ovarian", ovarian[, c("futime", "fustat", "rx", "resid.ds", "age")], "futime", "fustat",
          is1("fustat"), "rx", "resid.ds", at = c(100, 365, 730, 1200))
# aml: small, ties
reference("aml", aml, "time", "status", is1("status"), "x", NULL, at = c(10, 20, 50, 161, 200))
# colon (death records): 3 arms, stratified by sex
colon_d <- colon[colon$etype == 2, c("time", "status", "rx", "sex", "age")]
reference("colon_death", colon_d, "time", "status", is1("status"), "rx", "sex",
          at = c(365, 730, 1826, 3000))
# pbc: death = status 2 (transplant censored); trt missing for 106 patients; numeric strata labels
pbc_d <- pbc[, c("time", "status", "trt", "edema", "age")]
pbc_d$death <- as.integer(pbc_d$status == 2)
reference("pbc", pbc_d, "time", "death", is1("death"), "trt", "edema", at = c(365, 1826, 3650, 5000))

# hand-made edge cases ------------------------------------------------------------------
# the documented pitfall: times 1-8, events at 1-4 -> table median 4, quantile() 6
reference("pitfall", data.frame(time = 1:8, event = c(1, 1, 1, 1, 0, 0, 0, 0)), "time", "event",
          is1("event"), NULL, NULL, at = c(0, 4, 8, 9))
# S flat at exactly 0.5 (in floating point: 0.9 * 8/9 * ... ) then a later event -> midpoint
reference("flat_half", data.frame(time = 1:10, event = c(1, 1, 1, 1, 1, 0, 0, 0, 1, 0),
                                  arm = rep(c("a", "b"), 5)),
          "time", "event", is1("event"), "arm", NULL, at = c(5, 7, 9, 11))
# groups: "A" ordinary, "B" all censored, "C" a single patient (an event), plus a missing group
edge <- data.frame(time = c(2, 3, 3, 5, 8, 8, 9, 12, 4, 6, 7, 11, 5, 6, NA),
                   event = c(1, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, NA, 1),
                   grp = c(rep("A", 8), rep("B", 4), "C", NA, "A"))
reference("edge_groups", edge, "time", "event", is1("event"), "grp", NULL, at = c(0, 3, 5, 12, 20))
# heavy ties, including at the median
set.seed(20261123)
ties <- data.frame(time = sample(1:6, 60, replace = TRUE), event = rbinom(60, 1, 0.7),
                   arm = sample(c("x", "y", "z"), 60, replace = TRUE), site = sample(1:2, 60, TRUE))
reference("ties", ties, "time", "event", is1("event"), "arm", "site", at = c(1, 2.5, 3, 6, 7))

# ---- `cartreg survival` end to end ---------------------------------------------------------
# One analysis data set: rows complete in time, event, group and covariates (as the CLI builds
# it). Writes tests/fixtures/r/km_cli_<name>.json with per-group KM median + CI, reverse-KM
# follow-up, summary(times=), survdiff and coxph (efron and breslow, group as a factor with the
# reference level first, then numeric covariates).
cli_case <- function(name, csv, time, ev, group, ref, covs, at) {
  d <- read.csv(file.path(data_dir, csv), stringsAsFactors = FALSE, na.strings = "")
  d$.t <- d[[time]]; d$.e <- ev(d); d$g <- d[[group]]
  used <- c(".t", ".e", "g", covs)
  cc <- complete.cases(d[, used])
  excluded <- sum(!cc)
  d <- d[cc, ]
  lev <- sort(unique(d$g))
  if (is.null(ref)) ref <- lev[1]
  d$gf <- relevel(factor(d$g, levels = lev), ref = as.character(ref))
  fit <- survfit(Surv(.t, .e) ~ g, data = d)
  rev <- survfit(Surv(.t, 1 - .e) ~ g, data = d)
  labs <- sub("^g=", "", names(fit$strata))
  strata <- character(0)
  for (i in seq_along(labs)) {
    tab <- summary(fit[i])$table; rt <- summary(rev[i])$table
    s <- summary(fit[i], times = at, extend = TRUE)
    strata <- c(strata, jobj(list(group = jstr(labs[i]), n = jnum(fit$n[i]), events = jnum(sum(fit[i]$n.event)),
      median = jnum(tab[["median"]]), median_ci = jarr(c(tab[[8]], tab[[9]])),
      followup_median = jnum(rt[["median"]]), followup_ci = jarr(c(rt[[8]], rt[[9]])),
      at_time = jarr(s$time), at_n_risk = jarr(s$n.risk), at_surv = jarr(s$surv),
      at_lower = jarr(s$lower), at_upper = jarr(s$upper))))
  }
  sd <- survdiff(Surv(.t, .e) ~ g, data = d)
  form <- as.formula(paste("Surv(.t, .e) ~", paste(c("gf", covs), collapse = " + ")))
  cox <- list()
  for (ties in c("efron", "breslow")) {
    cf <- suppressWarnings(coxph(form, data = d, ties = ties))
    sm <- summary(cf)
    terms <- sub("^gf", paste0(group, "="), names(coef(cf)))
    cox[[ties]] <- jobj(list(terms = jsarr(terms), coef = jarr(coef(cf)), hr = jarr(exp(coef(cf))),
      lower = jarr(sm$conf.int[, 3]), upper = jarr(sm$conf.int[, 4]), p = jarr(sm$coefficients[, 5]),
      loglik = jnum(cf$loglik[2]), loglik_null = jnum(cf$loglik[1]),
      lr_chi2 = jnum(2 * (cf$loglik[2] - cf$loglik[1])), lr_df = jnum(sum(!is.na(coef(cf)))),
      lr_p = jnum(pchisq(2 * (cf$loglik[2] - cf$loglik[1]), sum(!is.na(coef(cf))), lower.tail = FALSE))))
  }
  res <- list(dataset = jstr(name), csv = jstr(paste0("data/", csv)),
    r_version = jstr(R.version.string), survival_version = jstr(as.character(packageVersion("survival"))),
    time = jstr(time), group = jstr(group), reference = jstr(as.character(ref)), covariates = jsarr(covs),
    at = jarr(at), n = jnum(nrow(d)), events = jnum(sum(d$.e)), excluded = jnum(excluded),
    strata = paste0("[", paste(strata, collapse = ",\n"), "]"),
    logrank = jobj(list(chi2 = jnum(sd$chisq), df = jnum(length(sd$n) - 1), p = jnum(sd$pvalue))),
    cox = jobj(cox))
  writeLines(jobj(res), file.path(out_dir, paste0("km_cli_", name, ".json")))
  cat("wrote cli", name, "\n")
}
cli_case("lung", "km_lung_sex.csv", "time", is2("status"), "ph.ecog", 1, c("age", "ph.karno"), c(180, 365, 730))
cli_case("veteran", "km_veteran.csv", "time", is1("status"), "celltype", NULL, c("karno", "trt"), c(30, 100, 365))
cli_case("pbc", "km_pbc.csv", "time", is1("death"), "trt", NULL, c("age"), c(1000, 3000))
cli_case("edge", "km_edge_groups.csv", "time", is1("event"), "grp", NULL, character(0), c(3, 10))

# ---- many small random data sets (fuzz) ------------------------------------------------------
# 200 data sets of 1-40 rows: integer times, times with 2 decimals, thirds (ties, time 0),
# near-ties 1e-12 apart (merged by aeqSurv), negative times. Writes data/fuzz_km.csv and
# fuzz_km.json with, per data set and conf.type, the table median + CI, quantile(c(.25,.5,.75))
# with CIs, summary(times=) surv/lower/upper/n.risk, the reverse-KM median + CI, the curve's
# surv/lower/upper, and survdiff chisq/p when there are 2+ groups.
set.seed(20261124)
fz <- do.call(rbind, lapply(0:199, function(ds) {
  n <- sample(1:40, 1)
  t <- switch(ds %% 5 + 1,
              as.numeric(sample(1:9, n, TRUE)),
              round(rexp(n, 1 / 5), 2),
              sample(0:3, n, TRUE) / 3,
              sample(1:5, n, TRUE) * 0.1 + sample(c(0, 1e-12), n, TRUE),
              as.numeric(sample(-3:7, n, TRUE)))
  data.frame(ds = ds, t = t, e = rbinom(n, 1, runif(1, 0.2, 1)), g = sample(0:2, n, TRUE))
}))
fz_path <- file.path(data_dir, "fuzz_km.csv")
write.csv(fz, fz_path, row.names = FALSE)
fz <- read.csv(fz_path)
fz_at <- c(-1, 0, 0.3, 1, 2.5, 5, 100)
items <- character(0)
for (ds in unique(fz$ds)) {
  x <- fz[fz$ds == ds, ]
  per <- list()
  for (ct in c("log", "log-log", "plain")) {
    f <- survfit(Surv(t, e) ~ 1, data = x, conf.type = ct)
    tab <- summary(f)$table
    q <- quantile(f, c(0.25, 0.5, 0.75))
    s <- summary(f, times = fz_at, extend = TRUE)
    rt <- summary(survfit(Surv(t, 1 - e) ~ 1, data = x, conf.type = ct))$table
    per[[ct]] <- jobj(list(median = jarr(c(tab[["median"]], tab[[8]], tab[[9]])),
      q_est = jarr(q$quantile), q_lower = jarr(q$lower), q_upper = jarr(q$upper),
      at_surv = jarr(s$surv), at_lower = jarr(s$lower), at_upper = jarr(s$upper), at_n_risk = jarr(s$n.risk),
      followup = jarr(c(rt[["median"]], rt[[8]], rt[[9]])),
      surv = jarr(f$surv), lower = jarr(f$lower), upper = jarr(f$upper)))
  }
  if (length(unique(x$g)) > 1) {
    sd <- suppressWarnings(survdiff(Surv(t, e) ~ g, data = x))
    per$survdiff <- jarr(c(sd$chisq, sd$pvalue))
  }
  items <- c(items, sprintf('"%d":%s', ds, jobj(per)))
}
writeLines(paste0('{"r_version":', jstr(R.version.string), ',"survival_version":',
                  jstr(as.character(packageVersion("survival"))), ',"csv":"data/fuzz_km.csv","at":',
                  jarr(fz_at), ',"datasets":{', paste(items, collapse = ",\n"), "}}"),
           file.path(out_dir, "fuzz_km.json"))
cat("wrote fuzz\n")
