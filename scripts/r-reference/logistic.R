# Reference values for cartreg's logistic regression (cartreg.stats.logistic, `cartreg logistic`).
#
#   R_LIBS_USER=/work/rlib Rscript scripts/r-reference/logistic.R     (from the repository root)
#
# For each case (MASS::birthwt, survival's pbc and lung, logistf's sex2, small hand-made data)
#   1. writes the columns as CSV to tests/fixtures/r/data/logistic_<name>.csv (missing = empty),
#   2. reads the CSV back,
#   3. fits glm(outcome ~ ..., family = binomial) with text columns as factors (levels sorted in
#      the C locale, or relevel()'d to the reference cartreg is given) and writes
#      tests/fixtures/r/logistic_<name>.json: coefficients, SE, z, P (summary.glm), Wald CI
#      (confint.default), profile CI (confint(): MASS's profile.glm in R 4.2), exact profile roots
#      (uniroot on the deviance with an offset, tol 1e-12), deviance, null deviance, AIC, n,
#      rows dropped, iterations and warnings,
#   4. with firth = TRUE also logistf() (version in the JSON) twice: with its default controls
#      (firth_default: converged to ~1e-5 only) and with tightened controls
#      (firth: lconv = gconv = xconv = 1e-12 for the fit and the profile) — cartreg solves to
#      1e-10 and is compared with the tightened fit.
# Term names are cartreg's: "(Intercept)", "COL=LEVEL" for a factor level, the column for a number.

suppressMessages({library(survival); library(MASS); library(logistf)})
invisible(Sys.setlocale("LC_COLLATE", "C"))

out_dir <- file.path("tests", "fixtures", "r")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)
source(file.path("scripts", "r-reference", "json.R"))

exact_profile <- function(fit, j) {
  X <- model.matrix(fit); y <- fit$y; d0 <- deviance(fit)
  q <- qchisq(0.95, 1); b <- coef(fit)[j]; se <- sqrt(diag(vcov(fit)))[j]
  f <- function(v) {
    off <- X[, j] * v
    m <- glm.fit(X[, -j, drop = FALSE], y, family = binomial(), offset = off,
                 control = glm.control(epsilon = 1e-14, maxit = 100))
    m$deviance - d0 - q
  }
  side <- function(s) {
    lo <- b; step <- se; hi <- b + s * step
    while (f(hi) < 0) { lo <- hi; hi <- hi + s * step; step <- step * 1.5 }
    uniroot(f, sort(c(lo, hi)), tol = 1e-13)$root
  }
  c(side(-1), side(1))
}

