# Reference values for cartreg's group comparisons (cartreg.stats.compare, `cartreg compare`).
#
#   R_LIBS_USER=/work/rlib Rscript scripts/r-reference/compare.R     (from the repository root)
#
# For each case (public data shipped with R: MASS::birthwt, survival's pbc, lung, ovarian, colon)
#   1. writes the columns as CSV to tests/fixtures/r/data/compare_<name>.csv (missing = empty),
#   2. reads the CSV back (R and cartreg see the same numbers),
#   3. classifies each variable as gtsummary does by default (numeric with fewer than 10 distinct
#      values, text or logical -> categorical; otherwise continuous),
#   4. computes what gtsummary::tbl_summary(by =) |> add_p() reports by default:
#        categorical: counts, % of non-missing; chisq.test(correct = FALSE) when every expected
#                     count is >= 5, else fisher.test (gtsummary:::assign_test's rule);
#        continuous:  median, Q1, Q3 (quantile type 7, R's default; type 2 also written), mean, SD;
#                     wilcox.test for 2 groups, kruskal.test for more,
#      and tableone's SMD (CreateTableOne(..., smd = TRUE) |> ExtractSmd(): one column for two
#      groups, "average" plus the pairwise columns for more),
#   5. writes tests/fixtures/r/compare_<name>.json (17 significant digits).
# gtsummary itself is not installed (not in Debian); the rule above is what its add_p() calls.
# tableone 0.13.2 is installed from source (see README.md).

suppressMessages({library(survival); library(MASS); library(tableone)})
invisible(Sys.setlocale("LC_COLLATE", "C"))

out_dir <- file.path("tests", "fixtures", "r")
data_dir <- file.path(out_dir, "data")
dir.create(data_dir, recursive = TRUE, showWarnings = FALSE)
source(file.path("scripts", "r-reference", "json.R"))

is_categorical <- function(x) !is.numeric(x) || length(unique(x[!is.na(x)])) < 10

one_var <- function(d, by, v) {
  x <- d[[v]]
  g <- factor(d[[by]])
  keep <- !is.na(g)
  x <- x[keep]; g <- droplevels(g[keep])
  cat_ <- is_categorical(x)
  out <- list(name = jstr(v), type = jstr(if (cat_) "categorical" else "continuous"),
              n_missing = jnum(sum(is.na(x))),
              n_missing_by_group = jarr(tapply(is.na(x), g, sum)))
  if (cat_) {
    f <- factor(x)
    tab <- table(f, g)                      # levels x groups, missing excluded
    pct <- 100 * prop.table(tab, 2)
    use <- tab[rowSums(tab) > 0, colSums(tab) > 0, drop = FALSE]
    exp_ <- suppressWarnings(chisq.test(use, correct = FALSE)$expected)
    if (all(exp_ >= 5)) {
      t <- chisq.test(use, correct = FALSE)
      test <- "chisq"; stat <- unname(t$statistic); df <- unname(t$parameter); p <- t$p.value
    } else {
      t <- fisher.test(use, workspace = 2e7)
      test <- "fisher"; stat <- NA; df <- NA; p <- t$p.value
    }
    out <- c(out, list(levels = jsarr(levels(f)), counts = jmat(unclass(tab)),
                       pct = jmat(unclass(pct)), min_expected = jnum(min(exp_))))
  } else {
    qs <- function(type) t(sapply(split(x, g), function(z) {
      z <- z[!is.na(z)]; quantile(z, c(.5, .25, .75), type = type, names = FALSE)}))
    q7 <- qs(7); q2 <- qs(2)
    mn <- tapply(x, g, mean, na.rm = TRUE); sdv <- tapply(x, g, sd, na.rm = TRUE)
    nn <- tapply(!is.na(x), g, sum)
    if (nlevels(g) == 2) {
      t <- wilcox.test(x ~ g)
      test <- "wilcoxon"; stat <- unname(t$statistic); df <- NA; p <- t$p.value
      xs <- split(x, g); nx <- sum(!is.na(xs[[1]])); ny <- sum(!is.na(xs[[2]]))
      xx <- x[!is.na(x)]
      exact <- (nx < 50 && ny < 50 && length(unique(xx)) == length(xx))
      out$exact <- if (exact) "true" else "false"
    } else {
      t <- kruskal.test(x ~ g)
      test <- "kruskal"; stat <- unname(t$statistic); df <- unname(t$parameter); p <- t$p.value
    }
    out <- c(out, list(n = jarr(nn), median = jarr(q7[, 1]), q1 = jarr(q7[, 2]), q3 = jarr(q7[, 3]),
                       median_type2 = jarr(q2[, 1]), q1_type2 = jarr(q2[, 2]), q3_type2 = jarr(q2[, 3]),
                       mean = jarr(mn), sd = jarr(sdv)))
  }
  out <- c(out, list(test = jstr(test), statistic = jnum(stat), df = jnum(df), p = jnum(p)))
  # tableone SMD
  dd <- d[keep, , drop = FALSE]
  dd[[by]] <- factor(dd[[by]])
  if (cat_) dd[[v]] <- factor(dd[[v]])
  tab1 <- suppressWarnings(CreateTableOne(vars = v, strata = by, data = dd,
                                          factorVars = if (cat_) v else NULL, test = FALSE, smd = TRUE))
  smd <- ExtractSmd(tab1)
  if (ncol(smd) > 1) {
    out$smd <- jnum(smd[1, "average"]); out$smd_pairs <- jarr(smd[1, -1])
  } else {
    out$smd <- jnum(smd[1, 1]); out$smd_pairs <- jarr(smd[1, 1])
  }
  jobj(out)
}

