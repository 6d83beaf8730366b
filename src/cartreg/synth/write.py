"""Writers: a generated registry as a CSV directory, an .xlsx workbook or a cartreg DuckDB file.

All three are deterministic for a given registry: CSVs carry no timestamps (dates ISO, booleans
``yes``/``no``, integers as integers, CRP with at most one decimal); the workbook's created and
modified properties are fixed to the data cut-off and its zip entries carry a fixed date. The DuckDB
file is made by :func:`cartreg.registry.import_registry` from the CSVs and holds the import time in
its metadata table, so it is *not* byte-identical across runs (its data are).

Example::

    >>> from cartreg.synth import generate, write_registry
    >>> write_registry(generate(200, seed=3), "synth-out")   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from cartreg.errors import CartregError
from cartreg.synth.generate import SynthRegistry

TABLES: tuple[str, ...] = ("patients", "infusions", "responses", "treatments")
XLSX_MAX_ROWS = 1_048_576


def write_csv_dir(reg: SynthRegistry, out: str | Path) -> list[Path]:
    """Write ``patients.csv``, ``infusions.csv``, ``responses.csv``, ``treatments.csv`` into ``out``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise CartregError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    plain = pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=1 << 16)
    quoted = pacsv.WriteOptions(include_header=False, quoting_style="needed", batch_size=1 << 16)
    paths = []
    for name in TABLES:
        path = out / f"{name}.csv"
        table = reg.tables[name]
        # unquoted unless a text (e.g. an edited regimen name) holds a comma, quote or newline
        with pa.OSFile(str(path), "wb") as sink:
            sink.write((",".join(table.column_names) + "\n").encode("utf-8"))
            pacsv.write_csv(table, sink, quoted if _needs_quotes(table) else plain)
        paths.append(path)
    return paths


def _needs_quotes(table: pa.Table) -> bool:
    import pyarrow.compute as pc

    for col in table.columns:
        if pa.types.is_string(col.type) and len(col):
            if pc.any(pc.match_substring_regex(col, r'[,"\r\n]')).as_py():
                return True
    return False


_CORE_DATES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def write_xlsx(reg: SynthRegistry, out: str | Path) -> Path:
    """Write one workbook with sheets named like the CSVs (openpyxl write-only mode).

    Deterministic: document properties are set to the cut-off and the zip is re-packed with fixed
    entry dates. Excel holds at most 1,048,576 rows a sheet; a larger table is a CartregError.
    """
    from openpyxl import Workbook

    out = Path(out)
    for name in TABLES:
        if reg.tables[name].num_rows + 1 > XLSX_MAX_ROWS:
            raise CartregError(f"{name} has {reg.tables[name].num_rows} rows: too many for an .xlsx sheet; "
                               "write a CSV directory or a .duckdb file instead")
    stamp = dt.datetime.combine(reg.cutoff, dt.time())
    wb = Workbook(write_only=True)
    wb.properties.creator = "cartreg synth"
    wb.properties.created = stamp
    for name in TABLES:
        table = reg.tables[name]
        ws = wb.create_sheet(title=name)
        ws.append(table.column_names)
        cols = []
        for col in table.columns:
            if pa.types.is_date32(col.type):
                cols.append([None if v is None else v.isoformat() for v in col.to_pylist()])
            else:
                cols.append(col.to_pylist())
        for row in zip(*cols):
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    _repack(buf.getvalue(), out, stamp)
    return out


def _repack(data: bytes, out: Path, stamp: dt.datetime) -> None:
    """Copy a zip with fixed entry dates and fixed core-property dates (openpyxl sets 'now')."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = _CORE_DATES.sub(lambda m: m.group(1) + iso + m.group(3), payload)
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, payload)
    os.replace(tmp, out)


def write_duckdb(reg: SynthRegistry, out: str | Path, replace: bool = False) -> Path:
    """Write the CSVs to a temporary directory and import them with ``cartreg.registry.import_registry``."""
    from cartreg.registry import import_registry

    out = Path(out)
    tmp = Path(tempfile.mkdtemp(prefix="cartreg-synth-"))
    try:
        write_csv_dir(reg, tmp)
        import_registry(tmp, out, cutoff=reg.cutoff, replace=replace)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def write_registry(reg: SynthRegistry, out: str | Path, replace: bool = False,
                   progress: Callable[[str], None] | None = None) -> Path:
    """Write by the output's form: ``*.xlsx`` workbook, ``*.duckdb`` store, anything else a directory."""
    out = Path(out)
    say = progress or (lambda _m: None)
    suffix = out.suffix.lower()
    if suffix == ".xlsx":
        say(f"writing workbook {out}")
        return write_xlsx(reg, out)
    if suffix == ".duckdb":
        say(f"importing into {out}")
        return write_duckdb(reg, out, replace=replace)
    say(f"writing CSV files to {out}/")
    write_csv_dir(reg, out)
    return out
