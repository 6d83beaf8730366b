"""``cartreg logistic``: logistic regression (:func:`cartreg.stats.logistic.logistic`).

Reads a CSV/Parquet/XLSX file, hands the named columns to the estimator and renders its result:
a rich table, or with ``--format json`` the result's ``to_dict()`` (``{n, events, excluded,
terms[{term, coef, se, or, ci, ci_profile, p}], deviance, null_deviance, aic}``). A column whose
cells are all numbers is numeric; any other column is a factor (``--factors`` makes a numeric
column a factor too); ``--reference-level COL=LEVEL`` (repeatable) picks a reference level.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from cartreg.cli._common import fmt_p as _p
from cartreg.cli._common import parse_columns, parse_reference_levels
from cartreg.cli.compare_cmd import read_columns
from cartreg.errors import CartregError


def _f(x: float | None) -> str:
    return "NA" if x is None else f"{x:.3g}"


def render_table(res: dict[str, Any]) -> None:
    """Print the fitted model (formatting only)."""
    from rich.table import Table

    from cartreg.textsafe import printable_tree, terminal_console

    res = printable_tree(res)  # labels are data: no markup, no raw control characters (issue 16)
    pct = f"{res['conf_level'] * 100:g}%"
    title = (f"Logistic regression{' (Firth)' if res['method'] == 'firth' else ''}: n={res['n']}, "
             f"events={res['events']}, excluded={res['excluded']}")
    tab = Table(title=title)
    for col in ("term", "OR", f"{pct} CI (Wald)", f"{pct} CI (profile)", "P"):
        tab.add_column(col, justify="left" if col == "term" else "right")
    for t in res["terms"]:
        if t["aliased"]:
            tab.add_row(t["term"], "aliased", "", "", "")
            continue
        wald = t.get("ci_wald", t["ci"])
        tab.add_row(t["term"], _f(t["or"]), f"{_f(wald[0])}–{_f(wald[1])}",
                    f"{_f(t['ci_profile'][0])}–{_f(t['ci_profile'][1])}", _p(t["p"]))
    console = terminal_console()
    console.print(tab)
    if res["aic"] is not None:
        console.print(f"Deviance {res['deviance']:.4f} (null {res['null_deviance']:.4f}); AIC {res['aic']:.4f}")
    else:
        console.print(f"Penalised log-likelihood {res['loglik']:.4f}")


def register(app: typer.Typer) -> None:
    """Add ``cartreg logistic`` to the app."""

    @app.command("logistic")
    def logistic_cmd(
        data: Path = typer.Argument(..., help="CSV, Parquet or XLSX file."),
        outcome: str = typer.Option(..., "--outcome", help="0/1, yes/no, true/false or two-level outcome column."),
        covariates: str = typer.Option(..., "--covariates", help="Covariates, comma-separated."),
        reference_level: list[str] = typer.Option(None, "--reference-level",
                                                  help="COL=LEVEL reference of a factor (repeatable)."),
        factors: str = typer.Option(None, "--factors", help="Numeric columns to treat as factors."),
        firth: bool = typer.Option(False, "--firth", help="Firth's penalised likelihood (R logistf)."),
        conf_level: float = typer.Option(0.95, "--conf-level", help="Confidence level."),
        fmt: str = typer.Option("table", "--format", help="table or json."),
    ) -> None:
        """Logistic regression as R glm(binomial): OR, Wald and profile-likelihood CIs; --firth as logistf."""
        from cartreg.io.datafile import read_table
        from cartreg.stats.logistic import logistic

        if fmt not in ("table", "json"):
            raise CartregError(f"unknown --format {fmt!r}: use table or json", 2)
        table = read_table(data)
        covs = parse_columns(covariates)
        if not covs:
            raise CartregError("--covariates is empty", 2)
        out_col = table.column(outcome)
        covs = [table.column(c) for c in covs]
        refs = {table.column(k): v for k, v in parse_reference_levels(reference_level).items()}
        cols = read_columns(table, [out_col, *covs])
        res = logistic(out_col, covs, cols, reference_levels=refs, firth=firth,
                       factors=[table.column(f) for f in parse_columns(factors)], conf_level=conf_level)
        d = res.to_dict()
        for w in d["warnings"]:
            typer.echo(f"note: {w}", err=True)
        if fmt == "json":
            sys.stdout.write(json.dumps(d, allow_nan=False) + "\n")
        else:
            render_table(d)
