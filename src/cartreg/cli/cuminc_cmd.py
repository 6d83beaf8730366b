"""``cartreg cuminc``: cumulative incidence of competing risks and Gray's test on any data file.

The command reads a CSV/Parquet/XLSX file (:mod:`cartreg.io.datafile`), takes a time column and a
status column (``--cens-code``, default 0, for censored; any other code is a cause), optionally a
group column, and reports for each cause and group the cumulative incidence with its log(-log) CI at
``--at`` times (``cmprsk::cuminc`` + ``timepoints``, CIs as ``tidycmprsk``), then Gray's test across
groups. Rows with a missing time, status or group are excluded and counted. ``--format json`` prints
the public JSON shape of issue 3 (extra keys allowed); the default is a readable table.
:func:`cartreg.stats.analysis.cuminc_analysis` (the call a notebook makes) computes the JSON-ready
dict, with a Fine-Gray model (``--covariates``, ``--cause``) and the cause-specific Cox model
(``--cause-specific``); ``--strata`` stratifies Gray's test. This module only parses and renders.

Conventions (see ``docs/stats-cuminc.md``):

* without ``--group`` there is one stratum, ``"group": "all"``, and ``"gray": null``;
* default ``--at``: the times ``print.cuminc`` shows, the interior points of R's
  ``pretty(c(0, max time), 5)`` (e.g. 100, 200, 300, 400 when the last time is 424);
* a value that R reports as ``NA`` is ``null``: the CIF after a group's last follow-up time, the CI
  where the CIF is 0, and Gray's test when its variance matrix is singular.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from cartreg.cli._common import fmt_p as _p
from cartreg.cli._common import parse_at
from cartreg.errors import CartregError
from cartreg.stats.cuminc import default_times, r_pretty  # noqa: F401  (re-exported for callers)


def cuminc_results(
    path: str | Path,
    time: str,
    status: str,
    group: str | None = None,
    at: list[float] | None = None,
    conf_level: float = 0.95,
    cens_code: str = "0",
    *,
    strata: str | None = None,
    covariates: list[str] | None = None,
    reference_levels: dict[str, str] | None = None,
    cause: str | None = None,
    cause_specific: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """The ``cartreg cuminc`` results (JSON-ready dict) and notes: read the file, then the same
    call a notebook makes (:func:`cartreg.stats.analysis.cuminc_analysis`)."""
    from cartreg.io.datafile import read_table
    from cartreg.stats.analysis import cuminc_analysis

    res = cuminc_analysis(read_table(path), time, status, group, at, conf_level, cens_code,
                          strata=strata, covariates=covariates, reference_levels=reference_levels,
                          cause=cause, cause_specific=cause_specific)
    return res.to_dict(), list(res.notes)


# ---- rendering ------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "NA" if x is None else f"{100 * x:.1f}"


def _time(x: float) -> str:
    return f"{x:g}"


def render_table(res: dict[str, Any]) -> None:
    """Print the results as rich tables (formatting only)."""
    from rich.table import Table

    from cartreg.textsafe import printable_tree, terminal_console

    res = printable_tree(res)  # labels are data: no markup, no raw control characters (issue 16)
    console = terminal_console()
    pct = f"{res['conf_level'] * 100:g}%"
    console.print(f"Competing risks: n={res['n']}, excluded={res['excluded']} (missing values); "
                  f"{pct} CI, log(-log) transform", soft_wrap=True)
    for c in res["causes"]:
        tab = Table(title=f"Cumulative incidence of {c['cause']}")
        for name in ("group", "n", "events", "time", "CIF", f"{pct} CI"):
            tab.add_column(name, justify="left" if name == "group" else "right")
        for s in c["strata"]:
            for i, r in enumerate(s["at"]):
                first = i == 0
                lo, hi = r["ci"]
                tab.add_row(s["group"] if first else "", str(s["n"]) if first else "",
                            str(s["events"]) if first else "", _time(r["time"]),
                            "NA" if r["cif"] is None else f"{_pct(r['cif'])}%",
                            "NA" if lo is None or hi is None else f"{_pct(lo)}–{_pct(hi)}%",
                            end_section=i == len(s["at"]) - 1)
        console.print(tab)
        g = c["gray"]
        if g is not None:
            if g["chi2"] is None:
                console.print("Gray's test: not computable (singular variance)", soft_wrap=True)
            else:
                console.print(f"Gray's test: chi2 = {g['chi2']:.3f} on {g['df']} df, {_p(g['p'])}",
                              soft_wrap=True)


def _render_model(console: Any, title: str, terms: list[dict[str, Any]], pct: str) -> None:
    from rich.table import Table

    tab = Table(title=title)
    for name in ("term", f"HR ({pct} CI)", "p"):
        tab.add_column(name, justify="left" if name == "term" else "right")
    for t in terms:
        if t["hr"] is None:
            tab.add_row(t["term"], "not estimable", "NA")
        else:
            lo, hi = t["ci"]
            tab.add_row(t["term"], f"{t['hr']:.3g} ({lo:.3g}–{hi:.3g})", _p(t["p"]))
    console.print(tab)


def render_models(res: dict[str, Any]) -> None:
    """Print the Fine-Gray and cause-specific models, if any (formatting only)."""
    from cartreg.textsafe import printable_tree, terminal_console

    res = printable_tree(res)  # term labels are data: no markup, no raw control characters (issue 16)
    console = terminal_console()
    pct = f"{res['conf_level'] * 100:g}%"
    fg = res.get("finegray")
    if fg:
        _render_model(console, f"Fine-Gray subdistribution hazards for cause {fg['cause']} "
                      f"(n={fg['n']}, events={fg['events']}, competing={fg['competing']})",
                      fg["terms"], pct)
    cs = res.get("cause_specific")
    if cs:
        _render_model(console, f"Cause-specific Cox model for cause {cs['cause']} "
                      f"(other causes censored; n={cs['n']}, events={cs['events']})", cs["terms"], pct)


def register(app: typer.Typer) -> None:
    """Add ``cartreg cuminc`` to the app."""

    @app.command("cuminc")
    def cuminc_command(
        data: Path = typer.Argument(..., help="CSV, Parquet or XLSX file."),
        time: str = typer.Option(..., "--time", help="Time column."),
        status: str = typer.Option(..., "--status", help="Status column: 0 = censored, another code per cause."),
        group: str = typer.Option(None, "--group", help="Group column (cell text as written)."),
        at: str = typer.Option(None, "--at", help="Times, comma-separated (default: as print.cuminc)."),
        conf_level: float = typer.Option(0.95, "--conf-level", help="Confidence level."),
        cens_code: str = typer.Option("0", "--cens-code", help="Status code of censored rows."),
        strata: str = typer.Option(None, "--strata", help="Strata column for Gray's test (cuminc(strata=))."),
        covariates: str = typer.Option(None, "--covariates", help="Covariates of a Fine-Gray model, comma-separated (numeric, or text/yes-no as factors)."),
        cause: str = typer.Option(None, "--cause", help="Cause modelled by Fine-Gray (default: the first cause)."),
        cause_specific: bool = typer.Option(False, "--cause-specific", help="Also fit the cause-specific Cox model (other causes censored)."),
        reference_level: list[str] = typer.Option(None, "--reference-level", help="COL=LEVEL: reference level of a factor covariate (repeatable)."),
        fmt: str = typer.Option("table", "--format", help="table or json."),
    ) -> None:
        """Cumulative incidence (Aalen-Johansen) with log(-log) CIs and Gray's test, agreeing with R cmprsk."""
        if fmt not in ("table", "json"):
            raise CartregError(f"unknown --format {fmt!r}: use table or json")
        from cartreg.cli._common import parse_columns, parse_reference_levels

        res, notes = cuminc_results(data, time, status, group, parse_at(at), conf_level, cens_code,
                                    strata=strata, covariates=parse_columns(covariates),
                                    reference_levels=parse_reference_levels(reference_level),
                                    cause=cause, cause_specific=cause_specific)
        from cartreg.textsafe import printable

        for n in notes:
            typer.echo(printable(n), err=True)
        if fmt == "json":
            sys.stdout.write(json.dumps(res, allow_nan=False) + "\n")
        else:
            render_table(res)
            render_models(res)
