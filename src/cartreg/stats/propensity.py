"""Propensity scores, inverse-probability weights and the covariate balance table.

Estimand: the average treatment effect (ATE, the whole population) or the average treatment effect
in the treated (ATT), estimated by weighting each patient by the inverse of the probability of the
treatment received (Rosenbaum & Rubin 1983; Austin & Stuart 2015).

* **Propensity score** ``e(x) = P(T = 1 | x)`` from a logistic model fitted exactly as
  ``glm(treated ~ covariates, family = binomial)`` (:func:`cartreg.stats.logistic.logistic_fit`;
  text and boolean covariates are factors, as in :func:`cartreg.stats.logistic.logistic`).
  The treated level is the second level in R's sorted order (what ``glm`` models) unless given.
* **Weights** — ATE: ``1 / e`` for the treated, ``1 / (1 - e)`` for the controls; ATT: ``1`` for
  the treated, ``e / (1 - e)`` for the controls. **Stabilised** (``stabilize=True``): the ATE
  weights times the marginal probability of the treatment received (``p / e`` and
  ``(1 - p) / (1 - e)``, ``p`` = proportion treated; Xu et al. 2010); the ATT control weights times
  ``(1 - p) / p``. Rows with a missing treatment or covariate get no weight (NaN) and are counted.
* **Balance** — per covariate, tableone's SMD between the two groups (:mod:`cartreg.stats.smd`)
  before weighting (``CreateTableOne(..., smd = TRUE)``) and after (``svyCreateTableOne`` on
  ``survey::svydesign(ids = ~1, weights = ~w)``: weighted means/proportions and ``svyvar``'s
  weighted variance). Numeric covariates are balanced as continuous, factors as categorical
  (multi-level SMD of Yang & Dalton 2012). Also the Kish effective sample size per group,
  ``(sum w)^2 / sum w^2``.

The weights feed the weighted Kaplan-Meier and the Cox model with a robust variance
(``kaplan_meier(..., weights=)``, ``coxph(..., weights=, robust=True)``); see
``docs/statistics.md`` for the whole workflow.

>>> import numpy as np
>>> d = {"t": np.array([0, 0, 1, 1, 0, 1, 0, 1.]), "age": np.array([50., 60, 55, 70, 40, 65, 52, 58])}
>>> ps = propensity("t", ["age"], data=d)
>>> ps.treated, ps.n, round(float(ps.weights[0]), 6)   # R: 1 / (1 - fitted(glm(t ~ age)))[1]
('1', 8, 1.153603)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from cartreg.errors import CartregError

__all__ = ["PropensityResult", "BalanceRow", "propensity", "ipw_weights", "balance_table"]


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    f = float(x)
    return f if np.isfinite(f) else None


@dataclass(frozen=True)
class BalanceRow:
    """SMD of one covariate between treated and controls, unweighted and weighted."""

    variable: str
    type: str
    smd_before: float
    smd_after: float


@dataclass(frozen=True, eq=False)
class PropensityResult:
    """Propensity scores and weights, aligned with the input rows (NaN where a row was excluded).

    ``treatment`` the column; ``treated``/``control`` its levels; ``estimand`` ``"ATE"`` or
    ``"ATT"``; ``stabilized``; ``ps``; ``weights``; ``treated_mask`` (bool, False where excluded);
    ``keep`` rows used; ``n``, ``excluded``; ``model`` the propensity model (a
    :class:`~cartreg.stats.logistic.LogisticResult`); ``balance`` one :class:`BalanceRow` per
    covariate; ``ess`` Kish effective sample size (treated, control).
    """

    treatment: str
    treated: str
    control: str
    estimand: str
    stabilized: bool
    ps: np.ndarray
    weights: np.ndarray
    treated_mask: np.ndarray
    keep: np.ndarray
    n: int
    excluded: int
    model: Any
    balance: tuple[BalanceRow, ...]
    ess: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (not the per-row weights): model terms, balance table, weight
        summaries and effective sample sizes."""
        w, t = self.weights[self.keep], self.treated_mask[self.keep]

        def summ(x: np.ndarray) -> dict[str, float | None]:
            return {"n": int(x.size), "sum": _num(x.sum()), "mean": _num(x.mean()) if x.size else None,
                    "min": _num(x.min()) if x.size else None, "max": _num(x.max()) if x.size else None}

        return {
            "treatment": self.treatment, "treated": self.treated, "control": self.control,
            "estimand": self.estimand, "stabilized": self.stabilized, "n": self.n, "excluded": self.excluded,
            "ess": {"treated": _num(self.ess[0]), "control": _num(self.ess[1])},
            "weights": {"treated": summ(w[t]), "control": summ(w[~t])},
            "model": self.model.to_dict(),
            "balance": [{"variable": b.variable, "type": b.type, "smd_before": _num(b.smd_before),
                         "smd_after": _num(b.smd_after)} for b in self.balance],
        }

    def to_frame(self) -> Any:
        """The balance table as a pandas DataFrame (one row per covariate)."""
        import pandas as pd

        return pd.DataFrame([{"variable": b.variable, "type": b.type, "smd_before": b.smd_before,
                              "smd_after": b.smd_after} for b in self.balance])

    def __repr__(self) -> str:
        lines = [f"Propensity weights ({self.estimand}{', stabilised' if self.stabilized else ''}): "
                 f"{self.treatment}={self.treated} vs {self.control}; n={self.n}, excluded={self.excluded}; "
                 f"ESS {self.ess[0]:.1f} / {self.ess[1]:.1f}",
                 f"  {'covariate':<20} {'SMD before':>10} {'SMD after':>10}"]
        for b in self.balance:
            lines.append(f"  {b.variable:<20} {b.smd_before:>10.3f} {b.smd_after:>10.3f}")
        return "\n".join(lines)


