"""Cumulative incidence of competing risks and Gray's test, as R ``cmprsk::cuminc`` (cmprsk 2.2).

Estimand: for cause ``j``, the cumulative incidence (sub-distribution) function
``F_j(t) = P(T <= t, cause = j)`` under independent right censoring. It is estimated by the
Aalen-Johansen estimator (Aalen & Johansen 1978; Kalbfleisch & Prentice 1980, sec. 7.2),

    F_j(t) = sum_{t_i <= t} S(t_i-) d_ji / n_i,

with ``S`` the all-cause Kaplan-Meier estimate, ``d_ji`` the cause-``j`` events at ``t_i`` and ``n_i``
the number at risk. Its variance is the asymptotic (delta-method) estimator that ``cmprsk``'s
Fortran routine ``cinc`` computes (Aalen 1978, with the tie correction ``1 - (d - 1)/(n - 1)``), and
it is reported at exactly the points ``cmprsk`` reports: 0, each cause-``j`` event time twice (before
and after the jump), and the largest follow-up time of the group. Between points the curve is a
right-continuous step function; :meth:`CumIncCurve.at` evaluates it like ``cmprsk::timepoints``.

Pointwise intervals use the log(-log) transform of ``tidycmprsk`` (Pintilie 2006):
``est ^ exp(±z · se / (est · log est))``, NaN (R's ``NA``) where ``est = 0``, and ``[1, 1]`` where
``est = 1``.

Gray's test (Gray 1988) compares the cause-``j`` sub-distribution hazards of ``k`` groups with the
weight ``(1 - F(t-))^rho`` (``rho = 0`` by default, as ``cmprsk``), optionally stratified. The
score and its variance follow the asymptotic representation of Gray (1988), computed as ``cmprsk``'s
``crstm`` does; the statistic is ``s' V^-1 s`` on ``k - 1`` degrees of freedom.

Ties are used as recorded (no jitter, no ``timefix``-style merging of nearly equal times, as
``cmprsk``): events of different causes at the same time enter the same risk set.
Conventions are documented in ``docs/stats-cuminc.md``.

>>> import numpy as np
>>> fit = cuminc(np.array([1, 2, 2, 3, 4, 4, 5, 6.]), np.array([1, 2, 1, 0, 1, 0, 2, 0]))
>>> fit.causes
('1', '2')
>>> fit.curve("1").est.tolist()
[0.0, 0.0, 0.125, 0.125, 0.25, 0.25, 0.40625, 0.40625]
>>> fit.at("1", times=[3.0]).est.tolist()
[0.25]
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from scipy.special import chdtr, ndtri  # not scipy.stats: its import costs 0.4-0.6 s per process

from cartreg.errors import CartregError
from cartreg.stats._data import complete_cases

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Label of the single stratum when ``cuminc`` is called without ``group``.
ALL_GROUP: str = "all"

#: Relative tolerance below which a pivot of the QR decomposition of Gray's variance matrix counts as
#: zero, as the default ``tol = 1e-07`` of R's ``qr()`` that ``cmprsk`` uses to decide singularity.
QR_TOL: float = 1e-7

#: Gray's test works on blocks of event times of about this many cells (event times x groups^2, a few
#: tens of MB), and of at least ``_MIN_BLOCK`` event times.
_BLOCK_CELLS: int = 1 << 21
_MIN_BLOCK: int = 4096


# ------------------------------------------------------------------------------------------------
# result records
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CumIncAt:
    """The cumulative incidence of one cause in one group at chosen times.

    ``time`` as requested; ``est`` and ``var`` as ``cmprsk::timepoints`` (the step function carried
    forward; NaN before 0 or after the group's largest follow-up time); ``std_err = sqrt(var)``;
    ``lower``/``upper`` the log(-log) interval (NaN where ``est`` is 0 or NaN).
    """

    cause: str
    group: str
    time: np.ndarray
    est: np.ndarray
    var: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    conf_level: float
    conf_type: str = "log-log"


    def to_frame(self) -> "pd.DataFrame":
        """A tidy pandas DataFrame (see :mod:`cartreg.stats.tidy`)."""
        from cartreg.stats.tidy import cif_frame

        return cif_frame(self)

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import html_table, cif_frame

        return html_table(f"Cumulative incidence of {self.cause} in {self.group}", cif_frame(self))
    def __repr__(self) -> str:
        rows = ", ".join(f"{t:g}: {e:.4g}" for t, e in zip(self.time.tolist(), self.est.tolist()))
        return f"CumIncAt(cause={self.cause!r}, group={self.group!r}, {{{rows}}})"


@dataclass(frozen=True)
class CumIncCurve:
    """One cumulative incidence curve (one cause in one group), as an element of ``cmprsk::cuminc``.

    Fields:
        cause, group: labels (text).
        time, est, var: exactly the points ``cmprsk`` reports: ``(0, 0, 0)``, then for each time with
            a cause event two points (the value before and after the jump, at that time), then the
            group's largest follow-up time carrying the last value. ``var`` is ``cmprsk``'s variance.
        std_err: ``sqrt(var)``.
        lower, upper: log(-log) pointwise limits at ``conf_level`` (tidycmprsk's formula).
        n: rows in the group; events: events of this cause in the group;
        competing: events of other causes in the group.
    """

    cause: str
    group: str
    time: np.ndarray
    est: np.ndarray
    var: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n: int
    events: int
    competing: int
    conf_level: float
    conf_type: str = "log-log"


    def to_frame(self) -> "pd.DataFrame":
        """A tidy pandas DataFrame (see :mod:`cartreg.stats.tidy`)."""
        from cartreg.stats.tidy import cif_frame

        return cif_frame(self)

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import html_table, cif_frame

        return html_table(f"Cumulative incidence of {self.cause} in {self.group}", cif_frame(self))
    def at(self, times: Sequence[float] | np.ndarray) -> CumIncAt:
        """Evaluate at ``times`` as ``cmprsk::timepoints``: right-continuous step function.

        Times after the group's largest follow-up time, or before 0, give NaN (``timepoints`` gives
        ``NA`` there).
        """
        tp = np.atleast_1d(np.asarray(times, dtype=float))
        x = self.time
        j = np.searchsorted(x[:-1], tp, side="right")  # index after the last point <= tp
        ok = (tp >= x[0]) & (tp <= x[-1]) & np.isfinite(tp)
        j = np.where(ok, j, 0)
        est = np.where(ok, self.est[j], np.nan)
        var = np.where(ok, self.var[j], np.nan)
        with np.errstate(invalid="ignore"):
            se = np.sqrt(var)
        lower, upper = loglog_ci(est, se, self.conf_level)
        return CumIncAt(self.cause, self.group, tp, est, var, se, lower, upper, self.conf_level)

    def __repr__(self) -> str:
        last = float(self.est[-1]) if self.est.size else float("nan")
        return (
            f"CumIncCurve(cause={self.cause!r}, group={self.group!r}, n={self.n}, "
            f"events={self.events}, final={last:.4g}, points={self.time.size})"
        )


@dataclass(frozen=True)
class GrayTest:
    """Gray's (1988) k-sample test for one cause, as ``cmprsk::cuminc``'s ``Tests`` row.

    Fields:
        cause: the cause tested; levels: the groups compared (score is for all but the last).
        stat: ``s' V^-1 s``; NaN when ``V`` is singular (``cmprsk`` then reports ``-1``).
        df: ``k - 1``; p: ``1 - pchisq(stat, df)`` computed as ``cmprsk`` does (NaN if singular).
        score: ``s`` (length ``k - 1``); var: ``V``; rho: the weight exponent (0);
        stratified: whether strata were used; singular: whether ``V`` was singular.
    """

    cause: str
    levels: tuple[str, ...]
    stat: float
    df: int
    p: float
    score: np.ndarray
    var: np.ndarray
    rho: float = 0.0
    stratified: bool = False
    singular: bool = False


    def to_frame(self) -> "pd.DataFrame":
        """A tidy pandas DataFrame (see :mod:`cartreg.stats.tidy`)."""
        from cartreg.stats.tidy import gray_frame

        return gray_frame(self)

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import html_table, gray_frame

        return html_table("Gray's test", gray_frame(self))
    def __repr__(self) -> str:
        return f"GrayTest(cause={self.cause!r}, chi2={self.stat:.4g}, df={self.df}, p={self.p:.4g})"


@dataclass(frozen=True)
class CumIncResult:
    """Cumulative incidence for every cause × group, with Gray's test per cause.

    Fields:
        causes: cause labels in ``cmprsk`` order (sorted codes, as text).
        groups: group labels in R factor-level order (sorted; numerically when all are numbers);
            ``("all",)`` without a group.
        curves: ``{(cause, group): CumIncCurve}``.
        gray: ``{cause: GrayTest}``; empty with fewer than two groups.
        n: rows used; excluded: rows dropped for a missing time, status, group or strata value.
        n_by_group: rows per group; conf_level; conf_type (always ``"log-log"``); cens_code;
        grouped: whether a ``group`` was given.
    """

    causes: tuple[str, ...]
    groups: tuple[str, ...]
    curves: Mapping[tuple[str, str], CumIncCurve]
    gray: Mapping[str, GrayTest]
    n: int
    excluded: int
    n_by_group: Mapping[str, int]
    conf_level: float
    cens_code: Any = 0
    conf_type: str = "log-log"
    grouped: bool = False

    def to_frame(self, times: Sequence[float] | np.ndarray | None = None) -> "pd.DataFrame":
        """Every curve (or its values at ``times``) as a tidy pandas DataFrame."""
        from cartreg.stats.tidy import cuminc_frame

        return cuminc_frame(self, times)

    def plot(self, ax=None, risk_table: bool = True, **kwargs):
        """The report's cumulative incidence figure of this fit, with its number-at-risk table
        (:func:`cartreg.report.plots.plot_cuminc`; times drawn in their own unit unless ``time_scale``
        is given). Returns the Matplotlib figure. The one place a result reaches into ``report``,
        lazily: drawing is a view of the result, and the report and a notebook draw it alike."""
        from cartreg.report.plots import plot_cuminc

        kwargs.setdefault("time_scale", 1.0)
        kwargs.setdefault("xlabel", "Time")
        return plot_cuminc(self, ax=ax, risk_table=risk_table, **kwargs)

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import html_table

        return html_table(f"Cumulative incidence: n={self.n}, excluded={self.excluded}",
                          self.to_frame())

    def curve(self, cause: Any, group: Any = None) -> CumIncCurve:
        """The curve of ``cause`` in ``group`` (the only group when ``group`` is None)."""
        c = _label_of(cause)
        if c not in self.causes:
            raise KeyError(f"unknown cause {cause!r}; causes are {list(self.causes)}")
        if group is None:
            if len(self.groups) != 1:
                raise KeyError(f"give a group: groups are {list(self.groups)}")
            g = self.groups[0]
        else:
            g = _label_of(group)
            if g not in self.groups:
                raise KeyError(f"unknown group {group!r}; groups are {list(self.groups)}")
        return self.curves[(c, g)]

    def at(self, cause: Any, group: Any = None, times: Sequence[float] | np.ndarray = ()) -> CumIncAt:
        """``curve(cause, group).at(times)``."""
        return self.curve(cause, group).at(times)

    def __repr__(self) -> str:
        tests = "; ".join(
            f"{c}: chi2={t.stat:.4g}, p={t.p:.4g}" for c, t in self.gray.items()
        )
        return (
            f"CumIncResult(n={self.n}, excluded={self.excluded}, causes={list(self.causes)}, "
            f"groups={list(self.groups)}" + (f", gray[{tests}]" if tests else "") + ")"
        )


# ------------------------------------------------------------------------------------------------
# public entry point
# ------------------------------------------------------------------------------------------------


def cuminc(
    time: Sequence[float] | np.ndarray,
    status: Sequence[Any] | np.ndarray,
    group: Sequence[Any] | np.ndarray | None = None,
    *,
    strata: Sequence[Any] | np.ndarray | None = None,
    conf_level: float = 0.95,
    cens_code: Any = 0,
    rho: float = 0.0,
) -> CumIncResult:
    """Cumulative incidence curves and Gray's test, as ``cmprsk::cuminc(time, status, group, strata)``.

    Aalen & Johansen (1978) estimates with ``cmprsk``'s variance; log(-log) CIs as ``tidycmprsk``;
    Gray (1988) test across groups (``rho = 0`` by default) within ``strata`` if given.

    Args:
        time: follow-up times (>= 0).
        status: ``cens_code`` (default 0) for censored, any other code (number or text) for a cause.
        group: optional groups to compare; levels ordered like R factor levels.
        strata: optional strata for Gray's test (the curves are not stratified, as in ``cmprsk``).
        conf_level: level of the pointwise intervals.
        cens_code: the censoring code.
        rho: exponent of Gray's weight ``(1 - F(t-))^rho`` (0, ``cuminc``'s default, is the
            log-rank-like test; the CLI always uses 0).

    Rows with a missing value in any of these are dropped and counted in ``excluded``.

    >>> r = cuminc([1, 2, 3, 4], [1, 0, 2, 1], ["a", "a", "b", "b"])
    >>> r.groups, r.gray["1"].df
    (('a', 'b'), 1)
    """
    if not (0.0 < float(conf_level) < 1.0):
        raise CartregError(f"conf level must be strictly between 0 and 1, got {conf_level}")
    time_a = np.asarray(time)
    status_a = np.asarray(status)
    group_a = None if group is None else np.asarray(group)
    strata_a = None if strata is None else np.asarray(strata)
    cc = complete_cases(time_a, status_a, group_a, strata_a)
    t_raw, st, gr, sr = cc.arrays
    try:
        t = np.asarray(t_raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise CartregError(f"time must be numeric: {exc}") from None
    if not np.all(np.isfinite(t)):
        raise CartregError("time has infinite values")
    if np.any(t < 0):
        raise CartregError(f"time has negative values (smallest {t.min():g}); times must be >= 0")
    n = t.size
    if n == 0:
        raise CartregError("no complete rows: every row has a missing time, status or group")

    cause_idx, causes = _status_codes(st, cens_code)
    if len(causes) == 0:
        raise CartregError("no events: every row is censored, there is no cumulative incidence")
    if gr is None:
        g_idx, groups = np.zeros(n, dtype=np.intp), (ALL_GROUP,)
    else:
        g_idx, groups = _factor(gr)
    s_idx = None if sr is None else _factor(sr)[0]

    order = np.argsort(t, kind="stable")
    t, cause_idx, g_idx = t[order], cause_idx[order], g_idx[order]
    if s_idx is not None:
        s_idx = s_idx[order]
    ng = len(groups)

    curves: dict[tuple[str, str], CumIncCurve] = {}
    n_by_group: dict[str, int] = {}
    nc = len(causes)
    for k, gname in enumerate(groups):  # one pass per group; causes share the risk table
        rows = np.flatnonzero(g_idx == k)
        n_by_group[gname] = int(rows.size)
        tab = _event_table(t[rows], cause_idx[rows], nc)
        for j, cname in enumerate(causes):
            x, f, v = _cinc(*tab, j)
            with np.errstate(invalid="ignore"):
                se = np.sqrt(v)
            lo, hi = loglog_ci(f, se, conf_level)
            _freeze(x, f, v, se, lo, hi)
            ev_j = int(tab[3][:, j].sum())
            curves[(cname, gname)] = CumIncCurve(
                cause=cname, group=gname, time=x, est=f, var=v, std_err=se, lower=lo, upper=hi,
                n=int(rows.size), events=ev_j, competing=int(tab[2].sum()) - ev_j,
                conf_level=float(conf_level),
            )
    curves = {(c, g): curves[(c, g)] for c in causes for g in groups}  # cmprsk order

    gray: dict[str, GrayTest] = {}
    if ng > 1:
        gray = _gray_all(t, cause_idx, g_idx, ng, causes, groups, strata=s_idx, rho=float(rho))
    return CumIncResult(
        causes=causes, groups=groups, curves=curves, gray=gray, n=n, excluded=cc.excluded,
        n_by_group=n_by_group, conf_level=float(conf_level), cens_code=cens_code,
        grouped=gr is not None,
    )


# ------------------------------------------------------------------------------------------------
# confidence intervals
# ------------------------------------------------------------------------------------------------


def loglog_ci(est: np.ndarray, std_err: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """tidycmprsk's interval ``est ^ exp(±z·se / (est·log est))`` with ``z = qnorm((1 - level)/2)``.

    NaN (R's ``NA``) where ``est = 0`` or either input is NaN; ``(1, 1)`` where ``est = 1`` (R's
    ``1^x = 1``); ``(est, est)`` where ``se = 0``.

    >>> lo, hi = loglog_ci(np.array([0.25]), np.array([0.25]), 0.95)
    >>> round(float(lo[0]), 6), round(float(hi[0]), 6)
    (0.003346, 0.713791)
    """
    e = np.asarray(est, dtype=float)
    se = np.asarray(std_err, dtype=float)
    z = float(ndtri((1.0 - float(conf_level)) / 2.0))  # negative, as qnorm((1 - level)/2) (= norm.ppf)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        q = se / (e * np.log(e))
        lower = np.power(e, np.exp(z * q))
        upper = np.power(e, np.exp(-z * q))
    return lower, upper


# ------------------------------------------------------------------------------------------------
# the estimator (one cause in one group)
# ------------------------------------------------------------------------------------------------


def _event_table(t: np.ndarray, cause_idx: np.ndarray, nc: int) -> tuple[Any, ...]:
    """Risk table of one group at its event times: ``(time, at risk, events, events by cause, t_max)``.

    ``t`` is sorted; ``cause_idx`` is -1 for censored rows, else the cause index ``0..nc-1``.
    Times with only censorings are dropped (they change the risk set only).
    """
    n = t.size
    first = np.empty(n, dtype=bool)
    first[:1] = True
    np.not_equal(t[1:], t[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    tix = np.cumsum(first) - 1
    nt = starts.size
    ev = cause_idx >= 0
    ndc = np.bincount(tix[ev] * nc + cause_idx[ev], minlength=nt * nc).reshape(nt, nc)
    nd = ndc.sum(axis=1)
    keep = nd > 0
    tmax = float(t[-1]) if n else 0.0
    return t[starts][keep], (n - starts)[keep].astype(float), nd[keep].astype(float), ndc[keep], tmax


def _cinc(
    ut: np.ndarray, rs: np.ndarray, nd: np.ndarray, ndc: np.ndarray, tmax: float, j: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aalen-Johansen estimate and ``cmprsk``'s variance for cause ``j`` in one group.

    Input is the group's :func:`_event_table`. With ``S-``/``S`` the all-cause Kaplan-Meier
    before/at ``t_i``, ``F`` the estimate at ``t_i`` and ``c(d) = 1 - (d - 1)/(n - 1)`` the tie
    correction, three running sums are accumulated over event times (competing events first, then
    cause events, as ``cinc``)::

        competing (S > 0):  w = S-^2 c(d2) d2 / n^2;  a = F/S, b = 1/S
        cause:              w = S-^2 c(d1) d1 / n^2;  b = 1/S (0 if S = 0), a = 1 + b F
        v1 += a^2 w,  v2 += a b w,  v3 += b^2 w

    and at each cause event time ``var = v1 + F^2 v3 - 2 F v2``. All sums are cumulative sums.
    """
    nd1 = ndc[:, j].astype(float)
    nd2 = nd - nd1
    with np.errstate(divide="ignore", invalid="ignore"):
        fkn = np.cumprod((rs - nd) / rs)
        fk = np.concatenate(([1.0], fkn[:-1]))
        ff = np.cumsum(fk * nd1 / rs)  # F after each event time (adds exact zeros elsewhere)
        w_base = fk * fk / (rs * rs)
        # competing events
        m2 = (nd2 > 0) & (fkn > 0)
        c2 = np.where(nd2 > 1, 1.0 - (nd2 - 1.0) / (rs - 1.0), 1.0)
        w2 = np.where(m2, w_base * c2 * nd2, 0.0)
        b2 = np.where(m2, 1.0 / fkn, 0.0)
        a2 = np.where(m2, ff / fkn, 0.0)
        # events of the cause of interest
        m1 = nd1 > 0
        c1 = np.where(nd1 > 1, 1.0 - (nd1 - 1.0) / (rs - 1.0), 1.0)
        w1 = np.where(m1, w_base * c1 * nd1, 0.0)
        b1 = np.where(fkn > 0, 1.0 / fkn, 0.0)
        a1 = 1.0 + b1 * ff
        b1 = np.where(m1, b1, 0.0)
        a1 = np.where(m1, a1, 0.0)

    def running(x2: np.ndarray, x1: np.ndarray) -> np.ndarray:
        # cumulative sum in cmprsk's order: competing term, then cause term, time after time
        return np.column_stack((x2, x1)).ravel().cumsum()[1::2]

    v1 = running(a2 * a2 * w2, a1 * a1 * w1)
    v2 = running(b2 * a2 * w2, b1 * a1 * w1)
    v3 = running(b2 * b2 * w2, b1 * b1 * w1)
    fj = ff[m1]
    vj = v1[m1] + fj * fj * v3[m1] - 2 * fj * v2[m1]
    tj = ut[m1]
    k = tj.size
    x = np.empty(2 * k + 2)
    f = np.empty(2 * k + 2)
    v = np.empty(2 * k + 2)
    x[0], f[0], v[0] = 0.0, 0.0, 0.0
    x[1:-1] = np.repeat(tj, 2)
    f[2:-1:2] = fj
    v[2:-1:2] = vj
    f[1:-1:2] = np.concatenate(([0.0], fj[:-1]))
    v[1:-1:2] = np.concatenate(([0.0], vj[:-1]))
    x[-1] = tmax
    f[-1] = f[-2]
    v[-1] = v[-2]
    return x, f, v


