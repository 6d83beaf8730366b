# Reference values for cartreg's restricted mean survival time (cartreg.stats.rmst,
# `cartreg survival --rmst TAU`).
#
#   R_LIBS_USER=/work/rlib Rscript scripts/r-reference/rmst.R     (from the repository root)
#
# For each case (survival's lung, veteran, pbc, colon, aml and small hand-made data)
#   1. writes time, event (0/1) and group as CSV to tests/fixtures/r/data/rmst_<name>.csv,
#   2. reads it back,
#   3. per group: summary(survfit(Surv(time, event) ~ group), rmean = tau)$table[, c("rmean",
#      "se(rmean)")] — what print(fit, rmean = tau) shows,
#   4. for every pair of levels (i < j): survRM2::rmst2(time, status, arm = (group == level_j),
#      tau) on the rows of the two levels (unadjusted: difference, ratio, RMTL ratio with CI and P);
#      a pair where rmst2 stops (tau beyond its admissible range) is written with its message,
#   5. writes tests/fixtures/r/rmst_<name>.json (17 significant digits).
# survRM2 1.0-4 is installed from source (see README.md).

suppressMessages({library(survival); library(survRM2)})
invisible(Sys.setlocale("LC_COLLATE", "C"))
out_dir <- file.path("tests", "fixtures", "r")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)
source(file.path("scripts", "r-reference", "json.R"))

run_case <- function(name, df, tau, group = TRUE, note = "") {
  path <- file.path(data_dir, paste0("rmst_", name, ".csv"))
  write.csv(df, path, row.names = FALSE, na = "")
  d <- read.csv(path, stringsAsFactors = FALSE)
  d <- d[complete.cases(d[, if (group) c("time", "event", "group") else c("time", "event")]), ]
  strata <- character(0)
  if (group) {
    d$group <- factor(d$group)
    fit <- survfit(Surv(time, event) ~ group, data = d)
    tab <- summary(fit, rmean = tau)$table
    levs <- levels(d$group)
    strata <- vapply(seq_along(levs), function(i) jobj(list(
      group = jstr(levs[i]), rmst = jnum(tab[i, "rmean"]), se = jnum(tab[i, "se(rmean)"]))), "")
    contrasts <- character(0)
    for (i in seq_along(levs)) for (j in seq_along(levs)) if (i < j) {
      sub <- d[d$group %in% levs[c(i, j)], ]
      arm <- as.integer(sub$group == levs[j])
      r <- tryCatch(rmst2(sub$time, sub$event, arm, tau = tau), error = function(e) conditionMessage(e))
      if (is.character(r)) {
        contrasts <- c(contrasts, jobj(list(groups = jsarr(levs[c(j, i)]), error = jstr(r))))
      } else {
        u <- r$unadjusted.result
        part <- function(k) jobj(list(est = jnum(u[k, 1]), ci = jarr(u[k, 2:3]), p = jnum(u[k, 4])))
        contrasts <- c(contrasts, jobj(list(
          groups = jsarr(levs[c(j, i)]), diff = part(1), ratio = part(2), rmtl_ratio = part(3),
          rmst_arm1 = jarr(r$RMST.arm1$result[1, ]), rmst_arm0 = jarr(r$RMST.arm0$result[1, ]))))
      }
    }
  } else {
    fit <- survfit(Surv(time, event) ~ 1, data = d)
    tab <- summary(fit, rmean = tau)$table
    strata <- jobj(list(group = "null", rmst = jnum(tab[["rmean"]]), se = jnum(tab[["se(rmean)"]])))
    contrasts <- character(0)
  }
  res <- list(
    dataset = jstr(name), csv = jstr(file.path("data", paste0("rmst_", name, ".csv"))),
    r_version = jstr(R.version.string),
    survival_version = jstr(as.character(packageVersion("survival"))),
    survrm2_version = jstr(as.character(packageVersion("survRM2"))),
    note = jstr(note), tau = jnum(tau), grouped = if (group) "true" else "false",
    strata = paste0("[", paste(strata, collapse = ",\n"), "]"),
    contrasts = paste0("[", paste(contrasts, collapse = ",\n"), "]"))
  writeLines(jobj(res), file.path(out_dir, paste0("rmst_", name, ".json")))
  cat(sprintf("%-22s tau=%g n=%d\n", name, tau, nrow(d)))
}

lung2 <- data.frame(time = lung$time, event = as.integer(lung$status == 2), group = lung$sex)
run_case("lung_sex_365", lung2, 365)
run_case("lung_sex_700", lung2, 700, note = "tau near the end of follow-up")
lungm <- data.frame(time = ceiling(lung$time / 30.4375), event = as.integer(lung$status == 2),
                    group = lung$ph.ecog)
run_case("lung_ecog_months", lungm, 12, note = "4 groups (ecog 3: one patient, its time is 4 months): ties, pairs beyond rmst2's range")
vet <- data.frame(time = veteran$time, event = veteran$status, group = veteran$celltype)
run_case("veteran_celltype", vet, 100, note = "4 groups, tau = 100 days")
pbc2 <- data.frame(time = pbc$time, event = as.integer(pbc$status == 2), group = pbc$trt)
run_case("pbc_trt", pbc2, 3000, note = "NA treatment rows are excluded")
col2 <- colon[colon$etype == 2, ]
col2 <- data.frame(time = col2$time, event = col2$status, group = as.character(col2$rx))
run_case("colon_rx", col2, 1825, note = "3 groups, 5 years")
aml2 <- data.frame(time = aml$time, event = aml$status, group = as.character(aml$x))
run_case("aml_exact_time", aml2, 23, note = "tau equals an event time")
run_case("aml_early", aml2, 8, note = "tau before most events")
run_case("lung_overall", lung2, 500, group = FALSE, note = "no group")
tiny <- data.frame(time = c(1, 2, 3, 4, 2, 3, 5, 6), event = c(1, 1, 0, 1, 1, 0, 1, 0),
                   group = c("a", "a", "a", "a", "b", "b", "b", "b"))
run_case("tiny_case2", tiny, 5.5, note = "tau beyond group a's last time, an event: rmst2 accepts (its case 2)")
tiny$event[4] <- 0
run_case("tiny_beyond", tiny, 5.5, note = "tau beyond group a's last time, censored: rmst2 stops (case 4)")
