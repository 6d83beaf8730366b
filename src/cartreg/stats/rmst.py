"""Restricted mean survival time (RMST) as R ``survival`` and ``survRM2`` compute it.

Estimand: ``RMST(tau) = E[min(T, tau)] = integral_0^tau S(t) dt``, the mean event-free time up to
``tau`` (Royston & Parmar 2013; Uno et al. 2014).

* Per group — ``print(survfit(Surv(t, e) ~ g), rmean = tau)`` (``survival:::survmean``): the area
  under the Kaplan-Meier step function from 0 (or the earliest time, if negative) to ``tau``; when
  ``tau`` is beyond the last time the last value of S is carried forward. Variance
  ``sum_i A_i^2 d_i / (n_i (n_i - d_i))`` over event times ``t_i <= tau``, with ``A_i`` the area
  under the curve between ``t_i`` and ``tau`` (Greenwood-type; a term with ``n_i = d_i`` is 0).
  ``survRM2::rmst1`` uses the same formulas.
* Between two groups — ``survRM2::rmst2(time, status, arm, tau)`` unadjusted: difference
  ``RMST_1 - RMST_0`` with SE ``sqrt(v_1 + v_0)``; ratio on the log scale with SE
  ``sqrt(v_1 / RMST_1^2 + v_0 / RMST_0^2)``; normal CIs and two-sided P; also the ratio of the
  restricted mean time lost (``tau - RMST``). ``rmst2`` refuses a ``tau`` beyond the follow-up of
  either arm (its four cases on whether each arm's last time is an event); such a contrast is
  returned empty with the reason, while the per-group RMST (which ``survfit`` extends) is kept.

Contrasts: for groups in R factor order ``g_1, g_2, ...``, every pair ``(g_j, g_i)`` with
``i < j``: ``groups = [g_j, g_i]``, ``diff = RMST(g_j) - RMST(g_i)``, ``ratio = RMST(g_j) /
RMST(g_i)`` — ``rmst2`` with ``arm = 1`` for ``g_j`` and ``arm = 0`` for the earlier level (the
reference, with two groups).

>>> import numpy as np
>>> r = rmst(np.array([1., 2, 3, 4]), np.array([1, 1, 0, 1]), tau=3.0)
>>> r.strata[0].rmst            # 1 + 0.75 + 0.5
2.25
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from cartreg.errors import CartregError

__all__ = ["RMSTResult", "RMSTStratum", "RMSTContrast", "rmst", "rmst_from_km", "rmst_results",
           "rmst2_tau_limit"]


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    f = float(x)
    return f if np.isfinite(f) else None


@dataclass(frozen=True)
class RMSTStratum:
    """RMST of one group: ``rmst``, ``se``, ``variance``, ``n`` and ``events`` (all times)."""

    group: str | None
    rmst: float
    se: float
    variance: float
    n: int
    events: int
    max_time: float


@dataclass(frozen=True)
class RMSTContrast:
    """``groups = (a, b)``: ``diff = RMST(a) - RMST(b)`` with ``diff_se``, CI and P; ``ratio =
    RMST(a) / RMST(b)`` with CI and P (log scale); ``rmtl_ratio`` for the restricted mean time
    lost. All ``nan`` with a ``note`` when ``tau`` is beyond what ``survRM2::rmst2`` accepts."""

    groups: tuple[str, str]
    diff: float
    diff_se: float
    diff_ci: tuple[float, float]
    diff_p: float
    ratio: float
    ratio_log_se: float
    ratio_ci: tuple[float, float]
    ratio_p: float
    rmtl_ratio: float
    rmtl_ratio_ci: tuple[float, float]
    rmtl_ratio_p: float
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{groups[a, b], diff{est, ci, p}, ratio{est, ci, p}}`` plus SEs and the RMTL ratio."""
        return {
            "groups": list(self.groups),
            "diff": {"est": _num(self.diff), "se": _num(self.diff_se),
                     "ci": [_num(self.diff_ci[0]), _num(self.diff_ci[1])], "p": _num(self.diff_p)},
            "ratio": {"est": _num(self.ratio), "log_se": _num(self.ratio_log_se),
                      "ci": [_num(self.ratio_ci[0]), _num(self.ratio_ci[1])], "p": _num(self.ratio_p)},
            "rmtl_ratio": {"est": _num(self.rmtl_ratio),
                           "ci": [_num(self.rmtl_ratio_ci[0]), _num(self.rmtl_ratio_ci[1])],
                           "p": _num(self.rmtl_ratio_p)},
            "note": self.note,
        }


