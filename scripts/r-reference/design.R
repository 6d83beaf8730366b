# Shared by regression.R and firth.R: write a case's data as CSV and read it back (so R and
# cartreg see the same numbers), and build the model terms with cartreg's names
# (text/logical columns and forced factors -> factor terms "COL=LEVEL"; numerics by name).
# Expects `data_dir` to be set by the caller.

write_read <- function(name, df) {
  path <- file.path(data_dir, paste0("reg_", name, ".csv"))
  write.csv(df, path, row.names = FALSE, na = "")
  list(path = file.path("data", paste0("reg_", name, ".csv")),
       d = read.csv(path, stringsAsFactors = FALSE, na.strings = c("", "NA")))
}

# design: text/logical columns and forced factors become factors; returns the model frame columns
# (named .c1, .c2, ...) and cartreg term names
design <- function(d, covariates, refs) {
  rhs <- character(0); terms <- character(0)
  for (i in seq_along(covariates)) {
    v <- covariates[i]
    x <- d[[v]]
    if (is.character(x) || is.logical(x) || v %in% names(refs)) {
      if (is.logical(x)) x <- ifelse(x, "TRUE", "FALSE")
      f <- factor(x)
      if (is.numeric(x)) f <- factor(x, levels = as.character(sort(unique(x))))
      if (v %in% names(refs)) f <- relevel(f, ref = refs[[v]])
      d[[paste0(".c", i)]] <- f
      terms <- c(terms, paste0(v, "=", levels(f)[-1]))
    } else {
      d[[paste0(".c", i)]] <- x
      terms <- c(terms, v)
    }
    rhs <- c(rhs, paste0(".c", i))
  }
  list(d = d, rhs = rhs, terms = terms)
}