# ------------------------------------------------------------------------------------------------
# Gray's test
# ------------------------------------------------------------------------------------------------


def gray_test(
    time: np.ndarray,
    m: np.ndarray,
    group: np.ndarray,
    ng: int,
    *,
    strata: np.ndarray | None = None,
    rho: float = 0.0,
    cause: str = "1",
    levels: Sequence[str] | None = None,
) -> GrayTest:
    """Gray's (1988) test that the cause-1 cumulative incidence is equal in ``ng`` groups.

    ``m`` is 0 (censored), 1 (the cause tested) or 2 (another cause); ``group`` is coded
    ``0..ng-1``; ``strata`` (optional) any codes. The scores and variances of the strata are summed,
    as ``cmprsk``'s ``crstm``; the statistic is ``s' V^-1 s`` on ``ng - 1`` df.
    """
    t = np.asarray(time, dtype=float)
    o = np.argsort(t, kind="stable")
    mm = np.asarray(m)[o]
    cause_idx = np.where(mm == 1, 0, np.where(mm == 2, 1, -1)).astype(np.intp)
    s_idx = None if strata is None else _factor(np.asarray(strata)[o])[0]
    lv = tuple(levels) if levels is not None else tuple(str(i) for i in range(ng))
    return _gray_all(t[o], cause_idx, np.asarray(group, dtype=np.intp)[o], ng, (cause, "other"), lv,
                     strata=s_idx, rho=rho, only=(0,))[cause]


