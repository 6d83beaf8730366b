"""``cartreg map init`` and ``cartreg map check``: write and check a mapping (docs/mapping.md)."""

from __future__ import annotations

from pathlib import Path

import typer

map_app = typer.Typer(help="Write and check a mapping from a source in any layout to the exchange format.",
                      no_args_is_help=True)


@map_app.command("init")
def init_cmd(
    source: Path = typer.Argument(..., help="The source: workbook, CSV, SAS/SPSS/Stata file, REDCap export or directory."),
    out: Path = typer.Option(..., "-o", "--output", help="The mapping TOML to write."),
    sheet: str = typer.Option(None, "--sheet", help="The sheet (or file stem) to map; default: the first."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite an existing mapping file."),
    redcap_dictionary: Path = typer.Option(None, "--redcap-dictionary",
                                           help="SOURCE is a REDCap export: read its codes as the dictionary's labels."),
) -> None:
    """Draft a mapping: headers matched to exchange columns, values proposed, dates detected, TODO for the rest."""
    from cartreg.errors import CartregError
    from cartreg.io.mapping_draft import draft_mapping

    if out.exists() and not replace:
        raise CartregError(f"{out} already exists; use --replace to overwrite it", 2)
    text, todo = draft_mapping(source, out, sheet, redcap_dictionary)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    typer.echo(f"wrote {out}: {todo} TODO(s) to review (search for 'TODO'); then run `cartreg map check {out}`")


@map_app.command("check")
def check_cmd(
    mapping: Path = typer.Argument(..., help="The mapping TOML."),
    source: Path = typer.Option(None, "--source", help="Read this source instead of [source].path."),
) -> None:
    """Per target column: its source, values read, mapped, missing and unmapped (with the unmapped values)."""
    from cartreg.io.mapping import check_mapping, format_check

    from cartreg.registry.schema import TABLES

    rows = check_mapping(mapping, source, TABLES)
    typer.echo(format_check(rows))
    raise typer.Exit(1 if any(r.unmapped for r in rows) else 0)


def register(app: typer.Typer) -> None:
    """Add ``map init`` and ``map check`` to the cartreg app."""
    app.add_typer(map_app, name="map")
