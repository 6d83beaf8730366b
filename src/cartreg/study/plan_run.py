"""Running a plan: catalogue -> population -> blocks -> results dictionary (docs/plans.md).

Each block function takes the population's columns (NumPy arrays, times in days) and returns the
JSON-ready block of results.json; it only calls the estimators of :mod:`cartreg.stats` (or, for
``table``/logistic/Fine-Gray, :mod:`cartreg.study.plan_stats`). Months are days / 30.4375. Cox models
use Efron ties with Wald CIs and P values (R ``coxph`` defaults); Kaplan-Meier CIs use ``conf_type``;
cumulative incidence uses Aalen-Johansen with ``cmprsk``'s variance and log(-log) CIs; Gray's test.
"""

from __future__ import annotations

import datetime as dt

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from cartreg.endpoints import DAYS_PER_MONTH, derive_endpoints, load_class_map
from cartreg.endpoints.catalogue import COLUMNS_BY_NAME, COMPETING, TIME_TO_EVENT, Catalogue, build_catalogue
from cartreg.endpoints.derive import Endpoints
from cartreg.errors import CartregError
from cartreg.stats.cox import coxph
from cartreg.stats.cuminc import cuminc
from cartreg.stats.design import factor_levels
from cartreg.stats.km import kaplan_meier
from cartreg.stats.logrank import logrank_test
from cartreg.study import plan_stats
from cartreg.study.blocks import num
from cartreg.study.late_failure import Columns
from cartreg.study.plan import CumincBlock, ModelBlock, Plan, PlanInputError, SurvivalBlock, TableBlock, compile_where

OVERALL = "overall"


# --- population columns ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Population:
    """The plan population's catalogue rows as typed NumPy columns."""

    table: pa.Table

    @property
    def n(self) -> int:
        return self.table.num_rows

    @cached_property
    def _cols(self) -> Columns:
        return Columns(self.table)

    def column(self, name: str) -> np.ndarray:
        """Numbers (integer/number/days/status) as float with NaN; flags/events as float 1/0/NaN; text as objects."""
        c = self._cols
        kind = COLUMNS_BY_NAME[name].type
        if kind in ("flag", "event"):
            values, valid = c.flag(name)
            return np.where(valid, values.astype(float), np.nan)
        if kind in ("integer", "number", "days", "status"):
            return np.array(c.num(name), dtype=float)
        return np.array(c.text(name), dtype=object)

    def labels(self, name: str) -> np.ndarray:
        """Group labels as text (flags: no/yes; integers without .0), None where missing."""
        kind = COLUMNS_BY_NAME[name].type
        v = self.column(name)
        if kind in ("flag", "event"):
            return np.where(np.isnan(v), None, np.where(v > 0, "yes", "no")).astype(object)
        if v.dtype.kind == "f":
            out = np.full(v.shape[0], None, dtype=object)
            ok = ~np.isnan(v)
            uniq, inv = np.unique(v[ok], return_inverse=True)  # format each distinct value once
            text = np.array([str(int(x)) if x == int(x) else repr(float(x)) for x in uniq.tolist()], dtype=object)
            out[ok] = text[inv]
            return out
        return np.where((v == None) | (v == ""), None, v).astype(object)  # noqa: E711

    def data(self, names: list[str], outcome: str | None = None) -> dict[str, np.ndarray]:
        """``{name: column}`` for compare/logistic: flags and codes as text (flags ``no``/``yes``, so
        factor levels read as the report shows them), numbers as float with NaN; ``outcome`` as 0/1."""
        out: dict[str, np.ndarray] = {}
        for n in names:
            kind = COLUMNS_BY_NAME[n].type
            if n == outcome:
                out[n] = self.column(n)
            elif kind in ("flag", "event", "code", "text"):
                out[n] = self.labels(n)
            else:
                out[n] = self.column(n)
        return out

    @staticmethod
    def types(names: list[str]) -> dict[str, str]:
        """``categorical`` or ``continuous`` per column, for compare: flags, codes and unit-less
        integers (stage, aaIPI, ECOG, grades) are categorical; measured numbers are continuous."""
        out = {}
        for n in names:
            c = COLUMNS_BY_NAME[n]
            cat = c.type in ("flag", "event", "code", "text") or (c.type == "integer" and c.unit in ("", "grade"))
            out[n] = "categorical" if cat else "continuous"
        return out


