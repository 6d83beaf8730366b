"""``cartreg survival``: Kaplan-Meier, median follow-up, log-rank and Cox on any data file.

The command reads a CSV/Parquet/XLSX file (:mod:`cartreg.io.datafile`), builds one analysis data
set (rows with a missing value in any column used are excluded and counted), and reports per group
the Kaplan-Meier median with its CI (``print.survfit`` rule), the reverse-KM median follow-up, S(t)
at ``--at`` times (``summary(fit, times=, extend=TRUE)``), then the log-rank test (``survdiff``) and
a Cox model (``coxph``) with the group as a factor plus numeric covariates. ``--format json``
prints the public JSON shape of issue 3 (extra keys allowed); the default is a readable table.
:func:`survival_results` computes the JSON-ready dict; the command only renders it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import typer

from cartreg.cli._common import json_number as _num
from cartreg.cli._common import parse_at
from cartreg.errors import CartregError

TRUE_WORDS = ("1", "yes", "true")
FALSE_WORDS = ("0", "no", "false")




def parse_event(table: Any, column: str) -> tuple[np.ndarray, str | None]:
    """The event column as float 0/1 (NaN missing) and a note when R's 1/2 coding was used.

    Accepted: 1/0, yes/no, true/false (any case); a column holding only 1 and 2 (with at least one
    2) is read as R's ``Surv`` coding, 1 = censored and 2 = event, as ``Surv`` itself does.
    """
    col = table.column(column)
    text = table.text(col)
    present = text[~np.equal(text, None)]
    words = np.char.lower(np.char.strip(present.astype(str))) if present.size else np.array([], dtype=str)
    uniq = np.unique(words)
    try:
        nums = np.unique(np.asarray(uniq, dtype=float)) if uniq.size else np.array([])
    except ValueError:
        nums = None
    values = None
    note = None
    if nums is not None:
        vals = table.numeric(col)
        if np.isin(nums, (0.0, 1.0)).all():
            values = vals
        elif np.isin(nums, (1.0, 2.0)).all():
            values = vals - 1.0
            note = (f"note: event column {col!r} holds only 1 and 2: read as R's Surv coding "
                    "(1 = censored, 2 = event)")
    else:
        ok = np.isin(uniq, TRUE_WORDS + FALSE_WORDS)
        if ok.all():
            full = np.full(text.shape[0], np.nan)
            mask = ~np.equal(text, None)
            full[mask] = np.isin(words, TRUE_WORDS).astype(float)
            values = full
    if values is None:
        allowed = np.isin(uniq, TRUE_WORDS + FALSE_WORDS) if nums is None else np.isin(
            np.asarray(uniq, dtype=float), (0.0, 1.0))
        bad = [str(u) for u in uniq[~allowed]][:5]
        raise CartregError(
            f"event column {col!r} must hold 1/0, yes/no or true/false (or R's 1 = censored / "
            f"2 = event); found {', '.join(repr(b) for b in bad)}"
        )
    return values, note




def _stratum(group: str | None, km: Any, fu: Any, at: list[float]) -> dict[str, Any]:
    s = km.at(at) if at else None
    rows = []
    if s is not None:
        for i in range(s.time.size):
            rows.append({"time": float(s.time[i]), "n_risk": int(s.n_risk[i]), "survival": _num(s.surv[i]),
                         "ci": [_num(s.lower[i]), _num(s.upper[i])], "n_event": int(s.n_event[i]),
                         "n_censor": int(s.n_censor[i]), "std_err": _num(s.std_err[i])})
    return {
        "group": group,
        "n": km.n,
        "events": km.events,
        "median": _num(km.median),
        "median_ci": [_num(km.median_ci[0]), _num(km.median_ci[1])],
        "followup_median": _num(fu.median),
        "followup_ci": [_num(fu.ci[0]), _num(fu.ci[1])],
        "at": rows,
    }


def survival_results(
    path: str | Path,
    time: str,
    event: str,
    group: str | None = None,
    reference: str | None = None,
    covariates: list[str] | None = None,
    at: list[float] | None = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
    ties: str = "efron",
    rmst_tau: float | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Compute the ``cartreg survival`` results (JSON-ready dict) and notes for stderr."""
    from cartreg.io.datafile import read_table
    from cartreg.stats import kaplan_meier, kaplan_meier_by, logrank_test, median_followup
    from cartreg.stats._data import complete_cases
    from cartreg.stats.ci import check_conf
    from cartreg.stats.followup import FollowUp

    check_conf(conf_type, conf_level)
    if ties not in ("efron", "breslow"):
        raise CartregError(f"unknown ties method {ties!r}: use efron or breslow")
    notes: list[str] = []
    covariates = list(covariates or [])
    at = list(at or [])
    if group is None and reference is not None:
        raise CartregError("--reference needs --group")
    if group is None and covariates:
        notes.append("note: --covariates are used only in the Cox model, which needs --group; ignored")
        covariates = []

    table = read_table(path)
    t = table.numeric(time)
    e, note = parse_event(table, event)
    if note:
        notes.append(note)
    g = table.text(group) if group else None
    covs = {table.column(c): table.numeric(c) for c in covariates}
    cc = complete_cases(t, e, g, *covs.values())
    if cc.keep.sum() == 0:
        raise CartregError("no rows with a complete time, event" + (" and group" if group else ""))
    tt, ee = t[cc.keep], e[cc.keep]
    if np.isinf(tt).any():
        raise CartregError(f"time column {time!r} holds an infinite value")
    res: dict[str, Any] = {
        "n": int(tt.size),
        "events": int(ee.sum()),
        "excluded": cc.excluded,
        "conf_type": conf_type,
        "conf_level": float(conf_level),
        "strata": [],
    }
    if rmst_tau is not None:  # issue 12: restricted mean survival time (cartreg.stats.rmst)
        from cartreg.stats.rmst import rmst_results

        res["rmst"] = rmst_results(tt, ee, None if g is None else g[cc.keep], rmst_tau, conf_level)
        notes.extend(f"note: RMST: {n}" for n in res["rmst"]["notes"])
    if g is None:
        km = kaplan_meier(tt, ee, conf_type=conf_type, conf_level=conf_level)
        fu = median_followup(tt, ee, conf_type=conf_type, conf_level=conf_level)
        res["strata"].append(_stratum(None, km, fu, at))
        return res, notes

    gg = g[cc.keep]
    fits = kaplan_meier_by(tt, ee, gg, conf_type=conf_type, conf_level=conf_level)
    levels = list(fits)
    # reverse KM by group in one call, so times are tie-corrected over all rows as R does
    rev = kaplan_meier_by(tt, 1.0 - ee, gg, conf_type=conf_type, conf_level=conf_level)
    for level, km in fits.items():
        r = rev[level]
        fu = FollowUp(median=r.median, ci=r.median_ci, n=r.n, excluded=0, conf_type=conf_type,
                      conf_level=float(conf_level), reverse=r)
        res["strata"].append(_stratum(level, km, fu, at))
    if reference is not None and reference not in levels:
        raise CartregError(f"reference level {reference!r} is not a level of {group!r} "
                           f"(levels: {', '.join(levels)})")
    ref = reference if reference is not None else levels[0]

    if len(levels) >= 2:
        lr = logrank_test(tt, ee, gg)
        res["logrank"] = {"chi2": _num(lr.chi2), "df": lr.df, "p": _num(lr.p),
                          "observed": [float(x) for x in lr.observed],
                          "expected": [float(x) for x in lr.expected]}
    else:
        res["logrank"] = None
        notes.append(f"note: {group!r} has a single level: no log-rank test")

    from cartreg.stats import coxph, design_matrix

    X, names = design_matrix(gg, ref, numeric={k: v[cc.keep] for k, v in covs.items()},
                             group_name=table.column(group))
    if len(names) == 0:
        res["cox"] = None
        return res, notes
    cox = coxph(tt, ee, X, names, ties=ties, conf_level=conf_level)
    terms = []
    for j, name in enumerate(cox.names):
        bad = bool(cox.infinite[j]) or bool(getattr(cox, "aliased", np.zeros(len(names), bool))[j])
        terms.append({
            "term": name,
            "hr": None if bad else _num(cox.hr[j]),
            "ci": [None, None] if bad else [_num(cox.ci_lower[j]), _num(cox.ci_upper[j])],
            "p": None if bad else _num(cox.p[j]),
            "coef": _num(cox.coef[j]) if not bad else None,
            "se": _num(cox.se[j]) if not bad else None,
            "infinite": bool(cox.infinite[j]),
        })
    res["cox"] = {
        "terms": terms,
        "loglik": _num(cox.loglik),
        "lr_chi2": _num(cox.lr_chi2),
        "lr_p": _num(cox.lr_p),
        "loglik_null": _num(cox.loglik_null),
        "lr_df": int(cox.lr_df),
        "reference": ref,
        "ties": ties,
        "n": cox.n,
        "events": cox.events,
        "converged": bool(cox.converged),
        "warnings": list(cox.warnings),
    }
    for w in cox.warnings:
        notes.append(f"note: Cox model: {w}")
    return res, notes


