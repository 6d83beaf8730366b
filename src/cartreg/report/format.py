"""Pure formatting functions: numbers from results.json -> the strings a clinical reader expects.

Every function takes plain values (``None`` for missing) and returns a ``str``; none computes a
statistic. The conventions are those of clinical journals (JAMA/NEJM) and of gtsummary:

* **Rounding** is half away from zero on the decimal value (``8.45 -> "8.5"``), never banker's rounding.
* **Percentages** (:func:`fmt_pct`) are whole numbers when >= 10% and have one decimal below 10%.
  The choice is made on the value rounded to one decimal, so 9.96% shows as ``"10%"`` and 9.94% as
  ``"9.9%"``. Exactly 0 shows as ``"0%"`` and values in (0, 0.05) as ``"<0.1%"`` (gtsummary's
  ``style_percent``); values in [99.5, 100) show as ``">99%"`` so that "100%" always means all.
  A percentage of an empty denominator (``None``) shows as an em dash.
* **P values** (:func:`fmt_p`): below .001 -> ``"<.001"``; below .01 -> three decimals (``".002"``);
  otherwise two decimals (``".04"``, ``".31"``); above .99 -> ``">.99"``. No leading zero, never
  ``0.000``. The number of decimals is chosen on the rounded value (0.00996 -> ``".01"``). A P below
  .05 that would round to .05 keeps three decimals, truncated (0.0496 -> ``".049"``), so a
  significant result never reads as .05.
  With ``prefix=True`` the text form is ``"P<.001"`` / ``"P=.002"``.
* **Medians** (:func:`fmt_median_ci`): ``"4.2 (95% CI, 3.4-6.0)"``; a median that is not reached is
  ``"not reached"``; a missing CI bound is ``"not reached"`` (upper) or ``"NE"`` (lower, not estimable).
* **Hazard ratios** (:func:`fmt_hr`): two decimals throughout, the CI alike:
  ``"0.81 (95% CI, 0.45-1.46)"``, ``"0.19 (95% CI, 0.07-0.51)"``, ``"0.08"``, ``"1.95"`` (issue 10: a
  reviewer's request, as journals print them). A value that would round to 0.00 reads ``"<0.01"``,
  so a hazard ratio never reads as zero.
* **Landmark rates** (:func:`fmt_landmark`): a Kaplan-Meier rate of 100% or 0% has no confidence
  interval (the Greenwood variance is 0); it reads ``"100% (no CI: no event before 6 months)"`` or
  ``"0% (no CI: no patient event-free at 6 months)"`` instead of a bare number.
* **Suppressed counts** (``--suppress-small-cells N`` of a federated analysis): a count released as the
  text ``"<N"`` is printed as it is (:func:`fmt_count`), and a percentage derived from it is not
  printed: ``fmt_n_N_pct("<5", 97) == "<5/97"``, ``fmt_n_pct("<5", None) == "<5"``. Code that sorts or
  subtracts counts uses :func:`count_value` (a suppressed count is unknown: None).
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

__all__ = [
    "DASH",
    "round_half_up",
    "fmt_num",
    "fmt_pct",
    "fmt_n_pct",
    "fmt_n_N_pct",
    "fmt_p",
    "fmt_median_ci",
    "fmt_ci",
    "fmt_est_ci_pct",
    "fmt_hr",
    "fmt_hr_ci",
    "fmt_landmark",
    "fmt_median_range",
    "fmt_median_iqr",
    "fmt_days",
    "fmt_cutoff_days",
    "hr_digits",
    "is_missing",
    "is_suppressed",
    "fmt_count",
    "count_value",
    "count_rank",
]

DASH = "\u2014"  # em dash: "not applicable / not available"


def is_missing(x) -> bool:
    """True for ``None`` and NaN."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def is_suppressed(x) -> bool:
    """True for a count released as ``"<N"`` (small-cell suppression)."""
    return isinstance(x, str) and x.startswith("<")


def fmt_count(x) -> str:
    """A count as printed: ``12 -> "12"``, a suppressed ``"<5"`` as it is, missing -> dash."""
    if is_suppressed(x):
        return x
    if is_missing(x):
        return DASH
    return str(int(x))


def count_value(x, suppressed=None):
    """A count as a number for sorting or arithmetic; a suppressed count gives ``suppressed`` (None:
    unknown), so that no number is derived from it."""
    return suppressed if is_suppressed(x) else x


def count_rank(x) -> float:
    """A count's place in a most-first ordering: its value, or just below ``N`` for ``"<N"``."""
    if is_suppressed(x):
        return float(x[1:]) - 0.5
    return 0.0 if is_missing(x) else float(x)


def _dec(x) -> Decimal:
    # repr of a float is the shortest string that round-trips: 8.45 -> "8.45", so half-up behaves
    # as a reader expects on the printed value rather than on the binary approximation.
    return Decimal(repr(float(x)))


def round_half_up(x: float, digits: int) -> Decimal:
    """Round half away from zero to ``digits`` decimals, as a Decimal (exact for printing)."""
    q = Decimal(1).scaleb(-digits)
    return _dec(x).quantize(q, rounding=ROUND_HALF_UP)


