"""Read a registry export (a directory of CSV files or one .xlsx workbook) as raw text.

Nothing is interpreted here: every cell stays text (``None`` when empty), so the validator can report
each value exactly as the user typed it. Each table carries ``_row``, the row number a spreadsheet
shows (header = row 1, first data row = row 2), and a label for messages: ``patients.csv`` or
``registry.xlsx[patients]``.

Real exports are messy, so the reader accepts a UTF-8 BOM, ``;`` as the delimiter (detected from the
header line), Windows-1252 text (with a warning) and Excel date cells. Rows with the wrong number of
fields are skipped and reported as ``malformed_row``, and the row numbers of the rows after them stay
right.

Example::

    raw = read_registry_files(Path("examples/registry"))
    raw.tables["patients"].data.column("age")    # pyarrow string column
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from cartreg.errors import CartregError

#: The table names of the exchange format, in report order.
TABLE_NAMES: tuple[str, ...] = ("patients", "infusions", "responses", "treatments")

_BOM = b"\xef\xbb\xbf"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # control characters cannot be part of a column name


@dataclass(frozen=True)
class ReadProblem:
    """A problem found while reading (before any column is interpreted)."""

    severity: str
    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str
    message: str


@dataclass(frozen=True)
class RawTable:
    """One table as text.

    ``data`` has one string column per header column (named as in the header, trimmed and
    lower-cased) plus ``_row`` (int64, the spreadsheet row). ``columns`` is the header order.
    """

    name: str
    label: str
    columns: tuple[str, ...]
    data: pa.Table
    sha256: str = ""


@dataclass(frozen=True)
class RawRegistry:
    """Everything read from a registry export."""

    path: Path
    kind: str  # "csv" or "xlsx"
    tables: dict[str, RawTable]
    sources: tuple[tuple[str, str], ...]  # (file name, sha256), sorted by name
    problems: tuple[ReadProblem, ...] = field(default_factory=tuple)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    return scan_file(path)[0]


def scan_file(path: Path) -> tuple[str, bool]:
    """(SHA-256, whether the whole file is valid UTF-8), in one pass of 1 MiB blocks."""
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
                if utf8:
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError:
                        utf8 = False
            if utf8:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    utf8 = False
    except OSError as exc:
        raise CartregError(f"{path.name}: cannot read ({exc.strerror})", 2) from exc
    return h.hexdigest(), utf8


def read_registry_files(path: Path) -> RawRegistry:
    """Read a CSV directory or an .xlsx workbook. Raises CartregError (exit 2) if unusable."""
    path = Path(path)
    if not path.exists():
        raise CartregError(f"{path}: no such file or directory", 2)
    if path.is_dir():
        from cartreg.io.readers import has_non_csv_tables, read_registry_dir  # issue 11: any table format

        if has_non_csv_tables(path):
            return read_registry_dir(path)
        return _read_csv_dir(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_workbook(path)
    raise CartregError(
        f"{path}: not a registry (expected a directory of CSV files, an .xlsx workbook or a .duckdb file)", 2
    )


# --------------------------------------------------------------------------------------------- CSV


def _find_csv_files(directory: Path) -> dict[str, Path]:
    """Map table name -> file, matching ``patients.csv`` case-insensitively."""
    found: dict[str, Path] = {}
    for p in sorted(directory.iterdir()):
        stem, suffix = p.stem.lower(), p.suffix.lower()
        if p.is_file() and suffix == ".csv" and stem in TABLE_NAMES:
            if stem in found:
                raise CartregError(f"{directory}: two files for table '{stem}': {found[stem].name}, {p.name}", 2)
            found[stem] = p
    return found


def _read_csv_dir(directory: Path) -> RawRegistry:
    files = _find_csv_files(directory)
    tables: dict[str, RawTable] = {}
    problems: list[ReadProblem] = []
    for name, p in files.items():
        table, probs = read_csv_table(p, name)
        tables[name] = table
        problems.extend(probs)
    sources = tuple(sorted((tables[name].label, tables[name].sha256) for name in files))
    return RawRegistry(directory, "csv", tables, sources, tuple(problems))


def _sniff_delimiter(header_line: str) -> str:
    """``;`` when the header has more semicolons than commas (French Excel exports), else ``,``."""
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _normalise_header(names: list[str], label: str) -> list[str]:
    """Trim and lower-case header names (control characters removed); name blank ones ``column_N``;
    reject duplicates."""
    out: list[str] = []
    for i, n in enumerate(names):
        n = _CONTROL.sub("", n).strip().lower() or f"column_{i + 1}"
        if n in out:
            raise CartregError(f"{label}: column '{n}' appears twice in the header", 2)
        out.append(n)
    return out


def read_csv_table(path: Path, name: str) -> tuple[RawTable, list[ReadProblem]]:
    """Read one CSV file as text columns plus ``_row``."""
    label = path.name
    # The whole file is checked: pyarrow cannot report a malformed row whose bytes are not UTF-8.
    sha, utf8 = scan_file(path)
    with path.open("rb") as f:
        head = f.read(1 << 16)
    if head.startswith(_BOM):
        head = head[len(_BOM):]
    encoding = "utf8" if utf8 else "cp1252"
    # errors="ignore" for UTF-8: the 64 KiB block may end inside a character.
    head_text = head.decode("utf-8", errors="ignore") if utf8 else head.decode("cp1252", errors="replace")
    first_line = head_text.splitlines()[0] if head_text.strip() else ""
    if not first_line.strip():
        raise CartregError(f"{label}: empty file (no header row)", 2)
    delimiter = _sniff_delimiter(first_line)
    try:
        header = next(csv.reader(io.StringIO(head_text, newline=""), delimiter=delimiter))
    except (csv.Error, StopIteration) as exc:
        raise CartregError(f"{label}: the header row cannot be read ({exc})", 2) from exc
    columns = _normalise_header(header, label)

    problems: list[ReadProblem] = []
    if encoding != "utf8":
        problems.append(
            ReadProblem("warning", label, None, None, None, "not_utf8",
                        "the file is not UTF-8; it was read as Windows-1252 (save it as CSV UTF-8)")
        )
    data, bad = _arrow_read(path, columns, delimiter, encoding, use_threads=True)
    if bad and any(number is None for number, _ in bad):
        data, bad = _arrow_read(path, columns, delimiter, encoding, use_threads=False)
    for number, text in bad:
        problems.append(
            ReadProblem("error", label, number, None, text[:200], "malformed_row",
                        f"this row does not have the {len(columns)} fields of the header; it was skipped")
        )
    rows = _spreadsheet_rows(data.num_rows, [n for n, _ in bad if n is not None])
    data = data.append_column("_row", pa.array(rows, pa.int64()))
    return RawTable(name, label, tuple(columns), data, sha), problems


def _arrow_read(
    path: Path, columns: list[str], delimiter: str, encoding: str, use_threads: bool
) -> tuple[pa.Table, list[tuple[int | None, str]]]:
    bad: list[tuple[int | None, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:  # called only for malformed rows (rare)
        bad.append((row.number, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                use_threads=use_threads, column_names=columns, skip_rows=1, encoding=encoding
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, ignore_empty_lines=False, newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns}, strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, OSError) as exc:
        raise CartregError(f"{path.name}: cannot be read as CSV ({str(exc).splitlines()[0]})", 2) from exc
    return table, sorted(bad, key=lambda b: (b[0] is None, b[0] or 0))


def _spreadsheet_rows(n_kept: int, skipped_lines: list[int]) -> np.ndarray:
    """Spreadsheet row of each kept record, given the (1-based) lines of skipped records.

    Record k of the kept ones sits after every skipped record whose own index is lower, so its
    original index is k plus the number of skipped records before it.
    """
    k = np.arange(n_kept, dtype=np.int64)
    if not skipped_lines:
        return k + 2
    skipped_idx = np.sort(np.asarray(skipped_lines, dtype=np.int64)) - 2  # 0-based record index
    kept_before = skipped_idx - np.arange(len(skipped_idx))
    return k + np.searchsorted(kept_before, k, side="right") + 2


# ---------------------------------------------------------------------------------------- Workbook


def _cell_text(value: object) -> str | None:
    """Text of one Excel cell: dates as ISO, whole floats without ``.0``, booleans as yes/no."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    text = str(value)
    return text if text.strip() else None


