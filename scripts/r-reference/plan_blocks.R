# Reference values for the plan blocks of issue 13 (a [[survival]] and a [[cuminc]] block).
#
#   Rscript scripts/r-reference/plan_blocks.R            (from the repository root)
#
# Input: tests/fixtures/r/data/plan_infused.csv, the endpoint catalogue of the infused patients of the
# synthetic registry `cartreg synth --patients 800 --seed 13` (columns os_infusion_*, pfs_infusion_*,
# product, age, ecog, ldh_elevated, relapse_nrm_*; missing = empty cell), written once by
# tests/plan/test_plan_against_r.py's docstring recipe. Output: tests/fixtures/r/plan_blocks.json with
#   survival: endpoint os_infusion by product (reference axi-cel, rows with a missing product dropped),
#     per group n, events, median and CI (summary(fit)$table, conf.type = "log-log"), landmarks at 6, 12,
#     24 months (summary(fit, times = m * 30.4375, extend = TRUE)), survdiff, coxph(~ product) Efron,
#     coxph(~ product + age + ecog + ldh_elevated) Efron (complete cases);
#   model: coxph(pfs_infusion ~ age + product + ldh_elevated), HRs and drop1 LR tests (global P);
#   cuminc: relapse_nrm by product, cmprsk::cuminc estimates and variances at 3, 6, 12 months
#     (timepoints), log(-log) CIs as tidycmprsk, Gray's test.
suppressMessages({library(survival); library(cmprsk)})
invisible(Sys.setlocale("LC_COLLATE", "C"))
source(file.path("scripts", "r-reference", "json.R"))

d <- read.csv(file.path("tests", "fixtures", "r", "data", "plan_infused.csv"), na.strings = "")
d <- d[!is.na(d$product), ]
d$product <- relevel(factor(d$product), ref = "axi-cel")
d$ldh_elevated <- as.numeric(as.logical(d$ldh_elevated))
d$os_event <- as.numeric(as.logical(d$os_infusion_event))
M <- 30.4375
lm_months <- c(6, 12, 24)

fit <- survfit(Surv(os_infusion_days, os_event) ~ product, data = d, conf.type = "log-log")
tab <- summary(fit)$table
groups <- list()
for (i in seq_along(levels(d$product))) {
  lv <- levels(d$product)[i]
  one <- survfit(Surv(os_infusion_days, os_event) ~ 1, data = d[d$product == lv, ], conf.type = "log-log")
  s <- summary(one, times = lm_months * M, extend = TRUE)
  row <- tab[paste0("product=", lv), ]
  groups[[lv]] <- jobj(list(
    n = jnum(row[["records"]]), events = jnum(row[["events"]]),
    median = jnum(row[["median"]] / M), lower = jnum(row[["0.95LCL"]] / M), upper = jnum(row[["0.95UCL"]] / M),
    surv = jarr(s$surv), surv_lower = jarr(s$lower), surv_upper = jarr(s$upper), n_risk = jarr(s$n.risk)))
}
sd <- survdiff(Surv(os_infusion_days, os_event) ~ product, data = d)
cx <- coxph(Surv(os_infusion_days, os_event) ~ product, data = d, ties = "efron")
cs <- summary(cx)
adj <- coxph(Surv(os_infusion_days, os_event) ~ product + age + ecog + ldh_elevated, data = d, ties = "efron")
as <- summary(adj)
cox_json <- function(s, k) jobj(list(terms = jsarr(rownames(s$coefficients)[k]), hr = jarr(s$conf.int[k, 1]),
  lower = jarr(s$conf.int[k, 3]), upper = jarr(s$conf.int[k, 4]), p = jarr(s$coefficients[k, 5]),
  n = jnum(s$n), events = jnum(s$nevent)))
k <- seq_len(nlevels(d$product) - 1)
survival <- jobj(list(groups = jobj(groups), logrank_chi2 = jnum(sd$chisq),
  logrank_df = jnum(length(sd$n) - 1), logrank_p = jnum(pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE)),
  cox = cox_json(cs, k), adjusted = cox_json(as, k)))

ci <- cuminc(d$relapse_nrm_days, d$relapse_nrm_status, as.character(d$product))
tp <- timepoints(ci, c(3, 6, 12) * M)
z <- qnorm(0.025)
est <- tp$est; se <- sqrt(tp$var)
lo <- est^exp(z * se / (est * log(est))); hi <- est^exp(-z * se / (est * log(est)))
rows <- rownames(est)
cum <- list()
for (r in seq_along(rows)) cum[[rows[r]]] <- jobj(list(est = jarr(est[r, ]), lower = jarr(lo[r, ]), upper = jarr(hi[r, ])))
gray <- list()
for (cause in rownames(ci$Tests)) gray[[cause]] <- jobj(list(stat = jnum(ci$Tests[cause, "stat"]),
  p = jnum(ci$Tests[cause, "pv"]), df = jnum(ci$Tests[cause, "df"])))
# [[model]] kind = "cox": pfs_infusion ~ age + product + ldh_elevated (complete cases), Efron; global P of
# each variable by the LR test of dropping it (drop1(fit, test = "Chisq"), = car::Anova type III LR).
d$pfs_event <- as.numeric(as.logical(d$pfs_infusion_event))
dm <- na.omit(d[, c("pfs_infusion_days", "pfs_event", "age", "product", "ldh_elevated")])
m <- coxph(Surv(pfs_infusion_days, pfs_event) ~ age + product + ldh_elevated, data = dm, ties = "efron")
ms <- summary(m)
dr <- drop1(m, test = "Chisq")
model <- jobj(list(terms = jsarr(rownames(ms$coefficients)), hr = jarr(ms$conf.int[, 1]), lower = jarr(ms$conf.int[, 3]),
  upper = jarr(ms$conf.int[, 4]), p = jarr(ms$coefficients[, 5]), n = jnum(ms$n), events = jnum(ms$nevent),
  drop1_vars = jsarr(rownames(dr)[-1]), drop1_chi2 = jarr(dr$LRT[-1]), drop1_p = jarr(dr[["Pr(>Chi)"]][-1])))
out <- jobj(list(model_block = model, r_version = jstr(R.version.string), survival = jstr(as.character(packageVersion("survival"))),
  cmprsk = jstr(as.character(packageVersion("cmprsk"))), survival_block = survival,
  cuminc_block = jobj(list(curves = jobj(cum), gray = jobj(gray)))))
writeLines(out, file.path("tests", "fixtures", "r", "plan_blocks.json"))
