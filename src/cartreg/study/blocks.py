"""Reusable summaries that study plans compose: counts, distributions, KM, landmarks, Cox, CIF.

Each block takes plain arrays (times in days) and returns JSON-ready dicts: times in months
(days / 30.4375), percentages 0-100, survival and incidence as proportions 0-1, ``None`` where a value
is not reached or not estimable. Blocks only call the estimators of :mod:`cartreg.stats`; they hold no
statistics of their own.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Sequence

import numpy as np

from cartreg.endpoints import DAYS_PER_MONTH
from cartreg.errors import CartregError
from cartreg.stats.cox import coxph
from cartreg.stats.cuminc import cuminc
from cartreg.stats.design import design_matrix
from cartreg.stats.followup import median_followup
from cartreg.stats.km import kaplan_meier
from cartreg.stats.logrank import logrank_test
from cartreg.stats.zph import cox_zph
from cartreg.stats._data import is_missing


def num(x: Any) -> float | None:
    """A JSON number: NaN/inf/None -> None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def months(days: Any) -> float | None:
    v = num(days)
    return None if v is None else v / DAYS_PER_MONTH


def pct(n: int, N: int) -> float | None:
    """Percentage 0-100; None when the denominator is 0."""
    return 100.0 * n / N if N else None


def count(mask: np.ndarray, valid: np.ndarray | None = None) -> dict[str, Any]:
    """``{n, N, pct, n_missing}``: n of ``mask`` among ``valid`` rows (N excludes missing values)."""
    mask = np.asarray(mask, dtype=bool)
    valid = np.ones_like(mask) if valid is None else np.asarray(valid, dtype=bool)
    n, N = int((mask & valid).sum()), int(valid.sum())
    return {"n": n, "N": N, "pct": pct(n, N), "n_missing": int((~valid).sum())}


def distribution(values: np.ndarray, quartiles: bool = True) -> dict[str, Any]:
    """``{median, min, max, q1, q3, n, n_missing}``; quartiles as R's default ``quantile`` (type 7)."""
    x = np.asarray(values, dtype=float)
    ok = ~np.isnan(x)
    x = x[ok]
    out: dict[str, Any] = {"n": int(x.size), "n_missing": int((~ok).sum())}
    if x.size == 0:
        out.update(median=None, min=None, max=None)
        if quartiles:
            out.update(q1=None, q3=None)
        return out
    out.update(median=float(np.median(x)), min=float(x.min()), max=float(x.max()))
    if quartiles:
        q1, q3 = np.percentile(x, [25, 75])  # numpy's default "linear" is R's type 7
        out.update(q1=float(q1), q3=float(q3))
    return out


