#!/usr/bin/env Rscript
# Reference values for cartreg.stats.cuminc (competing risks), from R's cmprsk package.
#
#   Rscript scripts/r-reference/cuminc.R [repo-root]
#
# Writes, for each case below,
#   tests/fixtures/r/data/cuminc_<data>.csv   the input (time, status, group[, strata]) as used by R
#   tests/fixtures/r/cuminc_<case>.json       cmprsk::cuminc curves (time, est, var), timepoints()
#                                             at chosen times, tidycmprsk-style log(-log) CIs, Tests
# All numbers are written with sprintf("%.17g") (full double precision).
#
# Every data set is written to CSV first and read back, and R computes on the data *as read back*,
# so Python and R see identical doubles.
#
# tidycmprsk is not installed here (not packaged for Debian). Its CI is computed from cmprsk's
# est/var with tidycmprsk's documented formula (add_conf.int() in tidycmprsk 1.x):
#   conf.low  = est ^ exp( qnorm((1 - conf.level)/2) * se / (est * log(est)))
#   conf.high = est ^ exp(-qnorm((1 - conf.level)/2) * se / (est * log(est)))
#   NaN -> NA
# No JSON package is needed: JSON is written by hand (jsonlite is not installed either).

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

args <- commandArgs(trailingOnly = TRUE)
root <- if (length(args) >= 1) args[1] else "."
datadir <- file.path(root, "tests", "fixtures", "r", "data")
outdir <- file.path(root, "tests", "fixtures", "r")
dir.create(datadir, recursive = TRUE, showWarnings = FALSE)

# ---- tiny JSON writer ------------------------------------------------------------------------------
jnum <- function(x) {
  x <- as.numeric(x)
  ifelse(is.na(x), "null", sprintf("%.17g", x))
}
jarr <- function(x) paste0("[", paste(jnum(x), collapse = ", "), "]")
jstr <- function(x) paste0("\"", gsub("\"", "\\\\\"", as.character(x)), "\"")
jstrarr <- function(x) paste0("[", paste(jstr(x), collapse = ", "), "]")
jobj <- function(...) {
  kv <- list(...)
  paste0("{", paste(sprintf("\"%s\": %s", names(kv), unlist(kv)), collapse = ", "), "}")
}
jlist <- function(items) paste0("[\n  ", paste(items, collapse = ",\n  "), "\n]")

tidy_ci <- function(est, se, conf.level) {
  z <- qnorm((1 - conf.level) / 2)
  lo <- est^exp(z * se / (est * log(est)))
  hi <- est^exp(-z * se / (est * log(est)))
  lo[is.nan(lo)] <- NA
  hi[is.nan(hi)] <- NA
  list(lower = lo, upper = hi)
}

write_data <- function(d, name) {
  path <- file.path(datadir, paste0("cuminc_", name, ".csv"))
  write.csv(d, path, row.names = FALSE, na = "")
  read.csv(path, na.strings = "", stringsAsFactors = FALSE)
}