def fmt_num(x, digits: int = 1) -> str:
    """A number with a fixed number of decimals, half-up: ``fmt_num(6, 1) == "6.0"``; missing -> dash."""
    if is_missing(x):
        return DASH
    d = round_half_up(x, digits)
    if d == 0:
        d = abs(d)  # never "-0.0"
    return f"{d:.{digits}f}"


def fmt_pct(pct, sign: bool = True) -> str:
    """A percentage (0-100): whole when >= 10%, one decimal below. ``fmt_pct(8.51) == "8.5%"``.

    >>> fmt_pct(33.64), fmt_pct(9.96), fmt_pct(9.94), fmt_pct(0)
    ('34%', '10%', '9.9%', '0%')
    """
    if is_missing(pct):
        return DASH
    s = "%" if sign else ""
    if pct == 0:
        return f"0{s}"
    if 0 < pct < 0.05:
        return f"<0.1{s}"
    if 99.5 <= pct < 100:
        return f">99{s}"  # never "100%" unless all
    one = round_half_up(pct, 1)
    if abs(one) >= 10:
        return f"{round_half_up(pct, 0):.0f}{s}"
    return f"{one:.1f}{s}"


def fmt_n_pct(n, pct) -> str:
    """``"12 (8.4%)"``: a count and its percentage (gtsummary's ``n (%)``)."""
    if is_suppressed(n):
        return n  # its percentage would give the count back
    if is_missing(n):
        return DASH
    return f"{int(n)} ({fmt_pct(pct)})"


def _pct_of(n, N, pct=None):
    if pct is not None:
        return pct
    if is_missing(N) or N == 0 or is_missing(n):
        return None
    return 100.0 * n / N  # presentation of a given ratio, not a statistic


def fmt_n_N_pct(n, N, pct=None) -> str:
    """``"12/141 (8.5%)"``: count over its denominator, with the percentage (given, or n/N)."""
    if is_suppressed(n) or is_suppressed(N):
        return f"{fmt_count(n)}/{fmt_count(N)}"  # no percentage of a suppressed count
    if is_missing(n) or is_missing(N):
        return DASH
    return f"{int(n)}/{int(N)} ({fmt_pct(_pct_of(n, N, pct))})"


def fmt_p(p, prefix: bool = False) -> str:
    """A P value in journal style: ``"<.001"``, ``".002"``, ``".04"``, ``".31"``, ``">.99"``.

    ``prefix=True`` gives the running-text form: ``"P<.001"``, ``"P=.002"``, ``"P>.99"``.
    """
    if is_missing(p):
        return DASH
    p = float(p)
    if p < 0 or p > 1:
        raise ValueError(f"not a probability: {p!r}")
    if p < 0.001:
        body, op = ".001", "<"
    else:
        three = round_half_up(p, 3)
        if three < Decimal("0.01"):
            body, op = f"{three:.3f}"[1:], "="
        else:
            two = round_half_up(p, 2)
            if two == Decimal("0.05") and p < 0.05:
                # a significant P must not read as .05: keep 3 decimals, truncated (0.0496 -> .049)
                body = f"{_dec(p).quantize(Decimal('0.001'), rounding=ROUND_DOWN):.3f}"[1:]
                op = "="
            elif two > Decimal("0.99"):
                body, op = ".99", ">"
            else:
                body, op = f"{two:.2f}", "="
                body = body[1:] if body.startswith("0") else body
    if prefix:
        return f"P{op}{body}"
    return body if op == "=" else f"{op}{body}"


def _bound(x, digits: int, missing: str) -> str:
    return missing if is_missing(x) else fmt_num(x, digits)


def fmt_ci(ci, digits: int = 1, level: int = 95, scale: float = 1.0) -> str:
    """``"95% CI, 3.4-6.0"`` (without parentheses). Missing upper bound -> ``not reached``."""
    lo, hi = (None, None) if ci is None else (ci[0], ci[1])
    lo = None if is_missing(lo) else lo * scale
    hi = None if is_missing(hi) else hi * scale
    return f"{level}% CI, {_bound(lo, digits, 'NE')}-{_bound(hi, digits, 'not reached')}"


def fmt_median_ci(median, ci=None, digits: int = 1, level: int = 95, unit: str = "") -> str:
    """``"4.2 (95% CI, 3.4-6.0)"``; ``"not reached"`` when the median is not reached.

    ``unit=" months"`` gives ``"4.2 months (95% CI, 3.4-6.0)"``. A median that is not reached keeps
    its lower bound when there is one: ``"not reached (95% CI, 12.1-not reached)"``.
    """
    lo = None if ci is None else ci[0]
    if is_missing(median):
        if is_missing(lo):
            return "not reached"
        return f"not reached ({fmt_ci(ci, digits, level)})"
    if ci is None:
        return fmt_num(median, digits) + unit
    return f"{fmt_num(median, digits)}{unit} ({fmt_ci(ci, digits, level)})"


