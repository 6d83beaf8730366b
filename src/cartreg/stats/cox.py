"""Cox proportional hazards regression that agrees with R ``survival::coxph`` (3.5).

The model (Cox 1972) is ``h(t | x) = h0_s(t) exp(x'beta)`` with an unspecified baseline hazard
``h0_s`` per stratum ``s`` and coefficients shared across strata. ``beta`` maximises the partial
log-likelihood; tied event times are handled by Efron's (1977) approximation (R's default) or by
Breslow's (1974).

The fit follows ``coxph.fit`` / ``coxfit6.c`` step for step (Therneau & Grambsch 2000, ch. 3):

* covariates whose values are not all in {-1, 0, 1} are centred and scaled to mean absolute
  deviation 1 (``nocenter = c(-1, 0, 1)``); this changes rounding only, not the estimates;
* times equal up to ``sqrt(.Machine$double.eps)`` are merged first (``aeqSurv``, ``timefix = TRUE``);
* Newton-Raphson from ``beta = 0``; a candidate that lowers the log-likelihood is pulled back
  towards the last good ``beta`` as ``(candidate + h * good) / (h + 1)``, h = 1, 2, ...
  (step-halving, more aggressive each time); convergence when
  ``|1 - loglik_old / loglik_new| <= 1e-9`` (``coxph.control(eps)``), at most 20 iterations;
* the generalised Cholesky of the information matrix (``cholesky2``, tolerance
  ``.Machine$double.eps^0.75``) marks aliased columns, whose coefficients are NA as in R;
* an infinite coefficient is detected as R does after convergence: with ``u`` the score and ``V``
  the inverse information at the estimate, term ``j`` is infinite when ``|(u'V)_j| > eps`` and
  ``|(u'V)_j| > sqrt(eps) |beta_j|``: one more Newton step would still move it, although the
  log-likelihood has converged ("Loglik converged before variable j"). A 0/1 column whose rows
  with value 1 have no event (a group with no events) is reported infinite as well.

Every Newton step is vectorised: rows are sorted once by stratum and time (descending, events
first within a tie) and the covariates stored as a contiguous (p, n) array; risk-set sums of
``exp(eta)`` and ``exp(eta) x`` are cumulative sums down the sorted rows; the Efron terms need only
per-event scalars and per-time sums over the tied events; the information matrix is
``X' diag(v) X`` minus a product of (p, K) matrices over the K event times (no per-row outer
product is ever stored). Nothing per row or per distinct time runs in Python.
See ``docs/stats-cox.md``.

References
----------
Cox DR (1972). Regression models and life-tables. JRSS B 34:187-220.
Efron B (1977). The efficiency of Cox's likelihood function for censored data. JASA 72:557-565.
Breslow NE (1974). Covariance analysis of censored survival data. Biometrics 30:89-99.
Therneau TM, Grambsch PM (2000). Modeling Survival Data: Extending the Cox Model. Springer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from cartreg.errors import CartregError
from cartreg.stats._data import complete_cases, timefix_cuts

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["CoxResult", "NewtonFit", "coxph", "finish_fit", "newton_raphson"]

EPS = 1e-9  #: coxph.control(eps): relative change in log-likelihood at convergence
ITER_MAX = 20  #: coxph.control(iter.max)
TOLER_CHOL = float(np.finfo(float).eps) ** 0.75  #: coxph.control(toler.chol)
TOLER_INF = math.sqrt(EPS)  #: coxph.control(toler.inf)
STRATA_LOOP_MAX = 1000  #: up to this many strata, cumulative sums restart per stratum slice
BLOCK_ELEMENTS = 32768  #: covariate values per cache-sized block of columns in a Newton step


@dataclass(frozen=True, eq=False)
class CoxResult:
    """A fitted Cox model; one entry per term in the per-term arrays (order of ``names``).

    Attributes
    ----------
    names : tuple of str
        Term names, as given to :func:`coxph`.
    coef : ndarray
        log hazard ratios. NaN for an aliased term (constant or collinear column; NA in R). For an
        infinite term (``infinite[j]``) it is the last iterate (as R prints it), not an estimate.
    se : ndarray
        Standard errors ``sqrt(diag(var))``; NaN for aliased terms.
    hr, ci_lower, ci_upper : ndarray
        ``exp(coef)`` and the Wald interval ``exp(coef -/+ z_{(1+conf_level)/2} se)``;
        NaN when the term is infinite or aliased.
    z, p : ndarray
        Wald statistic ``coef/se`` and its two-sided normal p-value; NaN when infinite or aliased.
    var : ndarray
        The p x p variance matrix (inverse information at the estimate), as R's ``fit$var``.
    means : ndarray
        The values subtracted from each column before fitting (0 for columns in {-1, 0, 1}).
    loglik_null, loglik : float
        Partial log-likelihood at beta = 0 and at the estimate (R's ``fit$loglik``).
    lr_chi2, lr_df, lr_p : float, int, float
        Likelihood-ratio test ``2 (loglik - loglik_null)`` on ``lr_df`` = number of non-aliased
        terms; ``lr_p`` is NaN when ``lr_df`` is 0.
    score_chi2, score_p : float
        Score (log-rank) test at beta = 0 on ``lr_df`` degrees of freedom.
    wald_chi2, wald_p : float
        Joint Wald test ``beta' V^- beta`` over the non-aliased terms.
    n, events, excluded : int
        Rows used, events among them, rows dropped for a missing value in any column.
    n_strata : int
        Number of strata (1 when unstratified).
    ties : str
        ``"efron"`` or ``"breslow"``.
    conf_level : float
        Level of the Wald intervals.
    converged : bool
        Whether Newton-Raphson met the convergence criterion within ``iter_max`` iterations.
    iterations : int
        R's ``fit$iter`` (``iter_max + 1`` when it ran out of iterations, as in R).
    infinite : ndarray of bool
        Terms whose coefficient is infinite (monotone likelihood); see the module docstring.
    aliased : ndarray of bool
        Terms dropped as constant or collinear (coefficient NA in R).
    warnings : tuple of str
        Plain-language notes on infinite, aliased or non-converged terms and data problems.
    robust_se : ndarray or None
        With ``robust=True`` or a ``cluster``: the robust (sandwich) standard errors, R's
        ``robust se`` column; ``var`` is then the robust variance (R's ``fit$var``) and ``z``, ``p``,
        the intervals and the Wald test use it, while ``se`` stays the model-based ``se(coef)``.
    naive_var : ndarray or None
        With a robust variance: the model-based variance (R's ``fit$naive.var``).
    weighted : bool
        Whether case weights were given.
    n_clusters : int or None
        Number of clusters of the robust variance (rows when no ``cluster`` was given).
    """

    names: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    hr: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    z: np.ndarray
    p: np.ndarray
    var: np.ndarray
    means: np.ndarray
    loglik_null: float
    loglik: float
    lr_chi2: float
    lr_df: int
    lr_p: float
    score_chi2: float
    score_p: float
    wald_chi2: float
    wald_p: float
    n: int
    events: int
    excluded: int
    n_strata: int
    ties: str
    conf_level: float
    converged: bool
    iterations: int
    infinite: np.ndarray
    aliased: np.ndarray
    warnings: tuple[str, ...]
    robust_se: np.ndarray | None = None
    naive_var: np.ndarray | None = None
    weighted: bool = False
    n_clusters: int | None = None

    def summary(self) -> str:
        """A printable table in the spirit of ``summary.coxph``; formatting only."""
        head = (
            f"Cox proportional hazards ({self.ties} ties"
            + (f", {self.n_strata} strata" if self.n_strata > 1 else "")
            + f"): n={self.n}, events={self.events}, excluded={self.excluded}"
        )
        lines = [head, *term_lines(self)]
        lines.append(
            f"Log-likelihood: null {self.loglik_null:.6g}, model {self.loglik:.6g}"
            f" ({'converged' if self.converged else 'NOT converged'}, {self.iterations} iterations)"
        )
        lines.append(f"Likelihood ratio test = {self.lr_chi2:.4g} on {self.lr_df} df, p = {_fmt_p(self.lr_p)}")
        lines.append(f"Wald test             = {self.wald_chi2:.4g} on {self.lr_df} df, p = {_fmt_p(self.wald_p)}")
        lines.append(f"Score (logrank) test  = {self.score_chi2:.4g} on {self.lr_df} df, p = {_fmt_p(self.score_p)}")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    def to_frame(self) -> "pd.DataFrame":
        """The terms as a tidy pandas DataFrame (``broom::tidy``; see :mod:`cartreg.stats.tidy`)."""
        from cartreg.stats.tidy import cox_frame

        return cox_frame(self)

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import cox_html

        return cox_html(self)

    def __repr__(self) -> str:
        return self.summary()


def term_lines(fit, hr_label: str = "HR", p_format=None) -> list[str]:
    """The column header and one line per term (coef, se, HR, CI, p) of a proportional-hazards fit
    (Cox, Firth's Cox, Fine-Gray); terms flagged ``aliased`` or ``infinite`` are shown as R shows
    them. Formatting only."""
    lvl = f"{100 * fit.conf_level:g}%"
    width = max([4] + [len(s) for s in fit.names])
    fmt_p = p_format or _fmt_p
    aliased = getattr(fit, "aliased", None)
    infinite = getattr(fit, "infinite", None)
    lines = [f"{'term':<{width}}  {'coef':>10}  {'se':>10}  {hr_label:>10}  "
             f"{'lower ' + lvl:>11}  {'upper ' + lvl:>11}  {'p':>10}"]
    for j, name in enumerate(fit.names):
        if aliased is not None and aliased[j]:
            lines.append(f"{name:<{width}}  {'NA (aliased: constant or collinear)':>40}")
        elif infinite is not None and infinite[j]:
            sign = "-Inf" if fit.coef[j] < 0 else "+Inf"
            lines.append(f"{name:<{width}}  {sign:>10}  {'':>10}  {'not estimable (infinite coefficient)':>36}")
        else:
            lines.append(f"{name:<{width}}  {fit.coef[j]:>10.4g}  {fit.se[j]:>10.4g}  {fit.hr[j]:>10.4g}  "
                         f"{fit.ci_lower[j]:>11.4g}  {fit.ci_upper[j]:>11.4g}  {fmt_p(fit.p[j]):>10}")
    return lines


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "NA"
    return "<2e-16" if p < 2e-16 else f"{p:.3g}"


# --------------------------------------------------------------------------------------------
# R's generalised Cholesky routines (cholesky2.c, chsolve2.c, chinv2.c). p is small, so plain
# loops over p are fine; the trailing updates are vectorised.
# --------------------------------------------------------------------------------------------


def _cholesky2(imat: np.ndarray, toler: float) -> tuple[np.ndarray, int]:
    """LDL' decomposition in the lower triangle, D on the diagonal; near-singular pivots set to 0.

    Returns (matrix, rank * nonneg) like ``cholesky2``: the rank, negated if the matrix is not
    non-negative definite.
    """
    m = np.array(imat, dtype=float, copy=True)
    n = m.shape[0]
    m = np.tril(m) + np.tril(m, -1).T  # symmetric from the lower triangle
    diag = np.diag(m)
    eps = float(diag.max()) if n and diag.max() > 0 else 0.0
    eps = toler if eps == 0 else eps * toler
    rank, nonneg = 0, 1
    for i in range(n):
        pivot = m[i, i]
        if not np.isfinite(pivot) or pivot < eps:
            m[i, i] = 0.0
            if pivot < -8 * eps:
                nonneg = -1
        else:
            rank += 1
            col = m[i + 1 :, i].copy()
            temp = col / pivot
            m[i + 1 :, i] = temp
            m[i + 1 :, i + 1 :] -= np.outer(col, temp)
    return m, rank * nonneg


def _chsolve2(chol: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Solve ``A b = y`` given ``_cholesky2(A)``; components of aliased columns are 0."""
    n = chol.shape[0]
    y = np.array(y, dtype=float, copy=True)
    for i in range(n):
        y[i] -= y[:i] @ chol[i, :i]
    for i in range(n - 1, -1, -1):
        if chol[i, i] == 0:
            y[i] = 0.0
        else:
            y[i] = y[i] / chol[i, i] - y[i + 1 :] @ chol[i + 1 :, i]
    return y


def _chinv2(chol: np.ndarray) -> np.ndarray:
    """Generalised inverse from ``_cholesky2`` output; aliased rows and columns are 0."""
    n = chol.shape[0]
    d = np.diag(chol)
    ok = d > 0
    lower = np.tril(chol, -1) + np.eye(n)  # F, unit lower triangular
    finv = np.linalg.inv(lower) if n else lower
    dinv = np.where(ok, 1.0 / np.where(ok, d, 1.0), 0.0)
    out = finv.T @ (dinv[:, None] * finv)
    out[~ok, :] = 0.0
    out[:, ~ok] = 0.0
    return out


# --------------------------------------------------------------------------------------------
# Data preparation (once) and one evaluation of loglik, score and information (per step)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Sorted:
    """Rows sorted once by stratum, then time descending, events first within a tied time."""

    xt: np.ndarray  # (p, n) centred and scaled covariates, one row per covariate (contiguous)
    seg: np.ndarray  # first row of each stratum
    gid: np.ndarray  # tie group (stratum, time) of each row
    glast: np.ndarray  # per event group: last row of the tie group (the whole risk set ends there)
    tk: np.ndarray  # event groups with more than one event (Efron only; empty for Breslow)
    tfirst: np.ndarray  # per tk group: row before the group's first row
    tstart: np.ndarray  # per tk group: 0.0 at a stratum start (nothing before it), else 1.0
    tlast: np.ndarray  # per tk group: last event row of the group (events come first)
    tdead: np.ndarray  # indices (into dead) of the events in tk groups
    trows: np.ndarray  # their rows
    tj: np.ndarray  # their group's position in tk
    tf: np.ndarray  # their Efron fraction r/d
    gseg: np.ndarray  # first tie group of each stratum
    kgroup: np.ndarray  # tie group of each event group
    n_groups: int
    dead: np.ndarray  # event rows
    dk: np.ndarray  # event group of each event row
    efron: bool  # Efron with tied events (otherwise every fraction r/d is 0)
    xdead_sum: np.ndarray  # sum of x over event rows
    buf: np.ndarray  # (p, n) scratch
    blocks: tuple[tuple[int, int, bool], ...] | None  # cache-sized column blocks (start, end, new stratum)
    tmp: np.ndarray  # (p, block) scratch
    cw: np.ndarray | None = None  # case weights in sorted order (None: all 1)
    mw: np.ndarray | None = None  # per event row: mean weight of the deaths of its tie group
    cw_dead: np.ndarray | None = None  # case weights of the event rows


def _cumsum_last(a: np.ndarray, seg: np.ndarray, reverse: bool = False, out: np.ndarray | None = None):
    """Cumulative sums along the last axis, restarted at each segment start in ``seg``."""
    if out is None:
        out = np.empty_like(a)
    m = a.shape[-1]
    if reverse:
        out[...] = _cumsum_last(a[..., ::-1], (m - np.append(seg[1:], m))[::-1])[..., ::-1]
        return out
    if seg.size <= STRATA_LOOP_MAX:
        ends = np.append(seg[1:], m)
        for s, e in zip(seg.tolist(), ends.tolist()):
            np.cumsum(a[..., s:e], axis=-1, out=out[..., s:e])
        return out
    # many strata: one pass, then subtract the running total at the end of the previous stratum
    np.cumsum(a, axis=-1, out=out)
    lengths = np.diff(np.append(seg, m))
    prev = np.repeat(seg - 1, lengths)
    base = np.where(prev >= 0, out[..., np.maximum(prev, 0)], 0.0)
    out -= base
    return out


def _evaluate(d: _Sorted, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Partial log-likelihood, score and information at ``beta`` (scaled coordinates).

    With ``R_k`` the risk set and ``D_k`` the events of event time ``k``, event ``j`` in ``D_k``
    (rank ``r_j`` of ``d_k``, Efron fraction ``f_j = r_j/d_k``; 0 for Breslow) has denominator
    ``den_j = S0(R_k) - f_j S0(D_k)`` and mean vector ``a_j = S1(R_k) - f_j S1(D_k)`` where
    ``S0 = sum exp(eta)``, ``S1 = sum exp(eta) x``. Then
    ``loglik = sum_events eta - sum_j log den_j``, ``u = sum_events x - X'v`` and
    ``I = X' diag(v) X - sum_j a_j a_j' / den_j^2`` with
    ``v_i = exp(eta_i) (sum_{k: i in R_k} sum_{j in D_k} 1/den_j - [i event] sum_{j in D_k(i)} f_j/den_j)``.
    With case weights ``c_i`` (``coxfit6``): ``exp(eta)`` becomes ``c exp(eta)`` in every sum, the
    events' own terms are weighted by ``c_i``, and each slot ``j`` of ``D_k`` by the mean weight
    ``m_k`` of the tied deaths (``loglik -= m_k log den_j``, and ``1/den_j`` becomes ``m_k/den_j``).
    """
    xt, buf = d.xt, d.buf
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # buf[:, i] = sum of w x over the stratum's rows up to i
        if d.blocks is None:
            eta = beta @ xt
            w = np.exp(eta)
            if d.cw is not None:
                w *= d.cw
            np.multiply(xt, w, out=buf)
            _cumsum_last(buf, d.seg, out=buf)
        else:  # the same, one cache-sized block of columns at a time, carrying the running sum
            eta = np.empty(xt.shape[1])
            w = np.empty(xt.shape[1])
            carry = np.zeros(xt.shape[0])
            for s, e, restart in d.blocks:
                xb, bb = xt[:, s:e], buf[:, s:e]
                np.matmul(beta, xb, out=eta[s:e])
                np.exp(eta[s:e], out=w[s:e])
                if d.cw is not None:
                    w[s:e] *= d.cw[s:e]
                np.multiply(xb, w[s:e], out=bb)
                if not restart:
                    bb[:, 0] += carry
                np.cumsum(bb, axis=1, out=bb)
                carry = bb[:, -1].copy()
        cum0 = _cumsum_last(w, d.seg)
        s0 = cum0[d.glast]
        s1 = buf[:, d.glast]  # (p, K) risk-set sums
        kj = d.dk
        denom = s0[kj]
        if d.efron:  # Efron: take r/d of the tied events' own sums out of the risk set
            d0 = (cum0[d.tlast] - cum0[d.tfirst] * d.tstart)  # sums over the tied events
            d1 = buf[:, d.tlast] - buf[:, d.tfirst] * d.tstart
            f, tj = d.tf, d.tj
            denom[d.tdead] -= f * d0[tj]
        inv = 1.0 / denom
        nk = s0.shape[0]
        inv2 = inv * inv
        if d.mw is None:
            loglik = float(eta[d.dead].sum() - np.log(denom).sum())
        else:  # case weights (coxfit6): each Efron slot carries the mean weight of its tied deaths
            loglik = float(d.cw_dead @ eta[d.dead] - d.mw @ np.log(denom))
            inv = inv * d.mw
            inv2 = inv2 * d.mw
        ck = np.bincount(kj, weights=inv, minlength=nk)
        alpha = np.bincount(kj, weights=inv2, minlength=nk)
        cg = np.zeros(d.n_groups)
        cg[d.kgroup] = ck
        big_c = _cumsum_last(cg, d.gseg, reverse=True)  # over event times at or before each time
        v = w * big_c[d.gid]
        if d.efron:
            ntk = d.tk.size
            ek = np.bincount(tj, weights=f * inv[d.tdead], minlength=ntk)
            v[d.trows] -= w[d.trows] * ek[tj]
        if d.blocks is None:
            np.multiply(xt, v, out=buf)
            xvx, xv = xt @ buf.T, buf.sum(axis=1)
        else:
            xvx = np.zeros((xt.shape[0], xt.shape[0]))
            xv = np.zeros(xt.shape[0])
            for s, e, _ in d.blocks:
                xb, tb = xt[:, s:e], d.tmp[:, : e - s]
                np.multiply(xb, v[s:e], out=tb)
                xvx += xb @ tb.T
                xv += tb.sum(axis=1)
        u = d.xdead_sum - xv
        imat = xvx - (s1 * alpha) @ s1.T
        if d.efron:
            i2 = inv2[d.tdead]
            betak = np.bincount(tj, weights=f * i2, minlength=ntk)
            gammak = np.bincount(tj, weights=f * f * i2, minlength=ntk)
            cross = (s1[:, d.tk] * betak) @ d1.T
            imat += cross + cross.T - (d1 * gammak) @ d1.T
    imat = 0.5 * (imat + imat.T)
    return loglik, u, imat


def _aeq_times(t: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """R's ``aeqSurv`` on ``t`` given its sorted unique times ``y``; None when nothing changes."""
    cuts = timefix_cuts(y)  # y is ascending on both paths of coxph
    return None if cuts is None else cuts[np.searchsorted(cuts, t, side="right") - 1]


def _sort_rows(t: np.ndarray, status: np.ndarray, scode: np.ndarray | None) -> np.ndarray:
    """Order by stratum, time descending, events before censored rows at a tied time."""
    order = np.argsort(-t) if scode is None else np.lexsort((-t, scode))
    return _events_first(order, t, status, scode)


def _events_first(order: np.ndarray, t: np.ndarray, status: np.ndarray,
                  scode: np.ndarray | None) -> np.ndarray:
    """Within each run of tied (stratum, time) in ``order``, put the events first (in place)."""
    ts = t[order]
    same = ts[1:] == ts[:-1]
    if scode is not None:
        sc = scode[order]
        same &= sc[1:] == sc[:-1]
    if not same.any():
        return order
    # stable partition inside each tie group, by counting (no second sort)
    n = order.size
    newgrp = np.concatenate(([True], ~same))
    gstart = np.flatnonzero(newgrp)
    size = np.diff(np.append(gstart, n))
    gs = np.repeat(gstart, size)  # group start of each position
    ev = (status[order] == 1).astype(np.int64)
    cum = np.cumsum(ev)
    before = np.repeat(np.concatenate(([0], cum[gstart[1:] - 1])), size)  # events before group
    rank_ev = cum - ev - before  # events earlier in the group
    n_ev = np.repeat(np.add.reduceat(ev, gstart), size)
    rank_cens = np.arange(n) - gs - rank_ev  # censored rows earlier in the group
    newpos = gs + np.where(ev == 1, rank_ev, n_ev + rank_cens)
    out = np.empty_like(order)
    out[newpos] = order
    return out


def _prepare(t, status, scode, xt, ties, cw=None) -> _Sorted:
    """Sort once and precompute the tie-group structure (all vectorised); ``cw`` case weights."""
    n = t.shape[0]
    newgrp = np.empty(n, dtype=bool)
    newgrp[0] = True
    newgrp[1:] = t[1:] != t[:-1]
    newstr = np.zeros(n, dtype=bool)
    newstr[0] = True
    if scode is not None:
        newstr[1:] = scode[1:] != scode[:-1]
        newgrp |= newstr
    seg = np.flatnonzero(newstr)
    gstart = np.flatnonzero(newgrp)
    n_groups = gstart.size
    gid = np.cumsum(newgrp) - 1
    gseg = np.flatnonzero(newstr[gstart])
    gend = np.append(gstart[1:], n) - 1
    dead = np.flatnonzero(status == 1)
    dgid = gid[dead]
    newd = np.ones(dead.size, dtype=bool)
    newd[1:] = dgid[1:] != dgid[:-1]
    dstart = np.flatnonzero(newd)
    dk = np.cumsum(newd) - 1
    kgroup = dgid[dstart]
    counts = np.diff(np.append(dstart, dead.size))
    gs = gstart[kgroup]
    efron = ties == "efron" and bool((counts > 1).any())
    tk = np.flatnonzero(counts > 1) if efron else np.zeros(0, dtype=np.intp)
    tdead = np.flatnonzero(counts[dk] > 1) if efron else np.zeros(0, dtype=np.intp)
    tpos = np.zeros(counts.size, dtype=np.intp)
    tpos[tk] = np.arange(tk.size)
    rank = tdead - dstart[dk[tdead]]
    tgs = gs[tk]
    blocks = None
    block = max(64, BLOCK_ELEMENTS // max(xt.shape[0], 1))
    if n > block and seg.size <= STRATA_LOOP_MAX:
        starts = np.union1d(seg, np.arange(0, n, block))
        ends = np.append(starts[1:], n)
        blocks = tuple(zip(starts.tolist(), ends.tolist(), newstr[starts].tolist()))
    return _Sorted(
        xt=xt, seg=seg, gid=gid, glast=gend[kgroup], tk=tk, tfirst=np.maximum(tgs - 1, 0),
        tstart=np.where(newstr[tgs], 0.0, 1.0), tlast=tgs + counts[tk] - 1, tdead=tdead,
        trows=dead[tdead], tj=tpos[dk[tdead]], tf=rank / counts[dk[tdead]].astype(float),
        gseg=gseg, kgroup=kgroup, n_groups=n_groups, dead=dead, dk=dk, efron=efron,
        xdead_sum=xt @ ((status == 1) * (1.0 if cw is None else cw)), buf=np.empty_like(xt),
        blocks=blocks, tmp=np.empty((xt.shape[0], min(block, n))), cw=cw,
        mw=None if cw is None else (np.bincount(dk, weights=cw[dead]) / counts)[dk],
        cw_dead=None if cw is None else cw[dead],
    )


def _gather_transposed(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``X[rows].T`` as a C-contiguous (p, n) array, copied in cache-sized blocks."""
    p, n = X.shape[1], rows.size
    out = np.empty((p, n))
    if p == 0:
        return out
    if X.flags.f_contiguous:  # columns are contiguous: gather each one
        for j in range(p):
            np.take(X[:, j], rows, out=out[j])
        return out
    block = 1024
    for i in range(0, n, block):
        out[:, i : i + block] = np.take(X, rows[i : i + block], axis=0).T
    return out


def _all_in(values: np.ndarray, allowed: tuple[float, ...]) -> bool:
    """Whether every value is one of ``allowed`` (cheap early exit on the first rows)."""
    head = values[:64]
    if not np.isin(head, allowed).all():
        return False
    return bool(np.isin(values, allowed).all())


def _codes(values: np.ndarray) -> np.ndarray:
    try:
        _, inv = np.unique(values, return_inverse=True)
    except TypeError:
        _, inv = np.unique(values.astype(str), return_inverse=True)
    return inv.reshape(-1)


def _as_event(event: np.ndarray) -> np.ndarray:
    ev = np.asarray(event)
    if ev.dtype.kind == "b":
        return ev.astype(np.int8)
    try:
        evf = ev.astype(float)
    except (TypeError, ValueError):
        raise CartregError("event must be 0/1 (or true/false)") from None
    bad = ~np.isin(evf, (0.0, 1.0))
    if bad.any():
        raise CartregError(f"event must be 0/1 (or true/false); found {evf[bad][0]!r}")
    return evf.astype(np.int8)


@dataclass(frozen=True, eq=False)
class NewtonFit:
    """What :func:`newton_raphson` returns (on the scale the evaluator works on).

    beta: the estimate (the last good iterate when not converged); loglik0, loglik: the
    log-likelihood at 0 and at ``beta``; u, imat: score and information of the last evaluation R
    keeps; var_s: the (generalised) inverse information; flag: the Cholesky rank (``1000`` when
    the iterations ran out, ``-2`` after a final step-halving), as ``coxfit6``'s ``flag``;
    sctest: the score test at 0; converged, iterations: as R's ``fit$iter``.
    """

    beta: np.ndarray
    loglik0: float
    loglik: float
    u: np.ndarray
    imat: np.ndarray
    var_s: np.ndarray
    flag: int
    sctest: float
    converged: bool
    iterations: int


def newton_raphson(evaluate, p: int, *, iter_max: int = ITER_MAX, eps: float = EPS) -> NewtonFit:
    """The Newton-Raphson of ``coxfit6``, step-halving and convergence rule included.

    ``evaluate(beta) -> (loglik, score, information)`` is the only part that differs between a
    fit on rows in memory (:func:`coxph`) and one whose sums come from elsewhere (a federated
    fit in :mod:`cartreg.federated`): both share this loop (Therneau & Grambsch 2000, sec. 3.2).
    A candidate that lowers the log-likelihood is pulled back as ``(candidate + h good) / (h + 1)``;
    convergence when ``|1 - loglik_old / loglik_new| <= eps``.
    """
    beta = np.zeros(p)
    loglik0, u, imat = evaluate(beta)
    chol, flag = _cholesky2(imat, TOLER_CHOL)
    step = _chsolve2(chol, u)
    sctest = float(u @ step)
    loglik1 = loglik0
    converged = False
    halving = 0
    newbeta = beta + step
    it = 0
    if iter_max == 0 or not np.isfinite(loglik0):
        var_s = _chinv2(chol)
        converged = iter_max == 0
        final_beta = beta
    else:
        for it in range(1, iter_max + 1):
            newlk, u, imat = evaluate(newbeta)
            chol, flag = _cholesky2(imat, TOLER_CHOL)
            notfinite = not (np.isfinite(u).all() and np.isfinite(imat).all() and np.isfinite(newlk))
            with np.errstate(divide="ignore", invalid="ignore"):
                change = abs(1.0 - loglik1 / newlk)
            if not notfinite and change <= eps:
                loglik1 = newlk
                var_s = _chinv2(chol)
                final_beta = newbeta
                converged = True
                if halving:
                    flag = -2
                break
            if notfinite or newlk < loglik1:
                halving += 1
                newbeta = (newbeta + halving * beta) / (halving + 1.0)
            else:
                halving = 0
                loglik1 = newlk
                step = _chsolve2(chol, u)
                beta = newbeta
                newbeta = newbeta + step
        else:
            it = iter_max + 1
            final_beta = beta
            if iter_max > 1:
                # R recomputes u and imat at the last good beta, then inverts the information
                # without a fresh Cholesky: its variance is diag(1 / diag(imat)). We reproduce it.
                loglik1, u, imat = evaluate(beta)
                dg = np.diag(imat)
                var_s = np.diag(np.where(dg > 0, 1.0 / np.where(dg > 0, dg, 1.0), 0.0))
            else:
                var_s = _chinv2(chol)
            flag = 1000
    return NewtonFit(beta=final_beta, loglik0=float(loglik0), loglik=float(loglik1), u=u, imat=imat,
                     var_s=var_s, flag=int(flag), sctest=sctest, converged=converged, iterations=it)


# --------------------------------------------------------------------------------------------
# The fit
# --------------------------------------------------------------------------------------------


def coxph(
    time: np.ndarray,
    event: np.ndarray,
    X: np.ndarray,
    names: list[str] | tuple[str, ...],
    ties: str = "efron",
    strata: np.ndarray | None = None,
    conf_level: float = 0.95,
    *,
    iter_max: int = ITER_MAX,
    eps: float = EPS,
    weights: np.ndarray | None = None,
    robust: bool = False,
    cluster: np.ndarray | None = None,
) -> CoxResult:
    """Fit a Cox proportional hazards model as R's ``coxph(Surv(time, event) ~ X + strata(s))``.

    Parameters
    ----------
    time : array (n,)
        Follow-up times, finite and >= 0 (missing allowed: the row is excluded).
    event : array (n,)
        1/True = event, 0/False = censored.
    X : array (n, p)
        Covariates (e.g. from :func:`cartreg.stats.design.design_matrix`); NaN marks a missing value.
    names : sequence of str
        One name per column of ``X``.
    ties : {"efron", "breslow"}
        Tie handling; Efron (1977) is R's default, Breslow (1974) is the older approximation.
    strata : array (n,), optional
        Stratum labels: separate baseline hazards, shared coefficients.
    conf_level : float
        Level of the Wald confidence intervals for the hazard ratios.
    iter_max, eps : int, float
        ``coxph.control(iter.max, eps)``.
    weights : array (n,), optional
        Case weights (> 0), as ``coxph(weights=)``: e.g. inverse-probability weights.
    robust : bool
        Robust sandwich variance (Lin & Wei 1989), as ``coxph(robust = TRUE)``: ``V D'D V`` with
        ``D`` the weighted dfbeta residuals (:mod:`cartreg.stats.cox_robust`).
    cluster : array (n,), optional
        Cluster labels (e.g. centre): the robust variance with dfbetas summed within cluster, as
        ``coxph(..., cluster = centre)``; implies ``robust``.

    Returns
    -------
    CoxResult

    Examples
    --------
    The hand-worked data of Therneau & Grambsch (2000, appendix E): the log-likelihood at 0 is
    ``-log(72)`` under Efron's approximation.

    >>> import numpy as np
    >>> t = np.array([9, 1, 1, 6, 6, 8.]); e = np.array([1, 1, 0, 1, 1, 0])
    >>> x = np.array([[0.], [1], [1], [1], [0], [0]])
    >>> res = coxph(t, e, x, ["x"])
    >>> round(res.loglik_null, 6), round(float(res.coef[0]), 6), int(res.events)
    (-4.276666, 1.676857, 4)
    """
    if ties not in ("efron", "breslow"):
        raise CartregError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    if not (0.0 < float(conf_level) < 1.0):
        raise CartregError(f"conf_level must be between 0 and 1, not {conf_level!r}")
    time = np.asarray(time)
    event = np.asarray(event)
    X = np.asarray(X)
    names = tuple(str(s) for s in names)
    if time.ndim != 1:
        raise CartregError(f"time must be one-dimensional, got shape {time.shape}")
    n_all = time.shape[0]
    if event.shape != (n_all,):
        raise CartregError(f"event has shape {event.shape}, expected ({n_all},) like time")
    if X.ndim == 1 and len(names) == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2 or X.shape[0] != n_all:
        raise CartregError(f"X has shape {X.shape}, expected ({n_all}, {len(names)})")
    if X.shape[1] != len(names):
        raise CartregError(f"X has {X.shape[1]} columns but {len(names)} names were given")
    if len(set(names)) != len(names):
        raise CartregError("term names must be unique")
    if strata is not None:
        strata = np.asarray(strata)
        if strata.shape != (n_all,):
            raise CartregError(f"strata has shape {strata.shape}, expected ({n_all},) like time")
    wts = None
    if weights is not None:
        wts = np.asarray(weights)
        if wts.shape != (n_all,):
            raise CartregError(f"weights has shape {wts.shape}, expected ({n_all},) like time")
        try:
            wts = wts.astype(float)
        except (TypeError, ValueError):
            raise CartregError("weights must be numeric") from None
    if cluster is not None:
        cluster = np.asarray(cluster)
        if cluster.shape != (n_all,):
            raise CartregError(f"cluster has shape {cluster.shape}, expected ({n_all},) like time")
        robust = True
    try:
        Xf = np.asarray(X, dtype=float)
        tf = time.astype(float) if time.dtype.kind != "O" else np.array(
            [np.nan if v is None or v == "" else v for v in time.tolist()], dtype=float)
    except (TypeError, ValueError):
        raise CartregError("time and X must be numeric") from None

    # missing values: one indicator column stands in for X (no copy of X unless rows are dropped)
    x_missing = np.isnan(Xf).any(axis=1) if Xf.shape[1] else np.zeros(n_all, bool)
    cc = complete_cases(tf, event, np.where(x_missing, np.nan, 0.0), strata, wts, cluster)
    tf, event, _, strata, wts, cluster = cc.arrays
    if wts is not None and not (np.isfinite(wts).all() and (wts > 0).all()):
        bad = wts[~(np.isfinite(wts) & (wts > 0))][0]
        raise CartregError(f"weights must be finite and > 0 (as R coxph); found {bad!r}")
    excluded = cc.excluded
    rows = np.flatnonzero(cc.keep) if excluded else None
    if not np.isfinite(tf).all():
        raise CartregError("time has infinite values")
    if (tf < 0).any():
        raise CartregError(f"time must be >= 0; found {tf[tf < 0][0]!r}")
    n, p = tf.shape[0], Xf.shape[1]
    if n == 0:
        raise CartregError("no complete rows to fit the Cox model")
    status = _as_event(event)
    events = int(status.sum())

    # sort by stratum, time descending, events first; merge near-equal times first (aeqSurv)
    scode = None
    n_strata = 1
    if strata is not None:
        scode = _codes(strata)
        n_strata = int(scode.max()) + 1
    order = _sort_rows(tf, status, scode)
    t = tf[order]
    if scode is None:
        rev = t[::-1]
        y = rev[np.concatenate(([True], rev[1:] != rev[:-1]))]
    else:
        y = np.unique(t)
    fixed = _aeq_times(t, y)
    if fixed is not None:  # rare: some times merged; the order stays descending
        tf = np.empty_like(tf)
        tf[order] = fixed
        order = _events_first(order, tf, status, scode)
        t = tf[order]
    st = status[order]
    if scode is not None:
        scode = scode[order]
    src = order if rows is None else rows[order]
    cw = None if wts is None else wts[order]

    # covariates as a (p, n) array in sorted order; centred and scaled as coxfit6 does for
    # columns not all in {-1, 0, 1}
    xt = _gather_transposed(Xf, src)
    if not np.isfinite(xt).all():
        bad = int(np.flatnonzero(~np.isfinite(xt).all(axis=1))[0])
        raise CartregError(f"covariate {names[bad]!r} has infinite values")
    means = np.zeros(p)
    scale = np.ones(p)
    doscale = np.zeros(p, dtype=bool)
    wsum = float(n) if cw is None else float(cw.sum())
    for j in range(p):
        col = xt[j]
        if not _all_in(col, (-1.0, 0.0, 1.0)):
            doscale[j] = True
            means[j] = col.mean() if cw is None else float(cw @ col) / wsum
            col -= means[j]
            mad = np.abs(col).sum() if cw is None else float(cw @ np.abs(col))
            scale[j] = wsum / mad if mad > 0 else 1.0
            col *= scale[j]

    warnings: list[str] = []
    conf_level = float(conf_level)
    nan_p = np.full(p, np.nan)
    if events == 0:
        warnings.append("no events: the Cox model cannot be estimated (every coefficient is NA)")
        return _result(names, nan_p, np.zeros((p, p)), means, 0.0, 0.0, 0.0, n, 0, excluded,
                       n_strata, ties, conf_level, False, 0, np.zeros(p, bool), np.ones(p, bool),
                       warnings)
    data = _prepare(t, st, scode, xt, ties, cw)
    if p == 0:
        ll0, _, _ = _evaluate(data, np.zeros(0))
        return _result(names, nan_p, np.zeros((0, 0)), means, ll0, ll0, 0.0, n, events,
                       excluded, n_strata, ties, conf_level, True, 0, np.zeros(0, bool),
                       np.zeros(0, bool), warnings)

    # ---- Newton-Raphson exactly as coxfit6 ---------------------------------------------------
    nr = newton_raphson(lambda b: _evaluate(data, b), p, iter_max=iter_max, eps=eps)
    # a 0/1 column whose rows with value 1 have no event: a group with no events
    no_event_group = np.zeros(p, dtype=bool)
    for j in np.flatnonzero(~doscale):
        row = xt[j]
        if _all_in(row, (0.0, 1.0)) and (row == 1.0).any() and not (row[data.dead] == 1.0).any():
            no_event_group[j] = True
    res = finish_fit(nr, names, scale, means, no_event_group, n=n, events=events, excluded=excluded,
                     n_strata=n_strata, ties=ties, conf_level=conf_level, iter_max=iter_max, eps=eps,
                     warnings=warnings)
    if not robust:
        return replace(res, weighted=True) if cw is not None else res
    ccode = None if cluster is None else _codes(cluster)[order]
    return _with_robust_variance(res, nr, (t, st, scode, xt, ties), scale, cw, ccode)


def finish_fit(nr: NewtonFit, names: tuple[str, ...], scale: np.ndarray, means: np.ndarray,
               no_event_group: np.ndarray, *, n: int, events: int, excluded: int, n_strata: int,
               ties: str, conf_level: float, iter_max: int = ITER_MAX, eps: float = EPS,
               warnings: list[str] | None = None) -> CoxResult:
    """The :class:`CoxResult` of a Newton-Raphson fit: back to the original scale, aliased and
    infinite terms as R flags them, warnings (shared by :func:`coxph` and federated fits).

    ``no_event_group[j]``: term ``j`` is a 0/1 column whose rows with value 1 have no event.
    """
    warnings = list(warnings or [])
    p = len(names)
    final_beta, u, imat, var_s, flag = nr.beta, nr.u, nr.imat, nr.var_s, nr.flag
    loglik0, loglik1, sctest, converged, it = nr.loglik0, nr.loglik, nr.sctest, nr.converged, nr.iterations

    coef = final_beta * scale
    u_o = u / scale
    var = var_s * np.outer(scale, scale)

    # aliased columns (R: which.sing when flag < nvar)
    aliased = (np.diag(var) == 0) if flag < p else np.zeros(p, bool)

    # infinite coefficients
    if converged:
        with np.errstate(invalid="ignore", over="ignore"):
            infs = np.abs(u_o @ var)
        infinite = ~np.isfinite(u_o) | ((infs > eps) & (infs > TOLER_INF * np.abs(coef)))
    else:
        chol_b, _ = _cholesky2(imat, TOLER_CHOL)
        with np.errstate(invalid="ignore", over="ignore"):
            infs = np.abs(u_o @ (_chinv2(chol_b) * np.outer(scale, scale)))
        infinite = ~np.isfinite(infs) | ((infs > eps) & (infs > TOLER_INF * np.abs(coef)))
    no_event_group = np.asarray(no_event_group, bool) & ~aliased
    infinite = (infinite | no_event_group) & ~aliased

    for j, name in enumerate(names):
        if aliased[j]:
            warnings.append(
                f"term {name}: not estimable: the column is constant or collinear with other terms "
                f"among the rows used (coefficient NA, as in R)"
            )
        elif no_event_group[j]:
            warnings.append(f"term {name}: no events in this group; coefficient is infinite, HR not estimable")
        elif infinite[j]:
            warnings.append(
                f"term {name}: coefficient is infinite (the log-likelihood converged while the "
                f"coefficient kept growing: monotone likelihood); HR not estimable"
            )
    if not converged and iter_max > 0:
        warnings.append(
            f"the fit did not converge in {iter_max} iterations (relative change in log-likelihood "
            f"still > {eps:g}); estimates may be unreliable"
        )
    coef = np.where(aliased, np.nan, coef)
    return _result(names, coef, var, means, loglik0, loglik1, sctest, n, events, excluded,
                   n_strata, ties, conf_level, converged, it, infinite, aliased, warnings)


def _with_robust_variance(res: CoxResult, nr: NewtonFit, sorted_data: tuple, scale: np.ndarray,
                          cw: np.ndarray | None, ccode: np.ndarray | None) -> CoxResult:
    """The model-based fit ``res`` with R's robust (sandwich) variance: ``var`` becomes the robust
    variance, ``se`` stays the model-based one (``naive.var``), as ``coxph(robust = TRUE)``."""
    from cartreg.stats.cox_robust import sandwich

    t, st, scode, xt, ties = sorted_data
    aliased = np.asarray(res.aliased, bool)
    rvar_s, n_clusters = sandwich(t, st, scode, xt, np.where(aliased, 0.0, nr.beta), nr.var_s, ties,
                                  cw, ccode)
    rvar = rvar_s * np.outer(scale, scale)
    rvar[aliased, :] = 0.0
    rvar[:, aliased] = 0.0
    var = nr.var_s * np.outer(scale, scale)
    rob = _result(res.names, res.coef, rvar, res.means, res.loglik_null, res.loglik, nr.sctest, res.n,
                  res.events, res.excluded, res.n_strata, res.ties, res.conf_level, res.converged,
                  res.iterations, res.infinite, aliased, list(res.warnings))
    with np.errstate(invalid="ignore"):
        naive_se = np.where(aliased, np.nan, np.sqrt(np.diag(var))) if len(res.names) else np.zeros(0)
    return replace(rob, se=naive_se, robust_se=rob.se, naive_var=var, weighted=cw is not None,
                   n_clusters=n_clusters)


def _result(names, coef, var, means, loglik0, loglik1, sctest, n, events, excluded, n_strata,
            ties, conf_level, converged, iterations, infinite, aliased, warnings) -> CoxResult:
    p = len(names)
    ok = ~aliased & ~infinite
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        se = np.where(aliased, np.nan, np.sqrt(np.diag(var))) if p else np.zeros(0)
        zq = float(special.ndtri(0.5 + conf_level / 2.0))
        z = np.where(ok, coef / se, np.nan)
        pval = np.where(ok, 2.0 * special.ndtr(-np.abs(z)), np.nan)
        hr = np.where(ok, np.exp(coef), np.nan)
        lo = np.where(ok, np.exp(coef - zq * se), np.nan)
        hi = np.where(ok, np.exp(coef + zq * se), np.nan)
    df = int(np.sum(~aliased))
    lr = 2.0 * (loglik1 - loglik0)
    wald = np.nan
    if df:
        keep = ~aliased
        chol, _ = _cholesky2(var[np.ix_(keep, keep)], TOLER_CHOL)
        b = coef[keep]
        wald = float(b @ _chsolve2(chol, b))
    def pv(stat: float) -> float:  # upper chi-square tail; a rounding-negative statistic gives 1
        return float(special.chdtrc(df, max(stat, 0.0))) if df and np.isfinite(stat) else np.nan

    return CoxResult(
        names=tuple(names), coef=coef, se=se, hr=hr, ci_lower=lo, ci_upper=hi, z=z, p=pval,
        var=var, means=means, loglik_null=float(loglik0), loglik=float(loglik1),
        lr_chi2=float(lr), lr_df=df, lr_p=pv(lr), score_chi2=float(sctest) if df else 0.0,
        score_p=pv(sctest), wald_chi2=float(wald) if df else 0.0, wald_p=pv(wald), n=int(n),
        events=int(events), excluded=int(excluded), n_strata=int(n_strata), ties=ties,
        conf_level=conf_level, converged=bool(converged), iterations=int(iterations),
        infinite=np.asarray(infinite, bool), aliased=np.asarray(aliased, bool),
        warnings=tuple(warnings),
    )
