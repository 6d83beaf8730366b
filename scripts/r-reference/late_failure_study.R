#!/usr/bin/env Rscript
# Reference numbers of the late-failure study, computed by R survival/cmprsk from the per-patient
# endpoint table that cartreg derived (tests/fixtures/study/endpoints.csv).
# Run from the repository root:  Rscript scripts/r-reference/late_failure_study.R [ENDPOINTS.csv OUT.json]
# Output: tests/fixtures/study/r_reference.json (compared by tests/study/test_against_r.py).
# The endpoint table under the default rules of issue 10 is endpoints_new_rules.csv, its reference
# r_reference_new_rules.json (scripts/r-reference/make_study_fixture.sh makes both).
suppressPackageStartupMessages({ library(survival); library(cmprsk); library(jsonlite) })

M <- 30.4375                      # days per month
landmark <- 6 * M                 # landmark_months = 6
# Optional arguments: ENDPOINTS.csv OUT.json MIN_CLASS_SIZE (defaults: the committed fixture paths, 5).
args <- commandArgs(trailingOnly = TRUE)
input <- if (length(args) >= 1) args[1] else "tests/fixtures/study/endpoints.csv"
output <- if (length(args) >= 2) args[2] else "tests/fixtures/study/r_reference.json"
ep <- read.csv(input, stringsAsFactors = FALSE, na.strings = "")
lg <- function(x) x %in% c("true", "TRUE", TRUE)
ep$late <- lg(ep$late); ep$os2_event <- lg(ep$os2_event); ep$pfs2_event <- lg(ep$pfs2_event)
ep$os2_treated_event <- lg(ep$os2_treated_event)
late <- ep[ep$late, ]
treated_all <- late[!is.na(late$tx_status) & late$tx_status == "treated", ]
# Rule 7 (issue 10): only classes with >= min_class_size (default 5) treated patients, and not `other`,
# are compared (Cox, log-rank, cox.zph); every class is described (n, 6-month rates).
# min_class_size = 1 compares every class, `other` included (the behaviour before issue 10).
min_class_size <- if (length(args) >= 3) as.integer(args[3]) else 5L
n_cls <- table(treated_all$tx_class)
compared <- names(n_cls)[n_cls >= min_class_size]
if (min_class_size > 1) compared <- setdiff(compared, "other")
treated <- treated_all[treated_all$tx_class %in% compared, ]

med <- function(fit) {
  t <- summary(fit)$table
  list(n = unname(t["n.start"]), events = unname(t["events"]), median = unname(t["median"]) / M,
       lower = unname(t["0.95LCL"]) / M, upper = unname(t["0.95UCL"]) / M)
}
out <- list(R = R.version.string, survival = as.character(packageVersion("survival")),
            cmprsk = as.character(packageVersion("cmprsk")))

out$os2 <- med(survfit(Surv(os2_days, os2_event) ~ 1, data = late, conf.type = "log-log"))
out$pfs2 <- med(survfit(Surv(pfs2_days, pfs2_event) ~ 1, data = treated_all, conf.type = "log-log"))
# median follow-up: reverse Kaplan-Meier (death censors, censoring is the event)
out$followup <- med(survfit(Surv(os2_days, !os2_event) ~ 1, data = late, conf.type = "log-log"))

by_class <- list()
for (cl in sort(unique(treated_all$tx_class))) {
  d <- treated_all[treated_all$tx_class == cl, ]
  one <- function(time, status) {
    s <- summary(survfit(Surv(time, status) ~ 1, conf.type = "log-log"), times = landmark, extend = TRUE)
    list(est = s$surv, lower = s$lower, upper = s$upper, n_risk = s$n.risk)
  }
  by_class[[cl]] <- list(n = nrow(d), pfs2_6mo = one(d$pfs2_days, d$pfs2_event),
                         os2_6mo = one(d$os2_treated_days, d$os2_treated_event))
}
out$by_class <- by_class
out$compared <- sort(compared)

cox <- function(time, status) {
  d <- data.frame(time = time, status = status, cls = treated$tx_class)
  with_events <- names(which(tapply(d$status, d$cls, sum) > 0))
  d <- d[d$cls %in% with_events, ]
  d$cls <- relevel(factor(d$cls), ref = "chemotherapy")
  fit <- coxph(Surv(time, status) ~ cls, data = d, ties = "efron")
  s <- summary(fit)
  z <- cox.zph(fit)  # transform = "km", terms = TRUE: the class factor is one term
  ph <- list(chisq = z$table["GLOBAL", "chisq"], df = z$table["GLOBAL", "df"], p = z$table["GLOBAL", "p"],
             class = list(chisq = z$table["cls", "chisq"], df = z$table["cls", "df"], p = z$table["cls", "p"]))
  res <- list()
  for (i in seq_len(nrow(s$coefficients))) {
    lvl <- sub("^cls", "", rownames(s$coefficients)[i])
    res[[lvl]] <- list(hr = s$conf.int[i, "exp(coef)"], lower = s$conf.int[i, "lower .95"],
                       upper = s$conf.int[i, "upper .95"], p = s$coefficients[i, "Pr(>|z|)"])
  }
  list(terms = res, loglik = fit$loglik[2], ph_test = ph)
}
out$pfs2_cox <- cox(treated$pfs2_days, treated$pfs2_event)
out$os2_cox <- cox(treated$os2_treated_days, treated$os2_treated_event)

lr <- function(time, status) {
  sd <- survdiff(Surv(time, status) ~ treated$tx_class)
  list(chi2 = sd$chisq, df = length(sd$n) - 1, p = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE))
}
out$pfs2_logrank <- lr(treated$pfs2_days, treated$pfs2_event)
out$os2_logrank <- lr(treated$os2_treated_days, treated$os2_treated_event)

# cumulative incidence of failure from infusion (1 = failure, 2 = death without failure)
ci <- cuminc(ep$cif_days, ep$cif_status, cencode = 0)
tp <- timepoints(ci, c(3, 6, 12) * M)
est <- tp$est["1 1", ]; v <- tp$var["1 1", ]
z <- qnorm(0.975)
# log(-log) interval as tidycmprsk: est^exp(+-z se / (est log est))
lo <- est^exp(-z * sqrt(v) / (est * log(est))); hi <- est^exp(z * sqrt(v) / (est * log(est)))
out$cif <- list(months = c(3, 6, 12), est = unname(est), lower = unname(lo), upper = unname(hi))

write_json(out, output, auto_unbox = TRUE, digits = NA, pretty = TRUE)
cat("wrote", output, "\n")
