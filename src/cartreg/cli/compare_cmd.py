"""``cartreg compare``: Table 1 with P values and SMDs (:func:`cartreg.stats.compare.compare`).

The command reads a CSV/Parquet/XLSX file, hands the columns to the estimator and renders its
result: a rich table, or with ``--format json`` the result's ``to_dict()``
(``{by, groups[{level, n}], variables[...]}``). Statistics live in :mod:`cartreg.stats.compare`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import typer

from cartreg.cli._common import fmt_p as _p
from cartreg.cli._common import parse_columns
from cartreg.errors import CartregError


def read_columns(table: Any, names: list[str]) -> dict[str, np.ndarray]:
    """Each column as numbers when every cell is a number, else as text (a boolean Parquet/XLSX
    column as its TRUE/FALSE text); parsing only."""
    import pyarrow as pa

    out: dict[str, np.ndarray] = {}
    for name in names:
        col = table.column(name)
        if pa.types.is_boolean(table.data[col].type):  # TRUE/FALSE levels, as R's logical
            out[col] = table.text(col)
            continue
        try:
            out[col] = table.numeric(col)
        except CartregError:
            out[col] = table.text(col)
    return out


def parse_types(categorical: str | None, continuous: str | None) -> dict[str, str]:
    """``--categorical a,b --continuous c`` -> ``{"a": "categorical", ...}``."""
    types = {c: "categorical" for c in parse_columns(categorical)}
    for c in parse_columns(continuous):
        if c in types:
            raise CartregError(f"{c!r} is given as both categorical and continuous", 2)
        types[c] = "continuous"
    return types


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "NA"
    return f"{x:.{digits}g}" if abs(x) < 1e4 else f"{x:.0f}"


_TEST_NAMES = {"chisq": "Pearson chi-squared", "fisher": "Fisher's exact", "wilcoxon": "Wilcoxon rank-sum",
               "kruskal": "Kruskal-Wallis", None: "-"}


def render_table(res: dict[str, Any]) -> None:
    """Print Table 1 (formatting only)."""
    from rich.table import Table

    from cartreg.textsafe import printable_tree, terminal_console

    res = printable_tree(res)  # labels are data: no markup, no raw control characters (issue 16)
    groups = [g["level"] for g in res["groups"]]
    tab = Table(title=f"Table 1 by {res['by']}")
    tab.add_column("variable")
    for g in res["groups"]:
        tab.add_column(f"{g['level']} (n={g['n']})", justify="right")
    for col in ("P", "test", "SMD"):
        tab.add_column(col, justify="right")
    for v in res["variables"]:
        tail = [_p(v["p"]), _TEST_NAMES.get(v["test"], v["test"]), _fmt(v["smd"])]
        if v["type"] == "categorical":
            tab.add_row(f"{v['name']}, n (%)", *([""] * len(groups)), *tail)
            for lev in v["levels"]:
                tab.add_row(f"  {lev['level']}", *[f"{c['n']} ({c['pct']:.1f}%)" if c["pct"] is not None else str(c["n"])
                                          for c in lev["groups"]], "", "", "")
        else:
            tab.add_row(f"{v['name']}, median (Q1, Q3)",
                        *[f"{_fmt(s['median'])} ({_fmt(s['q1'])}, {_fmt(s['q3'])})" for s in v["summary"]],
                        *tail)
        if v["n_missing"]:
            tab.add_row("  missing", *[str(m) for m in v["n_missing_by_group"]], "", "", "")
    terminal_console().print(tab)


def register(app: typer.Typer) -> None:
    """Add ``cartreg compare`` to the app."""

    @app.command("compare")
    def compare_cmd(
        data: Path = typer.Argument(..., help="CSV, Parquet or XLSX file."),
        by: str = typer.Option(..., "--by", help="Grouping column."),
        vars_: str = typer.Option(None, "--vars", help="Variables, comma-separated (default: all others)."),
        categorical: str = typer.Option(None, "--categorical", help="Force these variables categorical."),
        continuous: str = typer.Option(None, "--continuous", help="Force these variables continuous."),
        quantile_type: int = typer.Option(7, "--quantile-type", help="R quantile type: 7 (R default) or 2 (gtsummary)."),
        fmt: str = typer.Option("table", "--format", help="table or json."),
    ) -> None:
        """Table 1: counts/% or median (Q1, Q3) per group, chi-squared/Fisher/Wilcoxon/Kruskal-Wallis P, SMD."""
        from cartreg.io.datafile import read_table
        from cartreg.stats.compare import compare

        if fmt not in ("table", "json"):
            raise CartregError(f"unknown --format {fmt!r}: use table or json", 2)
        table = read_table(data)
        by_col = table.column(by)
        names = parse_columns(vars_) or [c for c in table.columns if c != by_col]
        cols = read_columns(table, [by_col, *names])
        names = [table.column(n) for n in names]
        types = {table.column(k): v for k, v in parse_types(categorical, continuous).items()}
        res = compare(cols, by_col, names, types=types, quantile_type=quantile_type).to_dict()
        for note in res["notes"]:
            typer.echo(f"note: {note}", err=True)
        if fmt == "json":
            sys.stdout.write(json.dumps(res, allow_nan=False) + "\n")
        else:
            render_table(res)