def ipw_weights(ps: np.ndarray, treated: np.ndarray, estimand: str = "ATE",
                stabilize: bool = False) -> np.ndarray:
    """Inverse-probability weights from propensity scores ``ps`` and a boolean ``treated``.

    >>> ipw_weights(np.array([0.25, 0.5]), np.array([True, False])).tolist()
    [4.0, 2.0]
    """
    ps = np.asarray(ps, dtype=float)
    t = np.asarray(treated, dtype=bool)
    if estimand not in ("ATE", "ATT"):
        raise CartregError(f"unknown estimand {estimand!r}: use ATE or ATT", 2)
    if np.any((ps <= 0) | (ps >= 1)):
        raise CartregError("propensity scores must lie strictly between 0 and 1 (complete separation?)", 1)
    p = float(t.mean())
    if estimand == "ATE":
        w = np.where(t, 1.0 / ps, 1.0 / (1.0 - ps))
        if stabilize:
            w = w * np.where(t, p, 1.0 - p)
    else:
        w = np.where(t, 1.0, ps / (1.0 - ps))
        if stabilize:
            w = np.where(t, 1.0, w * (1.0 - p) / p)
    return w


def balance_table(columns: Mapping[str, np.ndarray], treated: np.ndarray, weights: np.ndarray,
                  categorical: Sequence[str] = ()) -> tuple[BalanceRow, ...]:
    """tableone SMDs of each column between ``treated`` and the others, unweighted and weighted."""
    from cartreg.stats.km import factor
    from cartreg.stats.smd import smd_categorical, smd_continuous

    codes = np.where(np.asarray(treated, dtype=bool), 1, 0)  # control = group 0, as tableone's 1 vs 2
    t1 = np.asarray(treated, dtype=bool).astype(float)
    t0 = 1.0 - t1
    n1, n0 = float(t1.sum()), float(t0.sum())
    w = np.asarray(weights, dtype=float)
    groups_u = (t1, t0, n1, n0, False)
    groups_w = (w * t1, w * t0, n1, n0, True)
    rows: list[BalanceRow] = []
    dense: list[tuple[int, np.ndarray]] = []
    for name, values in columns.items():
        if name in categorical:
            f = factor(np.asarray(values))
            v = f.codes
            before = smd_categorical(v, codes, len(f.levels), n_groups=2)[0]
            after = smd_categorical(v, codes, len(f.levels), weights=weights, n_groups=2)[0]
            rows.append(BalanceRow(name, "categorical", before, after))
        else:
            x = np.asarray(values, dtype=float)
            if np.isnan(x).any():
                rows.append(BalanceRow(name, "continuous", smd_continuous(x, codes, n_groups=2)[0],
                                       smd_continuous(x, codes, weights=weights, n_groups=2)[0]))
            else:
                rows.append(BalanceRow(name, "continuous", np.nan, np.nan))
                dense.append((len(rows) - 1, x))
    if dense:  # every complete numeric covariate at once: matrix-vector products (BLAS)
        from cartreg.stats._data import fill_columns

        M = np.empty((dense[0][1].shape[0], len(dense)), order="F")  # columns contiguous
        fill_columns(M, [x for _, x in dense])
        M -= M.mean(axis=0)  # centred: the one-pass sums of squares below lose no precision
        S2 = M * M
        before, after = _smd2(M, S2, *groups_u), _smd2(M, S2, *groups_w)
        for j, (i, _) in enumerate(dense):
            rows[i] = BalanceRow(rows[i].variable, "continuous", float(before[j]), float(after[j]))
    return tuple(rows)


