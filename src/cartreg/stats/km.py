"""Kaplan-Meier estimator with Greenwood variance, as R ``survival::survfit`` (survival 3.5).

Estimand: the survival function ``S(t) = P(T > t)`` under independent right censoring, estimated by
the product-limit estimator of Kaplan & Meier (1958), ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)``,
with the variance of ``log S`` by Greenwood (1926), ``sum_{t_i <= t} d_i / (n_i (n_i - d_i))``.
Pointwise intervals are in :mod:`cartreg.stats.ci`. The median and its confidence interval follow
the ``print.survfit`` / ``summary(fit)$table`` rule (Brookmeyer & Crowley 1982: the interval is
where the pointwise bands cross 0.5); other quantiles follow ``quantile.survfit``.
Every R convention matched here is listed in ``docs/statistics.md``.

>>> import numpy as np
>>> km = kaplan_meier(np.array([1, 2, 3, 4, 5, 6, 7, 8.]), np.array([1, 1, 1, 1, 0, 0, 0, 0]))
>>> km.surv.tolist()
[0.875, 0.75, 0.625, 0.5, 0.5, 0.5, 0.5, 0.5]
>>> km.median, km.quantile(0.5)[0]        # the table rule vs quantile.survfit: R gives 4 and 6
(4.0, 6.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cartreg.errors import CartregError
from cartreg.stats._data import TIMEFIX_TOLERANCE, complete_cases, is_missing, timefix_cuts
from cartreg.stats.ci import check_conf, confint

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: R's ``sqrt(.Machine$double.eps)``: the tolerance of ``survmean``'s median rule, of
#: ``quantile.survfit`` and of ``aeqSurv`` (the ``timefix`` tie correction).
TOLERANCE: float = TIMEFIX_TOLERANCE


# --------------------------------------------------------------------------------------------
# input helpers shared with logrank / followup
# --------------------------------------------------------------------------------------------


def fix_ties(time: np.ndarray) -> np.ndarray:
    """Merge times that differ by floating-point noise, as ``survival::aeqSurv`` (``timefix=TRUE``).

    Sorted unique times closer than ``TOLERANCE`` (absolutely, or relative to the mean absolute
    time) are replaced by the first of their run. ``survfit``, ``survdiff`` and ``coxph`` all do this.

    >>> fix_ties(np.array([1.0, 1.0 + 1e-12, 2.0])).tolist()
    [1.0, 1.0, 2.0]
    """
    t = np.asarray(time, dtype=float)
    cuts = timefix_cuts(np.unique(t))
    return t if cuts is None else cuts[np.searchsorted(cuts, t, side="right") - 1]




def as_event(event: np.ndarray) -> np.ndarray:
    """Event indicator as float 0/1; :class:`CartregError` for any other value."""
    e = np.asarray(event)
    if e.dtype.kind == "b":
        return e.astype(float)
    try:
        ef = e.astype(float)
    except (TypeError, ValueError) as exc:
        raise CartregError("event indicator must be 0/1 (or true/false)") from exc
    bad = ~((ef == 0) | (ef == 1))
    if bad.any():
        raise CartregError(f"event indicator must be 0 or 1; found {e[np.argmax(bad)]!r}")
    return ef


def as_time(time: np.ndarray) -> np.ndarray:
    """Times as float; :class:`CartregError` for infinite times."""
    try:
        t = np.asarray(time, dtype=float)
    except (TypeError, ValueError) as exc:
        raise CartregError("times must be numeric") from exc
    if np.isinf(t).any():
        raise CartregError(f"times must be finite; found {t[np.argmax(np.isinf(t))]}")
    return t


@dataclass(frozen=True, eq=False)
class Factor:
    """Group labels coded like an R factor.

    ``levels`` are the distinct labels, sorted like R sorts factor levels (numerically when every
    label is a number, else by text); ``codes[i]`` is the index into ``levels`` of row ``i``, or
    -1 where the label is missing (``None``, NaN or ``""``, as :func:`cartreg.stats._data.is_missing`).
    """

    levels: tuple[str, ...]
    codes: np.ndarray

    @property
    def missing(self) -> np.ndarray:
        """Boolean mask of rows without a label."""
        return self.codes < 0

    def as_float(self) -> np.ndarray:
        """The codes as float with NaN where missing (a column for ``complete_cases``)."""
        out = self.codes.astype(float)
        out[self.codes < 0] = np.nan
        return out


def _num_label(v: float) -> str:
    return format(float(v), ".15g")  # as R prints a numeric factor level


def _rank(order: np.ndarray) -> np.ndarray:
    rank = np.empty(order.size + 1, dtype=np.intp)
    rank[order] = np.arange(order.size)
    rank[-1] = -1  # index -1 (missing) maps to -1
    return rank


def _encode_text(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct labels and each row's index into them (-1 if missing), hash-encoded with
    pyarrow (one pass, no sort of the rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(g, type=pa.string(), from_pandas=True)  # None and NaN -> null
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        miss = is_missing(g)
        labels, inv = np.unique(g[~miss].astype(str), return_inverse=True)
        codes = np.full(g.shape[0], -1, dtype=np.intp)
        codes[~miss] = inv
        return labels, codes
    enc = pc.dictionary_encode(arr)
    idx = np.asarray(enc.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.intp)
    dict_labels = np.asarray(enc.dictionary.to_pylist(), dtype=object).astype(str)
    valid = dict_labels != ""  # an empty label is missing
    order = np.flatnonzero(valid)[np.argsort(dict_labels[valid], kind="stable")]
    rank = np.full(dict_labels.size + 1, -1, dtype=np.intp)
    rank[order] = np.arange(order.size)
    return dict_labels[order], rank[idx]


def factor(group: np.ndarray) -> Factor:
    """Code a group column like R's ``factor``; see :class:`Factor`.

    >>> f = factor(np.array(["b", "a", None, "b"], dtype=object))
    >>> f.levels, f.codes.tolist()
    (('a', 'b'), [1, 0, -1, 1])
    >>> factor(np.array(["10", "9", "10"], dtype=object)).levels
    ('9', '10')
    """
    g = np.asarray(group)
    if g.dtype.kind in "iufb":
        gf = g.astype(float)
        miss = np.isnan(gf)
        vals, inv = np.unique(gf[~miss], return_inverse=True)
        codes = np.full(g.shape[0], -1, dtype=np.intp)
        codes[~miss] = inv
        return Factor(tuple(_num_label(v) for v in vals), codes)
    labels, codes = _encode_text(g)
    try:
        numbers = labels.astype(float)
    except ValueError:
        numbers = None
    if numbers is not None and np.isfinite(numbers).all():
        order = np.lexsort((labels, numbers))
        return Factor(tuple(labels[order].tolist()), _rank(order)[codes])
    return Factor(tuple(labels.tolist()), codes)


def drop_unused(f: Factor, keep: np.ndarray) -> Factor:
    """``droplevels``: the factor restricted to rows ``keep``, without levels that no longer occur."""
    codes = f.codes[keep]
    used = np.bincount(codes[codes >= 0], minlength=len(f.levels)) > 0
    if used.all():
        return Factor(f.levels, codes)
    new = np.full(len(f.levels) + 1, -1, dtype=np.intp)
    new[np.flatnonzero(used)] = np.arange(int(used.sum()))
    return Factor(tuple(lv for lv, u in zip(f.levels, used) if u), new[codes])


# --------------------------------------------------------------------------------------------
# result records
# --------------------------------------------------------------------------------------------


def _opt(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _fmt(x: float | None, digits: int = 4) -> str:
    return "NA" if x is None or not np.isfinite(x) else f"{x:.{digits}g}"


@dataclass(frozen=True, eq=False)
class SurvivalAt:
    """``summary(fit, times=, extend=TRUE)``: the curve read at chosen times.

    Fields (arrays aligned with ``time``, which is sorted and finite as R makes it):
    ``n_risk`` number at risk at ``time`` (0 beyond the last observation); ``n_event`` /
    ``n_censor`` events / censorings since the previous requested time; ``surv`` S(time) carried
    forward; ``std_err`` standard error of S (Greenwood, ``summary.survfit`` scale); ``lower`` /
    ``upper`` pointwise limits (NaN where R gives NA); ``conf_type``, ``conf_level``.
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    conf_type: str
    conf_level: float


    def to_frame(self) -> "pd.DataFrame":
        """A tidy pandas DataFrame (see :mod:`cartreg.stats.tidy`)."""
        from cartreg.stats.tidy import at_frame

        return at_frame(self)

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import html_table, at_frame

        return html_table(f"Survival at chosen times ({self.conf_type} CI)", at_frame(self))
    def summary(self) -> str:
        """A text table like ``print(summary(fit, times=))``."""
        pct = f"{self.conf_level:.0%}"
        lines = [f"{'time':>10} {'n.risk':>7} {'n.event':>8} {'survival':>9} {'std.err':>8} "
                 f"{'lower ' + pct:>10} {'upper ' + pct:>10}"]
        for i in range(self.time.size):
            lines.append(
                f"{_fmt(self.time[i]):>10} {int(self.n_risk[i]):>7} {int(self.n_event[i]):>8} "
                f"{_fmt(self.surv[i]):>9} {_fmt(self.std_err[i]):>8} {_fmt(self.lower[i]):>10} "
                f"{_fmt(self.upper[i]):>10}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"SurvivalAt(conf_type={self.conf_type!r}, conf_level={self.conf_level})\n{self.summary()}"


@dataclass(frozen=True, eq=False)
class RiskTable:
    """Numbers for a risk table under a survival plot.

    ``time`` the requested times (sorted, finite); ``n_risk`` at risk at each time (R's
    ``summary(fit, times=)$n.risk``); ``cum_events`` / ``cum_censored`` events / censorings at or
    before each time.
    """

    time: np.ndarray
    n_risk: np.ndarray
    cum_events: np.ndarray
    cum_censored: np.ndarray


    def to_frame(self) -> "pd.DataFrame":
        """A tidy pandas DataFrame (see :mod:`cartreg.stats.tidy`)."""
        from cartreg.stats.tidy import risk_table_frame

        return risk_table_frame(self)

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import html_table, risk_table_frame

        return html_table("Numbers at risk", risk_table_frame(self))
    def __repr__(self) -> str:
        rows = [f"{_fmt(t):>10} {int(r):>7} {int(e):>7} {int(c):>7}"
                for t, r, e, c in zip(self.time, self.n_risk, self.cum_events, self.cum_censored)]
        return "RiskTable\n" + f"{'time':>10} {'n.risk':>7} {'events':>7} {'censor':>7}\n" + "\n".join(rows)


@dataclass(frozen=True, eq=False)
class KaplanMeier:
    """A Kaplan-Meier curve: the documented components of R's ``survfit`` object.

    Step arrays, one entry per distinct time (event or censoring), like ``survfit``:
    ``time``; ``n_risk`` (at risk just before ``time``); ``n_event``; ``n_censor``; ``surv``
    (S(time)); ``std_err`` — the standard error of the cumulative hazard ``-log S`` by Greenwood
    (``survfit``'s ``std.err``; multiply by ``surv`` for the standard error of S, as
    ``summary.survfit`` does; ``inf`` once S reaches 0); ``lower`` / ``upper`` pointwise limits
    (NaN where R gives NA).

    Scalars: ``n`` observations used; ``events``; ``excluded`` rows dropped for a missing value;
    ``conf_type`` and ``conf_level``; ``median`` and ``median_ci`` (lower, upper) by the
    ``summary(fit)$table`` rule (``None`` = not reached).

    With case weights (``weighted``): ``n_risk``, ``n_event`` and ``n_censor`` are weighted sums
    (floats, as ``survfit(weights=)``), ``n`` and ``events`` count rows; ``variance`` is
    ``"greenwood"`` (on weighted counts: R's choice when every weight is an integer) or
    ``"robust"`` (the infinitesimal-jackknife variance R uses for non-integer weights, with
    ``robust = TRUE`` or with a ``cluster``).
    """

    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    surv: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n: int
    events: int
    excluded: int
    conf_type: str
    conf_level: float
    median: float | None
    median_ci: tuple[float | None, float | None]
    weighted: bool = False
    variance: str = "greenwood"

    def _with_start(self) -> tuple[np.ndarray, ...]:
        """The curve with R's ``survfit0`` start row (time min(0, first time), S = 1)."""
        start = min(0.0, float(self.time[0]))
        if float(self.time[0]) == start:
            return (self.time, self.n_risk, self.n_event, self.n_censor, self.surv,
                    self.std_err, self.lower, self.upper)
        one = np.array([1.0])
        zero = np.array([0.0])
        return (
            np.concatenate(([start], self.time)),
            np.concatenate((self.n_risk[:1], self.n_risk)),
            np.concatenate((np.zeros(1, dtype=self.n_event.dtype), self.n_event)),
            np.concatenate((np.zeros(1, dtype=self.n_censor.dtype), self.n_censor)),
            np.concatenate((one, self.surv)),
            np.concatenate((zero, self.std_err)),
            np.concatenate((one, self.lower)),
            np.concatenate((one, self.upper)),
        )

    def at(self, times: np.ndarray | list[float]) -> SurvivalAt:
        """S(t), its CI and the number at risk at ``times``: ``summary(fit, times=, extend=TRUE)``.

        Times are sorted and non-finite ones dropped, as R does. Before the first time the curve
        is 1; after the last observation S is carried forward and ``n_risk`` is 0.
        """
        t0, nr, ne, nc, s, se, lo, hi = self._with_start()
        pt = np.sort(np.asarray(times, dtype=float))
        pt = pt[np.isfinite(pt)]
        idx1 = np.searchsorted(t0, pt, side="right")  # findInterval(times, time)
        row = np.maximum(idx1, 1) - 1
        idx2 = np.searchsorted(t0, pt, side="left")  # 1 + findInterval(left.open=TRUE), 0-based
        n_risk = np.concatenate((nr, [0]))[idx2]
        cum_e = np.concatenate(([0], np.cumsum(ne)))[idx1]
        cum_c = np.concatenate(([0], np.cumsum(nc)))[idx1]
        with np.errstate(invalid="ignore"):
            std_s = se[row] * s[row]
        cnt = nr.dtype  # int64, or float64 for a weighted curve
        return SurvivalAt(
            time=pt,
            n_risk=n_risk.astype(cnt),
            n_event=np.diff(np.concatenate(([0], cum_e))).astype(cnt),
            n_censor=np.diff(np.concatenate(([0], cum_c))).astype(cnt),
            surv=s[row],
            std_err=std_s,
            lower=lo[row],
            upper=hi[row],
            conf_type=self.conf_type,
            conf_level=self.conf_level,
        )

    def risk_table(self, times: np.ndarray | list[float]) -> RiskTable:
        """Number at risk, cumulative events and censorings at ``times`` (see :class:`RiskTable`)."""
        pt = np.sort(np.asarray(times, dtype=float))
        pt = pt[np.isfinite(pt)]
        idx1 = np.searchsorted(self.time, pt, side="right")
        idx2 = np.searchsorted(self.time, pt, side="left")
        return RiskTable(
            time=pt,
            n_risk=np.concatenate((self.n_risk, [0]))[idx2].astype(np.int64),
            cum_events=np.concatenate(([0], np.cumsum(self.n_event)))[idx1].astype(np.int64),
            cum_censored=np.concatenate(([0], np.cumsum(self.n_censor)))[idx1].astype(np.int64),
        )

    def quantile(self, p: float) -> tuple[float | None, float | None, float | None]:
        """Time by which a fraction ``p`` has had the event, as ``quantile.survfit``: (est, lower, upper).

        The estimate is the first time with ``S(t) <= 1 - p``; where S is flat at ``1 - p``
        (within ``TOLERANCE``) it is the midpoint of that flat stretch, up to the last time of the
        curve when the flat stretch is the end of the curve. ``None`` = not reached.
        """
        if not (0.0 <= p <= 1.0):
            raise CartregError(f"quantile probability must be in [0, 1], got {p}")
        x = np.concatenate(([0.0], self.time))
        return (
            _opt(_findq(x, np.concatenate(([0.0], 1.0 - self.surv)), p)),
            _opt(_findq(x, np.concatenate(([0.0], 1.0 - self.lower)), p)),
            _opt(_findq(x, np.concatenate(([0.0], 1.0 - self.upper)), p)),
        )

    def summary(self) -> str:
        """One line like ``print(fit)``: n, events, median and its CI."""
        lo, hi = self.median_ci
        return (f"n={self.n} events={self.events} median={_fmt(self.median)} "
                f"{self.conf_level:.0%} CI {_fmt(lo)}-{_fmt(hi)} ({self.conf_type}); "
                f"excluded={self.excluded}")

    def to_frame(self, times: np.ndarray | list[float] | None = None) -> "pd.DataFrame":
        """The steps (or S(t) at ``times``) as a tidy pandas DataFrame (``broom::tidy(survfit)``)."""
        from cartreg.stats.tidy import km_frame

        return km_frame(self, times)

    def plot(self, ax=None, risk_table: bool = True, **kwargs):
        """The report's Kaplan-Meier figure of this fit, with its number-at-risk table
        (:func:`cartreg.report.plots.plot_km`; times drawn in their own unit unless ``time_scale``
        is given). Returns the Matplotlib figure. The one place a result reaches into ``report``,
        lazily: drawing is a view of the result, and the report and a notebook draw it alike."""
        from cartreg.report.plots import plot_km

        kwargs.setdefault("time_scale", 1.0)
        kwargs.setdefault("xlabel", "Time")
        return plot_km(self, ax=ax, risk_table=risk_table, **kwargs)

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import km_summary_html

        return km_summary_html(self)

    def __repr__(self) -> str:
        return f"KaplanMeier({self.summary()})"


# --------------------------------------------------------------------------------------------
# estimator
# --------------------------------------------------------------------------------------------


def _minmin(y: np.ndarray, x: np.ndarray) -> float | None:
    """``survmean``'s median rule: first x with y < 0.5 + tol; midpoint if y is 0.5 and drops later."""
    keep = ~np.isnan(y) & (y < 0.5 + TOLERANCE)
    if not keep.any():
        return None
    xk, yk = x[keep], y[keep]
    if abs(yk[0] - 0.5) < TOLERANCE:
        below = yk < yk[0]
        if below.any():
            return float((xk[0] + xk[np.argmax(below)]) / 2)
    return float(xk[0])


def _approx_const(knots: np.ndarray, values: np.ndarray, p: float) -> float:
    """R ``approx(knots, values, p, method="constant", f=1)$y`` (NaN pairs dropped, rule = 1)."""
    ok = ~np.isnan(knots)
    k, v = knots[ok], values[ok]
    if k.size == 0:
        return np.nan
    order = np.argsort(k, kind="stable")
    k, v = k[order], v[order]
    if p < k[0] or p > k[-1]:
        return np.nan
    return float(v[np.searchsorted(k, p, side="left")])


def _findq(x: np.ndarray, y: np.ndarray, p: float) -> float:
    """``survival:::findq``: the quantile of a step curve ``y = 1 - S`` at probability ``p``."""
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return np.nan
    xmax = x[-1]
    _, first = np.unique(y, return_index=True)  # NaNs collapse to one, like duplicated()
    first = np.sort(first)
    xd, yd = x[first], y[first]
    idx = np.arange(yd.size, dtype=float)
    i1 = _approx_const(yd + TOLERANCE, idx, p)
    i2 = _approx_const(yd - TOLERANCE, idx, p)
    x1 = xd[int(i1)] if np.isfinite(i1) else np.nan
    x2 = xd[int(i2)] if np.isfinite(i2) else np.nan
    q = (x1 + x2) / 2
    if p == 0:
        q = xd[0]
    if not np.isnan(yd[-1]) and abs(p - yd[-1]) < TOLERANCE:
        q = (x1 + xmax) / 2
    return float(q)


def _heavy_ties(key: np.ndarray) -> bool:
    """Whether a strided sample of ~8k times has under half distinct values (a speed choice only)."""
    sample = key[:: max(1, key.size // 8192)]
    return np.unique(sample).size * 2 < sample.size


def event_table(time: np.ndarray, event: np.ndarray, codes: np.ndarray | None = None,
                k: int = 1, timefix: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts at each distinct time, per group: ``(time, total, events)``.

    ``time`` (finite) and ``event`` (0/1) are complete; ``codes`` (0..k-1) the group of each row.
    Times are tie-corrected as ``aeqSurv`` over all rows (unless ``timefix`` is false). ``total[j, i]`` / ``events[j, i]`` are
    the rows / events of group ``j`` at ``time[i]``. One sort of the times; with many tied times a
    sort of the values plus a binary search replaces the argsort (same result, faster).
    """
    n = time.size
    nonneg = bool(np.all(time >= 0)) and not np.signbit(time).any()
    key = time.view(np.int64) if nonneg else time
    if n > 50_000 and _heavy_ties(key):
        u = np.unique(key)
        idx = np.searchsorted(u, key)
    else:
        order = np.argsort(key, kind="stable")
        sk = key[order]
        new = np.empty(n, dtype=bool)
        new[:1] = True
        np.not_equal(sk[1:], sk[:-1], out=new[1:])
        u = sk[new]
        idx = np.empty(n, dtype=np.intp)
        idx[order] = np.cumsum(new) - 1
    ut = u.view(np.float64) if nonneg else u
    if timefix and ut.size >= 2:  # aeqSurv: merge runs of near-equal times into their first time
        dy = np.diff(ut)
        tied = (dy <= TOLERANCE) | (dy / np.mean(np.abs(ut)) <= TOLERANCE)
        if tied.any():
            keep = np.concatenate(([True], ~tied))
            idx = (np.cumsum(keep) - 1)[idx]
            ut = ut[keep]
    nt = ut.size
    flat = idx if codes is None else codes.astype(np.intp) * nt + idx
    total = np.bincount(flat, minlength=k * nt).reshape(k, nt)
    events = np.bincount(flat, weights=event, minlength=k * nt).reshape(k, nt)
    return ut, total, events


def _km_counts(ut: np.ndarray, total: np.ndarray, d: np.ndarray, excluded: int, conf_type: str,
               conf_level: float) -> KaplanMeier:
    """The estimator proper, from the counts at each distinct time (rows with ``total`` 0 dropped)."""
    present = total > 0
    if not present.all():
        ut, total, d = ut[present], total[present], d[present]
    if ut.size == 0:
        raise CartregError("no complete observations to estimate a survival curve")
    n_risk = np.cumsum(total[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n_risk)
        green = np.cumsum(np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0))
    std_err = np.sqrt(green)
    lower, upper = confint(surv, std_err, conf_type, conf_level)
    d_int = np.rint(d).astype(np.int64)
    return KaplanMeier(
        time=ut,
        n_risk=n_risk.astype(np.int64),
        n_event=d_int,
        n_censor=total.astype(np.int64) - d_int,
        surv=surv,
        std_err=std_err,
        lower=lower,
        upper=upper,
        n=int(n_risk[0]),
        events=int(d_int.sum()),
        excluded=int(excluded),
        conf_type=conf_type,
        conf_level=float(conf_level),
        median=_minmin(surv, ut),
        median_ci=(_minmin(lower, ut), _minmin(upper, ut)),
    )


def _km_from_complete(time: np.ndarray, event: np.ndarray, excluded: int,
                      conf_type: str, conf_level: float) -> KaplanMeier:
    if time.size == 0:
        raise CartregError("no complete observations to estimate a survival curve")
    ut, total, events = event_table(time, event)
    return _km_counts(ut, total[0], events[0], excluded, conf_type, conf_level)


def _weighted_km(time: np.ndarray, event: np.ndarray, w: np.ndarray, cluster: np.ndarray | None,
                 robust: bool | None, excluded: int, conf_type: str, conf_level: float) -> KaplanMeier:
    """Weighted Kaplan-Meier as ``survfit(Surv(time, event) ~ 1, weights = w, cluster =, robust =)``.

    ``n_risk`` and ``n_event`` are weighted sums. Standard error of the cumulative hazard: with
    ``robust`` (default: when a weight is not an integer or a cluster is given, as ``survfitKM``)
    the infinitesimal jackknife of ``survfitkm.c``, ``var(log S(t)) = sum_c (sum_{i in c} w_i
    U_i(t))^2`` with the influence of row ``i`` on ``log S``, ``U_i(t) = sum_{t_k <= t}
    (Y_i(t_k) d_k / (n_k (n_k - d_k)) - dN_i(t_k) / (n_k - d_k))`` (each row its own cluster
    without ``cluster``); otherwise Greenwood's formula on the weighted counts. ``std_err`` is the
    standard error of ``log S`` in both cases (R stores ``se(S)`` in ``std.err`` for the robust
    variance; divide it by ``surv`` to compare).
    """
    if time.size == 0:
        raise CartregError("no complete observations to estimate a survival curve")
    if not (np.isfinite(w).all() and (w >= 0).all()):
        raise CartregError("weights must be finite and non-negative (as survfit)")
    t = fix_ties(time)
    ut, ki = np.unique(t, return_inverse=True)
    ki = ki.reshape(-1)
    nt = ut.size
    total = np.bincount(ki, weights=w, minlength=nt)
    d = np.bincount(ki, weights=w * event, minlength=nt)
    n_risk = np.cumsum(total[::-1])[::-1]
    if robust is None:
        robust = cluster is not None or bool(np.any(w != np.floor(w)))
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - d / n_risk)
        if not robust:
            var = np.cumsum(np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0))
        else:
            a = np.where(d > 0, d / (n_risk * (n_risk - d)), 0.0)
            acum = np.cumsum(a)
            own = w * (acum[ki] - event / (n_risk - d)[ki])  # w_i U_i(t) for t >= t_i
            if cluster is None:
                w2 = np.bincount(ki, weights=w * w, minlength=nt)
                later = np.concatenate((np.cumsum(w2[::-1])[::-1][1:], [0.0]))  # rows with t_i > t
                var = np.cumsum(np.bincount(ki, weights=own * own, minlength=nt)) + acum**2 * later
            else:
                _, cc = np.unique(np.asarray(cluster).astype(str), return_inverse=True)
                cc = cc.reshape(-1)
                k = int(cc.max()) + 1
                flat = cc * nt + ki
                past = np.cumsum(np.bincount(flat, weights=own, minlength=k * nt).reshape(k, nt), axis=1)
                wc = np.bincount(flat, weights=w, minlength=k * nt).reshape(k, nt)
                later = np.cumsum(wc[:, ::-1], axis=1)[:, ::-1]
                later = np.concatenate((later[:, 1:], np.zeros((k, 1))), axis=1)
                var = ((past + acum * later) ** 2).sum(axis=0)
    std_err = np.where(surv > 0, np.sqrt(var), np.inf)
    lower, upper = confint(surv, std_err, conf_type, conf_level)
    return KaplanMeier(
        time=ut, n_risk=n_risk, n_event=d, n_censor=total - d, surv=surv, std_err=std_err,
        lower=lower, upper=upper, n=int(time.size), events=int(np.count_nonzero(event)),
        excluded=int(excluded), conf_type=conf_type, conf_level=float(conf_level),
        median=_minmin(surv, ut), median_ci=(_minmin(lower, ut), _minmin(upper, ut)),
        weighted=True, variance="robust" if robust else "greenwood",
    )


def kaplan_meier(time: np.ndarray, event: np.ndarray, conf_type: str = "log",
                 conf_level: float = 0.95, *, weights: np.ndarray | None = None,
                 robust: bool | None = None, cluster: np.ndarray | None = None) -> KaplanMeier:
    """Kaplan & Meier (1958) estimate of S(t) with Greenwood (1926) variance.

    ``time``: follow-up times; ``event``: 1 = event, 0 = censored. Rows with a missing value are
    dropped and counted in ``excluded``. ``conf_type`` is ``"log"`` (R's default), ``"log-log"``
    or ``"plain"``. Equivalent to ``survfit(Surv(time, event) ~ 1, conf.type=, conf.int=)``.
    ``weights``, ``robust`` and ``cluster`` as ``survfit(weights=, robust=, cluster=)``: see
    :func:`_weighted_km` for the variance R chooses.

    >>> km = kaplan_meier(np.array([1., 2, 2, 3, np.nan]), np.array([1, 1, 0, 1, 1]))
    >>> km.n, km.excluded, km.surv.tolist()
    (4, 1, [0.75, 0.5, 0.0])
    """
    check_conf(conf_type, conf_level)
    if weights is not None or cluster is not None or robust:
        w = np.ones(np.asarray(time).shape[0]) if weights is None else np.asarray(weights, dtype=float)
        cc = complete_cases(np.asarray(time), np.asarray(event), w, cluster)
        t, e, wk, cl = cc.arrays
        return _weighted_km(as_time(t), as_event(e), wk, cl, robust, cc.excluded, conf_type,
                            conf_level)
    cc = complete_cases(np.asarray(time), np.asarray(event))
    t, e = cc.arrays
    return _km_from_complete(as_time(t), as_event(e), cc.excluded, conf_type, conf_level)


def kaplan_meier_by(time: np.ndarray, event: np.ndarray, group: np.ndarray,
                    conf_type: str = "log", conf_level: float = 0.95, *,
                    weights: np.ndarray | None = None, robust: bool | None = None,
                    cluster: np.ndarray | None = None) -> dict[str, KaplanMeier]:
    """One Kaplan-Meier curve per group, ordered by level like R factor levels.

    Equivalent to ``survfit(Surv(time, event) ~ group)``. Rows with a missing group belong to no
    curve; each curve's ``excluded`` counts the rows of its group with a missing time or event.

    >>> fits = kaplan_meier_by(np.array([1., 2, 3, 4]), np.array([1, 0, 1, 1]),
    ...                        np.array(["b", "a", "b", "a"], dtype=object))
    >>> list(fits), fits["b"].surv.tolist()
    (['a', 'b'], [0.5, 0.0])
    """
    check_conf(conf_type, conf_level)
    f = factor(group)
    if not (~f.missing).any():
        raise CartregError("no rows with a group value")
    if weights is not None or cluster is not None or robust:
        w = np.ones(f.codes.size) if weights is None else np.asarray(weights, dtype=float)
        cc = complete_cases(np.asarray(time), np.asarray(event), f.as_float(), w, cluster)
        t, e, _, wk, cl = cc.arrays
        t, e = fix_ties(as_time(t)), as_event(e)  # aeqSurv over the whole data set, as survfit
        if robust is None:  # survfitKM decides once, for all curves
            robust = cl is not None or bool(np.any(wk != np.floor(wk)))
        codes = f.codes[cc.keep]
        lost = ~cc.keep & ~f.missing
        dropped = np.bincount(f.codes[lost], minlength=len(f.levels))
        out_w: dict[str, KaplanMeier] = {}
        for j, level in enumerate(f.levels):
            m = codes == j
            if m.any():
                out_w[level] = _weighted_km(t[m], e[m], wk[m], None if cl is None else cl[m], robust,
                                            int(dropped[j]), conf_type, conf_level)
        return out_w
    cc = complete_cases(np.asarray(time), np.asarray(event), f.as_float())
    t = as_time(cc.arrays[0])
    e = as_event(cc.arrays[1])
    codes = f.codes[cc.keep]
    lost = ~cc.keep & ~f.missing  # a group value but a missing time or event
    dropped = np.bincount(f.codes[lost], minlength=len(f.levels))
    if t.size == 0:
        raise CartregError("no complete observations to estimate survival curves")
    k = len(f.levels)
    ut, total, events = event_table(t, e, codes, k)  # aeqSurv over the whole data set, as survfit
    out: dict[str, KaplanMeier] = {}
    for j, level in enumerate(f.levels):
        if not total[j].any():
            continue
        out[level] = _km_counts(ut, total[j], events[j], int(dropped[j]), conf_type, conf_level)
    return out
