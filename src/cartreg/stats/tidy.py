"""Tidy pandas tables and Jupyter HTML for every result (``to_frame()``, ``_repr_html_()``).

Like ``broom::tidy``: one row per term (models) or per time (curves), plain columns with
underscored names (``std_error`` for broom's ``std.error``, ``p_value`` for ``p.value``,
``conf_low``/``conf_high``). Formatting only: nothing here computes a statistic.

Model terms: ``term, estimate`` (the coefficient, log hazard ratio), ``std_error``,
``statistic`` (z), ``p_value``, ``hr`` (``exp(estimate)``), ``conf_low``, ``conf_high`` (of the
HR, at the fit's ``conf_level``); a robust Cox fit adds ``robust_se`` (``statistic``,
``p_value`` and the interval then use it, as R's ``summary``).
Curves: ``strata, time, n_risk, n_event, n_censor, estimate, std_error, conf_low, conf_high``
(``std_error`` of ``-log S``, as ``survfit``'s ``std.err``).
Cumulative incidence: ``cause, group, time, estimate, variance, conf_low, conf_high``.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

TERM_COLUMNS = ("term", "estimate", "std_error", "statistic", "p_value", "hr", "conf_low", "conf_high")


def _pd() -> Any:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        from cartreg.errors import CartregError

        raise CartregError("to_frame() needs pandas (pip install pandas)") from None
    return pd


def empty_terms() -> "pd.DataFrame":
    """An empty term table with the standard columns."""
    pd = _pd()
    return pd.DataFrame({c: [] for c in TERM_COLUMNS})


def cox_frame(fit: Any) -> "pd.DataFrame":
    """``broom::tidy(coxph, conf.int = TRUE)`` plus ``hr``; NaN where R has NA."""
    pd = _pd()
    ok = ~(fit.aliased | fit.infinite)
    df = pd.DataFrame({
        "term": list(fit.names),
        "estimate": np.where(fit.aliased, np.nan, fit.coef),
        "std_error": fit.se,
        "statistic": fit.z,
        "p_value": fit.p,
        "hr": fit.hr,
        "conf_low": np.where(ok, fit.ci_lower, np.nan),
        "conf_high": np.where(ok, fit.ci_upper, np.nan),
    })
    if fit.robust_se is not None:
        df.insert(3, "robust_se", fit.robust_se)
    return df


def finegray_frame(fit: Any) -> "pd.DataFrame":
    """``broom::tidy(crr, conf.int = TRUE)`` plus ``hr`` (the subdistribution hazard ratio)."""
    pd = _pd()
    return pd.DataFrame({
        "term": list(fit.names), "estimate": fit.coef, "std_error": fit.se, "statistic": fit.z,
        "p_value": fit.p, "hr": fit.hr, "conf_low": fit.ci_lower, "conf_high": fit.ci_upper,
    })


def firth_frame(fit: Any) -> "pd.DataFrame":
    """``broom::tidy(coxphf)`` style: Wald ``std_error``, profile-likelihood ``conf_low`` /
    ``conf_high`` of the HR, penalised likelihood-ratio ``statistic`` (chi-square) and ``p_value``."""
    pd = _pd()
    return pd.DataFrame({
        "term": list(fit.names), "estimate": fit.coef, "std_error": fit.se, "statistic": fit.chi2,
        "p_value": fit.p, "hr": fit.hr, "conf_low": fit.ci_lower, "conf_high": fit.ci_upper,
    })


def firth_html(fit: Any) -> str:
    title = (f"Firth's penalised Cox (profile penalised-likelihood CI and P): n={fit.n}, "
             f"events={fit.events}, excluded={fit.excluded}")
    return html_table(title, firth_frame(fit), fit.warnings)


def _km_rows(km: Any, strata: Any, times: Any = None) -> dict[str, Any]:
    if times is None:
        t, nr, ne, nc, s, se, lo, hi = (km.time, km.n_risk, km.n_event, km.n_censor, km.surv,
                                        km.std_err, km.lower, km.upper)
    else:
        a = km.at(times)
        t, nr, ne, nc, s, lo, hi = a.time, a.n_risk, a.n_event, a.n_censor, a.surv, a.lower, a.upper
        with np.errstate(divide="ignore", invalid="ignore"):
            se = a.std_err / a.surv  # back to the -log S scale of the step table
    return {"strata": [strata] * len(t), "time": t, "n_risk": nr, "n_event": ne, "n_censor": nc,
            "estimate": s, "std_error": se, "conf_low": lo, "conf_high": hi}


def km_frame(curves: Any, times: Any = None) -> "pd.DataFrame":
    """Kaplan-Meier steps (or values at ``times``) as ``broom::tidy(survfit)``.

    ``curves``: one :class:`~cartreg.stats.km.KaplanMeier` or a mapping level -> curve.
    """
    pd = _pd()
    if hasattr(curves, "surv"):
        d = _km_rows(curves, None, times)
        d.pop("strata")
        return pd.DataFrame(d)
    frames = [pd.DataFrame(_km_rows(km, level, times)) for level, km in curves.items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def cuminc_frame(fit: Any, times: Any = None) -> "pd.DataFrame":
    """Cumulative incidence per cause and group, all steps or at ``times``."""
    pd = _pd()
    frames = []
    for (cause, group), cv in fit.curves.items():
        if times is None:
            t, est, var, lo, hi = cv.time, cv.est, cv.var, cv.lower, cv.upper
        else:
            a = cv.at(times)
            t, est, lo, hi = a.time, a.est, a.lower, a.upper
            var = a.std_err ** 2
        frames.append(pd.DataFrame({"cause": cause, "group": group, "time": t, "estimate": est,
                                    "variance": var, "conf_low": lo, "conf_high": hi}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def html_table(title: str, df: Any, notes: Any = ()) -> str:
    """A captioned HTML table for Jupyter (values escaped, 4 significant digits)."""
    body = df.to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="NA", border=0)
    foot = "".join(f"<p><small>{html.escape(str(n))}</small></p>" for n in notes)
    return f"<div><strong>{html.escape(title)}</strong>{body}{foot}</div>"


def cox_html(fit: Any) -> str:
    title = (f"Cox proportional hazards ({fit.ties} ties): n={fit.n}, events={fit.events}, "
             f"excluded={fit.excluded}" + (", robust variance" if fit.robust_se is not None else ""))
    return html_table(title, cox_frame(fit), fit.warnings)


def finegray_html(fit: Any) -> str:
    title = (f"Fine-Gray model for cause {fit.cause}: n={fit.n}, events={fit.events}, "
             f"competing={fit.competing}, excluded={fit.excluded}")
    return html_table(title, finegray_frame(fit), fit.warnings)


def km_summary_frame(curves: Any) -> "pd.DataFrame":
    """One row per curve: n, events, median and its CI."""
    pd = _pd()
    items = curves.items() if not hasattr(curves, "surv") else [(None, curves)]
    rows = [{"strata": k, "n": km.n, "events": km.events,
             "median": np.nan if km.median is None else km.median,
             "conf_low": np.nan if km.median_ci[0] is None else km.median_ci[0],
             "conf_high": np.nan if km.median_ci[1] is None else km.median_ci[1]} for k, km in items]
    return pd.DataFrame(rows)


def km_summary_html(curves: Any, by: str | None = None) -> str:
    title = "Kaplan-Meier" + (f" by {by}" if by else "") + " (median and CI; NA = not reached)"
    return html_table(title, km_summary_frame(curves))


def survival_html(analysis: Any) -> str:
    parts = [km_summary_html({("all" if k is None else k): v for k, v in analysis.curves.items()})]
    lr = analysis.results.get("logrank")
    if lr:
        parts.append(f"<p>Log-rank: chi2 = {lr['chi2']:.4g} on {lr['df']} df, p = {lr['p']:.4g}</p>")
    if analysis.cox is not None:
        parts.append(cox_html(analysis.cox))
    if getattr(analysis, "firth", None) is not None:
        parts.append(firth_html(analysis.firth))
    return "".join(parts)


def cuminc_html(analysis: Any) -> str:
    df = cuminc_frame(analysis.fit, analysis.results["times"])
    parts = [html_table("Cumulative incidence (Aalen-Johansen, log(-log) CI)", df)]
    if analysis.finegray is not None:
        parts.append(finegray_html(analysis.finegray))
    if analysis.cause_specific is not None:
        parts.append(cox_html(analysis.cause_specific))
    return "".join(parts)


def logrank_frame(lr: Any) -> "pd.DataFrame":
    """``broom::tidy(survdiff)``: one row per group (N, observed, expected), with the test in
    ``statistic``, ``df`` and ``p_value`` on every row."""
    pd = _pd()
    return pd.DataFrame({"group": list(lr.levels), "n": lr.n, "observed": lr.observed,
                         "expected": lr.expected, "statistic": lr.chi2, "df": lr.df, "p_value": lr.p})


def followup_frame(fu: Any) -> "pd.DataFrame":
    """One row: the median follow-up and its CI."""
    pd = _pd()
    return pd.DataFrame({"n": [fu.n], "median": [np.nan if fu.median is None else fu.median],
                         "conf_low": [np.nan if fu.ci[0] is None else fu.ci[0]],
                         "conf_high": [np.nan if fu.ci[1] is None else fu.ci[1]]})


def at_frame(a: Any) -> "pd.DataFrame":
    """``summary(fit, times=)`` as a table: ``std_error`` is the SE of S, as R's summary."""
    pd = _pd()
    return pd.DataFrame({"time": a.time, "n_risk": a.n_risk, "n_event": a.n_event,
                         "n_censor": a.n_censor, "estimate": a.surv, "std_error": a.std_err,
                         "conf_low": a.lower, "conf_high": a.upper})