def fmt_est_ci_pct(est, ci, level: int = 95, compact: bool = False) -> str:
    """A proportion (0-1) with its CI as percentages: ``"77% (95% CI, 51-91)"``.

    The estimate follows :func:`fmt_pct`; the bounds use the same number of decimals as the estimate.
    ``compact=True`` is the table-cell form under a "% (95% CI)" header: ``"77 (51-91)"``.
    """
    if is_missing(est):
        return DASH
    pct = 100.0 * est
    text = fmt_pct(pct, sign=not compact)
    digits = 0 if ("." not in text) else 1
    if ci is None or (is_missing(ci[0]) and is_missing(ci[1])):
        return text
    if not is_missing(ci[0]) and ci[0] == ci[1]:
        return text  # degenerate interval (estimate 0 or 1): no CI to show
    lo = DASH if is_missing(ci[0]) else fmt_num(100.0 * ci[0], digits)
    hi = DASH if is_missing(ci[1]) else fmt_num(100.0 * ci[1], digits)
    if compact:
        return f"{text} ({lo}-{hi})"
    return f"{text} ({level}% CI, {lo}-{hi})"


def hr_digits(*values) -> int:
    """Decimals of a hazard ratio and its CI: always 2 (issue 10; a value below 0.005 reads "<0.01")."""
    return 2


def _hr_num(x, digits: int = 2) -> str:
    if is_missing(x):
        return DASH
    if 0 <= x < 0.005:
        return "<0.01"
    return fmt_num(x, digits)


def fmt_hr(hr, ci=None, p=None, level: int = 95, sep: str = "; ", compact: bool = False) -> str:
    """``"0.81 (95% CI, 0.45-1.46)"``, ``"0.19 (95% CI, 0.07-0.51)"``; ``"; P=.001"`` appended when
    ``p`` is given. Two decimals throughout. ``compact=True`` is the table-cell form under an
    "HR (95% CI)" header: ``"0.81 (0.45-1.46)"``.

    >>> fmt_hr(0.188, [0.069, 0.509], 0.00098)
    '0.19 (95% CI, 0.07-0.51); P<.001'
    """
    if is_missing(hr):
        return DASH
    text = _hr_num(hr)
    if ci is not None:
        inner = fmt_hr_ci(ci, level)
        text += f" ({inner.split(', ', 1)[1] if compact else inner})"
    if not is_missing(p):
        text += f"{sep}{fmt_p(p, prefix=True)}"
    return text


def fmt_hr_ci(ci, level: int = 95, digits: int | None = None) -> str:
    """``"95% CI, 0.45-1.46"`` for a hazard-ratio interval (two decimals)."""
    lo, hi = ci
    return f"{level}% CI, {_hr_num(lo)}-{_hr_num(hi)}"


def fmt_landmark(est, ci, months: str = "6", level: int = 95, compact: bool = False) -> str:
    """A Kaplan-Meier landmark rate (proportion 0-1) with its CI, as :func:`fmt_est_ci_pct`; at 100% or
    0% (no CI exists) the reason is given instead:

    >>> fmt_landmark(1.0, [None, None])
    '100% (no CI: no event before 6 months)'
    >>> fmt_landmark(0.0, [None, None], compact=True)
    '0 (no CI: no patient event-free at 6 months)'
    """
    if not is_missing(est) and est in (0.0, 1.0):
        lo, hi = (None, None) if ci is None else (ci[0], ci[1])
        if is_missing(lo) or is_missing(hi) or lo == hi:
            why = f"no event before {months} months" if est == 1.0 else f"no patient event-free at {months} months"
            return f"{fmt_pct(100.0 * est, sign=not compact)} (no CI: {why})"
    return fmt_est_ci_pct(est, ci, level, compact)


def _trim(x, digits: int) -> str:
    """Up to ``digits`` decimals, without trailing zeros: 62.0 -> "62", 474.5 -> "474.5"."""
    s = fmt_num(x, digits)
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def fmt_median_range(median, lo, hi, digits: int = 1, trim: bool = True) -> str:
    """``"62 (19-77)"``: median (range); trailing zeros dropped unless ``trim=False`` (``"4.1 (3.0-21.5)"``)."""
    if is_missing(median):
        return DASH
    f = (lambda x: _trim(x, digits)) if trim else (lambda x: fmt_num(x, digits))
    return f"{f(median)} ({f(lo)}-{f(hi)})"


def fmt_median_iqr(median, q1, q3, digits: int = 1, trim: bool = True) -> str:
    """``"62 (55-68)"``: median (IQR, first-third quartile)."""
    return fmt_median_range(median, q1, q3, digits, trim)


def fmt_cutoff_days(x) -> str:
    """A cut-off in days exactly as given: 90 -> "90", 91.3125 -> "91.3125"."""
    if is_missing(x):
        return DASH
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


def fmt_days(x) -> str:
    """A number of days, whole when integral, else one decimal: 12 -> "12", 27.5 -> "27.5"."""
    if is_missing(x):
        return DASH
    return _trim(x, 1)
