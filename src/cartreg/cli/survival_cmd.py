"""``cartreg survival``: Kaplan-Meier, median follow-up, log-rank and Cox on any data file.

The command reads a CSV/Parquet/XLSX file (:mod:`cartreg.io.datafile`), builds one analysis data
set (rows with a missing value in any column used are excluded and counted), and reports per group
the Kaplan-Meier median with its CI (``print.survfit`` rule), the reverse-KM median follow-up, S(t)
at ``--at`` times (``summary(fit, times=, extend=TRUE)``), then the log-rank test (``survdiff``) and
a Cox model (``coxph``) with the group as a factor plus covariates (numeric, or factors for text,
yes/no and true/false columns), optionally weighted (``--weights``) with a robust or clustered
variance (``--robust``, ``--cluster``). ``--format json`` prints the public JSON shape of issues 3
and 12 (extra keys allowed); the default is a readable table. The statistics and the JSON-ready
dict come from :func:`cartreg.stats.analysis.survival_analysis`, the call a notebook makes; this
module only parses options and renders.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from cartreg.cli._common import fmt_p as _p
from cartreg.cli._common import parse_at, parse_columns, parse_reference_levels
from cartreg.errors import CartregError


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
    *,
    reference_levels: dict[str, str] | None = None,
    weights: str | None = None,
    robust: bool = False,
    cluster: str | None = None,
    firth: bool = False,
    rmst_tau: float | None = None,
    zph: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """The ``cartreg survival`` results (JSON-ready dict) and notes: read the file, then the same
    call a notebook makes (:func:`cartreg.stats.analysis.survival_analysis`)."""
    from cartreg.io.datafile import read_table
    from cartreg.stats.analysis import survival_analysis

    res = survival_analysis(read_table(path), time, event, group, reference, covariates, at,
                            conf_type, conf_level, ties, reference_levels=reference_levels,
                            weights=weights, robust=robust, cluster=cluster, firth=firth,
                            rmst_tau=rmst_tau, zph=zph)
    return res.to_dict(), list(res.notes)


# ---- rendering ------------------------------------------------------------------------------

def _f(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "NR"
    return f"{x:.{digits}g}" if abs(x) < 1e4 else f"{x:.0f}"


def render_table(res: dict[str, Any]) -> None:
    """Print the results as rich tables (formatting only)."""
    from rich.table import Table

    from cartreg.textsafe import printable_tree, terminal_console

    res = printable_tree(res)  # labels are data: no markup, no raw control characters (issue 16)
    console = terminal_console()
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
    if lr and lr["chi2"] is None:
        console.print("Log-rank test: not computable (singular variance matrix)")
    elif lr:
        console.print(f"Log-rank test: chi2 = {lr['chi2']:.3f} on {lr['df']} df, {_p(lr['p'])}")
    cox = res.get("cox")
    if cox:
        how = f"{cox['ties']} ties" + (f"; reference {cox['reference']}" if cox.get("reference") else "")
        if "robust_se" in cox:
            how += "; robust variance" + (f" clustered by {cox['cluster']}" if cox.get("cluster") else "")
        if cox.get("weights"):
            how += f"; weights {cox['weights']}"
        ct = Table(title=f"Cox proportional hazards ({how})")
        robust = "robust_se" in cox
        for col in ("term", f"HR ({pct} CI)", "p") + (("se", "robust se") if robust else ()):
            ct.add_column(col, justify="left" if col == "term" else "right")
        for term in cox["terms"]:
            if term["hr"] is None:
                ct.add_row(term["term"], "not estimable" + (" (infinite)" if term["infinite"] else ""), "NA",
                           *(("", "") if robust else ()))
            else:
                lo, hi = term["ci"]
                extra = (_f(term["se"]), _f(term["robust_se"])) if robust else ()
                ct.add_row(term["term"], f"{_f(term['hr'])} ({_f(lo)}–{_f(hi)})", _p(term["p"]), *extra)
        console.print(ct)
        console.print(f"Log-likelihood {cox['loglik']:.4f}; LR test chi2 = {_f(cox['lr_chi2'], 4)} on "
                      f"{cox['lr_df']} df, {_p(cox['lr_p'])}")
    fth = res.get("firth")
    if fth:
        ft = Table(title="Firth's penalised Cox (Breslow ties; profile penalised-likelihood CI and P)")
        for col in ("term", f"HR ({pct} CI)", "p"):
            ft.add_column(col, justify="left" if col == "term" else "right")
        for term in fth["terms"]:
            lo, hi = term["ci"]
            ft.add_row(term["term"], f"{_f(term['hr'])} ({_f(lo)}–{_f(hi)})", _p(term["p"]))
        console.print(ft)
    zph = res.get("zph")
    if zph:
        zt = Table(title="Proportional hazards (scaled Schoenfeld residuals, as R cox.zph, km transform)")
        for col in ("term", "chisq", "df", "p"):
            zt.add_column(col, justify="left" if col == "term" else "right")
        for row in [*zph["terms"], {"term": "GLOBAL", **zph["global"]}]:
            zt.add_row(row["term"], _f(row["chisq"], 4), str(row["df"]), _p(row["p"]))
        console.print(zt)


def register(app: typer.Typer) -> None:
    """Add ``cartreg survival`` to the app."""

    @app.command("survival")
    def survival(
        data: Path = typer.Argument(..., help="CSV, Parquet or XLSX file."),
        time: str = typer.Option(..., "--time", help="Time column."),
        event: str = typer.Option(..., "--event", help="Event column: 1/0, yes/no, true/false (or R's 2/1)."),
        group: str = typer.Option(None, "--group", help="Group column (cell text as written)."),
        reference: str = typer.Option(None, "--reference", help="Reference level for Cox (default: first level)."),
        covariates: str = typer.Option(None, "--covariates", help="Cox covariates, comma-separated: numeric columns, or text/yes-no/true-false columns as factors."),
        reference_level: list[str] = typer.Option(None, "--reference-level", help="COL=LEVEL: reference level of a factor covariate (repeatable; makes a numeric column a factor)."),
        weights: str = typer.Option(None, "--weights", help="Case-weight column (> 0), for Kaplan-Meier and Cox (e.g. IPW)."),
        robust: bool = typer.Option(False, "--robust", help="Robust sandwich variance for Cox (coxph(robust = TRUE))."),
        cluster: str = typer.Option(None, "--cluster", help="Cluster column (e.g. centre): robust Cox variance clustered as cluster(COL)."),
        firth: bool = typer.Option(False, "--firth", help="Also fit Firth's penalised Cox model (coxphf: profile penalised-likelihood CI and P), for sparse classes."),
        at: str = typer.Option(None, "--at", help="Times for S(t), comma-separated."),
        conf_type: str = typer.Option("log", "--conf-type", help="log (R default), log-log or plain."),
        conf_level: float = typer.Option(0.95, "--conf-level", help="Confidence level."),
        ties: str = typer.Option("efron", "--ties", help="Cox ties: efron or breslow."),
        fmt: str = typer.Option("table", "--format", help="table or json."),
        rmst: float = typer.Option(None, "--rmst", help="Restricted mean survival time up to TAU (survRM2)."),
        zph: bool = typer.Option(False, "--zph", help="Proportional-hazards test of the Cox model (R cox.zph, km transform)."),
    ) -> None:
        """Kaplan-Meier medians, median follow-up, S(t), log-rank and Cox, agreeing with R survival."""
        if fmt not in ("table", "json"):
            raise CartregError(f"unknown --format {fmt!r}: use table or json")
        res, notes = survival_results(data, time, event, group, reference, parse_columns(covariates),
                                      parse_at(at), conf_type, conf_level, ties,
                                      reference_levels=parse_reference_levels(reference_level),
                                      weights=weights, robust=robust, cluster=cluster, firth=firth,
                                      rmst_tau=rmst, zph=zph)
        from cartreg.textsafe import printable

        for n in notes:
            typer.echo(printable(n), err=True)
        if fmt == "json":
            sys.stdout.write(json.dumps(res, allow_nan=False) + "\n")
        else:
            render_table(res)
            if "rmst" in res:  # issue 12
                from cartreg.cli.rmst_view import render_rmst

                render_rmst(res["rmst"])