def filter_rows(con: duckdb.DuckDBPyConnection, table: pa.Table, expr: str | None, flag: str | None,
                where: str) -> pa.Table:
    """Rows of ``table`` where the cohort ``flag`` is true, or where the compiled ``expr`` is true."""
    if expr is not None:
        sql, params = compile_where(expr, where)
    else:
        sql, params = f'"{flag}"', {}
    con.register("plan_rows", table)
    try:
        return con.sql(f"SELECT * FROM plan_rows WHERE {sql}", params=params or None).to_arrow_table()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise PlanInputError(f"{where}: cannot evaluate {expr!r}: {first}", 2) from None
    finally:
        con.unregister("plan_rows")


def select_population(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, plan: Plan) -> pa.Table:
    """Rows of the catalogue in the plan's population (a cohort flag, or the compiled ``where``)."""
    return filter_rows(con, catalogue.table, plan.study.where, plan.study.population, f"{plan.source} [study] where")


# --- shared pieces -----------------------------------------------------------------------------


def _ci(lo: Any, hi: Any, scale: float = 1.0) -> list[float | None]:
    a, b = num(lo), num(hi)
    return [None if a is None else a * scale, None if b is None else b * scale]


def _months(d: Any) -> float | None:
    v = num(d)
    return None if v is None else v / DAYS_PER_MONTH


def _levels(labels: np.ndarray, reference: str | None, where: str, column: str) -> tuple[list[str], str]:
    _, levels = factor_levels(labels)
    if not levels:
        raise CartregError(f"{where}: column {column!r} has no values in the population", exit_code=1)
    ref = levels[0] if reference is None else reference
    if ref not in levels:
        raise PlanInputError(f"{where}: unknown level {ref!r} of {column}; levels are {', '.join(levels)}", exit_code=2)
    return levels, ref


@dataclass(frozen=True)
class Design:
    """Model matrix of factor and numeric covariates (R ``model.matrix``, treatment contrasts)."""

    X: np.ndarray
    names: tuple[str, ...]
    terms: tuple[dict[str, Any], ...]  # {variable, type, levels, reference, columns[indices]}


def design(pop: Population, covariates: list[str], refs: dict[str, str], where: str,
           factor: tuple[str, np.ndarray, str, list[str]] | None = None) -> Design:
    """Columns for ``covariates`` (flags and codes as factors, reference = ``refs`` or the first level;
    numbers as they are) after an optional leading ``factor`` (name, labels, reference, levels)."""
    cols: list[np.ndarray] = []
    names: list[str] = []
    terms: list[dict[str, Any]] = []

    def add_factor(name: str, labels: np.ndarray, ref: str, levels: list[str]) -> None:
        missing = np.asarray(labels == None, dtype=bool)  # noqa: E711
        idx = []
        for lv in levels:
            if lv == ref:
                continue
            col = (labels == lv).astype(float)
            col[missing] = np.nan
            idx.append(len(cols))
            cols.append(col)
            names.append(f"{name}={lv}")
        terms.append({"variable": name, "type": "factor", "levels": levels, "reference": ref, "columns": idx})

    if factor is not None:
        add_factor(*factor)
    for cov in covariates:
        kind = COLUMNS_BY_NAME[cov].type
        if kind in ("flag", "code", "text"):
            labels = pop.labels(cov)
            levels, ref = _levels(labels, refs.get(cov), where, cov)
            if kind == "flag" and cov not in refs and "no" in levels:
                ref = "no"
            add_factor(cov, labels, ref, levels)
        else:
            terms.append({"variable": cov, "type": "numeric", "levels": [], "reference": None, "columns": [len(cols)]})
            cols.append(pop.column(cov))
            names.append(cov)
    X = np.column_stack(cols) if cols else np.empty((pop.n, 0))
    return Design(X=X, names=tuple(names), terms=tuple(terms))