@dataclass(frozen=True)
class RMSTResult:
    """RMST up to ``tau`` per group (``strata``) and between groups (``contrasts``)."""

    tau: float
    conf_level: float
    strata: tuple[RMSTStratum, ...]
    contrasts: tuple[RMSTContrast, ...]
    excluded: int = 0
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """``{tau, strata[{group, rmst, se}], contrasts[...]}`` (the ``rmst`` block of
        ``cartreg survival --format json``)."""
        return {
            "tau": float(self.tau), "conf_level": float(self.conf_level),
            "strata": [{"group": s.group, "rmst": _num(s.rmst), "se": _num(s.se), "n": s.n,
                        "events": s.events} for s in self.strata],
            "contrasts": [c.to_dict() for c in self.contrasts],
            "notes": list(self.notes),
        }

    def to_frame(self) -> Any:
        """Tidy pandas DataFrame: one row per group, then one per contrast and measure."""
        import pandas as pd

        rows: list[dict[str, Any]] = [{"term": "rmst", "group": s.group, "estimate": s.rmst, "std_error": s.se,
                                       "conf_low": np.nan, "conf_high": np.nan, "p_value": np.nan}
                                      for s in self.strata]
        for c in self.contrasts:
            label = f"{c.groups[0]} vs {c.groups[1]}"
            rows.append({"term": "rmst_diff", "group": label, "estimate": c.diff, "std_error": c.diff_se,
                         "conf_low": c.diff_ci[0], "conf_high": c.diff_ci[1], "p_value": c.diff_p})
            rows.append({"term": "rmst_ratio", "group": label, "estimate": c.ratio, "std_error": c.ratio_log_se,
                         "conf_low": c.ratio_ci[0], "conf_high": c.ratio_ci[1], "p_value": c.ratio_p})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        lines = [f"RMST up to tau = {self.tau:g}"]
        for s in self.strata:
            lines.append(f"  {s.group if s.group is not None else 'all'}: {s.rmst:.4g} (SE {s.se:.4g})")
        for c in self.contrasts:
            lines.append(f"  {c.groups[0]} - {c.groups[1]}: {c.diff:.4g} "
                         f"({c.diff_ci[0]:.4g} to {c.diff_ci[1]:.4g}), P={c.diff_p:.3g}")
        return "\n".join(lines)


def rmst_from_km(time: np.ndarray, n_risk: np.ndarray, n_event: np.ndarray, surv: np.ndarray,
                 tau: float) -> tuple[float, float]:
    """RMST and its variance from Kaplan-Meier step arrays (``survival:::survmean``)."""
    time = np.asarray(time, dtype=float)
    n_risk = np.asarray(n_risk, dtype=float)
    n_event = np.asarray(n_event, dtype=float)
    surv = np.asarray(surv, dtype=float)
    start = min(0.0, float(time[0])) if time.size else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        hh = np.where(n_risk - n_event == 0, 0.0, n_event / (n_risk * (n_risk - n_event)))
    keep = time <= tau
    if not keep.any():
        temptime = np.array([tau])
        tempsurv = np.array([1.0])
        hh = np.array([0.0])
    else:
        temptime = np.concatenate((time[keep], [tau]))
        tempsurv = np.concatenate((surv[keep], [surv[keep][-1]]))
        hh = np.concatenate((hh[keep], [0.0]))
    delta = np.diff(np.concatenate(([start], temptime)))
    rect = delta * np.concatenate(([1.0], tempsurv[:-1]))
    var = float(np.sum(np.cumsum(rect[1:][::-1]) ** 2 * hh[::-1][1:]))
    return float(rect.sum() + start), var


def rmst2_tau_limit(t0: np.ndarray, e0: np.ndarray, t1: np.ndarray, e1: np.ndarray) -> float:
    """The largest ``tau`` that ``survRM2::rmst2`` accepts for two arms (its four cases): the
    larger of the two last times when the arm followed longer ends in a censoring and the other
    in an event, or both end in events; otherwise the smaller."""
    tt0, tt1 = float(np.max(t0)), float(np.max(t1))
    ss0 = float(np.min(e0[t0 == tt0]))
    ss1 = float(np.min(e1[t1 == tt1]))
    ttmax, ttmin = max(tt0, tt1), min(tt0, tt1)
    if ss0 == 1 and ss1 == 1:
        return ttmax
    if (ss0 == 0 and ss1 == 1 and tt0 >= tt1) or (ss0 == 1 and ss1 == 0 and tt1 > tt0):
        return ttmax
    return ttmin