run_case <- function(name, df, by, vars, note = "") {
  path <- file.path(data_dir, paste0("compare_", name, ".csv"))
  write.csv(df, path, row.names = FALSE, na = "")
  d <- read.csv(path, stringsAsFactors = FALSE)
  g <- factor(d[[by]])
  res <- list(
    dataset = jstr(name), csv = jstr(file.path("data", paste0("compare_", name, ".csv"))),
    r_version = jstr(R.version.string),
    tableone_version = jstr(as.character(packageVersion("tableone"))),
    note = jstr(note), by = jstr(by), vars = jsarr(vars),
    groups = jsarr(levels(g)), n = jarr(as.vector(table(g))), excluded = jnum(sum(is.na(g))),
    variables = paste0("[", paste(vapply(vars, function(v) one_var(d, by, v), ""), collapse = ",\n"), "]")
  )
  writeLines(jobj(res), file.path(out_dir, paste0("compare_", name, ".json")))
  cat(sprintf("%-20s n=%d groups=%d vars=%d\n", name, nrow(d), nlevels(g), length(vars)))
}

bw <- birthwt
run_case("birthwt_race", bw, "race", c("low", "age", "lwt", "smoke", "ptl", "ht", "ui", "ftv", "bwt"),
         note = "3 groups; ptl and ftv give sparse r x c tables (Fisher)")
run_case("birthwt_smoke", bw, "smoke", c("age", "lwt", "race", "ptl", "ht", "ui", "ftv", "bwt"),
         note = "2 groups; ties in age and lwt (normal approximation)")
pbc2 <- pbc[, c("trt", "age", "sex", "ascites", "hepato", "spiders", "edema", "bili", "chol",
                "albumin", "copper", "platelet", "stage")]
run_case("pbc_trt", pbc2, "trt", setdiff(names(pbc2), "trt"),
         note = "106 rows without trt are excluded; NA in several variables")
run_case("pbc_stage", pbc2, "stage", c("trt", "age", "sex", "ascites", "edema", "bili", "albumin"),
         note = "4 groups; edema x stage is a sparse 3 x 4 table (Fisher)")
lung2 <- lung[, c("sex", "age", "ph.ecog", "ph.karno", "wt.loss", "meal.cal")]
lung2$sex <- ifelse(lung2$sex == 1, "male", "female")
run_case("lung_sex", lung2, "sex", c("age", "ph.ecog", "ph.karno", "wt.loss", "meal.cal"),
         note = "ph.ecog level 3 has one patient (Fisher 4 x 2)")
ova <- ovarian[, c("rx", "age", "futime", "resid.ds", "ecog.ps")]
run_case("ovarian_rx", ova, "rx", c("age", "futime", "resid.ds", "ecog.ps"),
         note = "n = 26 without ties: exact Wilcoxon")
col2 <- colon[colon$etype == 2, c("rx", "sex", "age", "obstruct", "perfor", "adhere", "nodes",
                                   "differ", "extent", "surg", "node4")]
col2$rx <- as.character(col2$rx)
run_case("colon_rx", col2, "rx", setdiff(names(col2), "rx"),
         note = "3 groups, n = 929; large expected counts (chi-squared)")