run_case <- function(case, d, file, group = NULL, strata = NULL, cencode = 0, times,
                     conf.level = 0.95, note = "") {
  ftime <- d$time
  fstatus <- d$status
  g <- if (is.null(group)) NULL else d[[group]]
  s <- if (is.null(strata)) NULL else d[[strata]]
  n_all <- nrow(d)
  cc <- !is.na(ftime) & !is.na(fstatus)
  if (!is.null(g)) cc <- cc & !is.na(g)
  if (!is.null(s)) cc <- cc & !is.na(s)
  fit <- if (is.null(g) && is.null(s)) {
    cuminc(ftime, fstatus, cencode = cencode)
  } else if (is.null(s)) {
    cuminc(ftime, fstatus, g, cencode = cencode)
  } else {
    cuminc(ftime, fstatus, g, s, cencode = cencode)
  }
  gl <- if (is.null(g)) "1" else levels(as.factor(g[cc]))
  cl <- sort(unique(fstatus[cc][fstatus[cc] != cencode]))
  curves <- fit[names(fit) != "Tests"]
  items <- character(0)
  l <- 0
  for (ci in seq_along(cl)) {
    for (gi in seq_along(gl)) {
      l <- l + 1
      cv <- curves[[l]]
      items <- c(items, jobj(name = jstr(names(curves)[l]), cause = jstr(cl[ci]), group = jstr(gl[gi]),
                             time = jarr(cv$time), est = jarr(cv$est), var = jarr(cv$var)))
    }
  }
  tp <- timepoints(fit, times)
  ci <- tidy_ci(tp$est, sqrt(tp$var), conf.level)
  tpitems <- character(0)
  l <- 0
  for (ci_ in seq_along(cl)) {
    for (gi in seq_along(gl)) {
      l <- l + 1
      tpitems <- c(tpitems, jobj(cause = jstr(cl[ci_]), group = jstr(gl[gi]), est = jarr(tp$est[l, ]),
                                 var = jarr(tp$var[l, ]), lower = jarr(ci$lower[l, ]),
                                 upper = jarr(ci$upper[l, ])))
    }
  }
  tests <- "null"
  if (!is.null(fit$Tests)) {
    tt <- fit$Tests
    tests <- jlist(sapply(seq_len(nrow(tt)), function(i) {
      jobj(cause = jstr(rownames(tt)[i]), stat = jnum(tt[i, "stat"]), pv = jnum(tt[i, "pv"]),
           df = jnum(tt[i, "df"]))
    }))
  }
  out <- paste0(
    "{\n",
    "\"case\": ", jstr(case), ",\n",
    "\"note\": ", jstr(note), ",\n",
    "\"r_version\": ", jstr(R.version.string), ",\n",
    "\"cmprsk_version\": ", jstr(as.character(packageVersion("cmprsk"))), ",\n",
    "\"survival_version\": ", jstr(as.character(packageVersion("survival"))), ",\n",
    "\"data\": ", jstr(paste0("data/cuminc_", file, ".csv")), ",\n",
    "\"group\": ", if (is.null(group)) "null" else jstr(group), ",\n",
    "\"strata\": ", if (is.null(strata)) "null" else jstr(strata), ",\n",
    "\"cencode\": ", jstr(cencode), ",\n",
    "\"n\": ", sum(cc), ",\n",
    "\"excluded\": ", n_all - sum(cc), ",\n",
    "\"causes\": ", jstrarr(cl), ",\n",
    "\"groups\": ", jstrarr(gl), ",\n",
    "\"conf_level\": ", jnum(conf.level), ",\n",
    "\"curves\": ", jlist(items), ",\n",
    "\"times\": ", jarr(sort(unique(times))), ",\n",
    "\"timepoints\": ", jlist(tpitems), ",\n",
    "\"tests\": ", tests, "\n",
    "}\n")
  writeLines(out, file.path(outdir, paste0("cuminc_", case, ".json")))
  invisible(fit)
}

# ---- mgus2: progression to a plasma cell malignancy (PCM) vs death without PCM, months --------------
# Coding as in the survival package's compete vignette. Many tied times, also ties between causes.
m <- survival::mgus2
mg <- data.frame(
  time = ifelse(m$pstat == 0, m$futime, m$ptime),
  status = ifelse(m$pstat == 0, 2 * m$death, 1),
  sex = as.character(m$sex),
  agegrp = ifelse(m$age >= 70, "70+", "<70"),
  stringsAsFactors = FALSE
)
mg <- write_data(mg, "mgus2")
run_case("mgus2_sex", mg, "mgus2", group = "sex", times = c(0, 1, 12, 60, 120, 240, 400, 424, 430),
         note = "mgus2, PCM (1) vs death (2), by sex")
run_case("mgus2_all", mg, "mgus2", times = c(12, 60, 120, 240, 400),
         note = "mgus2, PCM (1) vs death (2), no group")
run_case("mgus2_sex_strat", mg, "mgus2", group = "sex", strata = "agegrp", times = c(60, 120),
         note = "mgus2 by sex, Gray's test stratified by age group", conf.level = 0.9)

# Same data on a yearly time scale: heavy ties, also between the two causes at the same time.
my <- data.frame(time = mg$time %/% 12, status = mg$status, sex = mg$sex, stringsAsFactors = FALSE)
my <- write_data(my, "mgus2_years")
run_case("mgus2_years_sex", my, "mgus2_years", group = "sex", times = c(1, 5, 10, 20, 30),
         note = "mgus2 in whole years: ties between causes")

# ---- pbc: transplant (1) vs death (2), days ----------------------------------------------------------
p <- survival::pbc
pb <- data.frame(time = p$time, status = p$status, trt = p$trt, stage = p$stage)
pb <- write_data(pb, "pbc")
run_case("pbc_trt", pb, "pbc", group = "trt", times = c(365, 1825, 3650),
         note = "pbc by trt: 106 non-randomised patients have trt missing")
