"""Test of proportional hazards for a fitted Cox model, as R ``survival::cox.zph`` (3.5).

The test (Grambsch & Therneau 1994) asks whether the effect of each term changes with a function
``g(t)`` of time. It is the score test, at ``gamma = 0``, of the model ``beta(t) = beta + gamma g(t)``
with ``beta`` held at the Cox estimate. survival 3.5 computes it in one pass (``zph1.c``):

* ``g(t)`` is the transformed time of each event, centred by its mean over the events:
  ``transform = "km"`` (R's default) uses ``1 - S(t-)``, the left-continuous Kaplan-Meier of all
  rows pooled (strata ignored); ``"identity"``, ``"rank"`` (average ranks of all rows) and ``"log"``
  are the others;
* the score is ``U = sum over events of g(t) (x_i - xbar(t))`` and the ``2p x 2p`` information
  ``[[I, I_g], [I_g, I_gg]]`` has blocks ``sum V(t)``, ``sum g V(t)`` and ``sum g^2 V(t)``, where
  ``xbar(t)`` and ``V(t)`` are the risk-set mean and variance with the *same tie handling as the
  fit*: under Efron's approximation each of the ``d`` tied events sees the risk set with the tied
  events weighted ``k/d`` (k = 1..d), as in the Cox fit itself; under Breslow's, the full set;
* the statistic of a term with columns ``J`` is ``u' A^-1 u`` with ``u = (0, U_J)`` and ``A`` the
  information restricted to all ``p`` first-block rows plus the ``J`` rows of the second block;
  it has ``len(J)`` degrees of freedom (``terms = TRUE``: a factor is one term). The GLOBAL test uses
  the whole matrix, on ``p`` degrees of freedom.

The scaled Schoenfeld residuals (``y``) are the Schoenfeld residuals times the inverse of the
average information per event, plus the coefficient (for a multi-column term, the columns are first
combined with the coefficients as weights and 1 is added); they are what ``plot.cox.zph`` smooths
against ``x``.

Rows with a missing value are dropped as :func:`cartreg.stats.coxph` drops them, and near-equal
times are merged (``aeqSurv``) as it does; aliased (NA) coefficients are left out. See
``docs/stats-cox.md``, *Proportional hazards*.

References
----------
Grambsch PM, Therneau TM (1994). Proportional hazards tests and diagnostics based on weighted
residuals. Biometrika 81:515-526.
Therneau TM, Grambsch PM (2000). Modeling Survival Data: Extending the Cox Model, ch. 6. Springer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import special  # scipy.stats only for transform='rank': its import costs 0.4-0.6 s

from cartreg.errors import CartregError
from cartreg.stats._data import complete_cases, timefix_cuts
from cartreg.stats.cox import CoxResult

__all__ = ["CoxZph", "cox_zph", "score_tests", "stratum_sums", "term_assignment"]

TRANSFORMS = ("km", "identity", "rank", "log")


@dataclass(frozen=True, eq=False)
class CoxZph:
    """The result of :func:`cox_zph` (R's ``cox.zph`` object).

    Attributes
    ----------
    terms : tuple of str
        Term names, in model order (R's ``rownames(table)`` without ``GLOBAL``).
    chisq, df, p : ndarray
        Per-term score statistic, its degrees of freedom and its chi-square p-value.
    global_chisq, global_df, global_p : float, int, float
        The global test over every (non-aliased) column.
    x : ndarray (E,)
        Transformed time of each event (``g(t)`` before centring), events ordered by stratum then time.
    time : ndarray (E,)
        Event times (after ``aeqSurv`` merging), same order.
    strata : ndarray (E,) or None
        Stratum of each event row (None when the model has no strata).
    y : ndarray (E, n_terms)
        Scaled Schoenfeld residuals per term (NaN where a term is constant within the row's stratum).
    var : ndarray (n_terms, n_terms)
        R's ``var``: inverse of the average information per event.
    schoenfeld : ndarray (E, p)
        Unscaled Schoenfeld residuals ``x_i - xbar(t_i)`` per column (R's
        ``residuals(fit, type = "schoenfeld")``), columns in ``columns`` order.
    columns : tuple of str
        The (non-aliased) design columns.
    transform : str
        The time transform used.
    """

    terms: tuple[str, ...]
    chisq: np.ndarray
    df: np.ndarray
    p: np.ndarray
    global_chisq: float
    global_df: int
    global_p: float
    x: np.ndarray
    time: np.ndarray
    strata: np.ndarray | None
    y: np.ndarray
    var: np.ndarray
    schoenfeld: np.ndarray
    columns: tuple[str, ...]
    transform: str

    def to_dict(self) -> dict:
        """``{chisq, df, p, terms: {term: {chisq, df, p}}}`` (JSON-ready; NaN stays NaN)."""
        return {
            "chisq": float(self.global_chisq), "df": int(self.global_df), "p": float(self.global_p),
            "terms": {t: {"chisq": float(c), "df": int(d), "p": float(p)}
                      for t, c, d, p in zip(self.terms, self.chisq, self.df, self.p)},
        }

    def summary(self) -> str:
        """The table as R prints it; formatting only."""
        width = max([6] + [len(t) for t in self.terms])
        lines = [f"{'':<{width}}  {'chisq':>10}  {'df':>3}  {'p':>10}"]
        for t, c, d, p in zip(self.terms, self.chisq, self.df, self.p):
            lines.append(f"{t:<{width}}  {c:>10.4g}  {int(d):>3}  {p:>10.4g}")
        lines.append(f"{'GLOBAL':<{width}}  {self.global_chisq:>10.4g}  {self.global_df:>3}  {self.global_p:>10.4g}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def term_assignment(columns: tuple[str, ...] | list[str]) -> dict[str, list[int]]:
    """Group design columns into terms by cartreg's naming: ``"COL=LEVEL"`` columns form the term
    ``COL`` (a factor, as R's ``fit$assign``); any other column is a term of its own.

    >>> term_assignment(["class=IMiD", "class=adc", "age"])
    {'class': [0, 1], 'age': [2]}
    """
    out: dict[str, list[int]] = {}
    for j, name in enumerate(columns):
        key = name.split("=", 1)[0] if "=" in name else name
        out.setdefault(key, []).append(j)
    return out


def _transform_times(t: np.ndarray, status: np.ndarray, transform) -> tuple[np.ndarray, str]:
    """``g(t)`` for every row: R's ``switch(transform, ...)`` in ``cox.zph``."""
    if callable(transform):
        return np.asarray(transform(t), dtype=float), getattr(transform, "__name__", "user")
    if transform == "identity":
        return t.astype(float), transform
    if transform == "rank":
        from scipy.stats import rankdata

        return rankdata(t, method="average"), transform
    if transform == "log":
        return np.log(t), transform
    if transform == "km":
        # survfitKM of all rows pooled; 1 - S(t-) where S(t-) is the estimate just before t
        ut, inv = np.unique(t, return_inverse=True)
        n_at = np.bincount(inv, minlength=ut.size)
        d_at = np.bincount(inv, weights=status.astype(float), minlength=ut.size)
        n_risk = np.cumsum(n_at[::-1])[::-1].astype(float)
        surv = np.cumprod(1.0 - d_at / n_risk)
        s_before = np.concatenate(([1.0], surv))[inv]  # index of t in ut = number of times < t
        return 1.0 - s_before, transform
    raise CartregError(f"transform must be one of {', '.join(TRANSFORMS)} or a function, not {transform!r}")


def cox_zph(
    fit: CoxResult,
    time: np.ndarray,
    event: np.ndarray,
    X: np.ndarray,
    strata: np.ndarray | None = None,
    transform: str | Callable[[np.ndarray], np.ndarray] = "km",
    terms: bool | dict[str, list[int]] = True,
) -> CoxZph:
    """Score test of proportional hazards for ``fit``, as R's ``cox.zph(fit, transform, terms)``.

    ``time``, ``event``, ``X`` (with ``fit.names`` as its columns) and ``strata`` must be the data
    the model was fitted on (same rows, same order, missing values included: they are dropped the
    same way). ``terms=True`` groups columns by :func:`term_assignment` (a factor built by
    :func:`cartreg.stats.design_matrix` is one term); ``terms=False`` tests every column alone; a
    dict ``{term: [column indices]}`` gives the grouping explicitly.

    >>> import numpy as np
    >>> from cartreg.stats import coxph
    >>> t = np.array([1., 2, 3, 4, 5, 6, 7, 8]); e = np.array([1, 1, 1, 0, 1, 1, 0, 1])
    >>> x = np.array([[0.], [1], [0], [1], [0], [1], [1], [0]])
    >>> z = cox_zph(coxph(t, e, x, ["x"]), t, e, x)
    >>> z.terms, int(z.global_df)
    (('x',), 1)
    """
    time = np.asarray(time)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.shape[1] != len(fit.names):
        raise CartregError(f"X has {X.shape[1]} columns but the fit has {len(fit.names)} terms")
    tf = np.asarray(time, dtype=float)
    x_missing = np.isnan(X).any(axis=1) if X.shape[1] else np.zeros(tf.shape[0], bool)
    cc = complete_cases(tf, np.asarray(event), np.where(x_missing, np.nan, 0.0),
                        None if strata is None else np.asarray(strata))
    if cc.keep.sum() != fit.n:
        raise CartregError(f"the data have {int(cc.keep.sum())} complete rows but the fit used {fit.n}: "
                           "pass the data the model was fitted on")
    tf = tf[cc.keep]
    status = np.asarray(np.asarray(event)[cc.keep], dtype=float).astype(np.int8)
    X = X[cc.keep]
    if strata is not None:
        st = np.asarray(strata)[cc.keep]
        levels, scode = np.unique(st.astype(str) if st.dtype.kind == "O" else st, return_inverse=True)
        scode = scode.reshape(-1)
    else:
        levels, scode = None, np.zeros(tf.shape[0], dtype=np.int64)
    cuts = timefix_cuts(np.unique(tf))
    if cuts is not None:
        tf = cuts[np.searchsorted(cuts, tf, side="right") - 1]
    if status.sum() == 0:
        raise CartregError("no events: the proportional-hazards test needs at least one event")

    # columns and terms (aliased coefficients are left out, as R drops NA coefficients)
    keep_col = ~np.isnan(np.asarray(fit.coef, dtype=float))
    columns = tuple(n for n, k in zip(fit.names, keep_col) if k)
    if isinstance(terms, dict):
        assign = {k: list(v) for k, v in terms.items()}
    elif terms:
        assign = term_assignment(fit.names)
    else:
        assign = {n: [j] for j, n in enumerate(fit.names)}
    new_index = np.cumsum(keep_col) - 1
    assign = {k: [int(new_index[j]) for j in v if keep_col[j]] for k, v in assign.items()}
    assign = {k: v for k, v in assign.items() if v}
    X = X[:, keep_col]
    beta = np.asarray(fit.coef, dtype=float)[keep_col]
    nvar = X.shape[1]
    eta = (X - np.asarray(fit.means, dtype=float)[keep_col]) @ beta

    ttimes, tname = _transform_times(tf, status, transform)
    event_mask = status == 1
    gtime = ttimes - ttimes[event_mask].mean()

    # R's order(istrat, time): stratum then time ascending, stable
    ord_ = np.lexsort((tf, scode))
    t_s, st_s, sc_s = tf[ord_], status[ord_], scode[ord_]
    Xc = X - X.mean(axis=0)  # zph1.c recentres X for stability (no effect on the statistics)
    X_s, g_s = Xc[ord_], gtime[ord_]
    r_s = np.exp(eta[ord_])
    efron = fit.ties == "efron"

    u = np.zeros(2 * nvar)
    imat = np.zeros((2 * nvar, 2 * nvar))
    n_ev = int(event_mask.sum())
    schoen = np.empty((n_ev, nvar))
    used = []  # per stratum: events in the stratum for each non-constant column, else 0
    ev_pos = 0
    bounds = np.flatnonzero(np.diff(sc_s)) + 1
    for lo, hi in zip(np.concatenate(([0], bounds)), np.concatenate((bounds, [t_s.size]))):
        su, si, sch, us = stratum_sums(t_s[lo:hi], st_s[lo:hi], X_s[lo:hi], g_s[lo:hi], r_s[lo:hi], efron)
        used.append(us)
        u += su
        imat += si
        schoen[ev_pos:ev_pos + sch.shape[0]] = sch
        ev_pos += sch.shape[0]
    imat[nvar:, :nvar] = imat[:nvar, nvar:].T

    names = list(assign)
    chisq, df, p, gchisq, gp = score_tests(u, imat, assign)

    # scaled Schoenfeld residuals (R's rval$y)
    ev_rows = ord_[st_s == 1]
    used_m = np.array(used, dtype=float)
    for cols in assign.values():
        if len(cols) > 1 and (used_m[:, cols] == 0).any():
            used_m[:, cols] = used_m[:, cols].max(axis=1, keepdims=True)
    wtmat = sum(np.minimum.outer(row, row) for row in used_m)
    vmean = imat[:nvar, :nvar] / np.where(wtmat == 0, 1.0, wtmat)
    sres = schoen.copy()
    multi = terms is not False and any(len(v) > 1 for v in assign.values())
    if multi:
        temp = np.zeros((nvar, len(names)))
        for i, cols in enumerate(assign.values()):
            temp[cols, i] = 1.0 if len(cols) == 1 else beta[cols]
        sres = sres @ temp
        vmean = temp.T @ vmean @ temp
        used_m = used_m[:, [v[0] for v in assign.values()]]
    sgrp = np.repeat(np.arange(used_m.shape[0]), used_m.max(axis=1).astype(int))
    for i in range(used_m.shape[0]):  # strata: a short loop, as R's
        kcols = np.flatnonzero(used_m[i] > 0)
        if kcols.size == 0:
            continue
        rows = np.flatnonzero(sgrp == i)
        sres[np.ix_(rows, kcols)] = np.linalg.solve(vmean[np.ix_(kcols, kcols)], sres[np.ix_(rows, kcols)].T).T
        other = np.setdiff1d(np.arange(sres.shape[1]), kcols)
        sres[np.ix_(rows, other)] = np.nan
    for i, cols in enumerate(assign.values()):
        sres[:, i] += beta[cols[0]] if len(cols) == 1 else 1.0
    return CoxZph(
        terms=tuple(names), chisq=chisq, df=df, p=np.asarray(p, dtype=float),
        global_chisq=gchisq, global_df=int(nvar), global_p=gp,
        x=ttimes[ev_rows], time=tf[ev_rows],
        strata=None if levels is None else levels[scode[ev_rows]],
        y=sres, var=np.linalg.inv(vmean), schoenfeld=schoen, columns=columns, transform=tname,
    )


def stratum_sums(t: np.ndarray, s: np.ndarray, x: np.ndarray, g: np.ndarray, r: np.ndarray, efron: bool
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One stratum's part of the score test (``zph1.c``'s loop body): ``(u, imat, schoenfeld, used)``.

    Rows sorted by time ascending: ``t`` times, ``s`` status 0/1, ``x`` covariates (centred by any
    constant), ``g`` the centred transformed time of each row (read at the first row of each tied
    group of events), ``r = exp(eta)`` (any constant factor cancels). ``u`` (2p) and ``imat``
    (2p x 2p, upper blocks and the lower-left block its transpose) add up over strata, so a stratum
    held elsewhere (a federated node: :mod:`cartreg.federated`) can send its part; ``schoenfeld``
    holds the unscaled residuals of its events, ``used`` R's per-column event count.
    """
    nvar = x.shape[1]
    u = np.zeros(2 * nvar)
    imat = np.zeros((2 * nvar, 2 * nvar))
    ndead = int(s.sum())
    used = np.where((x != x[0]).any(axis=0), ndead, 0) if x.shape[0] else np.zeros(nvar, dtype=np.int64)
    if ndead == 0:
        return u, imat, np.empty((0, nvar)), used
    # groups of tied times (ascending); risk-set sums over rows with time >= t
    newg = np.concatenate(([True], t[1:] != t[:-1]))
    gstart = np.flatnonzero(newg)
    gid = np.cumsum(newg) - 1
    rx = r[:, None] * x
    tot_r = np.cumsum(r[::-1])[::-1][gstart]
    tot_a = np.cumsum(rx[::-1], axis=0)[::-1][gstart]
    dead = s == 1
    dg = gid[dead]
    d_cnt = np.bincount(dg, minlength=gstart.size).astype(float)
    d_r = np.bincount(dg, weights=r[dead], minlength=gstart.size)
    d_a = np.zeros((gstart.size, nvar))
    np.add.at(d_a, dg, rx[dead])
    # one term per event: k = 1..d within its tied group (Efron), or the full set (Breslow)
    first_dead = np.searchsorted(dg, np.arange(gstart.size))
    k = np.arange(dg.size) - first_dead[dg] + 1.0
    frac = k / d_cnt[dg] if efron else np.ones(dg.size)
    denom = (tot_r - d_r)[dg] + d_r[dg] * frac
    a = (tot_a - d_a)[dg] + d_a[dg] * frac[:, None]
    mean = a / denom[:, None]
    gt = g[gstart][dg]
    xd = x[dead]
    # Schoenfeld residuals: x minus the mean of the d Efron means of its tied group
    gmean = np.zeros((gstart.size, nvar))
    np.add.at(gmean, dg, mean)
    gmean /= np.maximum(d_cnt, 1.0)[:, None]
    schoen = xd - gmean[dg]
    u[:nvar] += xd.sum(axis=0) - mean.sum(axis=0)
    u[nvar:] += gt @ xd - gt @ mean
    # information blocks: sum_e h_e (C_e / denom_e - mean_e mean_e'), h = 1, g, g^2; the C_e
    # sums are X' diag(r v_h) X with v_h(i) = sum of h_e frac_i(e) / denom_e over the events
    # whose risk set holds row i (fully, or with weight k/d for the tied events themselves)
    for h, (bi, bj) in ((np.ones(dg.size), (0, 0)), (gt, (0, 1)), (gt * gt, (1, 1))):
        c0 = np.bincount(dg, weights=h / denom, minlength=gstart.size)
        c2 = np.bincount(dg, weights=h * frac / denom, minlength=gstart.size)
        incl = np.cumsum(c0)[gid]  # groups at or before the row's time
        v = incl + np.where(dead, c2[gid] - c0[gid], 0.0)
        block = (x * (r * v)[:, None]).T @ x - (mean * h[:, None]).T @ mean
        imat[bi * nvar:(bi + 1) * nvar, bj * nvar:(bj + 1) * nvar] += block
    imat[nvar:, :nvar] = imat[:nvar, nvar:].T
    return u, imat, schoen, used


def score_tests(u: np.ndarray, imat: np.ndarray, assign: dict[str, list[int]]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """``(chisq, df, p, global_chisq, global_p)`` of the per-term and GLOBAL score tests from the
    summed ``u`` and ``imat`` of :func:`stratum_sums` (``assign``: term -> column indices)."""
    nvar = u.size // 2
    names = list(assign)
    chisq = np.empty(len(names))
    df = np.empty(len(names), dtype=np.int64)
    for i, term in enumerate(names):
        jj = assign[term]
        kk = list(range(nvar)) + [nvar + j for j in jj]
        uu = np.concatenate((np.zeros(nvar), u[[nvar + j for j in jj]]))
        chisq[i] = float(np.linalg.solve(imat[np.ix_(kk, kk)], uu) @ uu)
        df[i] = len(jj)
    uu = np.concatenate((np.zeros(nvar), u[nvar:]))
    gchisq = float(np.linalg.solve(imat, uu) @ uu)
    p = special.chdtrc(df.astype(float), chisq)
    gp = float(special.chdtrc(float(nvar), gchisq))
    return chisq, df, np.asarray(p, dtype=float), gchisq, gp