def _smd2(M: np.ndarray, S2: np.ndarray, w1: np.ndarray, w0: np.ndarray, n1: float, n0: float,
          weighted: bool) -> np.ndarray:
    """Two-group continuous SMDs (tableone; weighted as ``svyvar``) of the columns of the centred
    matrix ``M`` (``S2 = M * M``) from weight vectors that are zero outside each group:
    matrix-vector products (BLAS), ``sum w (x - m)^2 = sum w x^2 - (sum w) m^2`` on centred data."""
    s1, s0 = w1.sum(), w0.sum()
    m1, m0 = (w1 @ M) / s1, (w0 @ M) / s0
    v1 = w1 @ S2 - s1 * m1 * m1
    v0 = w0 @ S2 - s0 * m0 * m0
    if weighted:
        v1, v0 = v1 / s1 * n1 / (n1 - 1), v0 / s0 * n0 / (n0 - 1)
    else:
        v1, v0 = v1 / (n1 - 1), v0 / (n0 - 1)
    diff, pooled = m1 - m0, (v1 + v0) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.abs(diff) / np.sqrt(pooled)
    out[np.isnan(out) & (diff == 0) & (np.abs(pooled) <= 1e-300)] = 0.0
    return out


def propensity(
    treatment: str | np.ndarray,
    covariates: Sequence[str] | Mapping[str, np.ndarray],
    data: Any = None,
    estimand: str = "ATE",
    stabilize: bool = False,
    treated: str | None = None,
    reference_levels: Mapping[str, str] | None = None,
    factors: Sequence[str] = (),
) -> PropensityResult:
    """Propensity scores, IP weights and the balance table (see the module text).

    ``treatment``/``covariates`` are column names in ``data`` (a pandas/polars DataFrame or a
    mapping of arrays), or — without ``data`` — a treatment array and a mapping name -> array.
    ``treated`` names the treated level (default: the second of the two sorted levels).
    """
    from cartreg.stats._frame import column
    from cartreg.stats.km import factor
    from cartreg.stats.logistic import _is_factor, complete_columns, logistic_design, logistic_fit

    if data is not None:
        if not isinstance(treatment, str):
            raise CartregError("with data=, give the treatment as a column name", 2)
        tname = treatment
        tvals = column(data, treatment)
        covs = {c: column(data, c) for c in covariates}
    else:
        if not isinstance(covariates, Mapping):
            raise CartregError("without data=, give the covariates as a mapping name -> array", 2)
        tname = "treatment"
        tvals = np.asarray(treatment)
        covs = {k: np.asarray(v) for k, v in covariates.items()}
    if not covs:
        raise CartregError("give at least one covariate for the propensity model", 2)
    ft = factor(np.asarray(tvals))  # R factor coding (pyarrow dictionary encoding: fast)
    levels = list(ft.levels)
    if len(levels) != 2:
        raise CartregError(f"treatment {tname!r} must have exactly two levels; found {len(levels)}"
                           + (f" ({', '.join(levels[:10])})" if levels else ""), 1)
    if treated is None:
        treated_level = levels[1]
    else:
        treated_level = str(treated)
        if treated_level not in levels:
            raise CartregError(f"treated level {treated_level!r} is not a level of {tname!r} "
                               f"(levels: {', '.join(levels)})", 2)
    control_level = levels[0] if treated_level == levels[1] else levels[1]
    tnum = np.where(ft.codes < 0, np.nan, (ft.codes == levels.index(treated_level)).astype(float))
    covs_k, keep, excluded = complete_columns(tnum, covs)  # levels from the rows used, as glm
    if keep.sum() == 0:
        raise CartregError("no complete rows for the propensity model", 1)
    XX, names = logistic_design(covs_k, reference_levels, factors)
    yy = tnum if keep.all() else tnum[keep]
    model = logistic_fit(yy, XX, names, profile=False, excluded=excluded)
    ps_k = model.fitted  # glm's fitted probabilities
    t_k = yy.astype(bool)
    w_k = ipw_weights(ps_k, t_k, estimand, stabilize)
    n_all = tnum.shape[0]
    ps = np.full(n_all, np.nan)
    w = np.full(n_all, np.nan)
    ps[keep] = ps_k
    w[keep] = w_k
    tmask = np.zeros(n_all, dtype=bool)
    tmask[keep] = t_k
    categorical = [c for c, v in covs.items() if c in factors or _is_factor(np.asarray(v))
                   or c in (reference_levels or {})]
    bal = balance_table(covs_k, t_k, w_k, categorical)

    def ess(x: np.ndarray) -> float:
        return float(x.sum() ** 2 / np.sum(x ** 2)) if x.size else float("nan")

    return PropensityResult(
        treatment=tname, treated=treated_level, control=control_level, estimand=estimand,
        stabilized=stabilize, ps=ps, weights=w, treated_mask=tmask, keep=keep, n=int(keep.sum()),
        excluded=excluded, model=model, balance=bal, ess=(ess(w_k[t_k]), ess(w_k[~t_k])))
