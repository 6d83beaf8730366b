# Reference values for cartreg's propensity weighting (cartreg.stats.propensity).
#
#   R_LIBS_USER=/work/rlib Rscript scripts/r-reference/propensity.R     (from the repository root)
#
# For each case (MASS::birthwt with smoking as the "treatment"; survival's pbc with
# D-penicillamine vs placebo, missing covariates)
#   1. writes the columns as CSV to tests/fixtures/r/data/propensity_<name>.csv and reads it back,
#   2. fits the propensity model glm(treated ~ covariates, binomial) on complete rows (text columns
#      and the columns in `factors` as factors; treated = second sorted level),
#   3. computes the weights by their formulas: ATE 1/e, 1/(1-e); ATT 1, e/(1-e); stabilised ATE
#      p/e, (1-p)/(1-e); stabilised ATT control weights times (1-p)/p, with p = mean(treated),
#   4. the balance table: tableone::CreateTableOne(smd = TRUE) before weighting and
#      tableone::svyCreateTableOne(smd = TRUE) on survey::svydesign(ids = ~1, weights = ~w) after
#      (numeric covariates continuous, factors categorical), via ExtractSmd,
#   5. writes tests/fixtures/r/propensity_<name>.json: coefficients, ps, weights (per complete row,
#      in row order), the row numbers used, SMDs before/after, Kish ESS per group.
# tableone 0.13.2 (from source) and survey (Debian r-cran-survey) are needed; see README.md.

suppressMessages({library(MASS); library(survival); library(tableone); library(survey)})
invisible(Sys.setlocale("LC_COLLATE", "C"))
out_dir <- file.path("tests", "fixtures", "r")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)
source(file.path("scripts", "r-reference", "json.R"))

run_case <- function(name, df, treatment, covariates, factors = character(0), estimand = "ATE",
                     stabilize = FALSE, note = "") {
  path <- file.path(data_dir, paste0("propensity_", name, ".csv"))
  write.csv(df, path, row.names = FALSE, na = "")
  d <- read.csv(path, stringsAsFactors = FALSE)
  d$.row <- seq_len(nrow(d))
  cats <- covariates[vapply(covariates, function(v) is.character(d[[v]]) || v %in% factors, TRUE)]
  for (v in cats) d[[v]] <- factor(d[[v]])
  tl <- sort(unique(as.character(d[[treatment]][!is.na(d[[treatment]])])))
  d$.z <- as.integer(as.character(d[[treatment]]) == tl[2])
  d <- d[complete.cases(d[, c(".z", covariates)]), ]
  fml <- as.formula(paste(".z ~", paste(sprintf("`%s`", covariates), collapse = " + ")))
  fit <- glm(fml, data = d, family = binomial)
  e <- fitted(fit); z <- d$.z; p <- mean(z)
  w <- if (estimand == "ATE") ifelse(z == 1, 1 / e, 1 / (1 - e)) else ifelse(z == 1, 1, e / (1 - e))
  if (stabilize) w <- if (estimand == "ATE") w * ifelse(z == 1, p, 1 - p) else ifelse(z == 1, 1, w * (1 - p) / p)
  d$.w <- w
  d$.grp <- factor(ifelse(z == 1, "treated", "control"), levels = c("control", "treated"))
  before <- ExtractSmd(CreateTableOne(vars = covariates, strata = ".grp", data = d,
                                      factorVars = cats, test = FALSE, smd = TRUE))
  des <- svydesign(ids = ~1, data = d, weights = ~.w)
  after <- ExtractSmd(svyCreateTableOne(vars = covariates, strata = ".grp", data = des,
                                        factorVars = cats, test = FALSE, smd = TRUE))
  ess <- function(x) sum(x)^2 / sum(x^2)
  res <- list(
    dataset = jstr(name), csv = jstr(file.path("data", paste0("propensity_", name, ".csv"))),
    r_version = jstr(R.version.string), tableone_version = jstr(as.character(packageVersion("tableone"))),
    survey_version = jstr(as.character(packageVersion("survey"))), note = jstr(note),
    treatment = jstr(treatment), treated = jstr(tl[2]), control = jstr(tl[1]),
    covariates = jsarr(covariates), factors = jsarr(factors), categorical = jsarr(cats),
    estimand = jstr(estimand), stabilized = if (stabilize) "true" else "false",
    coef = jarr(coef(fit)), rows = jarr(d$.row), ps = jarr(e), weights = jarr(w),
    n = jnum(nrow(d)), excluded = jnum(nrow(df) - nrow(d)),
    smd_before = jarr(before[covariates, 1]), smd_after = jarr(after[covariates, 1]),
    ess_treated = jnum(ess(w[z == 1])), ess_control = jnum(ess(w[z == 0])))
  writeLines(jobj(res), file.path(out_dir, paste0("propensity_", name, ".json")))
  cat(sprintf("%-24s n=%d %s%s\n", name, nrow(d), estimand, if (stabilize) " stabilised" else ""))
}

bw <- birthwt
bw$race <- c("white", "black", "other")[bw$race]
bw$smoke <- ifelse(bw$smoke == 1, "yes", "no")
covs <- c("age", "lwt", "race", "ptl", "ht", "ui", "ftv")
run_case("birthwt_ate", bw, "smoke", covs)
run_case("birthwt_ate_stab", bw, "smoke", covs, stabilize = TRUE)
run_case("birthwt_att", bw, "smoke", covs, estimand = "ATT")
run_case("birthwt_att_stab", bw, "smoke", covs, estimand = "ATT", stabilize = TRUE)
pbc2 <- data.frame(trt = pbc$trt, age = pbc$age, sex = pbc$sex, bili = log(pbc$bili),
                   albumin = pbc$albumin, edema = pbc$edema, stage = pbc$stage, chol = pbc$chol)
run_case("pbc_ate", pbc2, "trt", c("age", "sex", "bili", "albumin", "edema", "stage", "chol"),
         factors = "stage", note = "missing trt, stage and chol rows are excluded; stage a factor")
run_case("pbc_att", pbc2, "trt", c("age", "sex", "bili", "albumin", "edema", "stage"),
         factors = "stage", estimand = "ATT")
run_case("pbc_ate_stab", pbc2, "trt", c("age", "sex", "bili", "albumin", "edema", "stage"),
         factors = "stage", stabilize = TRUE, note = "the worked example of docs/statistics.md")