# ---- rendering ------------------------------------------------------------------------------

def _f(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "NR"
    return f"{x:.{digits}g}" if abs(x) < 1e4 else f"{x:.0f}"


def _p(p: float | None) -> str:
    if p is None:
        return "NA"
    return "P<.001" if p < 0.001 else f"P={p:.3f}"


def render_table(res: dict[str, Any]) -> None:
    """Print the results as rich tables (formatting only)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    pct = f"{res['conf_level'] * 100:g}%"
    tab = Table(title=f"Kaplan-Meier (n={res['n']}, events={res['events']}, excluded={res['excluded']}; "
                      f"{pct} CI, {res['conf_type']})")
    for col in ("group", "n", "events", f"median ({pct} CI)", f"median follow-up ({pct} CI)"):
        tab.add_column(col, justify="left" if col == "group" else "right")
    for s in res["strata"]:
        lo, hi = s["median_ci"]
        flo, fhi = s["followup_ci"]
        tab.add_row("all" if s["group"] is None else s["group"], str(s["n"]), str(s["events"]),
                    f"{_f(s['median'])} ({_f(lo)}–{_f(hi)})", f"{_f(s['followup_median'])} ({_f(flo)}–{_f(fhi)})")
    console.print(tab)
    if any(s["at"] for s in res["strata"]):
        at = Table(title="Survival at selected times")
        for col in ("group", "time", "at risk", f"survival ({pct} CI)"):
            at.add_column(col, justify="left" if col == "group" else "right")
        for s in res["strata"]:
            for r in s["at"]:
                lo, hi = r["ci"]
                at.add_row("all" if s["group"] is None else s["group"], _f(r["time"], 6), str(r["n_risk"]),
                           f"{_f(r['survival'])} ({_f(lo)}–{_f(hi)})")
        console.print(at)
    lr = res.get("logrank")
    if lr:
        console.print(f"Log-rank test: chi2 = {lr['chi2']:.3f} on {lr['df']} df, {_p(lr['p'])}")
    cox = res.get("cox")
    if cox:
        ct = Table(title=f"Cox proportional hazards ({cox['ties']} ties; reference {cox['reference']})")
        for col in ("term", f"HR ({pct} CI)", "p"):
            ct.add_column(col, justify="left" if col == "term" else "right")
        for term in cox["terms"]:
            if term["hr"] is None:
                ct.add_row(term["term"], "not estimable" + (" (infinite)" if term["infinite"] else ""), "NA")
            else:
                lo, hi = term["ci"]
                ct.add_row(term["term"], f"{_f(term['hr'])} ({_f(lo)}–{_f(hi)})", _p(term["p"]))
        console.print(ct)
        console.print(f"Log-likelihood {cox['loglik']:.4f}; LR test chi2 = {_f(cox['lr_chi2'], 4)} on "
                      f"{cox['lr_df']} df, {_p(cox['lr_p'])}")


def register(app: typer.Typer) -> None:
    """Add ``cartreg survival`` to the app."""

    @app.command("survival")
    def survival(
        data: Path = typer.Argument(..., help="CSV, Parquet or XLSX file."),
        time: str = typer.Option(..., "--time", help="Time column."),
        event: str = typer.Option(..., "--event", help="Event column: 1/0, yes/no, true/false (or R's 2/1)."),
        group: str = typer.Option(None, "--group", help="Group column (cell text as written)."),
        reference: str = typer.Option(None, "--reference", help="Reference level for Cox (default: first level)."),
        covariates: str = typer.Option(None, "--covariates", help="Numeric Cox covariates, comma-separated."),
        at: str = typer.Option(None, "--at", help="Times for S(t), comma-separated."),
        conf_type: str = typer.Option("log", "--conf-type", help="log (R default), log-log or plain."),
        conf_level: float = typer.Option(0.95, "--conf-level", help="Confidence level."),
        ties: str = typer.Option("efron", "--ties", help="Cox ties: efron or breslow."),
        fmt: str = typer.Option("table", "--format", help="table or json."),
        rmst: float = typer.Option(None, "--rmst", help="Restricted mean survival time up to TAU (survRM2)."),
    ) -> None:
        """Kaplan-Meier medians, median follow-up, S(t), log-rank and Cox, agreeing with R survival."""
        if fmt not in ("table", "json"):
            raise CartregError(f"unknown --format {fmt!r}: use table or json")
        covs = [c.strip() for c in covariates.split(",") if c.strip()] if covariates else []
        res, notes = survival_results(data, time, event, group, reference, covs, parse_at(at),
                                      conf_type, conf_level, ties, rmst_tau=rmst)
        for n in notes:
            typer.echo(n, err=True)
        if fmt == "json":
            sys.stdout.write(json.dumps(res, allow_nan=False) + "\n")
        else:
            render_table(res)
            if "rmst" in res:  # issue 12
                from cartreg.cli.rmst_view import render_rmst

                render_rmst(res["rmst"])
