# Reference for the federated Cox model stratified by registry (tests/federated/test_against_r.py):
# coxph(Surv(time, event) ~ class + strata(registry)), Efron ties, on the union of three registries
# (tests/fixtures/r/federated_cox_data.csv: integer times 1-30, heavy ties shared across registries).
# Also the model on pooled risk sets (no strata), which --pooled-risk-sets gives.
# Run from the repository root: Rscript scripts/r-reference/federated_cox.R
suppressMessages(library(survival))
source("scripts/r-reference/json.R")
d <- read.csv("tests/fixtures/r/federated_cox_data.csv", stringsAsFactors = FALSE)
d$class <- relevel(factor(d$class), ref = "chemo")
one <- function(fit) {
  s <- summary(fit)
  jobj(list(
    names = jsarr(names(coef(fit))), coef = jarr(coef(fit)), se = jarr(sqrt(diag(fit$var))),
    hr = jarr(exp(coef(fit))), lower = jarr(s$conf.int[, "lower .95"]), upper = jarr(s$conf.int[, "upper .95"]),
    p = jarr(s$coefficients[, "Pr(>|z|)"]), loglik = jarr(fit$loglik), iter = jnum(fit$iter),
    score = jnum(fit$score), n = jnum(fit$n), nevent = jnum(fit$nevent)))
}
strat <- coxph(Surv(time, event) ~ class + strata(registry), data = d, ties = "efron")
pooled <- coxph(Surv(time, event) ~ class, data = d, ties = "efron")
out <- jobj(list(r_version = jstr(R.version.string), survival = jstr(as.character(packageVersion("survival"))),
                 stratified = one(strat), pooled = one(pooled)))
writeLines(out, "tests/fixtures/r/federated_cox.json")