def _contrast(a: str, b: str, s1: RMSTStratum, s0: RMSTStratum, tau: float, z: float,
              limit: float) -> RMSTContrast:
    if tau > limit:
        nan = float("nan")
        return RMSTContrast(groups=(a, b), diff=nan, diff_se=nan, diff_ci=(nan, nan), diff_p=nan, ratio=nan,
                            ratio_log_se=nan, ratio_ci=(nan, nan), ratio_p=nan, rmtl_ratio=nan,
                            rmtl_ratio_ci=(nan, nan), rmtl_ratio_p=nan,
                            note=(f"tau = {tau:g} is beyond {limit:g}, the largest truncation time "
                                  "survRM2::rmst2 accepts for these two groups (follow-up ends there)"))
    d = s1.rmst - s0.rmst
    dse = float(np.sqrt(s1.variance + s0.variance))
    s1v, s0v = np.float64(s1.variance), np.float64(s0.variance)  # NumPy division: 0/0 -> nan, x/0 -> inf
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lr = float(np.log(s1.rmst) - np.log(s0.rmst))
        lse = float(np.sqrt(s1v / s1.rmst ** 2 + s0v / s0.rmst ** 2))
        l1, l0 = np.float64(tau - s1.rmst), np.float64(tau - s0.rmst)
        lt = float(np.log(l1) - np.log(l0))
        tse = float(np.sqrt(s1v / l1 ** 2 + s0v / l0 ** 2))
    p = lambda est, se: float(2 * special.ndtr(-abs(est) / np.float64(se)))  # noqa: E731
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return RMSTContrast(
            groups=(a, b), diff=d, diff_se=dse, diff_ci=(d - z * dse, d + z * dse), diff_p=p(d, dse),
            ratio=float(np.exp(lr)), ratio_log_se=lse,
            ratio_ci=(float(np.exp(lr - z * lse)), float(np.exp(lr + z * lse))), ratio_p=p(lr, lse),
            rmtl_ratio=float(np.exp(lt)), rmtl_ratio_ci=(float(np.exp(lt - z * tse)), float(np.exp(lt + z * tse))),
            rmtl_ratio_p=p(lt, tse))


def rmst(time: np.ndarray, event: np.ndarray, group: np.ndarray | None = None, tau: float | None = None,
         conf_level: float = 0.95) -> RMSTResult:
    """RMST up to ``tau`` overall or per group, with pairwise contrasts (see the module text).

    Rows with a missing time, event or group are excluded (``excluded``).
    """
    from cartreg.stats.km import kaplan_meier, kaplan_meier_by

    if tau is None or not np.isfinite(tau) or tau <= 0:
        raise CartregError("the RMST truncation time tau must be a finite number > 0", 2)
    if not (0 < conf_level < 1):
        raise CartregError("conf_level must be between 0 and 1", 2)
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=float)
    z = float(special.ndtri(1 - (1 - conf_level) / 2))
    notes: list[str] = []
    def check_tau(first: float) -> None:
        if tau < first:  # summary.survfit's check
            raise CartregError(f"the RMST truncation time tau = {tau:g} is below the smallest time "
                               f"{first:g} (R: 'Truncation point ... is < smallest survival')", 1)

    if group is None:
        km = kaplan_meier(t, e)
        check_tau(float(km.time[0]))
        r, v = rmst_from_km(km.time, km.n_risk, km.n_event, km.surv, tau)
        s = RMSTStratum(None, r, float(np.sqrt(v)), v, km.n, km.events, float(km.time[-1]))
        return RMSTResult(tau=float(tau), conf_level=conf_level, strata=(s,), contrasts=(),
                          excluded=km.excluded)
    fits = kaplan_meier_by(t, e, np.asarray(group))
    check_tau(min(float(km.time[0]) for km in fits.values()))
    strata = []
    for level, km in fits.items():
        r, v = rmst_from_km(km.time, km.n_risk, km.n_event, km.surv, tau)
        strata.append(RMSTStratum(level, r, float(np.sqrt(v)), v, km.n, km.events, float(km.time[-1])))
        if tau > km.time[-1]:
            notes.append(f"group {level!r}: tau = {tau:g} is beyond its last time {km.time[-1]:g}; the curve "
                         "is carried forward (as print(survfit, rmean = tau))")
    # per-group last observations for rmst2's tau rule
    from cartreg.stats._data import complete_cases
    from cartreg.stats.km import factor

    f = factor(np.asarray(group))
    cc = complete_cases(t, e, f.as_float())
    tt, ee = cc.arrays[0], cc.arrays[1]
    codes = f.codes[cc.keep]
    index = {lev: i for i, lev in enumerate(f.levels)}
    contrasts = []
    for i in range(len(strata)):
        for j in range(i + 1, len(strata)):
            s0, s1 = strata[i], strata[j]
            m0, m1 = codes == index[s0.group], codes == index[s1.group]
            limit = rmst2_tau_limit(tt[m0], ee[m0], tt[m1], ee[m1])
            contrasts.append(_contrast(str(s1.group), str(s0.group), s1, s0, float(tau), z, limit))
    return RMSTResult(tau=float(tau), conf_level=conf_level, strata=tuple(strata), contrasts=tuple(contrasts),
                      excluded=int(cc.excluded), notes=tuple(notes))


def rmst_results(time: np.ndarray, event: np.ndarray, group: np.ndarray | None, tau: float,
                 conf_level: float = 0.95) -> dict[str, Any]:
    """The ``rmst`` block of ``cartreg survival --rmst TAU --format json`` (a JSON-ready dict)."""
    return rmst(time, event, group, tau, conf_level).to_dict()
