"""``cartreg redcap-dictionary``: the REDCap data dictionary of a CAR T registry in the exchange format."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add ``redcap-dictionary`` to the cartreg app."""

    @app.command("redcap-dictionary")
    def redcap_dictionary(
        out: Path = typer.Option(..., "-o", "--output", help="The data dictionary CSV to write."),
    ) -> None:
        """Write a REDCap data dictionary for the exchange format (upload it in REDCap's Data Dictionary page).

        Instruments patients and infusions (not repeating), responses and treatments (make them
        repeating in the project setup). An export of the project, raw or labelled, imports with
        `cartreg import export.csv --redcap-dictionary dict.csv -o registry.duckdb`.
        """
        from cartreg.io.redcap import write_template_dictionary
        from cartreg.registry.schema import TABLES

        path = write_template_dictionary(out, TABLES)
        typer.echo(f"wrote {path}: instruments patients, infusions (not repeating), responses, treatments "
                   "(enable them as repeating instruments in REDCap)")