def risk_table_frame(r: Any) -> "pd.DataFrame":
    pd = _pd()
    return pd.DataFrame({"time": r.time, "n_risk": r.n_risk, "cum_events": r.cum_events,
                         "cum_censored": r.cum_censored})


def cif_frame(c: Any) -> "pd.DataFrame":
    """One cumulative incidence curve (or its values at chosen times)."""
    pd = _pd()
    return pd.DataFrame({"cause": c.cause, "group": c.group, "time": c.time, "estimate": c.est,
                         "variance": c.var, "conf_low": c.lower, "conf_high": c.upper})


def gray_frame(g: Any) -> "pd.DataFrame":
    pd = _pd()
    return pd.DataFrame({"cause": [g.cause], "statistic": [g.stat], "df": [g.df], "p_value": [g.p],
                         "stratified": [g.stratified]})


def tidy(result: Any, **kwargs: Any) -> "pd.DataFrame":
    """The tidy pandas DataFrame of any cartreg result (``broom::tidy``), also for the results
    without a ``to_frame()`` method (``LogRank``, ``FollowUp``)."""
    if hasattr(result, "to_frame"):
        return result.to_frame(**kwargs)
    if hasattr(result, "observed") and hasattr(result, "expected"):
        return logrank_frame(result)
    if hasattr(result, "reverse"):
        return followup_frame(result)
    if isinstance(result, dict):  # kaplan_meier_by's plain dict of curves
        return km_frame(result, kwargs.get("times"))
    raise TypeError(f"no tidy form for {type(result).__name__}")
