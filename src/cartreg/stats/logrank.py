"""Log-rank test for k groups, optionally stratified, as R ``survival::survdiff`` (rho = 0).

Mantel (1966) / Peto & Peto (1972): at each distinct event time ``t`` (within a stratum) with
``n`` at risk and ``d`` events, group ``j`` with ``n_j`` at risk expects ``d n_j / n`` events.
Summing over times (and strata) gives observed ``O``, expected ``E`` and the hypergeometric
covariance ``V_jk = sum d (n - d) / (n - 1) · (n_j / n) (δ_jk - n_k / n)`` (only where ``n > 1``).
As survdiff, groups with ``E > 0`` enter the test, the first of them is dropped, and
``chi2 = (O - E)' V^{-1} (O - E)`` with ``df`` = (number of groups with E > 0) - 1.
A stratified test sums O, E and V over strata (``survdiff(... + strata(s))``).

>>> import numpy as np
>>> lr = logrank_test(np.array([1., 2, 3, 4, 5, 6]), np.array([1, 1, 1, 1, 1, 0]),
...                   np.array(["a", "a", "a", "b", "b", "b"], dtype=object))
>>> lr.df, round(lr.chi2, 6)
(1, 5.051661)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2 as chi2_dist

from cartreg.errors import CartregError
from cartreg.stats._data import complete_cases
from cartreg.stats.km import argsort_time, as_event, as_time, drop_unused, factor, fix_ties_sorted


@dataclass(frozen=True, eq=False)
class LogRank:
    """Result of :func:`logrank_test`, the components of R's ``survdiff`` object.

    ``chi2``, ``df``, ``p`` the test; ``levels`` group labels (sorted like R factor levels);
    ``n`` per group; ``observed`` / ``expected`` events per group (summed over strata);
    ``var`` the k×k covariance of ``O - E``; ``strata`` stratum labels (empty if unstratified);
    ``total`` observations used; ``excluded`` rows dropped for a missing value.
    """

    chi2: float
    df: int
    p: float
    levels: tuple[str, ...]
    n: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    var: np.ndarray
    strata: tuple[str, ...]
    total: int
    excluded: int

    def summary(self) -> str:
        """A text table like ``print(survdiff(...))``."""
        lines = [f"{'group':>12} {'N':>7} {'Observed':>9} {'Expected':>9} {'(O-E)^2/E':>10}"]
        for lev, n, o, e in zip(self.levels, self.n, self.observed, self.expected):
            q = (o - e) ** 2 / e if e > 0 else float("nan")
            lines.append(f"{lev:>12} {int(n):>7} {o:>9.0f} {e:>9.2f} {q:>10.3f}")
        lines.append(f" Chisq= {self.chi2:.1f}  on {self.df} degrees of freedom, p= {self.p:.3g}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"LogRank\n{self.summary()}"


def _reverse_cumsum_within(x: np.ndarray, block_start: np.ndarray) -> np.ndarray:
    """Reverse cumulative sums along the columns of ``x`` (k x m), restarting at each block of
    columns flagged by ``block_start``."""
    m = x.shape[1]
    rc = np.cumsum(x[:, ::-1], axis=1)[:, ::-1]
    starts = np.flatnonzero(block_start)
    if starts.size == 1:
        return rc
    ends = np.append(starts[1:], m)  # exclusive end of each block
    beyond = np.zeros((x.shape[0], starts.size), dtype=rc.dtype)
    inner = ends < m
    beyond[:, inner] = rc[:, ends[inner]]  # what lies after each block
    return rc - beyond[:, np.cumsum(block_start) - 1]


def logrank_test(time: np.ndarray, event: np.ndarray, group: np.ndarray,
                 strata: np.ndarray | None = None) -> LogRank:
    """Log-rank test of equal survival across groups: ``survdiff(Surv(time, event) ~ group)``.

    ``strata`` (optional) gives a stratified test, ``survdiff(... ~ group + strata(s))``. Rows with
    a missing value in any column are dropped and counted in ``excluded``. Times are tie-corrected
    as R's ``timefix`` (``aeqSurv``).
    """
    gf_all = factor(group)
    sf_all = None if strata is None else factor(strata)
    cc = complete_cases(np.asarray(time), np.asarray(event), gf_all.as_float(),
                        None if sf_all is None else sf_all.as_float())
    t = as_time(cc.arrays[0])
    if t.size == 0:
        raise CartregError("no complete observations for the log-rank test")
    e = as_event(cc.arrays[1])
    gf = drop_unused(gf_all, cc.keep)
    k = len(gf.levels)
    if k < 2:
        raise CartregError("the log-rank test needs at least 2 groups; there is only 1")
    order = argsort_time(t)
    ts = fix_ties_sorted(t[order])
    es, gs = e[order], gf.codes[order]
    new_time = np.empty(ts.size, dtype=bool)
    new_time[0] = True
    np.not_equal(ts[1:], ts[:-1], out=new_time[1:])
    tcode = np.cumsum(new_time) - 1  # index of each row's distinct time
    if strata is None:
        sf_levels: tuple[str, ...] = ()
        key = tcode
        nkey = int(tcode[-1]) + 1
        block_start = np.zeros(nkey, dtype=bool)
        block_start[0] = True
    else:
        sf = drop_unused(sf_all, cc.keep)
        sf_levels = sf.levels
        ukeys, key = np.unique(sf.codes[order].astype(np.int64) * (int(tcode[-1]) + 1) + tcode,
                               return_inverse=True)
        nkey = ukeys.size
        key_stratum = ukeys // (int(tcode[-1]) + 1)
        block_start = np.ones(nkey, dtype=bool)
        block_start[1:] = key_stratum[1:] != key_stratum[:-1]

    # one column per (stratum, distinct time), sorted by stratum then time; one row per group
    flat = gs.astype(np.int64) * nkey + key
    count = np.bincount(flat, minlength=nkey * k).reshape(k, nkey).astype(float)
    deaths = np.bincount(flat, weights=es, minlength=nkey * k).reshape(k, nkey)
    risk = _reverse_cumsum_within(count, block_start)  # at risk per group at each time

    d = deaths.sum(axis=0)
    ev = d > 0
    risk, d, deaths = risk[:, ev], d[ev], deaths[:, ev]
    n = risk.sum(axis=0)
    frac = risk / n
    expected = frac @ d
    observed = deaths.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    var = np.diag(frac @ w) - (frac * w) @ frac.T

    use = expected > 0
    df = int(use.sum()) - 1
    if use.sum() < 2:
        chi2 = 0.0
    else:
        diff = (observed - expected)[use][1:]
        vv = var[np.ix_(use, use)][1:, 1:]
        try:
            chi2 = float(np.sum(np.linalg.solve(vv, diff) * diff))
        except np.linalg.LinAlgError as exc:
            raise CartregError("log-rank variance matrix is singular") from exc
    # as R's pchisq(chi, df, lower.tail = FALSE): 1 when df = 0 (fewer than 2 groups with
    # expected events), NaN when there are no events at all (df = -1)
    p = float(chi2_dist.sf(chi2, df)) if df > 0 else (1.0 if df == 0 else float("nan"))
    return LogRank(
        chi2=chi2,
        df=df,
        p=p,
        levels=gf.levels,
        n=np.bincount(gf.codes, minlength=k).astype(np.int64),
        observed=observed,
        expected=expected,
        var=var,
        strata=sf_levels,
        total=int(t.size),
        excluded=cc.excluded,
    )
