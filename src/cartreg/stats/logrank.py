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
from scipy.special import chdtrc

from cartreg.errors import CartregError
from cartreg.stats._data import complete_cases
from cartreg.stats.km import as_event, as_time, drop_unused, event_table, factor, fix_ties


@dataclass(frozen=True, eq=False)
class LogRank:
    """Result of :func:`logrank_test`, the components of R's ``survdiff`` object.

    ``chi2``, ``df``, ``p`` the test; ``levels`` group labels (sorted like R factor levels);
    ``n`` per group; ``observed`` / ``expected`` events per group (summed over strata);
    ``var`` the k×k covariance of ``O - E``; ``strata`` stratum labels (empty if unstratified);
    ``total`` observations used; ``excluded`` rows dropped for a missing value; ``computable``
    False when the variance matrix is singular (e.g. every time is 0): ``chi2`` and ``p`` are then
    NaN (R's survdiff stops with "system is exactly singular").
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
    computable: bool = True

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


def _o_e_v(count: np.ndarray, deaths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected and covariance from (groups x distinct times) counts and events."""
    risk = np.cumsum(count[:, ::-1], axis=1)[:, ::-1]  # at risk per group at each time
    d = deaths.sum(axis=0)
    ev = d > 0
    risk, d, deaths = risk[:, ev], d[ev], deaths[:, ev]
    n = risk.sum(axis=0)
    frac = risk / n
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    return deaths.sum(axis=1), frac @ d, np.diag(frac @ w) - (frac * w) @ frac.T


def logrank_test(time: np.ndarray, event: np.ndarray, group: np.ndarray,
                 strata: np.ndarray | None = None, on_singular: str = "nan") -> LogRank:
    """Log-rank test of equal survival across groups: ``survdiff(Surv(time, event) ~ group)``.

    ``strata`` (optional) gives a stratified test, ``survdiff(... ~ group + strata(s))``. Rows with
    a missing value in any column are dropped and counted in ``excluded``. Times are tie-corrected
    as R's ``timefix`` (``aeqSurv``). A singular variance matrix (R: an error) gives a result with
    ``computable=False`` and NaN ``chi2``/``p``; ``on_singular="raise"`` raises a CartregError instead
    (the behaviour before issue 16).
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
    if strata is None:
        sf_levels: tuple[str, ...] = ()
        _, count, deaths = event_table(t, e, gf.codes, k)
        observed, expected, var = _o_e_v(count, deaths)
    else:
        sf = drop_unused(sf_all, cc.keep)
        sf_levels = sf.levels
        t = fix_ties(t)  # aeqSurv once over all rows, as survdiff does
        observed, expected, var = np.zeros(k), np.zeros(k), np.zeros((k, k))
        for j in range(len(sf_levels)):  # one pass per stratum; risk sets restart in each
            m = sf.codes == j
            _, count, deaths = event_table(t[m], e[m], gf.codes[m], k, timefix=False)
            o, ex, v = _o_e_v(count, deaths)
            observed += o
            expected += ex
            var += v

    use = expected > 0
    df = int(use.sum()) - 1
    computable = True
    if use.sum() < 2:
        chi2 = 0.0
    else:
        diff = (observed - expected)[use][1:]
        vv = var[np.ix_(use, use)][1:, 1:]
        try:
            chi2 = float(np.sum(np.linalg.solve(vv, diff) * diff))
        except np.linalg.LinAlgError as exc:
            if on_singular == "raise":
                raise CartregError("log-rank variance matrix is singular") from exc
            chi2, computable = float("nan"), False
    # as R's pchisq(chi, df, lower.tail = FALSE): 1 when df = 0 (fewer than 2 groups with
    # expected events), NaN when there are no events at all (df = -1)
    p = float(chdtrc(df, chi2)) if df > 0 else (1.0 if df == 0 else float("nan"))
    if not computable:
        p = float("nan")
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
        computable=computable,
    )
