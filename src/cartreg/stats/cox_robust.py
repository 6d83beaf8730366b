"""Robust (sandwich) variance of a Cox fit, as R ``coxph(..., robust = TRUE)`` / ``cluster()``.

Lin & Wei (1989): ``V_rob = V D'D V`` where ``V`` is the model-based variance (inverse
information) and the rows of ``D`` are the weighted score residuals summed within cluster
(``residuals(fit, type = "dfbeta", weighted = TRUE)`` summed by ``rowsum(., cluster)``, then
``crossprod``). Without a cluster every row is its own cluster. With case weights ``c_i`` the
dfbeta of row ``i`` is ``c_i s_i' V`` (R's convention for ``weights`` x dfbeta).

The score residual of row ``i`` (Therneau, Grambsch & Fleming 1990; Efron's ties as R's
``coxscore2``): with event slots ``j`` of tie group ``k`` (``d_k`` deaths, mean death weight
``m_k``, Efron fraction ``f_j = r/d_k``, 0 for Breslow), ``den_j = S0(R_k) - f_j S0(D_k)``,
``xbar_j = (S1(R_k) - f_j S1(D_k)) / den_j`` and ``h_j = m_k / den_j``::

    s_i = delta_i (x_i - mean_j xbar_j over D_k(i))
          - exp(eta_i) sum_{k: i in R_k} sum_{j in D_k} (1 - f_j [i in D_k]) h_j (x_i - xbar_j)

Their weighted sum is the score, so the decomposition is the one whose sum R checks.
Everything is vectorised over rows (cumulative sums down the sorted rows), as in
:mod:`cartreg.stats.cox`.

References
----------
Lin DY, Wei LJ (1989). The robust inference for the Cox proportional hazards model. JASA 84:1074-8.
Therneau TM, Grambsch PM (2000). Modeling Survival Data, sections 7.2 and 8.2. Springer.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sandwich", "score_residuals"]


def _segments(t: np.ndarray, scode: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tie-group id of each row, first row of each stratum, and first tie group of each stratum."""
    n = t.shape[0]
    newgrp = np.empty(n, dtype=bool)
    newgrp[0] = True
    newgrp[1:] = t[1:] != t[:-1]
    newstr = np.zeros(n, dtype=bool)
    newstr[0] = True
    if scode is not None:
        newstr[1:] = scode[1:] != scode[:-1]
        newgrp |= newstr
    gid = np.cumsum(newgrp) - 1
    gstart = np.flatnonzero(newgrp)
    return gid, np.flatnonzero(newstr), np.flatnonzero(newstr[gstart])


def _seg_cumsum(a: np.ndarray, seg: np.ndarray, reverse: bool = False) -> np.ndarray:
    """Cumulative sum along the last axis restarted at each segment start (vectorised)."""
    m = a.shape[-1]
    if reverse:
        rseg = (m - np.append(seg[1:], m))[::-1]
        return _seg_cumsum(a[..., ::-1], rseg)[..., ::-1]
    out = np.cumsum(a, axis=-1)
    lengths = np.diff(np.append(seg, m))
    prev = np.repeat(seg - 1, lengths)
    base = np.where(prev >= 0, out[..., np.maximum(prev, 0)], 0.0)
    return out - base


def score_residuals(t: np.ndarray, status: np.ndarray, scode: np.ndarray | None, xt: np.ndarray,
                    beta: np.ndarray, ties: str = "efron",
                    cw: np.ndarray | None = None) -> np.ndarray:
    """Score residuals (p, n) of rows sorted as in :func:`cartreg.stats.cox.coxph`.

    Rows are sorted by stratum, time descending, events first within a tied time; ``xt`` is the
    (p, n) covariate array (any centring: residuals do not depend on it). Unweighted residuals,
    as R's ``residuals(fit, type = "score")``; the case weights ``cw`` enter the risk sets.
    """
    p, n = xt.shape
    gid, seg, gseg = _segments(t, scode)
    gstart = np.flatnonzero(np.diff(gid, prepend=-1))
    n_groups = gstart.size
    r = np.exp(beta @ xt)
    wr = r if cw is None else r * cw
    dead = np.flatnonzero(status == 1)
    dg = gid[dead]
    d_per = np.bincount(dg, minlength=n_groups)
    cwd = np.ones(dead.size) if cw is None else cw[dead]
    wdead = np.bincount(dg, weights=cwd, minlength=n_groups)
    rank = dead - gstart[dg]  # events come first in their tie group
    dk = d_per[dg].astype(float)
    f = rank / dk if ties == "efron" else np.zeros(dead.size)
    mw = wdead[dg] / dk
    wrd = wr[dead]
    rd = r[dead]
    # risk-set sums: per tie group, then cumulative over the groups of a stratum
    s0g = _seg_cumsum(np.add.reduceat(wr, gstart), gseg)
    s0d = np.bincount(dg, weights=wrd, minlength=n_groups)[dg]  # sums over the tied deaths
    den = s0g[dg] - f * s0d
    h = mw / den
    fh = f * h
    hc = _seg_cumsum(np.bincount(dg, weights=h, minlength=n_groups), gseg, reverse=True)[gid]
    ek = np.bincount(dg, weights=fh, minlength=n_groups)[dg]
    res = np.empty((p, n))
    for q in range(p):  # one covariate at a time: contiguous 1-D passes over the rows
        x = xt[q]
        xd = x[dead]
        s1g = _seg_cumsum(np.add.reduceat(x * wr, gstart), gseg)
        s1d = np.bincount(dg, weights=wrd * xd, minlength=n_groups)[dg]
        xbar = (s1g[dg] - f * s1d) / den
        hmc = _seg_cumsum(np.bincount(dg, weights=h * xbar, minlength=n_groups), gseg, reverse=True)
        emk = np.bincount(dg, weights=fh * xbar, minlength=n_groups)[dg]
        mk = (np.bincount(dg, weights=xbar, minlength=n_groups) / np.maximum(d_per, 1))[dg]
        out = res[q]
        np.multiply(x, hc, out=out)
        out -= hmc[gid]
        out *= -r
        out[dead] += xd - mk + rd * (xd * ek - emk)
    return res


def sandwich(t: np.ndarray, status: np.ndarray, scode: np.ndarray | None, xt: np.ndarray,
             beta: np.ndarray, var: np.ndarray, ties: str = "efron", cw: np.ndarray | None = None,
             ccode: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Robust variance ``V D'D V`` and the number of clusters (rows when ``ccode`` is None).

    ``D`` has one row per cluster: the sum over its rows of ``c_i s_i`` (``c`` the case weights).
    """
    res = score_residuals(t, status, scode, xt, beta, ties, cw)
    if cw is not None:
        res *= cw
    if ccode is None:
        k = res.shape[1]
    else:
        k = int(ccode.max()) + 1
        res = np.stack([np.bincount(ccode, weights=res[q], minlength=k) for q in range(res.shape[0])]) \
            if res.shape[0] else np.zeros((0, k))
    middle = res @ res.T  # D'D with D the (clusters x p) summed weighted score residuals
    return var @ middle @ var.T, k
