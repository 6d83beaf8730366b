"""The analyses that ``cartreg survival`` and ``cartreg cuminc`` print, for any table.

:func:`survival_analysis` and :func:`cuminc_analysis` take a DataFrame (or anything
:func:`cartreg.stats.frame.as_table` reads) and column names, fit the estimators on one set of
complete rows, and assemble the JSON-ready dict of the CLI contracts (issues 3 and 12) together
with the fitted result objects. The CLI reads the file, calls these and renders; a notebook calls
the same functions, so both doors give the same numbers.

>>> import numpy as np
>>> d = {"t": np.array([5., 8, 3, 9, 2, 7]), "e": np.array([1, 0, 1, 1, 0, 1]),
...      "arm": np.array(["b", "a", "b", "a", "a", "b"], dtype=object)}
>>> res = survival_analysis(d, "t", "e", group="arm")
>>> [s["group"] for s in res.to_dict()["strata"]], res.to_dict()["cox"]["terms"][0]["term"]
(['a', 'b'], 'arm=b')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cartreg.errors import CartregError
from cartreg.stats import cox as _cox
from cartreg.stats import km as _km
from cartreg.stats._data import complete_cases
from cartreg.stats.cox_firth import FirthCoxResult
from cartreg.stats.cox_firth import coxphf as _coxphf_fn
from cartreg.stats.cuminc import CumIncResult, _status_codes, default_times
from cartreg.stats.cuminc import cuminc as _cuminc_fn
from cartreg.stats.finegray import FineGrayResult
from cartreg.stats.finegray import finegray as _finegray_fn
from cartreg.stats.frame import _labels, _weights, as_table, covariate_matrix, event_column, status_column

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["CumincAnalysis", "SurvivalAnalysis", "cox_terms", "cuminc_analysis", "fit_terms",
           "survival_analysis"]




def _num(x: Any) -> float | None:
    """A JSON number or null (NaN/inf/None are null)."""
    if x is None:
        return None
    f = float(x)
    return f if np.isfinite(f) else None


def _count(x: Any) -> int | float:
    f = float(x)
    return int(f) if f.is_integer() else f


def cox_terms(fit: _cox.CoxResult) -> list[dict[str, Any]]:
    """The JSON rows of a Cox fit: ``term, hr, ci, p, coef, se, infinite`` (+ ``robust_se``)."""
    terms = []
    for j, name in enumerate(fit.names):
        bad = bool(fit.infinite[j]) or bool(fit.aliased[j])
        row = {
            "term": name,
            "hr": None if bad else _num(fit.hr[j]),
            "ci": [None, None] if bad else [_num(fit.ci_lower[j]), _num(fit.ci_upper[j])],
            "p": None if bad else _num(fit.p[j]),
            "coef": _num(fit.coef[j]) if not bad else None,
            "se": _num(fit.se[j]) if not bad else None,
            "infinite": bool(fit.infinite[j]),
        }
        if fit.robust_se is not None:
            row["robust_se"] = None if bad else _num(fit.robust_se[j])
        terms.append(row)
    return terms


def _stratum(group: str | None, km: _km.KaplanMeier, fu: Any, at: list[float]) -> dict[str, Any]:
    s = km.at(at) if at else None
    rows = []
    if s is not None:
        for i in range(s.time.size):
            rows.append({"time": float(s.time[i]), "n_risk": _count(s.n_risk[i]),
                         "survival": _num(s.surv[i]), "ci": [_num(s.lower[i]), _num(s.upper[i])],
                         "n_event": _count(s.n_event[i]), "n_censor": _count(s.n_censor[i]),
                         "std_err": _num(s.std_err[i])})
    extra: dict[str, Any] = {}
    if km.weighted:  # R's summary(fit)$table n.start and events (weighted sums)
        extra = {"n_weighted": _num(km.n_risk[0]), "events_weighted": _num(km.n_event.sum()),
                 "variance": km.variance}
    return {
        "group": group,
        "n": km.n,
        "events": km.events,
        **extra,
        "median": _num(km.median),
        "median_ci": [_num(km.median_ci[0]), _num(km.median_ci[1])],
        "followup_median": _num(fu.median),
        "followup_ci": [_num(fu.ci[0]), _num(fu.ci[1])],
        "at": rows,
    }


def _first_level(labels: np.ndarray) -> str:
    from cartreg.stats.design import factor_levels

    levels = factor_levels(labels)[1]
    if not levels:
        raise CartregError("the group column has no values")
    return levels[0]


@dataclass(frozen=True, eq=False)
class SurvivalAnalysis:
    """What ``cartreg survival`` reports: Kaplan-Meier per group, median follow-up, log-rank and a
    Cox model (and optionally Firth's penalised Cox model, ``firth``), as one result.

    ``results`` is the JSON-ready dict of the CLI contract (``cartreg survival --format json``);
    ``notes`` the messages for the user; ``curves`` the Kaplan-Meier fits by group (key ``None``
    without a group); ``cox`` the :class:`~cartreg.stats.cox.CoxResult` or None.
    """

    results: dict[str, Any]
    notes: tuple[str, ...]
    curves: dict[str | None, _km.KaplanMeier]
    cox: _cox.CoxResult | None
    firth: FirthCoxResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict (``cartreg survival --format json``)."""
        return self.results

    def to_frame(self) -> "pd.DataFrame":
        """The Cox terms as a tidy pandas DataFrame (empty without a Cox model)."""
        from cartreg.stats.tidy import cox_frame, empty_terms

        return cox_frame(self.cox) if self.cox is not None else empty_terms()

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import survival_html

        return survival_html(self)


def survival_analysis(
    data: Any,
    time: str,
    event: str,
    group: str | None = None,
    reference: str | None = None,
    covariates: Sequence[str] | None = None,
    at: Sequence[float] | None = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
    ties: str = "efron",
    *,
    reference_levels: Mapping[str, Any] | None = None,
    weights: str | None = None,
    robust: bool = False,
    cluster: str | None = None,
    firth: bool = False,
    rmst_tau: float | None = None,
    zph: bool = False,
) -> SurvivalAnalysis:
    """Kaplan-Meier medians, median follow-up, S(t) at ``at``, log-rank and Cox on one table.

    Rows with a missing value in any column used (time, event, group, covariates, weights,
    cluster) are excluded and counted once, so every estimate uses the same rows. The Cox model
    has the group (a factor, reference ``reference`` or the first level) followed by the
    covariates; with weights the curves are ``survfit(weights=)`` and the Cox model
    ``coxph(weights=)``; ``robust``/``cluster`` give the sandwich variance. ``firth`` adds
    Firth's penalised Cox model on the same terms and rows (``coxphf``, key ``firth``).
    """
    from cartreg.stats.ci import check_conf
    from cartreg.stats.followup import FollowUp, median_followup
    from cartreg.stats.logrank import logrank_test

    check_conf(conf_type, conf_level)
    if ties not in ("efron", "breslow"):
        raise CartregError(f"unknown ties method {ties!r}: use efron or breslow")
    notes: list[str] = []
    covariates = list(covariates or [])
    at = list(at or [])
    if group is None and reference is not None:
        raise CartregError("--reference needs --group")
    table = as_table(data)
    t = table.numeric(time)
    e, note = event_column(table, event)
    if note:
        notes.append(note)
    g = table.text(group) if group else None
    leading = [(table.column(group), g, reference)] if group else []
    if group and table.column(group) in {table.column(c) for c in covariates}:
        # the group is also a covariate: one factor term, in the covariates' order
        leading = []
        reference_levels = dict(reference_levels or {})
        if reference is not None:
            reference_levels.setdefault(table.column(group), reference)
        elif table.column(group) not in {table.column(k) for k in reference_levels}:
            numeric_group = True
            try:
                table.numeric(group)
            except CartregError:
                numeric_group = False
            if numeric_group:  # keep it a factor, as --group always is
                reference_levels[table.column(group)] = _first_level(g)
    w = _weights(table, weights)
    cl = _labels(table, cluster)
    X, names, _ = covariate_matrix(table, covariates, reference_levels, leading,
                                   also=(t, e, g, w, cl)) if (
        covariates or group) else (np.empty((t.size, 0)), [], {})
    if w is not None:
        bad = np.isfinite(w) & ~(w > 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise CartregError(f"weights column {table.column(weights)!r}: weights must be > 0; "
                               f"found {w[i]!r} (row {i + table.first_row})")
    xmiss = np.isnan(X).any(axis=1) if X.shape[1] else None
    cc = complete_cases(t, e, g, None if xmiss is None else np.where(xmiss, np.nan, 0.0), w, cl)
    if cc.keep.sum() == 0:
        raise CartregError("no rows with a complete time, event" + (" and group" if group else ""))
    keep = cc.keep
    tt, ee = t[keep], e[keep]
    if np.isinf(tt).any():
        raise CartregError(f"time column {time!r} holds an infinite value")
    if (tt < 0).any():
        i = int(np.flatnonzero(keep & (t < 0))[0])
        raise CartregError(f"time column {time!r} holds a negative time, {float(t[i]):g} (row {i + table.first_row}); "
                           "times must be >= 0")
    wk = None if w is None else w[keep]
    ck = None if cl is None else cl[keep]
    res: dict[str, Any] = {
        "n": int(tt.size),
        "events": int(ee.sum()),
        "excluded": cc.excluded,
        "conf_type": conf_type,
        "conf_level": float(conf_level),
        "strata": [],
    }
    if w is not None:
        res["weights"] = table.column(weights)
    curves: dict[str | None, _km.KaplanMeier] = {}
    if g is None:
        km = _km.kaplan_meier(tt, ee, conf_type, conf_level, weights=wk)
        fu = median_followup(tt, ee, conf_type=conf_type, conf_level=conf_level)
        res["strata"].append(_stratum(None, km, fu, at))
        curves[None] = km
    else:
        gg = g[keep]
        fits = _km.kaplan_meier_by(tt, ee, gg, conf_type, conf_level, weights=wk)
        levels = list(fits)
        rev = _km.kaplan_meier_by(tt, 1.0 - ee, gg, conf_type=conf_type, conf_level=conf_level)
        for level, km in fits.items():
            r = rev[level]
            fu = FollowUp(median=r.median, ci=r.median_ci, n=r.n, excluded=0, conf_type=conf_type,
                          conf_level=float(conf_level), reverse=r)
            res["strata"].append(_stratum(level, km, fu, at))
            curves[level] = km
        if len(levels) >= 2:
            lr = logrank_test(tt, ee, gg)
            if not lr.computable:
                notes.append("note: log-rank test not computable: its variance matrix is singular (e.g. every time is 0)")
            res["logrank"] = {"chi2": _num(lr.chi2), "df": lr.df, "p": _num(lr.p), "computable": lr.computable,
                              "observed": [float(x) for x in lr.observed],
                              "expected": [float(x) for x in lr.expected]}
            if w is not None:
                res["logrank"]["note"] = "unweighted (survdiff has no case weights)"
        else:
            res["logrank"] = None
            notes.append(f"note: {group!r} has a single level: no log-rank test")
    if rmst_tau is not None:  # issue 12: restricted mean survival time (cartreg.stats.rmst)
        from cartreg.stats.rmst import rmst_results

        if w is not None:
            notes.append("note: RMST is unweighted (survRM2::rmst2 has no case weights)")
        res["rmst"] = rmst_results(tt, ee, None if g is None else g[keep], rmst_tau, conf_level)
        notes.extend(f"note: RMST: {n}" for n in res["rmst"]["notes"])
    if w is not None:
        km_var = next(iter(curves.values())).variance
        notes.append(f"note: weighted Kaplan-Meier ({'robust infinitesimal-jackknife' if km_var == 'robust' else 'Greenwood'} "
                     "variance, as survfit(weights=)); median follow-up and log-rank are unweighted")

    cox = None
    if len(names) == 0:
        if group is not None:
            res["cox"] = None
    else:
        cox = _cox.coxph(tt, ee, X[keep], names, ties=ties, conf_level=conf_level, weights=wk,
                         robust=robust, cluster=ck)
        terms = cox_terms(cox)
        res["cox"] = {
            "terms": terms,
            "loglik": _num(cox.loglik),
            "lr_chi2": _num(cox.lr_chi2),
            "lr_p": _num(cox.lr_p),
            "loglik_null": _num(cox.loglik_null),
            "lr_df": int(cox.lr_df),
            "reference": (reference if reference is not None else
                          (next(iter(curves)) if group else None)),
            "ties": ties,
            "n": cox.n,
            "events": cox.events,
            "converged": bool(cox.converged),
            "warnings": list(cox.warnings),
        }
        if cox.robust_se is not None:
            res["cox"]["robust_se"] = [t_["robust_se"] for t_ in terms]
            res["cox"]["robust"] = True
            res["cox"]["cluster"] = table.column(cluster) if cluster else None
            res["cox"]["n_clusters"] = cox.n_clusters
            res["cox"]["wald_chi2"] = _num(cox.wald_chi2)
            res["cox"]["wald_p"] = _num(cox.wald_p)
        if w is not None:
            res["cox"]["weights"] = table.column(weights)
        for wmsg in cox.warnings:
            notes.append(f"note: Cox model: {wmsg}")
    if zph:  # the proportional-hazards test of R cox.zph(fit, transform = "km", terms = TRUE)
        if cox is None:
            raise CartregError("--zph needs a Cox model: give --group or --covariates")
        if w is not None or robust or cluster:
            raise CartregError("--zph is the test of an unweighted fit with its model-based variance (as checked "
                               "against R cox.zph); leave out --weights, --robust and --cluster")
        from cartreg.stats.zph import cox_zph

        z = cox_zph(cox, tt, ee, X[keep])
        res["zph"] = {
            "transform": "km",
            "terms": [{"term": t_, "chisq": _num(c), "df": int(d), "p": _num(p_)}
                      for t_, c, d, p_ in zip(z.terms, z.chisq, z.df, z.p)],
            "global": {"chisq": _num(z.global_chisq), "df": int(z.global_df), "p": _num(z.global_p)},
        }
    fth = None
    if firth:
        if len(names) == 0:
            raise CartregError("--firth needs a Cox model: give --group or --covariates")
        if w is not None or cluster or robust:
            raise CartregError("--firth takes no --weights, --robust or --cluster (coxphf has none)")
        fth = _coxphf_fn(tt, ee, X[keep], names, conf_level)
        res["firth"] = {
            "terms": [{"term": nm, "coef": _num(fth.coef[j]), "se": _num(fth.se[j]),
                       "hr": _num(fth.hr[j]), "ci": [_num(fth.ci_lower[j]), _num(fth.ci_upper[j])],
                       "p": _num(fth.p[j]), "chi2": _num(fth.chi2[j])}
                      for j, nm in enumerate(fth.names)],
            "method": "Firth penalised partial likelihood (coxphf), Breslow ties; profile "
                      "penalised-likelihood CI and penalised likelihood-ratio P",
            "loglik": _num(fth.loglik), "loglik_null": _num(fth.loglik_null), "n": fth.n,
            "events": fth.events, "converged": fth.converged, "iterations": fth.iterations,
            "warnings": list(fth.warnings),
        }
        for wmsg in fth.warnings:
            notes.append(f"note: Firth Cox model: {wmsg}")
    return SurvivalAnalysis(results=res, notes=tuple(notes), curves=curves, cox=cox, firth=fth)


def fit_terms(fit: FineGrayResult) -> list[dict[str, Any]]:
    """The JSON rows of a Fine-Gray fit: ``term, coef, se, hr, ci, p``."""
    return [{"term": name, "coef": _num(fit.coef[j]), "se": _num(fit.se[j]), "hr": _num(fit.hr[j]),
             "ci": [_num(fit.ci_lower[j]), _num(fit.ci_upper[j])], "p": _num(fit.p[j])}
            for j, name in enumerate(fit.names)]


@dataclass(frozen=True, eq=False)
class CumincAnalysis:
    """What ``cartreg cuminc`` reports: cumulative incidence by cause and group, Gray's test, and
    with covariates a Fine-Gray model (and optionally cause-specific Cox models).

    ``results`` is the JSON-ready dict of the CLI contract; ``fit`` the
    :class:`~cartreg.stats.cuminc.CumIncResult`; ``finegray`` and ``cause_specific`` the
    regression fits or None.
    """

    results: dict[str, Any]
    notes: tuple[str, ...]
    fit: CumIncResult
    finegray: FineGrayResult | None = None
    cause_specific: _cox.CoxResult | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.results

    def to_frame(self) -> "pd.DataFrame":
        """The cumulative incidence at the reported times as a tidy pandas DataFrame."""
        from cartreg.stats.tidy import cuminc_frame

        return cuminc_frame(self.fit, self.results["times"])

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import cuminc_html

        return cuminc_html(self)


def cuminc_analysis(
    data: Any,
    time: str,
    status: str,
    group: str | None = None,
    at: Sequence[float] | None = None,
    conf_level: float = 0.95,
    cens_code: str = "0",
    *,
    strata: str | None = None,
    covariates: Sequence[str] | None = None,
    reference_levels: Mapping[str, Any] | None = None,
    cause: Any = None,
    cause_specific: bool = False,
) -> CumincAnalysis:
    """Cumulative incidence (``cmprsk::cuminc`` + ``timepoints``) with Gray's test, stratified by
    ``strata``; with ``covariates`` a Fine-Gray model for ``cause`` (``crr``) and, with
    ``cause_specific``, the cause-specific Cox model (``coxph`` with the other causes censored).

    The regression models use the rows complete in time, status and every covariate.
    """
    if not (0.0 < float(conf_level) < 1.0):
        raise CartregError(f"--conf-level must be strictly between 0 and 1, got {conf_level}")
    covariates = list(covariates or [])
    if (cause is not None or cause_specific or reference_levels) and not covariates:
        raise CartregError("--cause, --cause-specific and --reference-level need --covariates")
    table = as_table(data)
    tcol = table.column(time)
    t = table.numeric(tcol)
    st, code, notes = status_column(table, status, cens_code)
    g = table.text(group) if group else None
    s = table.text(strata) if strata else None
    fit = _cuminc_fn(t, st, g, strata=s, conf_level=conf_level, cens_code=code)
    if at:
        times = sorted(set(float(x) for x in at))
        times_rule = "given"
    else:  # as print.cuminc: from the largest time of any curve
        times = default_times(max(float(cv.time[-1]) for cv in fit.curves.values()))
        times_rule = "pretty(c(0, max time), 5) interior points, as print.cuminc"
    res: dict[str, Any] = {
        "n": fit.n,
        "excluded": fit.excluded,
        "conf_level": float(conf_level),
        "conf_type": "log-log",
        "cens_code": cens_code,
        "group_column": table.column(group) if group else None,
        "times": times,
        "times_rule": times_rule,
        "causes": [],
    }
    if strata:
        res["strata_column"] = table.column(strata)
    for c in fit.causes:
        rows_by_group = []
        for gname in fit.groups:
            cv = fit.curve(c, gname)
            a = cv.at(times)
            rows = [{"time": float(a.time[i]), "cif": _num(a.est[i]),
                     "ci": [_num(a.lower[i]), _num(a.upper[i])], "std_err": _num(a.std_err[i])}
                    for i in range(a.time.size)]
            rows_by_group.append({"group": gname, "n": cv.n, "events": cv.events,
                                  "competing": cv.competing, "at": rows})
        gray: dict[str, Any] | None = None
        if c in fit.gray:
            gt = fit.gray[c]
            gray = {"chi2": _num(gt.stat), "df": gt.df, "p": _num(gt.p)}
            if gt.singular:
                gray["note"] = "variance matrix singular: the test cannot be computed (cmprsk reports -1)"
                notes.append(f"note: Gray's test for cause {c!r}: variance matrix singular, not computed")
        res["causes"].append({"cause": c, "events": sum(r["events"] for r in rows_by_group),
                              "strata": rows_by_group, "gray": gray})
    if group and len(fit.groups) == 1:
        notes.append(f"note: {group!r} has a single level: no Gray's test")
    fg = cs = None
    if covariates:
        X, names, _ = covariate_matrix(table, covariates, reference_levels, also=(t, st))
        if cause is None:
            cause = fit.causes[0]
            notes.append(f"note: Fine-Gray model for cause {cause!r} (the first cause; choose with --cause)")
        fg = _finegray_fn(t, st, X, names, cause, code, conf_level)
        res["finegray"] = {"cause": fg.cause, "terms": fit_terms(fg), "n": fg.n,
                           "excluded": fg.excluded, "events": fg.events, "competing": fg.competing,
                           "loglik": _num(fg.loglik), "loglik_null": _num(fg.loglik_null),
                           "converged": fg.converged, "warnings": list(fg.warnings)}
        for wmsg in fg.warnings:
            notes.append(f"note: Fine-Gray model: {wmsg}")
        if cause_specific:
            cc = complete_cases(t, st, X)
            idx, labels = _status_codes(cc.arrays[1], code)
            k = labels.index(fg.cause)
            ev = np.full(t.size, np.nan)
            ev[cc.keep] = (idx == k).astype(float)
            cs = _cox.coxph(t, ev, X, names, conf_level=conf_level)
            res["cause_specific"] = {"cause": fg.cause, "terms": cox_terms(cs), "n": cs.n,
                                     "events": cs.events, "loglik": _num(cs.loglik),
                                     "loglik_null": _num(cs.loglik_null), "ties": cs.ties,
                                     "converged": bool(cs.converged), "warnings": list(cs.warnings)}
            for wmsg in cs.warnings:
                notes.append(f"note: cause-specific Cox model: {wmsg}")
    return CumincAnalysis(results=res, notes=tuple(notes), fit=fit, finegray=fg, cause_specific=cs)