def categories(values: np.ndarray, levels: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{level: {n, N, pct, n_missing}}`` for each level (N excludes missing values).

    Levels found in the data but not listed are appended, so nothing is dropped.
    """
    v = np.asarray(values, dtype=object)
    valid = ~is_missing(v)
    tally = Counter(v[valid].tolist())  # one hashing pass instead of a sort and a comparison per level
    present = {str(x) for x in tally}
    all_levels = list(levels) + sorted(present - set(levels))
    N = int(valid.sum())
    n_missing = int(v.shape[0] - N)
    return {lv: {"n": int(tally.get(lv, 0)), "N": N, "pct": pct(int(tally.get(lv, 0)), N), "n_missing": n_missing}
            for lv in all_levels}


def _ci(lo: Any, hi: Any, scale: float = 1.0) -> list[float | None]:
    return [None if num(lo) is None else num(lo) * scale, None if num(hi) is None else num(hi) * scale]


def km_summary(days: np.ndarray, event: np.ndarray, conf_type: str, conf_level: float) -> dict[str, Any]:
    """``{n, events, median, ci}`` of a Kaplan-Meier curve, in months (median by R's print.survfit rule)."""
    if len(days) == 0:
        return {"n": 0, "events": 0, "median": None, "ci": [None, None]}
    km = kaplan_meier(days, event, conf_type=conf_type, conf_level=conf_level)
    return {
        "n": int(km.n),
        "events": int(km.events),
        "median": months(km.median),
        "ci": _ci(km.median_ci[0], km.median_ci[1], 1 / DAYS_PER_MONTH),
    }


def landmark(days: np.ndarray, event: np.ndarray, at_days: float, conf_type: str, conf_level: float) -> dict:
    """Kaplan-Meier ``{est, ci, n_risk}`` at ``at_days`` (as ``summary(fit, times=, extend=TRUE)``)."""
    if len(days) == 0:
        return {"est": None, "ci": [None, None], "n_risk": 0}
    km = kaplan_meier(days, event, conf_type=conf_type, conf_level=conf_level)
    s = km.at([at_days])
    return {"est": num(s.surv[0]), "ci": _ci(s.lower[0], s.upper[0]), "n_risk": int(s.n_risk[0])}


def km_curve(
    days: np.ndarray, event: np.ndarray, conf_type: str, conf_level: float, step_months: float
) -> dict[str, Any]:
    """Step data and a risk table for plotting (report layer): arrays in months, starting at time 0."""
    if len(days) == 0:
        return {"n": 0, "events": 0, "median": None, "ci": [None, None], "time": [0.0], "surv": [1.0],
                "lower": [1.0], "upper": [1.0], "n_risk": [0], "n_event": [0], "n_censor": [0],
                "risk_table": {"months": [0.0], "n_risk": [0], "cum_events": [0], "cum_censored": [0]}}
    km = kaplan_meier(days, event, conf_type=conf_type, conf_level=conf_level)
    t = np.concatenate([[0.0], np.asarray(km.time, float) / DAYS_PER_MONTH])
    first_risk = int(km.n)
    horizon = float(np.max(days)) / DAYS_PER_MONTH
    grid = np.arange(0.0, horizon + 1e-9, step_months)
    rt = km.risk_table(grid * DAYS_PER_MONTH)

    def arr(a, lead) -> list:
        return [lead] + [num(v) for v in np.asarray(a, float)]

    return {
        "n": int(km.n),
        "events": int(km.events),
        "median": months(km.median),
        "ci": _ci(km.median_ci[0], km.median_ci[1], 1 / DAYS_PER_MONTH),
        "time": [float(v) for v in t],
        "surv": arr(km.surv, 1.0),
        "lower": arr(km.lower, 1.0),
        "upper": arr(km.upper, 1.0),
        "n_risk": [first_risk] + [int(v) for v in km.n_risk],
        "n_event": [0] + [int(v) for v in km.n_event],
        "n_censor": [0] + [int(v) for v in km.n_censor],
        "risk_table": {
            "months": [float(v) for v in grid],
            "n_risk": [int(v) for v in rt.n_risk],
            "cum_events": [int(v) for v in rt.cum_events],
            "cum_censored": [int(v) for v in rt.cum_censored],
        },
    }


def followup(days: np.ndarray, event: np.ndarray, conf_type: str, conf_level: float) -> dict[str, Any]:
    """Median follow-up by reverse Kaplan-Meier (Schemper & Smith 1996), in months."""
    if len(days) == 0:
        return {"median": None, "ci": [None, None]}
    fu = median_followup(days, event, conf_type=conf_type, conf_level=conf_level)
    return {"median": months(fu.median), "ci": _ci(fu.ci[0], fu.ci[1], 1 / DAYS_PER_MONTH)}


def logrank(days: np.ndarray, event: np.ndarray, group: np.ndarray) -> dict[str, Any] | None:
    """Log-rank test across the groups present (None with fewer than two groups)."""
    if np.unique(np.asarray(group, dtype=str)).size < 2:
        return None
    lr = logrank_test(days, event, group)
    return {"chi2": num(lr.chi2), "df": int(lr.df), "p": num(lr.p), "groups": [str(g) for g in lr.levels]}


def cox_vs_reference(
    days: np.ndarray, event: np.ndarray, group: np.ndarray, reference: str, conf_level: float = 0.95
) -> tuple[dict[str, dict[str, Any] | None], list[str]]:
    """Hazard ratios of each group against ``reference`` (Cox, Efron ties, Wald CI and p).

    Groups with no events are left out of the model and get None, with a note; so does every group
    when the reference has no patients or no events. Returns ``({group: {hr, ci, p} | None}, notes)``.
    """
    hrs, notes, _ph = cox_with_ph(days, event, group, reference, conf_level, ph_test=False)
    return hrs, notes


#: A hazard ratio resting on fewer events than this in its class (or in the reference) is imprecise.
IMPRECISE_EVENTS = 5


def cox_with_ph(
    days: np.ndarray, event: np.ndarray, group: np.ndarray, reference: str, conf_level: float = 0.95,
    ph_test: bool = True, flag_imprecise: bool = False,
) -> tuple[dict[str, dict[str, Any] | None], list[str], dict[str, Any] | None]:
    """:func:`cox_vs_reference`, plus the proportional-hazards test of the same model.

    ``ph_test``: R ``cox.zph(fit)`` (transform "km", the class factor as one term; Grambsch &
    Therneau 1994) as ``{chisq, df, p, terms{<term>: {chisq, df, p}}}``, None when there is no model.
    ``flag_imprecise``: each HR gets ``imprecise: true`` when its class or the reference has fewer
    than :data:`IMPRECISE_EVENTS` events.
    """
    group = np.asarray(group, dtype=object)
    event = np.asarray(event, dtype=bool)
    levels = sorted({str(g) for g in group})
    hrs: dict[str, dict[str, Any] | None] = {g: None for g in levels if g != reference}
    notes: list[str] = []
    events_by = {g: int(event[group == g].sum()) for g in levels}
    if reference not in events_by:
        notes.append(f"reference class {reference!r} has no patients: no hazard ratios")
        return hrs, notes, None
    if events_by[reference] == 0:
        notes.append(f"reference class {reference!r} has no events: no hazard ratios")
        return hrs, notes, None
    no_events = [g for g in levels if events_by[g] == 0]
    for g in no_events:
        notes.append(f"class {g!r} has no events: left out of the Cox model, HR not estimable")
    keep_levels = [g for g in levels if events_by[g] > 0]
    if len(keep_levels) < 2:
        return hrs, notes, None
    keep = np.isin(group, keep_levels)
    X, names = design_matrix(group[keep], reference, numeric={}, group_name="class")
    t_keep, e_keep = np.asarray(days, float)[keep], event[keep]
    fit = coxph(t_keep, e_keep, X, names, ties="efron", conf_level=conf_level)
    for i, name in enumerate(fit.names):
        g = name.split("=", 1)[1]
        if bool(np.asarray(fit.infinite)[i]):
            notes.append(f"class {g!r}: coefficient is infinite, HR not estimable")
            continue
        hrs[g] = {"hr": num(fit.hr[i]), "ci": [num(fit.ci_lower[i]), num(fit.ci_upper[i])], "p": num(fit.p[i])}
        if flag_imprecise:
            hrs[g]["imprecise"] = bool(min(events_by[g], events_by[reference]) < IMPRECISE_EVENTS)
    notes.extend(str(w) for w in fit.warnings)
    ph = None
    if ph_test:
        try:
            ph = jsonable_zph(cox_zph(fit, t_keep, e_keep, X))
        except (np.linalg.LinAlgError, CartregError) as exc:  # singular information (as R's solve() fails)
            notes.append(f"proportional-hazards test not computable: {exc}")
    return hrs, notes, ph


def jsonable_zph(z: Any) -> dict[str, Any]:
    """A :class:`cartreg.stats.zph.CoxZph` as results.json ``{chisq, df, p, terms{...}}`` (NaN -> None)."""
    d = z.to_dict()
    return {"chisq": num(d["chisq"]), "df": d["df"], "p": num(d["p"]),
            "terms": {k: {"chisq": num(v["chisq"]), "df": v["df"], "p": num(v["p"])} for k, v in d["terms"].items()}}


def grades(values: np.ndarray, top: int = 5, ge: int = 3) -> dict[str, Any]:
    """Distribution of a 0-``top`` grade (CRS, ICANS): ``{grades{"0".."5": {n, N, pct}}, ge_3{n, N, pct},
    N, n_missing}``; N excludes missing grades."""
    x = np.asarray(values, dtype=float)
    ok = ~np.isnan(x)
    N = int(ok.sum())
    counts = np.bincount(x[ok].astype(int), minlength=top + 1) if N else np.zeros(top + 1, int)
    out = {str(g): {"n": int(counts[g]), "N": N, "pct": pct(int(counts[g]), N)} for g in range(top + 1)}
    n_ge = int((x[ok] >= ge).sum())
    return {"grades": out, f"ge_{ge}": {"n": n_ge, "N": N, "pct": pct(n_ge, N)}, "N": N,
            "n_missing": int((~ok).sum())}


def cif_fit(days: np.ndarray, status: np.ndarray) -> Any:
    """The Aalen-Johansen fit behind :func:`cif_at` and :func:`cif_curve` (fit once, pass as ``fit``).

    None when no row has an event (nothing to estimate: every incidence is 0).
    """
    return cuminc(days, status) if _has_events(status) else None


def _has_events(status: np.ndarray) -> bool:
    s = np.asarray(status, dtype=float)
    return bool(np.any((s != 0) & ~np.isnan(s)))


def cif_at(days: np.ndarray, status: np.ndarray, at_months: Sequence[float], cause: int = 1,
           fit: Any | None = None) -> list[dict]:
    """Cumulative incidence of ``cause`` (Aalen-Johansen; cmprsk variance, log(-log) CI) at given months.

    ``fit``: ``cuminc(days, status)`` when the caller already has it (fitted once, used by
    :func:`cif_at` and :func:`cif_curve`).
    """
    res = fit if fit is not None else cif_fit(days, status)
    if res is None or str(cause) not in [str(c) for c in res.causes]:
        # no event of this cause (e.g. a registry without any failure): the incidence is 0 at every
        # time, and has no confidence interval (cmprsk gives no curve for an absent cause)
        return [{"months": float(m), "est": 0.0, "ci": [None, None], "pct": 0.0} for m in at_months]
    pts = res.at(str(cause), None, [m * DAYS_PER_MONTH for m in at_months])
    out = []
    for m, est, lo, hi in zip(at_months, pts.est, pts.lower, pts.upper):
        e = num(est)
        out.append({"months": float(m), "est": e, "ci": [num(lo), num(hi)], "pct": None if e is None else 100 * e})
    return out


def cif_risk_table(days: np.ndarray, status: np.ndarray, step_months: float) -> dict[str, Any]:
    """Numbers at risk under the cumulative incidence curve, every ``step_months`` up to the last time:
    ``{months, n_risk, cum_failures, cum_deaths_without_failure, cum_censored}``. At risk at t: time >= t
    (as survfit's ``n.risk``); cumulative counts: time <= t. Counts only (no estimate)."""
    d = np.asarray(days, dtype=float)
    st = np.asarray(status)
    ok = ~np.isnan(d)
    d, st = d[ok], st[ok]
    horizon = float(d.max()) / DAYS_PER_MONTH if d.size else 0.0
    grid = np.arange(0.0, horizon + 1e-9, step_months)
    at = grid * DAYS_PER_MONTH
    ds = np.sort(d)

    def cum(mask: np.ndarray) -> list[int]:
        return [int(v) for v in np.searchsorted(np.sort(d[mask]), at, side="right")]

    return {
        "months": [float(v) for v in grid],
        "n_risk": [int(v) for v in d.size - np.searchsorted(ds, at, side="left")],
        "cum_failures": cum(st == 1),
        "cum_deaths_without_failure": cum(st == 2),
        "cum_censored": cum(st == 0),
    }


def cif_curve(days: np.ndarray, status: np.ndarray, fit: Any | None = None) -> dict[str, Any]:
    """Step data of the cumulative incidence of failure (1) and of death without failure (2), in months."""
    res = fit if fit is not None else cif_fit(days, status)
    out: dict[str, Any] = {}
    for cause, key in (("1", "failure"), ("2", "death_without_failure")):
        if res is None or cause not in [str(c) for c in res.causes]:
            out[key] = {"time": [0.0], "est": [0.0], "lower": [0.0], "upper": [0.0]}
            continue
        cur = res.curve(cause, None)
        out[key] = {
            "time": [float(t) / DAYS_PER_MONTH for t in cur.time],
            "est": [num(v) for v in cur.est],
            "lower": [num(v) for v in cur.lower],
            "upper": [num(v) for v in cur.upper],
        }
    return out