def _gray_all(
    t: np.ndarray,
    cause_idx: np.ndarray,
    g: np.ndarray,
    ng: int,
    causes: Sequence[str],
    levels: Sequence[str],
    *,
    strata: np.ndarray | None = None,
    rho: float = 0.0,
    only: Sequence[int] | None = None,
) -> dict[str, GrayTest]:
    """Gray's test for each cause (``t`` sorted; ``cause_idx`` -1 = censored; ``g`` in ``0..ng-1``)."""
    nc = len(causes)
    ng1 = ng - 1
    todo = range(nc) if only is None else only
    s = {j: np.zeros(ng1) for j in todo}
    v = {j: np.zeros((ng1, ng1)) for j in todo}
    if strata is None:
        blocks = [slice(None)]
    else:
        blocks = [np.flatnonzero(strata == u) for u in np.unique(strata)]
    for rows in blocks:  # one pass per stratum; causes share its risk table
        rs, dc = _gray_table(t[rows], cause_idx[rows], g[rows], ng, nc)
        dall = dc.sum(axis=0)
        km = _gray_km(rs, dall)
        for j in todo:
            ss, vv = _gray_stratum(rs, dc[j], dall - dc[j], km, rho)
            s[j] += ss
            v[j] += vv
    out: dict[str, GrayTest] = {}
    for j in todo:
        singular = _qr_rank(v[j]) < ng1
        if singular:
            stat = p = float("nan")
        else:
            stat = float(s[j] @ np.linalg.solve(v[j], s[j]))
            p = 1.0 if stat < 0 else float(1.0 - chdtr(ng1, stat))  # as cmprsk: 1 - pchisq(stat, ng - 1) (= chi2.cdf)
        _freeze(s[j], v[j])
        out[causes[j]] = GrayTest(
            cause=causes[j], levels=tuple(levels), stat=stat, df=ng1, p=p, score=s[j], var=v[j],
            rho=rho, stratified=strata is not None, singular=singular,
        )
    return out