def _hr_row(fit: Any, i: int) -> dict[str, Any] | None:
    if bool(np.asarray(fit.infinite)[i]) or bool(np.asarray(fit.aliased)[i]):
        return None
    return {"hr": num(fit.hr[i]), "ci": [num(fit.ci_lower[i]), num(fit.ci_upper[i])], "p": num(fit.p[i])}


def _cox_terms(fit: Any, d: Design, keep: np.ndarray, days: np.ndarray, ev: np.ndarray, cl: float) -> dict[str, Any]:
    """A regression table like ``gtsummary::tbl_regression(exponentiate = TRUE)``: reference rows, and a
    global P per variable by the likelihood-ratio test of dropping it (``car::Anova`` type III, LR)."""
    terms: list[dict[str, Any]] = []
    X = d.X[keep]
    for t in d.terms:
        cols = t["columns"]
        glob = None
        if len(cols) >= 1 and X.shape[1] > len(cols):
            rest = [j for j in range(X.shape[1]) if j not in cols]
            sub = coxph(days[keep], ev[keep], X[:, rest], [d.names[j] for j in rest], ties="efron", conf_level=cl)
            chi2 = 2.0 * (fit.loglik - sub.loglik)
            from scipy.special import chdtrc  # chi-square upper tail (scipy.stats costs 2 s to import)

            glob = {"chi2": num(chi2), "df": len(cols), "p": num(chdtrc(len(cols), max(chi2, 0.0)))}
        elif len(cols) >= 1:
            glob = {"chi2": num(fit.lr_chi2), "df": int(fit.lr_df), "p": num(fit.lr_p)}
        rows = []
        if t["type"] == "factor":
            rows.append({"level": t["reference"], "reference": True})
            for j in cols:
                lv = d.names[j].split("=", 1)[1]
                rows.append({"level": lv, "reference": False, "coef": num(fit.coef[j]), "se": num(fit.se[j]),
                             **(_hr_row(fit, j) or {"hr": None, "ci": [None, None], "p": None})})
        else:
            j = cols[0]
            rows.append({"level": None, "reference": False, "coef": num(fit.coef[j]), "se": num(fit.se[j]),
                         **(_hr_row(fit, j) or {"hr": None, "ci": [None, None], "p": None})})
        terms.append({"variable": t["variable"], "type": t["type"], "rows": rows, "global": glob})
    return {"n": int(fit.n), "events": int(fit.events), "excluded": int(fit.excluded),
            "loglik": num(fit.loglik), "lr": {"chi2": num(fit.lr_chi2), "df": int(fit.lr_df), "p": num(fit.lr_p)},
            "terms": terms, "warnings": [str(w) for w in fit.warnings]}


# --- blocks -----------------------------------------------------------------------------------------


