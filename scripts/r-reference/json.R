# Minimal JSON writer shared by cox.R and km_logrank.R (no packages needed).
# Numbers are written with 17 significant digits so references keep full double precision.
jnum <- function(x) {
  x <- as.numeric(x)
  if (length(x) != 1) stop("jnum needs a scalar")
  if (is.na(x)) "null" else if (is.infinite(x)) (if (x > 0) "Infinity" else "-Infinity")
  else sprintf("%.17g", x)
}
jarr <- function(x) paste0("[", paste(vapply(as.numeric(x), jnum, ""), collapse = ","), "]")
jstr <- function(s) if (is.null(s) || is.na(s)) "null" else
  paste0('"', gsub('"', '\\\\"', gsub("\n", " ", s)), '"')
jsarr <- function(s) paste0("[", paste(vapply(as.character(s), jstr, ""), collapse = ","), "]")
jmat <- function(m) paste0("[", paste(apply(m, 1, jarr), collapse = ","), "]")
jobj <- function(lst) {
  if (length(lst) == 0) return("{}")
  paste0("{", paste(sprintf('%s:%s', vapply(names(lst), jstr, ""), unlist(lst)), collapse = ",\n"), "}")
}