def _gray_table(
    t: np.ndarray, cause_idx: np.ndarray, g: np.ndarray, ng: int, nc: int
) -> tuple[np.ndarray, np.ndarray]:
    """Risk table of one stratum at each time with an event (any cause, any group), group-major.

    Returns the number at risk just before each event time ``(ng, E)`` and the events per cause,
    group and event time ``(nc, ng, E)``. ``t`` is sorted; ``cause_idx`` is -1 for censored rows.
    """
    n = t.size
    if n == 0:
        return np.zeros((ng, 0)), np.zeros((nc, ng, 0))
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(t[1:], t[:-1], out=first[1:])
    tix = np.cumsum(first) - 1
    nt = int(tix[-1]) + 1
    dall = np.bincount(g * nt + tix, minlength=ng * nt).reshape(ng, nt)
    rs = dall.sum(axis=1, keepdims=True) - (np.cumsum(dall, axis=1) - dall)  # at risk before each time
    ev = cause_idx >= 0
    key = (cause_idx[ev] * ng + g[ev]) * nt + tix[ev]
    dc = np.bincount(key, minlength=nc * ng * nt).reshape(nc, ng, nt)
    has = np.bincount(tix[ev], minlength=nt) > 0
    return rs[:, has].astype(float), dc[:, :, has].astype(float)