def _read_workbook(path: Path) -> RawRegistry:
    import openpyxl  # imported here: only workbooks need it
    import zipfile

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError, Exception) as exc:
        # openpyxl raises many kinds of exceptions for a damaged file; all mean "unusable input".
        raise CartregError(f"{path.name}: not a readable .xlsx workbook ({type(exc).__name__}: {exc})", 2) from exc
    try:
        sheets = {ws.title.strip().lower(): ws for ws in wb.worksheets}
        tables: dict[str, RawTable] = {}
        for name in TABLE_NAMES:
            if name in sheets:
                label = f"{path.name}[{sheets[name].title}]"
                try:
                    tables[name] = _read_sheet(sheets[name], name, label)
                except CartregError:
                    raise
                except Exception as exc:  # read-only mode parses the sheet XML lazily, here
                    raise CartregError(f"{label}: the sheet cannot be read ({type(exc).__name__}: {exc})", 2) from exc
    finally:
        wb.close()
    return RawRegistry(path, "xlsx", tables, ((path.name, sha256_file(path)),), ())


def _read_sheet(ws, name: str, label: str) -> RawTable:
    rows = ws.iter_rows(values_only=True)
    header_cells = next(rows, None)
    if header_cells is None or all(_cell_text(c) is None for c in header_cells):
        raise CartregError(f"{label}: empty sheet (no header row)", 2)
    header = [(_cell_text(c) or "") for c in header_cells]
    while header and not header[-1].strip():  # Excel often reports trailing blank header cells
        header.pop()
    columns = _normalise_header(header, label)
    width = len(columns)
    values: list[list[str | None]] = [[] for _ in range(width)]
    row_numbers: list[int] = []
    # openpyxl yields Python objects cell by cell, so a loop is unavoidable for a workbook.
    for i, cells in enumerate(rows, start=2):
        texts = [_cell_text(c) for c in cells[:width]]
        if all(t is None for t in texts):
            continue
        texts.extend([None] * (width - len(texts)))
        for j, t in enumerate(texts):
            values[j].append(t)
        row_numbers.append(i)
    arrays = [pa.array(v, pa.string()) for v in values] + [pa.array(row_numbers, pa.int64())]
    data = pa.Table.from_arrays(arrays, names=[*columns, "_row"])
    return RawTable(name, label, tuple(columns), data)