run_case <- function(name, df, outcome, covariates, factors = character(0), reference = list(),
                     firth = FALSE, note = "") {
  path <- file.path(data_dir, paste0("logistic_", name, ".csv"))
  write.csv(df, path, row.names = FALSE, na = "")
  d <- read.csv(path, stringsAsFactors = FALSE)
  terms <- "(Intercept)"
  for (v in covariates) {
    if (is.character(d[[v]]) || v %in% factors) {
      f <- factor(d[[v]])
      if (!is.null(reference[[v]])) f <- relevel(f, ref = reference[[v]])
      d[[v]] <- f
      terms <- c(terms, paste0(v, "=", levels(f)[-1]))
    } else terms <- c(terms, v)
  }
  fml <- as.formula(paste(outcome, "~", paste(sprintf("`%s`", covariates), collapse = " + ")))
  warns <- character(0)
  fit <- withCallingHandlers(glm(fml, data = d, family = binomial),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
  s <- summary(fit)
  # term names from the model frame's levels (R drops levels absent from the complete rows)
  terms <- "(Intercept)"
  for (v in covariates) {
    xl <- fit$xlevels[[sprintf("`%s`", v)]]
    if (is.null(xl)) xl <- fit$xlevels[[v]]
    terms <- c(terms, if (is.null(xl)) v else paste0(v, "=", xl[-1]))
  }
  cf <- coef(fit)
  stopifnot(length(cf) == length(terms))
  ok <- !is.na(cf)
  se <- rep(NA, length(cf)); se[ok] <- s$coefficients[, "Std. Error"]
  z <- rep(NA, length(cf)); z[ok] <- s$coefficients[, "z value"]
  p <- rep(NA, length(cf)); p[ok] <- s$coefficients[, "Pr(>|z|)"]
  wald <- confint.default(fit)
  prof <- tryCatch(suppressMessages(withCallingHandlers(confint(fit),
    warning = function(w) { warns <<- c(warns, paste("confint:", conditionMessage(w))); invokeRestart("muffleWarning") })),
    error = function(e) { warns <<- c(warns, paste("confint error:", conditionMessage(e)))
                          matrix(NA, length(cf), 2) })
  prof <- matrix(prof, ncol = 2)
  warns <- unique(warns)
  ex <- matrix(NA, length(cf), 2)
  for (j in which(ok)) ex[j, ] <- tryCatch(exact_profile(fit, sum(ok[1:j])), error = function(e) c(NA, NA))
  res <- list(
    dataset = jstr(name), csv = jstr(file.path("data", paste0("logistic_", name, ".csv"))),
    r_version = jstr(R.version.string), mass_version = jstr(as.character(packageVersion("MASS"))),
    call = jstr(paste(deparse(fml), collapse = " ")), note = jstr(note),
    outcome = jstr(outcome), covariates = jsarr(covariates), factors = jsarr(factors),
    reference = jsarr(if (length(reference)) paste0(names(reference), "=", unlist(reference)) else character(0)),
    names = jsarr(terms), coef = jarr(cf), se = jarr(se), z = jarr(z), p = jarr(p),
    ci_lower = jarr(wald[, 1]), ci_upper = jarr(wald[, 2]),
    ci_profile_lower = jarr(prof[, 1]), ci_profile_upper = jarr(prof[, 2]),
    ci_exact_lower = jarr(ex[, 1]), ci_exact_upper = jarr(ex[, 2]),
    deviance = jnum(deviance(fit)), null_deviance = jnum(fit$null.deviance), aic = jnum(AIC(fit)),
    n = jnum(nobs(fit)), events = jnum(sum(fit$y)), excluded = jnum(length(fit$na.action)),
    iterations = jnum(fit$iter), r_warnings = jsarr(warns)
  )
  if (firth) {
    mf <- model.frame(fml, d)
    lf <- function(ctrl, plctrl) logistf(fml, data = mf, control = ctrl, plcontrol = plctrl)
    tight <- lf(logistf.control(maxit = 1000, lconv = 1e-12, gconv = 1e-12, xconv = 1e-12),
                logistpl.control(maxit = 1000, lconv = 1e-12, xconv = 1e-12))
    dflt <- logistf(fml, data = mf)
    fr <- function(m) jobj(list(
      coef = jarr(coef(m)), se = jarr(sqrt(diag(vcov(m)))), ci_lower = jarr(m$ci.lower),
      ci_upper = jarr(m$ci.upper), p = jarr(m$prob), loglik = jnum(m$loglik[["full"]]),
      loglik_null = jnum(m$loglik[["null"]]), iter = jarr(unlist(m$iter)), n = jnum(m$n)))
    res$logistf_version <- jstr(as.character(packageVersion("logistf")))
    res$firth <- fr(tight)
    res$firth_default <- fr(dflt)
  }
  writeLines(jobj(res), file.path(out_dir, paste0("logistic_", name, ".json")))
  cat(sprintf("%-24s n=%d events=%d iter=%d %s\n", name, nobs(fit), sum(fit$y), fit$iter,
              paste(warns, collapse = " | ")))
}

bw <- birthwt
bw$race <- c("white", "black", "other")[bw$race]
bw$smoke <- ifelse(bw$smoke == 1, "yes", "no")
run_case("birthwt", bw, "low", c("age", "lwt", "race", "smoke", "ptl", "ht", "ui", "ftv"),
         reference = list(race = "white"), note = "MASS's example model; race text, reference white")
run_case("birthwt_small", bw[, c("low", "age", "smoke", "race")], "low", c("age", "smoke", "race"),
         firth = TRUE, note = "race reference = first sorted level (black)")

pbc2 <- data.frame(death = as.integer(pbc$status == 2), age = pbc$age, sex = pbc$sex,
                   bili = log(pbc$bili), albumin = pbc$albumin, edema = pbc$edema,
                   stage = pbc$stage, chol = pbc$chol)
run_case("pbc", pbc2, "death", c("age", "sex", "bili", "albumin", "edema", "stage", "chol"),
         factors = "stage", note = "NA in stage and chol: excluded; stage numeric read as factor")

lung2 <- data.frame(dead = as.integer(lung$status == 2), age = lung$age,
                    sex = ifelse(lung$sex == 1, "male", "female"), ph.ecog = lung$ph.ecog,
                    wt.loss = lung$wt.loss)
run_case("lung", lung2, "dead", c("age", "sex", "ph.ecog", "wt.loss"), factors = "ph.ecog",
         reference = list(ph.ecog = "1"), firth = TRUE, note = "ph.ecog = 3 has one patient")

data(sex2, package = "logistf")
run_case("sex2", sex2, "case", c("age", "oc", "vic", "vicl", "vis", "dia"), firth = TRUE,
         note = "logistf's example: dia quasi-separates (ML estimate diverges)")

toy <- data.frame(y = c(0, 0, 0, 0, 1, 1, 1, 1, 0, 1), x = c(1, 2, 3, 4, 5, 6, 7, 8, 2.5, 7.5),
                  g = c("a", "a", "b", "a", "b", "b", "b", "a", "b", "a"))
run_case("separated_toy", toy, "y", c("x", "g"), firth = TRUE,
         note = "x separates y completely: ML diverges, Firth finite")

al <- data.frame(low = birthwt$low, age = birthwt$age, lwt = birthwt$lwt)
al$age2 <- 2 * al$age
run_case("aliased", al, "low", c("age", "lwt", "age2"), note = "age2 = 2 * age: NA coefficient")

ul <- data.frame(low = birthwt$low, age = birthwt$age, lwt = birthwt$lwt,
                 race = c("white", "black", "other")[birthwt$race])
ul$race[1:3] <- "asian"          # a level present only in rows that are incomplete:
ul$lwt[1:3] <- NA                # R's model frame drops it (and it would have been the reference)
run_case("unused_level", ul, "low", c("age", "lwt", "race"),
         note = "level 'asian' only in rows with a missing lwt: dropped, reference = black")