def _freeze(*arrays: np.ndarray) -> None:
    """Make result arrays read-only, so that a frozen result cannot be changed in place."""
    for a in arrays:
        a.flags.writeable = False


def _tie_factor(d: np.ndarray, size: np.ndarray) -> np.ndarray:
    """``1 - (d - 1)/(size - 1)`` where ``d > 1``, else 1 (computed only where needed: ties are rare
    with continuous times). ``d`` broadcasts against ``size``."""
    d, size = np.broadcast_arrays(d, size)
    out = np.ones(d.shape)
    tied = d > 1
    if tied.any():
        out[tied] = 1.0 - (d[tied] - 1.0) / (size[tied] - 1.0)
    return out


def _qr_rank(v: np.ndarray) -> int:
    """Numerical rank of ``v`` as R's ``qr()`` judges it (pivots below ``1e-7`` relative are zero)."""
    if v.size == 0 or not np.all(np.isfinite(v)):
        return 0
    norms = np.sqrt((v * v).sum(axis=0))
    if not np.any(norms > 0):
        return 0
    from scipy.linalg import qr

    _, r, piv = qr(v, pivoting=True)
    d = np.abs(np.diag(r))
    return int(np.sum(d > QR_TOL * norms[piv]))


def _gray_km(rs: np.ndarray, dall: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cause-independent parts of Gray's test in one stratum (group-major ``(ng, E)``): at-risk mask,
    all-cause Kaplan-Meier at and before each event time, ``h = Y/S-`` and ``tr = sum h``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = rs > 0
        skm = np.cumprod(np.where(pos, (rs - dall) / rs, 1.0), axis=1)  # right-continuous
        skmm = np.hstack((np.ones((rs.shape[0], 1)), skm[:, :-1]))  # left-continuous
        h = np.where(pos, rs / skmm, 0.0)
    return pos, skm, skmm, h, h.sum(axis=0)


def _gray_stratum(
    rs: np.ndarray, d1: np.ndarray, d2: np.ndarray, km: tuple[np.ndarray, ...], rho: float
) -> tuple[np.ndarray, np.ndarray]:
    """Score and variance of Gray's test in one stratum, from its :func:`_gray_table`.

    Notation per event time ``e`` and group ``k``: ``Y`` at risk, ``S-``/``S`` all-cause Kaplan-Meier
    before/at ``e``, ``F-`` the cause-1 incidence before ``e``, ``h = Y/S-``, ``R = Y(1 - F-)/S-``
    (Gray's risk set), ``tr = sum h``, ``tq = sum R``, pooled ``F = F- + d1/tr`` and weight
    ``fb = (1 - F-)^rho``. Then::

        score_k  = sum_e fb (d1_k - d1 R_k / tq)
        A_e      = fb (diag(h) - h h'/tr)
        C_e      = sum_{e' <= e} A_e' d1 / (tr (1 - F-))            (running, ng x ng)

    and the variance is a sum over event times of outer products of ``A - t4 C`` (cause events) and
    of ``C`` (competing events), plus a final term in ``C`` at the last time; see
    ``docs/stats-cuminc.md``. Every quantity is a cumulative sum or product over event times, so
    the whole computation is array arithmetic; event times are processed in blocks only to bound
    memory (the running ``C`` is carried from block to block).
    """
    ng, ne = rs.shape
    ng1 = ng - 1
    if ne == 0:
        return np.zeros(ng1), np.zeros((ng1, ng1))
    # Arrays are group-major, (group, event time): running sums over time are contiguous cumsums,
    # sums over groups are row additions, and variance entries are dot products over time.
    pos, skm, skmm, h, tr = km
    nd1 = d1.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        f1 = np.cumsum(np.where(pos, skmm * d1 / rs, 0.0), axis=1)
        f1m = np.hstack((np.zeros((ng, 1)), f1[:, :-1]))  # cause-1 incidence, left-continuous
        rr = np.where(pos, rs * (1.0 - f1m) / skmm, 0.0)  # Gray's risk set R
        tq = rr.sum(axis=0)
        f = np.cumsum(nd1 / tr)
        fm = np.concatenate(([0.0], f[:-1]))
        fb = (1.0 - fm) ** rho
        score = (fb * np.where(pos, d1 - nd1 * rr / tq, 0.0))[:ng1].sum(axis=1)

        # weights of the variance terms per group and event time
        one_f = 1.0 - f
        t4 = np.where(pos, np.where(skm > 0, 1.0 - one_f / skm, 1.0), 0.0)
        t5 = _tie_factor(nd1, tr * skmm)  # 1 - (d1 - 1)/(tr S- - 1), as crstm
        t3 = np.where(pos & (nd1 > 0), t5 * skmm * nd1 / (tr * rs), 0.0)  # cause-1 events
        u4 = one_f / skm
        u5 = _tie_factor(d2, rs)
        w2 = np.where((skm > 0) & (d2 > 0), u4 * u4 * u5 * skmm * skmm * d2 / (rs * rs), 0.0)  # competing
        wc = nd1 / (tr * (1.0 - fm))  # increment factor of C
    t43 = t4 * t3
    v3 = (t4 * t43).sum(axis=1) + w2.sum(axis=1)
    v = np.zeros((ng1, ng1))
    v2 = np.zeros((ng1, ng))
    c_carry = np.zeros((ng1, ng))
    block = min(ne, max(_MIN_BLOCK, _BLOCK_CELLS // (ng * ng)))
    bufs = [np.empty(ng1 * ng * block) for _ in range(3)]  # reused by every block
    for b0 in range(0, ne, block):  # blocks of event times, only to bound memory
        sl = slice(b0, min(ne, b0 + block))
        m = sl.stop - b0
        a, c, tmp = (b[: ng1 * ng * m].reshape(ng1, ng, m) for b in bufs)
        hb = h[:, sl]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            np.multiply(hb[:ng1, None, :], (hb / tr[sl])[None, :, :], out=a)  # h_i h_k / tr
            np.negative(a, out=a)
            for i in range(ng1):
                a[i, i] += hb[i]  # A = fb (diag(h) - h h'/tr), rows i < ng - 1
            if rho != 0.0:
                a *= fb[sl]
            np.multiply(a, wc[sl], out=tmp)
            np.cumsum(tmp, axis=2, out=c)
        c += c_carry[:, :, None]  # C, running over all event times so far
        c_carry = c[:, :, -1].copy()
        w2b = w2[:, sl]
        np.multiply(c, w2b, out=tmp)  # competing-event term: C w2 C'
        for i in range(ng1):  # loops over groups only
            for j in range(i + 1):
                v[i, j] += tmp[i].ravel() @ c[j].ravel()
        v2 -= np.einsum("ike,ke->ik", c, w2b)
        np.multiply(c, t4[:, sl], out=tmp)
        np.subtract(a, tmp, out=a)  # a is now B = A - t4 C
        v2 += np.einsum("ike,ke->ik", a, t43[:, sl])
        np.multiply(a, t3[:, sl], out=tmp)  # cause-event term: B t3 B'
        for i in range(ng1):
            for j in range(i + 1):
                v[i, j] += tmp[i].ravel() @ a[j].ravel()
    v = np.tril(v) + np.tril(v, -1).T
    cf = c_carry
    v += (cf * v3) @ cf.T + cf @ v2.T + v2 @ cf.T
    return score, v


# ------------------------------------------------------------------------------------------------
# labels and levels
# ------------------------------------------------------------------------------------------------


def _num_label(x: float) -> str:
    """Text of a numeric code as R's ``as.character`` shows it (15 significant digits)."""
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{float(x):.15g}"


def _label_of(x: Any) -> str:
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return _num_label(float(x))
    return str(x)


def _as_numbers(values: np.ndarray) -> np.ndarray | None:
    """``values`` as floats when every entry is a number (or numeric text), else None."""
    if values.dtype.kind in "iufb":
        return values.astype(float)
    try:
        return np.asarray([float(v) for v in values], dtype=float)  # unique values only: small
    except (TypeError, ValueError):
        return None


def _factor(values: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes and labels, levels sorted like R factor levels.

    Numbers (or text that is all numbers) sort numerically; other text sorts as text. Labels are the
    text as given (numbers as R prints them).
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "iufb":
        uniq, inv = np.unique(arr.astype(float), return_inverse=True)
        return inv.astype(np.intp), tuple(_num_label(u) for u in uniq)
    uniq, inv = np.unique(arr.astype(str), return_inverse=True)
    nums = _as_numbers(uniq)
    if nums is not None and np.all(np.isfinite(nums)):
        order = np.lexsort((uniq, nums))
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return rank[inv].astype(np.intp), tuple(uniq[order].tolist())
    return inv.astype(np.intp), tuple(uniq.tolist())


def _status_codes(status: np.ndarray, cens_code: Any) -> tuple[np.ndarray, tuple[str, ...]]:
    """Cause index per row (-1 = censored) and the cause labels in ``cmprsk`` order."""
    arr = np.asarray(status)
    if arr.dtype.kind in "iufb":
        x = arr.astype(float)
        try:
            cens = float(cens_code)
        except (TypeError, ValueError):
            raise CartregError(f"status is numeric but the censoring code {cens_code!r} is not") from None
        uniq, inv = np.unique(x, return_inverse=True)
        labels = [_num_label(u) for u in uniq]
        is_cens = uniq == cens
    else:
        codes, labels_t = _factor(arr.astype(str))
        inv, labels = codes, list(labels_t)
        cl = _label_of(cens_code)
        is_cens = np.asarray([lab == cl or _same_number(lab, cens_code) for lab in labels], dtype=bool)
    cause_pos = np.cumsum(~is_cens) - 1
    idx = np.where(is_cens[inv], -1, cause_pos[inv]).astype(np.intp)
    causes = tuple(lab for lab, c in zip(labels, is_cens) if not c)
    return idx, causes


def _same_number(label: str, code: Any) -> bool:
    try:
        return float(label) == float(code)
    except (TypeError, ValueError):
        return False


# ---- the times print.cuminc shows (used by `cartreg cuminc` and the DataFrame layer) ----


def r_pretty(lo: float, hi: float, n: int = 5) -> list[float]:
    """R's ``pretty(c(lo, hi), n)`` (``pretty.default`` of R 4.2 with its default arguments).

    >>> r_pretty(0, 424)
    [0.0, 100.0, 200.0, 300.0, 400.0, 500.0]
    """
    h, h5, shrink, eps = 1.5, 0.5 + 1.5 * 1.5, 0.75, 1e-10
    min_n = n // 3
    dx = hi - lo
    if dx == 0 and hi == 0:
        cell, small = 1.0, True
    else:
        cell = max(abs(lo), abs(hi))
        u = 1 + ((1 / (1 + h)) if h5 >= 1.5 * h + 0.5 else 1.5 / (1 + h5))
        u *= max(1, n) * np.finfo(float).eps
        small = dx < cell * u * 3
    if small:
        if cell > 10:
            cell = 9 + cell / 10
        cell *= shrink
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx
        if n > 1:
            cell /= n
    cell = max(cell, 2.0 ** -20 * np.finfo(float).tiny)
    base = 10.0 ** math.floor(math.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    ns = math.floor(lo / unit + eps)
    nu = math.ceil(hi / unit - eps)
    while ns * unit > lo + eps * unit:
        ns -= 1
    while nu * unit < hi - eps * unit:
        nu += 1
    k = int(0.5 + nu - ns)
    if k < min_n:
        k = min_n - k
        if ns >= 0:
            nu += k // 2
            ns -= k // 2 + k % 2
        else:
            ns -= k // 2
            nu += k // 2 + k % 2
        ndiv = min_n
    else:
        ndiv = k
    start, end = ns * unit, nu * unit
    if ndiv == 0:
        return [start]
    by = (end - start) / ndiv
    s = [start + i * by for i in range(ndiv)] + [end]
    return [0.0 if abs(x) < 1e-14 * by else x for x in s]


def default_times(max_time: float) -> list[float]:
    """The times ``print.cuminc`` shows: interior points of ``pretty(c(0, max_time), 5)``."""
    if not (max_time > 0):
        return [0.0]
    p = r_pretty(0.0, float(max_time), 5)
    inner = p[1:-1]
    return inner if inner else [float(max_time)]