def survival_block(pop: Population, b: SurvivalBlock, params: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    """Kaplan-Meier per group (median, landmarks), log-rank, Cox vs ``reference``, adjusted Cox."""
    ep = TIME_TO_EVENT[b.endpoint]
    ct, cl = params.conf_type, params.conf_level
    days, ev = pop.column(ep.days), pop.column(ep.event_col)
    labels = pop.labels(b.by) if b.by else np.full(pop.n, OVERALL, dtype=object)
    has_by = np.asarray(labels != None, dtype=bool)  # noqa: E711
    has_ep = ~np.isnan(days) & ~np.isnan(ev)
    keep = has_by & has_ep
    notes: list[str] = []
    levels, ref = _levels(labels[keep], b.reference, where, b.by or OVERALL) if keep.any() else ([], None)
    d, e, g = days[keep], ev[keep] > 0, labels[keep]
    groups: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    at_days = [m * DAYS_PER_MONTH for m in b.landmarks_months]
    for lv in levels:
        m = g == lv
        km = kaplan_meier(d[m], e[m], conf_type=ct, conf_level=cl)
        lms = []
        if at_days:
            s = km.at(at_days)
            lms = [{"months": mo, "est": num(s.surv[i]), "ci": _ci(s.lower[i], s.upper[i]), "n_risk": int(s.n_risk[i])}
                   for i, mo in enumerate(b.landmarks_months)]
        groups[lv] = {"n": int(km.n), "events": int(km.events), "median": _months(km.median),
                      "ci": _ci(km.median_ci[0], km.median_ci[1], 1 / DAYS_PER_MONTH), "landmarks": lms}
        curves[lv] = _km_curve(km, d[m], params.risk_table_step_months)
    logrank = None
    cox: dict[str, Any] | None = None
    if len(levels) >= 2:
        lr = logrank_test(d, e, g)
        logrank = {"chi2": num(lr.chi2), "df": int(lr.df), "p": num(lr.p)}
        cox, cox_notes = _cox_vs_reference(d, e, g, levels, ref, cl)
        notes += cox_notes
    adjusted, adjusted_model = None, None
    if b.adjust:
        if not b.by:
            factor = None
        else:
            factor = (b.by, np.where(has_ep, labels, None).astype(object), ref, levels)
        dz = design(pop, list(b.adjust), {}, where, factor)
        ok = has_ep & ~np.isnan(dz.X).any(axis=1)
        fit = coxph(days[ok], ev[ok] > 0, dz.X[ok], list(dz.names), ties="efron", conf_level=cl)
        adjusted_model = _cox_terms(fit, dz, ok, days, ev > 0, cl)
        adjusted_model["excluded"] = int((has_ep & ~ok).sum())
        if b.by:
            adjusted = {lv: None for lv in levels if lv != ref}
            for j, name in enumerate(dz.names):
                var, _, lv = name.partition("=")
                if var == b.by and lv in adjusted:
                    adjusted[lv] = _hr_row(fit, j)
        notes += [f"adjusted Cox: {w}" for w in fit.warnings]
    block = {
        "kind": "survival", "endpoint": b.endpoint, "by": b.by, "groups": groups, "logrank": logrank, "cox": cox,
        "adjusted": adjusted,
        # beyond the contract, for the report
        "title": b.title, "label": ep.label, "reference": ref if b.by else None, "adjust": list(b.adjust),
        "landmarks_months": list(b.landmarks_months), "adjusted_model": adjusted_model,
        "excluded": {"missing_endpoint": int((~has_ep).sum()), "missing_by": int((has_ep & ~has_by).sum())},
        "curves": curves,
    }
    return block, notes


def _cox_vs_reference(d: np.ndarray, e: np.ndarray, g: np.ndarray, levels: list[str], ref: str,
                      cl: float) -> tuple[dict[str, Any], list[str]]:
    """Unadjusted HRs of each level against ``ref`` (a level without events is left out, with a note)."""
    out: dict[str, Any] = {lv: None for lv in levels if lv != ref}
    events = {lv: int(e[g == lv].sum()) for lv in levels}
    if events[ref] == 0:
        return out, [f"reference {ref!r} has no events: no hazard ratios"]
    notes = [f"{lv!r} has no events: left out of the Cox model, HR not estimable" for lv in levels if events[lv] == 0]
    used = [lv for lv in levels if events[lv] > 0]
    if len(used) < 2:
        return out, notes
    m = np.isin(g, used)
    cols = [(g[m] == lv).astype(float) for lv in used if lv != ref]
    names = [f"group={lv}" for lv in used if lv != ref]
    fit = coxph(d[m], e[m], np.column_stack(cols), names, ties="efron", conf_level=cl)
    for j, name in enumerate(fit.names):
        out[name.split("=", 1)[1]] = _hr_row(fit, j)
    notes += [str(w) for w in fit.warnings]
    return out, notes


def _km_curve(km: Any, days: np.ndarray, step: float) -> dict[str, Any]:
    t = np.concatenate([[0.0], np.asarray(km.time, float) / DAYS_PER_MONTH])
    horizon = float(np.max(days)) / DAYS_PER_MONTH if len(days) else 0.0
    grid = np.arange(0.0, horizon + 1e-9, step)
    rt = km.risk_table(grid * DAYS_PER_MONTH)

    def arr(a: Any, lead: float) -> list:
        return [lead] + [num(v) for v in np.asarray(a, float)]

    return {"time": [float(v) for v in t], "surv": arr(km.surv, 1.0), "lower": arr(km.lower, 1.0),
            "upper": arr(km.upper, 1.0), "n_risk": [int(km.n)] + [int(v) for v in km.n_risk],
            "n_censor": [0] + [int(v) for v in km.n_censor],
            "risk_table": {"months": [float(v) for v in grid], "n_risk": [int(v) for v in rt.n_risk],
                           "cum_events": [int(v) for v in rt.cum_events]}}


def cuminc_block(pop: Population, b: CumincBlock, params: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    """Aalen-Johansen cumulative incidence of each cause per group, Gray's test, and Fine-Gray (adjust)."""
    cr = COMPETING[b.endpoint]
    days, status = pop.column(cr.days), pop.column(cr.status)
    labels = pop.labels(b.by) if b.by else np.full(pop.n, OVERALL, dtype=object)
    has_by = np.asarray(labels != None, dtype=bool)  # noqa: E711
    has_ep = ~np.isnan(days) & ~np.isnan(status)
    keep = has_by & has_ep
    levels, ref = _levels(labels[keep], b.reference, where, b.by or OVERALL)
    d, s, g = days[keep], status[keep].astype(int), labels[keep]
    fit = cuminc(d, s, g if b.by else None, conf_level=params.conf_level)
    times = [m * DAYS_PER_MONTH for m in b.times_months]
    names = {str(k): v for k, v in cr.causes.items()}
    groups: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    events: dict[str, Any] = {}
    for lv in levels:
        gl = lv if b.by else None
        groups[lv], curves[lv] = {}, {}
        events[lv] = {names[str(c)]: int(((g == lv) & (s == c)).sum()) for c in cr.causes}
        for code, name in names.items():
            if code not in fit.causes:
                groups[lv][name] = [{"months": mo, "est": 0.0, "ci": [None, None]} for mo in b.times_months]
                curves[lv][name] = {"time": [0.0], "est": [0.0], "lower": [0.0], "upper": [0.0]}
                continue
            a = fit.at(code, gl, times)
            groups[lv][name] = [{"months": mo, "est": num(a.est[i]), "ci": _ci(a.lower[i], a.upper[i])}
                                for i, mo in enumerate(b.times_months)]
            cur = fit.curve(code, gl)
            curves[lv][name] = {"time": [float(t) / DAYS_PER_MONTH for t in cur.time],
                                "est": [num(v) for v in cur.est], "lower": [num(v) for v in cur.lower],
                                "upper": [num(v) for v in cur.upper]}
    gray = None
    if b.by and fit.gray:
        gray = {names[c]: {"chi2": num(t.stat), "df": int(t.df), "p": num(t.p)} for c, t in fit.gray.items() if c in names}
    horizon = float(d.max()) / DAYS_PER_MONTH if d.size else 0.0
    grid = np.arange(0.0, horizon + 1e-9, params.risk_table_step_months)
    risk = {}
    for lv in levels:
        dd = np.sort(d[g == lv])
        risk[lv] = {"months": [float(v) for v in grid],
                    "n_risk": [int(v) for v in dd.size - np.searchsorted(dd, grid * DAYS_PER_MONTH, side="left")]}
    finegray = None
    notes: list[str] = []
    if b.adjust:
        factor = (b.by, np.where(has_ep, labels, None).astype(object), ref, levels) if b.by else None
        dz = design(pop, [c for c in b.adjust if c != b.by], {}, where, factor)
        ok = has_ep & ~np.isnan(dz.X).any(axis=1)
        finegray = {}
        for code, name in names.items():
            fg = plan_stats.finegray(days[ok], status[ok].astype(int), dz.X[ok], list(dz.names), int(code),
                                     params.conf_level)
            fg["excluded"] = int((has_ep & ~ok).sum())
            finegray[name] = fg
            notes += [f"Fine-Gray ({name}): {w}" for w in fg.get("warnings", [])]
    block = {
        "kind": "cuminc", "endpoint": b.endpoint, "by": b.by, "groups": groups, "gray": gray, "finegray": finegray,
        "title": b.title, "label": cr.label, "causes": list(names.values()), "times_months": list(b.times_months),
        "n": {lv: int((g == lv).sum()) for lv in levels}, "events": events, "adjust": list(b.adjust),
        "excluded": {"missing_endpoint": int((~has_ep).sum()), "missing_by": int((has_ep & ~has_by).sum())},
        "curves": curves, "risk_table": risk,
    }
    return block, notes


def table_block(pop: Population, b: TableBlock, params: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    """Table 1 of ``variables`` by ``by`` (``cartreg compare`` JSON)."""
    cols = [b.by] + [v for v in b.variables if v != b.by]
    data = pop.data(cols)
    out = plan_stats.compare(data, b.by, list(b.variables), types=pop.types(list(b.variables)))
    return {"kind": "table", **out, "title": b.title}, []


def model_block(pop: Population, b: ModelBlock, params: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    """A logistic model (``cartreg logistic`` JSON) or a Cox model of a time-to-event endpoint."""
    refs = dict(b.reference_levels)
    if b.model == "logistic":
        data = pop.data([b.outcome, *b.covariates], outcome=b.outcome)
        out = plan_stats.logistic(b.outcome, list(b.covariates), data, reference_levels=refs, firth=b.firth)
        variables = _logistic_variables(pop, data, b, refs, out, where)
        return {"kind": "model", "model": "logistic", "outcome": b.outcome, **out, "variables": variables,
                "title": b.title}, []
    ep = TIME_TO_EVENT[b.outcome]
    days, ev = pop.column(ep.days), pop.column(ep.event_col)
    dz = design(pop, list(b.covariates), refs, where)
    has_ep = ~np.isnan(days) & ~np.isnan(ev)
    ok = has_ep & ~np.isnan(dz.X).any(axis=1)
    fit = coxph(days[ok], ev[ok] > 0, dz.X[ok], list(dz.names), ties="efron", conf_level=params.conf_level)
    out = _cox_terms(fit, dz, ok, days, ev > 0, params.conf_level)
    out["excluded"] = int((has_ep & ~ok).sum())
    return {"kind": "model", "model": "cox", "outcome": b.outcome, "label": ep.label, **out, "title": b.title}, \
        [f"Cox model: {w}" for w in fit.warnings]


def _logistic_variables(pop: Population, data: dict[str, np.ndarray], b: ModelBlock, refs: dict[str, str],
                        out: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """For the regression table: each covariate's type, reference level and levels, and a global P
    by the likelihood-ratio test of dropping it (deviance difference on the same complete cases, as
    ``car::Anova(type = 3, test = "LR")``; not for Firth fits, whose penalised deviance differs)."""
    keep = np.ones(pop.n, dtype=bool)
    for name, v in data.items():
        keep &= ~(np.equal(v, None) if v.dtype == object else np.isnan(v.astype(float)))
    sub = {k: v[keep] for k, v in data.items()}
    full_dev = out.get("deviance")
    result = []
    for cov in b.covariates:
        kind = COLUMNS_BY_NAME[cov].type
        entry: dict[str, Any] = {"variable": cov, "type": "numeric", "reference": None, "levels": [], "global": None}
        terms = [t["term"] for t in out.get("terms", []) if str(t.get("term", "")).startswith(f"{cov}=")]
        if kind in ("flag", "event", "code", "text"):
            _, levels = factor_levels(sub[cov])
            present = {t.split("=", 1)[1] for t in terms}
            ref = refs.get(cov) or next((lv for lv in levels if lv not in present), None)
            entry.update(type="factor", reference=ref, levels=levels)
        rest = [c for c in b.covariates if c != cov]
        if rest and full_dev is not None and not b.firth and len(b.covariates) > 1:
            red = plan_stats.logistic(b.outcome, rest, sub, reference_levels={k: v for k, v in refs.items() if k != cov})
            if red.get("deviance") is not None:
                chi2 = max(red["deviance"] - full_dev, 0.0)
                df = max(len(terms), 1)
                from scipy.special import chdtrc

                entry["global"] = {"chi2": chi2, "df": df, "p": float(chdtrc(df, chi2))}
        result.append(entry)
    return result


_RUNNERS = {"survival": survival_block, "cuminc": cuminc_block, "table": table_block, "model": model_block}


def run_plan(con: duckdb.DuckDBPyConnection, plan: Plan,
             data_cutoff: dt.date | None = None) -> tuple[dict[str, Any], Endpoints, Catalogue]:
    """Derive the endpoints and the catalogue (at the data freeze ``data_cutoff``: later records
    ignored, follow-up ends at it), select the population, compute every block in order."""
    p = plan.parameters
    class_map = load_class_map(p.class_map) if p.class_map else None
    ep = derive_endpoints(con, p.rules(data_cutoff), class_map)
    catalogue = build_catalogue(con, ep, p.lymphoma_death_as_relapse)
    table = select_population(con, catalogue, plan)
    pop = Population(table)
    cat_cols = Columns(catalogue.table)
    infused = cat_cols.flag("infused")[0]
    reasons = cat_cols.text("not_infused_reason")
    not_infused = {str(r): int((reasons == r).sum()) for r in sorted({x for x in reasons.tolist() if x is not None})}
    blocks: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for b in plan.blocks:
        counts[b.kind] = counts.get(b.kind, 0) + 1
        where = f"{plan.source} [[{b.kind}]] #{counts[b.kind]}"
        sub = pop if b.where is None else Population(filter_rows(con, table, b.where, None, f"{where} where"))
        try:
            block, notes = _RUNNERS[b.kind](sub, b, p, where)
        except PlanInputError:
            raise
        except CartregError as exc:  # the estimator cannot fit these data: keep the error, go on
            block = {"kind": b.kind, "title": b.title, "error": exc.message,
                     **{k: getattr(b, k) for k in ("endpoint", "by", "outcome", "model") if hasattr(b, k)}}
            notes = [f"not computed: {exc.message}"]
        if b.where is not None:
            block["where"], block["n_population"] = b.where, sub.n
        blocks.append(block)
        warnings += [{"kind": b.kind, "block": len(blocks) - 1, "message": n} for n in notes]
    results = {
        "study": plan.study.name,
        "title": plan.study.title,
        "plan": {"name": plan.study.name, "title": plan.study.title, "description": plan.study.description,
                 "population": plan.study.population, "where": plan.study.where, "source": plan.source,
                 "toml": plan.text},
        "parameters": p.to_dict(),
        "cohort": {"registered": int(catalogue.table.num_rows), "infused": int(infused.sum()), "n": pop.n,
                   "not_infused": not_infused},
        "blocks": blocks,
        "ignored_records": ep.ignored,
        "warnings": warnings,
    }
    return results, ep, catalogue


__all__ = ["Population", "cuminc_block", "design", "model_block", "run_plan", "select_population", "survival_block",
           "table_block"]
