# Reference values for cartreg's proportional-hazards test (cartreg.stats.zph.cox_zph).
#
#   Rscript scripts/r-reference/zph.R            (from the repository root)
#
# For each case it
#   1. writes the input columns as CSV to tests/fixtures/r/data/zph_<name>.csv
#      (missing = empty cell; the event column is 0/1),
#   2. reads that CSV back (so R and cartreg see the very same numbers),
#   3. fits coxph(Surv(time, event) ~ factor(group) + numerics [+ strata(s)], ties = ...),
#      then cox.zph(fit, transform = ..., terms = TRUE) (survival 3.5: the score test of
#      Grambsch & Therneau 1994 computed by zph1.c with Efron/Breslow-consistent centring), and
#      writes tests/fixtures/r/zph_<name>.json: the per-term and GLOBAL chisq, df and p, the
#      transformed event times x, the event times, the scaled Schoenfeld residuals y, var, the
#      coefficients and the unscaled Schoenfeld residuals (residuals(fit, "schoenfeld")).
# Term names are cartreg's: the group column name for the factor term (all its columns are one
# term, terms = TRUE), the column name for a numeric; column names "COL=LEVEL" as in cox.R.

suppressMessages(library(survival))
invisible(Sys.setlocale("LC_COLLATE", "C"))   # factor levels sorted like Python's sorted()

out_dir <- file.path("tests", "fixtures", "r")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)

source(file.path("scripts", "r-reference", "json.R"))   # jnum, jarr, jstr, jsarr, jmat, jobj

run_case <- function(name, df, group = NULL, reference = NULL, numeric = character(0),
                     strata = NULL, ties = "efron", transform = "km", note = "") {
  path <- file.path(data_dir, paste0("zph_", name, ".csv"))
  write.csv(df, path, row.names = FALSE, na = "")
  d <- read.csv(path, stringsAsFactors = FALSE)

  rhs <- character(0)
  cols <- character(0)
  terms <- character(0)
  if (!is.null(group)) {
    g <- factor(d[[group]])
    if (!is.null(reference)) g <- relevel(g, ref = reference)
    d$.g <- g
    rhs <- c(rhs, ".g")
    cols <- c(cols, paste0(group, "=", levels(g)[-1]))
    terms <- c(terms, group)
  }
  rhs <- c(rhs, numeric)
  cols <- c(cols, numeric)
  terms <- c(terms, numeric)
  if (!is.null(strata)) rhs <- c(rhs, sprintf("strata(%s)", strata))
  fml <- as.formula(paste("Surv(time, event) ~", paste(rhs, collapse = " + ")))
  fit <- coxph(fml, data = d, ties = ties)
  z <- cox.zph(fit, transform = transform, terms = TRUE)
  tb <- z$table
  nt <- nrow(tb) - 1
  sch <- residuals(fit, type = "schoenfeld")
  if (is.null(dim(sch))) sch <- matrix(sch, ncol = 1)

  res <- list(
    dataset = jstr(name),
    csv = jstr(file.path("data", paste0("zph_", name, ".csv"))),
    r_version = jstr(R.version.string),
    survival_version = jstr(as.character(packageVersion("survival"))),
    call = jstr(paste(deparse(fml), collapse = " ")),
    note = jstr(note),
    group = jstr(group), reference = jstr(if (is.null(group)) NULL else levels(d$.g)[1]),
    numeric = jsarr(numeric), strata = jstr(strata), ties = jstr(ties),
    transform = jstr(transform),
    columns = jsarr(cols),
    coef = jarr(coef(fit)),
    n = jnum(fit$n), events = jnum(fit$nevent),
    terms = jsarr(terms),
    chisq = jarr(tb[1:nt, "chisq"]), df = jarr(tb[1:nt, "df"]), p = jarr(tb[1:nt, "p"]),
    global_chisq = jnum(tb[nt + 1, "chisq"]), global_df = jnum(tb[nt + 1, "df"]),
    global_p = jnum(tb[nt + 1, "p"]),
    x = jarr(z$x), time = jarr(z$time),
    event_strata = if (is.null(z$strata)) "null" else jsarr(as.character(z$strata)),
    y = jmat(matrix(z$y, ncol = nt)), var = jmat(matrix(z$var, nt)),
    schoenfeld = jmat(matrix(sch, ncol = length(cols)))
  )
  writeLines(jobj(res), file.path(out_dir, paste0("zph_", name, ".json")))
  cat(sprintf("%-26s n=%d events=%d global chisq=%.6g p=%.4g\n", name, fit$n, fit$nevent,
              tb[nt + 1, "chisq"], tb[nt + 1, "p"]))
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
pbc2 <- data.frame(time = pbc$time, event = as.integer(pbc$status == 2), age = pbc$age,
                   log_bili = log(pbc$bili), albumin = pbc$albumin, edema = pbc$edema,
                   stage = pbc$stage, trt = pbc$trt)
pbc_m <- pbc2
pbc_m$time <- ceiling(pbc2$time / 91.3125)        # quarters: heavy ties

# a registry-like class comparison: 5 classes of unequal size, one with few events, times in days
set.seed(20221)
ncls <- c(chemotherapy = 40, bispecific = 25, IMiD = 12, radiotherapy = 8, adc = 6)
cls <- rep(names(ncls), ncls)
rate <- c(chemotherapy = 1 / 150, bispecific = 1 / 300, IMiD = 1 / 200, radiotherapy = 1 / 90,
          adc = 1 / 250)[cls]
tt <- ceiling(rexp(length(cls), rate))
cc <- ceiling(runif(length(cls), 30, 720))
klass <- data.frame(time = pmin(tt, cc), event = as.integer(tt <= cc), class = cls)

# ---- cases -------------------------------------------------------------------------------
run_case("lung_sex_age", lung2, numeric = c("sex", "age"))
run_case("lung_sex_age_breslow", lung2, numeric = c("sex", "age"), ties = "breslow")
run_case("lung_ecog_factor_age", lung2, group = "ph.ecog", reference = "0", numeric = "age",
         note = "ph.ecog as a factor (3 columns, one term); one NA row; level 3 has one patient")
run_case("lung_strata_inst", lung2, numeric = c("sex", "age", "ph.karno"), strata = "inst",
         note = "NA in inst and ph.karno; some strata have constant covariates")
run_case("lung_months_ecog", lung_m, group = "ph.ecog", reference = "0",
         numeric = c("age", "wt.loss"), note = "time in months: heavily tied")
run_case("lung_months_ecog_breslow", lung_m, group = "ph.ecog", reference = "0",
         numeric = c("age", "wt.loss"), ties = "breslow")
run_case("lung_sex_age_identity", lung2, numeric = c("sex", "age"), transform = "identity")
run_case("lung_sex_age_rank", lung_m, numeric = c("sex", "age"), transform = "rank")
run_case("lung_sex_age_log", lung2, numeric = c("sex", "age"), transform = "log")
run_case("veteran_celltype_karno", vet, group = "celltype", reference = "large",
         numeric = c("karno", "age"))
run_case("veteran_strata_trt", vet, group = "celltype", reference = "squamous",
         numeric = "karno", strata = "trt")
run_case("pbc_stage", pbc2, group = "stage", reference = "1",
         numeric = c("age", "log_bili", "albumin", "edema"), note = "stage has NA rows")
run_case("pbc_quarters_trt", pbc_m, group = "trt", reference = "1",
         numeric = c("log_bili", "albumin"), note = "quarters: heavy ties; NA trt rows")
run_case("classes", klass, group = "class", reference = "chemotherapy",
         note = "registry-like: class as the only term, one small class")
