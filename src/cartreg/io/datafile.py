"""Read any analysis table (CSV, Parquet or XLSX) for ``cartreg survival`` and ``cartreg cuminc``.

Unlike the registry reader, nothing here knows a schema: a :class:`DataTable` keeps every column as
read and interprets it only on request — :meth:`DataTable.text` for labels (the cell text as
written) and :meth:`DataTable.numeric` for times, codes and covariates.

* CSV: ``,``, ``;`` or tab delimiter (detected from the header line), optional UTF-8 BOM,
  UTF-8 or (failing that) Windows-1252 text, quoted fields. In a ``;``-delimited file a decimal
  comma (``1,5``) reads as a number, as European spreadsheets write it.
* Parquet: typed columns are kept (numbers stay numbers).
* XLSX: the first worksheet, header in row 1; empty trailing rows are ignored.

Missing values: an empty cell, or one of ``NA``, ``N/A``, ``NaN``, ``nan``, ``NULL``, ``null``
(R's ``read.csv`` reads ``NA`` as missing too). Row numbers in messages are those a spreadsheet
shows (header = row 1); for Parquet, the 1-based record number.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
>>> _ = p.write_text("time;event;arm\\n1,5;1;A\\n2;0;NA\\n", encoding="utf-8")
>>> t = read_table(p)
>>> t.columns, t.numeric("time").tolist(), t.text("arm").tolist()
(('time', 'event', 'arm'), [1.5, 2.0], ['A', None])
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cartreg.errors import CartregError

#: Cell texts read as missing.
MISSING_TOKENS: tuple[str, ...] = ("", "NA", "N/A", "NaN", "nan", "NULL", "null")

_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_BOM = b"\xef\xbb\xbf"
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


@dataclass(frozen=True, eq=False)
class DataTable:
    """A table read from a data file.

    ``path`` the file; ``columns`` the header names in file order; ``data`` one pyarrow array per
    column (strings for CSV, typed for Parquet/XLSX); ``n_rows``; ``first_row`` the row number of
    the first record in messages (2 below a header row, 1 for Parquet); ``decimal_comma`` whether
    ``1,5`` reads as 1.5 (``;``-delimited CSV).
    """

    path: Path
    columns: tuple[str, ...]
    data: dict[str, pa.Array]
    n_rows: int
    first_row: int
    decimal_comma: bool = False

    def column(self, name: str) -> str:
        """The column called ``name`` (exact, else case-insensitive); :class:`CartregError` if none."""
        if name in self.data:
            return name
        folded = [c for c in self.columns if c.strip().lower() == name.strip().lower()]
        if len(folded) == 1:
            return folded[0]
        hint = difflib.get_close_matches(name, self.columns, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise CartregError(
            f"unknown column {name!r} in {self.path.name}{extra} (columns: {', '.join(self.columns)})"
        )

    def _missing(self, arr: pa.Array) -> np.ndarray:
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            trimmed = pc.utf8_trim_whitespace(arr)
            miss = pc.or_kleene(pc.is_null(arr), pc.is_in(trimmed, value_set=pa.array(MISSING_TOKENS)))
            return np.asarray(pc.fill_null(miss, True).to_numpy(zero_copy_only=False), dtype=bool)
        if pa.types.is_floating(arr.type):
            return np.asarray(pc.fill_null(pc.is_nan(arr), True).to_numpy(zero_copy_only=False), dtype=bool)
        return np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False), dtype=bool)

    def text(self, name: str) -> np.ndarray:
        """The cells of a column as text (object array of ``str``, ``None`` where missing).

        Text cells are returned as written; numbers from Parquet/XLSX are written as R's ``as.character``
        does (15 significant digits: ``1`` not ``1.0``, ``0.5``).
        """
        arr = self.data[self.column(name)]
        miss = self._missing(arr)
        t = arr.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            out = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
        elif pa.types.is_floating(t) or pa.types.is_integer(t):
            vals = np.asarray(pc.fill_null(pc.cast(arr, pa.float64()), 0.0).to_numpy(zero_copy_only=False))
            out = np.char.mod("%.15g", vals).astype(object)  # as R's as.character(): 15 digits
        elif pa.types.is_boolean(t):
            out = np.where(np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool),
                           "TRUE", "FALSE").astype(object)
        else:
            out = np.asarray(pc.cast(arr, pa.string()).to_numpy(zero_copy_only=False), dtype=object)
        out = out.astype(object)
        out[miss] = None
        return out

    def numeric(self, name: str) -> np.ndarray:
        """A column as float64 with NaN where missing; :class:`CartregError` naming the first
        cell that is not a number."""
        col = self.column(name)
        arr = self.data[col]
        t = arr.type
        if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t):
            return np.asarray(pc.fill_null(pc.cast(arr, pa.float64()), np.nan).to_numpy(zero_copy_only=False),
                              dtype=float)
        if pa.types.is_boolean(t):
            return np.asarray(pc.fill_null(pc.cast(arr, pa.float64()), np.nan).to_numpy(zero_copy_only=False),
                              dtype=float)
        if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
            raise CartregError(f"column {col!r} in {self.path.name} holds {t} values, not numbers")
        miss = self._missing(arr)
        s = pc.utf8_trim_whitespace(pc.fill_null(arr, ""))
        if self.decimal_comma:
            s = pc.replace_substring_regex(s, pattern=r"^([+-]?\d*),(\d+)$", replacement=r"\1.\2")
        ok = np.asarray(pc.match_substring_regex(s, pattern=_NUMBER).to_numpy(zero_copy_only=False), dtype=bool)
        bad = ~ok & ~miss
        if bad.any():
            i = int(np.argmax(bad))
            raise CartregError(
                f"column {col!r} in {self.path.name}: cannot read {arr[i].as_py()!r} as a number "
                f"(row {i + self.first_row}; {int(bad.sum())} such value(s))"
            )
        s = pc.replace_substring_regex(s, pattern=r"^\+", replacement="")
        s = pc.if_else(pa.array(miss), pa.scalar(None, pa.string()), s)
        return np.asarray(pc.fill_null(pc.cast(s, pa.float64()), np.nan).to_numpy(zero_copy_only=False),
                          dtype=float)


def _unique_names(names: list[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(names):
        base = raw.strip() or f"column{i + 1}"
        name, k = base, 2
        while name in seen:
            name, k = f"{base}.{k}", k + 1
        seen.add(name)
        out.append(name)
    return out


def _read_csv(path: Path) -> DataTable:
    import pyarrow.csv as pacsv

    raw = _checked_bytes(path)
    try:
        text = raw.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError as exc:
        if _UTF8_MULTIBYTE.search(raw):  # a UTF-8 file with stray bytes: never re-decoded
            line = raw[:exc.start].count(b"\n") + 1
            raise CartregError(f"{path.name}: line {line} holds bytes that are not UTF-8 in a UTF-8 file; "
                               "retype the value or save the file as CSV UTF-8") from None
        text = raw.decode("cp1252", errors="replace")
        encoding = "cp1252"
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise CartregError(f"{path.name} has no header line")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    delim = max(counts, key=lambda d: counts[d]) if max(counts.values()) > 0 else ","
    header = next(csv.reader([first], delimiter=delim))
    names = _unique_names(header)
    body = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    if not body.strip():
        return DataTable(path, tuple(names), {n: pa.array([], pa.string()) for n in names}, 0, 2,
                         delim == ";")
    block = 1 << 20
    while True:  # a field longer than pyarrow's block: raise the block size (up to 256 MiB)
        try:
            table = pacsv.read_csv(
                io.BytesIO(body),
                read_options=pacsv.ReadOptions(column_names=names, encoding=encoding, block_size=block),
                parse_options=pacsv.ParseOptions(delimiter=delim),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            break
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc) and block < 1 << 28:
                block *= 16
                continue
            if "straddl" in str(exc):
                raise CartregError(f"cannot read {path.name} as CSV: one row is longer than 256 MiB "
                                   "(an unclosed quote?)") from exc
            raise CartregError(f"cannot read {path.name} as CSV: {exc}") from exc
    data = {n: table.column(n).combine_chunks() for n in names}
    return DataTable(path, tuple(names), data, table.num_rows, 2, delim == ";")


def _checked_bytes(path: Path) -> bytes:
    """The file's bytes, BOM removed and CR-only line ends made LF; CartregError (exit 2) for a file
    that is not 8-bit text (UTF-16, zip, binary) or holds a NUL byte in a value."""
    from cartreg.io.registry_files import _check_text_file

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CartregError(f"{path.name}: cannot read ({exc.strerror})") from exc
    _check_text_file(raw[:1 << 16], path.name)
    if raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    if b"\n" not in raw and b"\r" in raw:  # classic Mac line ends
        raw = raw.replace(b"\r", b"\n")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw[:nul].count(b"\n") + 1
        raise CartregError(f"{path.name}: line {line} holds a NUL byte; values may not contain control characters")
    return raw


def _read_parquet(path: Path) -> DataTable:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise CartregError(f"cannot read {path.name} as Parquet: {exc}") from exc
    names = list(table.column_names)
    data = {}
    for n in names:
        col = table.column(n).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        data[n] = col
    return DataTable(path, tuple(names), data, table.num_rows, 1)


def _xlsx_column(values: list[object]) -> pa.Array:
    present = [v for v in values if v is not None and not (isinstance(v, str) and v.strip() == "")]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pa.array([None if v is None or isinstance(v, str) else float(v) for v in values], pa.float64())
    if present and all(isinstance(v, bool) for v in present):
        return pa.array([v if isinstance(v, bool) else None for v in values], pa.bool_())

    def as_text(v: object) -> str | None:
        if v is None:
            return None
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
            return str(int(v))
        if hasattr(v, "isoformat"):
            return v.isoformat()
        return str(v)

    return pa.array([as_text(v) for v in values], pa.string())


def _read_xlsx(path: Path) -> DataTable:
    import openpyxl

    from cartreg.io.xlsx_limits import MAX_ROWS, check_workbook, too_many_rows

    check_workbook(path)  # documented size limits, before parsing (bounded memory)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad file
        raise CartregError(f"cannot read {path.name} as an Excel workbook: {exc}") from exc
    try:
        if not wb.worksheets:
            raise CartregError(f"{path.name} has no worksheet")
        rows = []
        for i, r in enumerate(wb.worksheets[0].iter_rows(values_only=True), start=1):
            if i > MAX_ROWS:
                raise too_many_rows(path.name)
            rows.append(r)
    except CartregError:
        raise
    except Exception as exc:  # read-only mode parses the sheet lazily, here
        raise CartregError(f"cannot read {path.name} as an Excel workbook: {type(exc).__name__}: {exc}") from exc
    finally:
        wb.close()
    while rows and all(v is None or (isinstance(v, str) and not v.strip()) for v in rows[-1]):
        rows.pop()
    if not rows:
        raise CartregError(f"{path.name} has no header row")
    width = max(len(r) for r in rows)
    header = [("" if v is None else str(v)) for v in rows[0]] + [""] * (width - len(rows[0]))
    names = _unique_names(header)
    body = [tuple(r) + (None,) * (width - len(r)) for r in rows[1:]]
    cols = list(zip(*body)) if body else [()] * width
    data = {n: _xlsx_column(list(c)) for n, c in zip(names, cols)}
    return DataTable(path, tuple(names), data, len(body), 2)


def read_table(path: str | Path) -> DataTable:
    """Read a CSV (``.csv``, ``.txt``, ``.tsv``), Parquet (``.parquet``, ``.pq``) or XLSX file.

    Raises :class:`CartregError` for a missing file, an unknown extension or an unreadable file.
    """
    p = Path(path)
    if not p.is_file():
        raise CartregError(f"no such file: {p}")
    ext = p.suffix.lower()
    if ext in (".csv", ".txt", ".tsv"):
        return _read_csv(p)
    if ext in (".parquet", ".pq"):
        return _read_parquet(p)
    if ext in (".xlsx", ".xlsm"):
        return _read_xlsx(p)
    if ext in (".sas7bdat", ".xpt", ".sav", ".zsav", ".dta"):  # issue 11: SAS, SPSS, Stata
        from cartreg.io.readers import read_stat_datatable

        return read_stat_datatable(p)
    raise CartregError(f"unsupported data file {p.name}: use .csv, .parquet, .xlsx, .sas7bdat, .xpt, .sav or .dta")
