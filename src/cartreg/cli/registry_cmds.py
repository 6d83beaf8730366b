"""``cartreg validate`` and ``cartreg import``: check a registry, load it into one DuckDB file.

Exit codes: 0 no errors (warnings allowed), 1 errors, 2 unusable input.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


def _print_report(report, fmt: OutputFormat, limit: int | None, err: bool = False) -> None:
    import sys

    if fmt is OutputFormat.json:
        stream = sys.stderr if err else sys.stdout
        stream.write(report.to_json())
        stream.write("\n")
        return
    from rich.console import Console

    from cartreg.registry.report import render_text

    render_text(report, Console(stderr=err, width=140, highlight=False), limit)


def validate_cmd(
    path: Path = typer.Argument(..., help="Registry: a directory of CSV files, an .xlsx workbook or a cartreg .duckdb."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text (a table) or json (every issue)."),
    cutoff: str = typer.Option(None, "--cutoff", help="Data cut-off YYYY-MM-DD: any later date is a warning (the analysis ignores it)."),
    limit: int = typer.Option(20, "--limit", min=1, help="Text: list at most this many issues per rule."),
    show_all: bool = typer.Option(False, "--all", help="Text: list every issue."),
    mapping: Path = typer.Option(None, "--mapping", help="Mapping TOML: PATH is a source in any layout (docs/mapping.md)."),
    redcap_dictionary: Path = typer.Option(None, "--redcap-dictionary",
                                           help="PATH is an export of the template REDCap project; this is its dictionary."),
) -> None:
    """Check a registry and print every problem (exit 0 no errors, 1 errors, 2 unusable input)."""
    from cartreg.registry import read_registry

    _mention_stale(path)
    reg = read_registry(path, cutoff=cutoff, verify=True, mapping=mapping, redcap_dictionary=redcap_dictionary)
    try:
        _print_report(reg.report, fmt, None if show_all else limit)
    finally:
        reg.con.close()  # no DuckDB connection (or its threads) left to the interpreter's exit
    raise typer.Exit(1 if reg.report.has_errors else 0)


def _mention_stale(path: Path) -> None:
    """Name the temporaries a killed import left beside ``path`` (they hold patient rows)."""
    from cartreg.registry.store import stale_temporaries
    from cartreg.textsafe import printable

    for p in stale_temporaries(path):
        typer.secho(f"warning: {printable(p)} is a temporary file left by an interrupted import (its process no "
                    "longer runs); it holds patient data: delete it, or rerun the import, which removes it",
                    err=True, fg=typer.colors.YELLOW)


def import_cmd(
    path: Path = typer.Argument(..., help="Registry: a directory of CSV files or an .xlsx workbook."),
    out: Path = typer.Option(..., "-o", "--output", help="The DuckDB file to write."),
    cutoff: str = typer.Option(None, "--cutoff", help="Data cut-off YYYY-MM-DD (else the latest date, flagged inferred)."),
    drop_invalid: bool = typer.Option(False, "--drop-invalid", help="Leave out every patient with an error (all their rows)."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite an existing output file."),
    limit: int = typer.Option(20, "--limit", min=1, help="Text report: at most this many issues per rule."),
    mapping: Path = typer.Option(None, "--mapping", help="Mapping TOML: PATH is a source in any layout (docs/mapping.md)."),
    redcap_dictionary: Path = typer.Option(None, "--redcap-dictionary",
                                           help="PATH is an export of the template REDCap project; this is its dictionary."),
) -> None:
    """Validate a registry, then load it into one DuckDB file (atomic; refuses on errors)."""
    from cartreg.registry import import_registry
    from cartreg.registry.store import RegistryInvalidError
    from cartreg.textsafe import printable

    def on_stale(paths) -> None:
        for p in paths:
            typer.secho(f"note: removed {printable(p)}, a temporary file left by an interrupted import",
                        err=True, fg=typer.colors.YELLOW)

    try:
        result = import_registry(path, out, cutoff=cutoff, drop_invalid=drop_invalid, replace=replace,
                                 on_stale=on_stale, mapping=mapping, redcap_dictionary=redcap_dictionary)
    except RegistryInvalidError as exc:
        _print_report(exc.report, OutputFormat.text, limit, err=True)
        raise
    s = result.report.summary()
    counts = ", ".join(f"{n} {t}" for t, n in result.metadata.row_counts.items())
    cut = result.metadata.data_cutoff
    typer.echo(f"imported {counts} into {printable(result.out)}")
    typer.echo(
        f"data cut-off {cut.isoformat() if cut else 'none'}{' (inferred: latest date)' if result.metadata.data_cutoff_inferred else ''}; "
        f"{s['warnings']} warnings, {s['notes']} notes"
        + (f"; {result.rejected_patients} patients rejected (see table rejected_rows)" if drop_invalid else "")
    )


def register(app: typer.Typer) -> None:
    """Add ``validate`` and ``import`` to the cartreg app."""
    app.command("validate")(validate_cmd)
    app.command("import")(import_cmd)