run_case("pbc_stage", pb, "pbc", group = "stage", times = c(365, 1825, 3650, 5000),
         note = "pbc by histologic stage: 4 groups of different sizes, 6 missing")

# ---- cmprsk's own example (?cuminc) --------------------------------------------------------------------
set.seed(2)
ss <- rexp(100)
gg <- factor(sample(1:3, 100, replace = TRUE), 1:3, c("a", "b", "c"))
cc <- sample(0:2, 100, replace = TRUE)
strt <- sample(1:2, 100, replace = TRUE)
ex <- data.frame(time = ss, status = cc, group = as.character(gg), strata = strt, stringsAsFactors = FALSE)
ex <- write_data(ex, "cmprsk_example")
run_case("cmprsk_example", ex, "cmprsk_example", group = "group", times = c(0.2, 0.5, 1, 2),
         note = "the example of ?cmprsk::cuminc, unstratified")
run_case("cmprsk_example_strat", ex, "cmprsk_example", group = "group", strata = "strata",
         times = c(0.2, 0.5, 1, 2), note = "the example of ?cmprsk::cuminc, stratified")

# ---- transplant: text causes (death, ltx, withdraw), censored coded "censored"; time 0 present -----
t <- survival::transplant
tr <- data.frame(time = t$futime, status = as.character(t$event), abo = as.character(t$abo),
                 stringsAsFactors = FALSE)
tr <- write_data(tr, "transplant")
run_case("transplant_abo", tr, "transplant", group = "abo", cencode = "censored",
         times = c(0, 30, 100, 365, 1000), note = "transplant by blood group: text causes, three causes")

# ---- tiny hand-worked example ---------------------------------------------------------------------------
tiny <- data.frame(time = c(1, 2, 2, 3, 4, 4, 5, 6), status = c(1, 2, 1, 0, 1, 0, 2, 0),
                   group = c("a", "a", "a", "a", "b", "b", "b", "b"), stringsAsFactors = FALSE)
tiny <- write_data(tiny, "tiny")
run_case("tiny_all", tiny, "tiny", times = c(0, 1, 2, 2.5, 4, 6, 7), note = "8 rows, worked by hand")
run_case("tiny_group", tiny, "tiny", group = "group", times = c(1, 2, 4, 6), note = "8 rows, 2 groups")

# ---- R's pretty(): default --at times of `cartreg cuminc` are the interior points of pretty(c(0, max), 5),
# the times print.cuminc shows.
maxes <- c(0.3, 1, 2.2, 4.7, 7, 9.99, 10, 13, 24.5, 36, 99, 100, 101, 364, 424, 1000, 2055, 4795, 12345.6)
items <- sapply(maxes, function(mx) jobj(max = jnum(mx), pretty = jarr(pretty(c(0, mx), 5))))
writeLines(paste0("{\"r_version\": ", jstr(R.version.string), ", \"cases\": ", jlist(items), "}\n"),
           file.path(outdir, "cuminc_pretty.json"))
cat("wrote cuminc fixtures to", outdir, "\n")

# ---- Gray's test with other weights rho (cartreg's cuminc() uses rho = 0; gray_test() takes rho) ----
rho_items <- character(0)
for (rho in c(-0.5, 1, 2)) {
  for (st in c(FALSE, TRUE)) {
    f <- if (st) cuminc(ex$time, ex$status, ex$group, ex$strata, rho = rho) else
      cuminc(ex$time, ex$status, ex$group, rho = rho)
    tt <- f$Tests
    for (i in seq_len(nrow(tt))) {
      rho_items <- c(rho_items, jobj(rho = jnum(rho), stratified = if (st) "true" else "false",
                                     cause = jstr(rownames(tt)[i]), stat = jnum(tt[i, "stat"]),
                                     pv = jnum(tt[i, "pv"]), df = jnum(tt[i, "df"])))
    }
  }
}
writeLines(paste0("{\"r_version\": ", jstr(R.version.string), ", \"cmprsk_version\": ",
                  jstr(as.character(packageVersion("cmprsk"))),
                  ", \"data\": \"data/cuminc_cmprsk_example.csv\", \"tests\": ", jlist(rho_items), "}\n"),
           file.path(outdir, "cuminc_gray_rho.json"))
