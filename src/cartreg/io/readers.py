"""Read any source table as text: CSV, .xlsx, Parquet, SAS (.sas7bdat, .xpt), SPSS (.sav) and Stata (.dta).

A :class:`SourceTable` keeps every cell as text (``None`` when empty), the header as written, and the
row number a user sees: for CSV and workbooks the spreadsheet row (header = row 1, first data row =
row 2); for Parquet, SAS, SPSS and Stata files, which have no header row, the 1-based observation
number (Stata's ``_n``, the row SAS and SPSS viewers show).

Statistical files are read with pyreadstat and turned into text with their metadata:

* **value labels** are applied: a cell holds the label (``"Male"``), and :attr:`SourceTable.codes`
  keeps the underlying code (``"1"``) so that a mapping may name either;
* **dates** (SAS ``DATE9.``, Stata ``%td``, SPSS ``DATE11`` and their datetime forms) become ISO
  ``YYYY-MM-DD`` (a datetime keeps its time, which the validator then reports);
* **missing values**, system or user-defined (SAS ``.A``–``.Z``, Stata ``.a``–``.z``, SPSS
  missing values and ranges), become empty cells;
* numbers are written without a trailing ``.0`` (``1`` not ``1.0``), like a spreadsheet shows them.

Example::

    src = read_source(Path("extract.dta"))
    t = src.tables["extract"]
    t.label, t.columns, t.data.column("sex").to_pylist()[:3]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cartreg.errors import CartregError
from cartreg.io.registry_files import (
    TABLE_NAMES,
    RawRegistry,
    RawTable,
    _cell_text,
    _normalise_header,
    sha256_file,
)

#: File suffixes read by :func:`read_source_file`, by kind.
STAT_SUFFIXES: Mapping[str, str] = {".sas7bdat": "sas", ".xpt": "xport", ".sav": "spss", ".zsav": "spss", ".dta": "stata"}
TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".xlsx", ".xlsm", ".parquet", ".pq", *STAT_SUFFIXES)


@dataclass(frozen=True)
class SourceTable:
    """One source table as text.

    ``name`` the sheet name or file stem; ``label`` for messages (``registre.xlsx[Feuil1]``,
    ``extract.dta``); ``columns`` the headers as written (made unique: a repeated header gets
    `` (2)``); ``data`` one string column per header plus ``_row`` (int64); ``codes`` for
    value-labelled columns, the underlying codes as text (same length as ``data``).
    """

    name: str
    label: str
    columns: tuple[str, ...]
    data: pa.Table
    codes: Mapping[str, pa.Array] = field(default_factory=dict)
    sha256: str = ""

    @property
    def num_rows(self) -> int:
        return self.data.num_rows

    def find_column(self, name: str) -> str | None:
        """The header called ``name``: exact, else ignoring case and surrounding spaces."""
        if name in self.columns:
            return name
        folded = [c for c in self.columns if c.strip().casefold() == name.strip().casefold()]
        return folded[0] if len(folded) == 1 else None


@dataclass(frozen=True)
class SourceFile:
    """Every table of one source: the sheets of a workbook, or one table for any other file, or the
    files of a directory (by stem). ``sources`` are (file name, sha256) pairs."""

    path: Path
    kind: str  # "xlsx", "csv", "parquet", "sas", "xport", "spss", "stata", "dir"
    tables: dict[str, SourceTable]
    sources: tuple[tuple[str, str], ...]

    def table(self, name: str | None, what: str = "") -> SourceTable:
        """The table called ``name`` (case-insensitive); the only one when ``name`` is None."""
        if name is None:
            if len(self.tables) == 1:
                return next(iter(self.tables.values()))
            raise CartregError(
                f"{self.path.name}: {what}name the sheet or file to read with 'from' or [source].sheet "
                f"(it has: {', '.join(self.tables)})", 2)
        if name in self.tables:
            return self.tables[name]
        folded = {k.strip().casefold(): v for k, v in self.tables.items()}
        if name.strip().casefold() in folded:
            return folded[name.strip().casefold()]
        raise CartregError(f"{self.path.name}: {what}no sheet or file '{name}' (it has: {', '.join(self.tables)})", 2)


def unique_headers(names: list[str]) -> list[str]:
    """Headers as written, trimmed; a blank one becomes ``column_N``, a repeated one gets `` (2)``."""
    out: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(names):
        base = (raw or "").strip() or f"column_{i + 1}"
        name, k = base, 2
        while name.casefold() in seen:
            name, k = f"{base} ({k})", k + 1
        seen.add(name.casefold())
        out.append(name)
    return out


def _blank_to_null(arr: pa.Array) -> pa.Array:
    """Whitespace-only strings become null (an empty cell)."""
    arr = arr.cast(pa.string()) if arr.type != pa.string() else arr
    blank = pc.equal(pc.utf8_trim_whitespace(arr), "")
    return pc.if_else(blank, pa.scalar(None, pa.string()), arr)


# ------------------------------------------------------------------------------------- CSV, xlsx


def _read_csv(path: Path) -> SourceTable:
    """A CSV file (BOM, ``;`` or ``,``, UTF-8 or Windows-1252), headers as written (a repeated header
    gets `` (2)``); a row with the wrong number of fields is unusable input, named by its row."""
    import csv
    import io

    from cartreg.io.registry_files import _arrow_read, _spreadsheet_rows, scan_file

    sha, utf8 = scan_file(path)
    with path.open("rb") as f:
        first_bytes = f.readline().removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n")
    first = first_bytes.decode("utf-8") if utf8 else first_bytes.decode("cp1252", errors="replace")
    if not first.strip():
        raise CartregError(f"{path.name}: empty file (no header row)", 2)
    delim = ";" if first.count(";") > first.count(",") else ","
    try:  # a lone carriage return inside the header line (issue 16's property test) is not a header
        rows = list(csv.reader(io.StringIO(first, newline=""), delimiter=delim))
    except csv.Error as exc:
        raise CartregError(f"{path.name}: the header row cannot be read ({exc})", 2) from exc
    if len(rows) != 1:
        raise CartregError(f"{path.name}: the header row holds a line break (a lone carriage return); save the "
                           "file with ordinary line endings (LF or CR LF)", 2)
    header = unique_headers(rows[0])
    data, bad = _arrow_read(str(path), path.name, header, delim, "utf8" if utf8 else "cp1252", use_threads=True)
    if bad and any(n is None for n, _ in bad):
        data, bad = _arrow_read(str(path), path.name, header, delim, "utf8" if utf8 else "cp1252", use_threads=False)
    if bad:
        n, text = bad[0]
        raise CartregError(f"{path.name}: row {n}: this row does not have the {len(header)} fields of the header "
                           f"({text[:80]!r}; {len(bad)} such row(s))", 2)
    arrays = [_blank_to_null(data.column(i).combine_chunks()) for i in range(len(header))]
    rows = pa.array(_spreadsheet_rows(data.num_rows, []))
    return SourceTable(path.stem, path.name, tuple(header), pa.Table.from_arrays([*arrays, rows], names=[*header, "_row"]),
                       {}, sha)


def _read_workbook(path: Path, header_row: int | None = None) -> dict[str, SourceTable]:
    """Every sheet of a workbook, read with calamine (Rust; ~15x faster than openpyxl on a large
    sheet). Each column is converted at once when its cells share a type; a column mixing text and
    numbers falls back to cell-by-cell text (as the registry reader writes it)."""
    from python_calamine import CalamineWorkbook

    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own errors for a damaged or encrypted file
        raise CartregError(f"{path.name}: not a readable .xlsx workbook ({type(exc).__name__}: {exc})", 2) from exc
    sha = sha256_file(path)
    out: dict[str, SourceTable] = {}
    for title in wb.sheet_names:
        label = f"{path.name}[{title}]"
        try:
            rows = wb.get_sheet_by_name(title).to_python(skip_empty_area=False)
        except Exception as exc:
            raise CartregError(f"{label}: the sheet cannot be read ({type(exc).__name__}: {exc})", 2) from exc
        columns, data = _sheet_table(rows, header_row)
        out[title] = SourceTable(title, label, tuple(columns), data, {}, sha)
    return out


def _sheet_table(rows: list[list], header_row: int | None = None) -> tuple[list[str], pa.Table]:
    """(headers, text table with ``_row``) of a sheet's cell values; all-empty rows are left out.

    The header is row ``header_row`` (1-based, as the spreadsheet shows it), by default the first
    row with any value (a sheet may start lower than A1)."""
    def blank(r: list) -> bool:
        return all(_cell_text(c if c != "" else None) is None for c in r)

    if header_row is not None:
        start = header_row - 1
    else:
        start = next((i for i, r in enumerate(rows) if not blank(r)), len(rows))
    if start >= len(rows) or blank(rows[start]):
        return [], pa.table({"_row": pa.array([], pa.int64())})
    header = [(_cell_text(c if c != "" else None) or "") for c in rows[start]]
    while header and not header[-1].strip():
        header.pop()
    columns = unique_headers(header)
    rows = rows[start:]
    body = rows[1:]
    width = len(columns)
    if body and all(len(r) == len(body[0]) for r in (body[0], body[-1])) and len(body[0]) >= width:
        try:
            cols = list(zip(*body, strict=True))[:width]  # calamine gives a rectangular range
        except ValueError:
            cols = [[r[j] if j < len(r) else None for r in body] for j in range(width)]
    else:
        cols = [[r[j] if j < len(r) else None for r in body] for j in range(width)]
    arrays = [_cells_to_text(c) for c in cols]
    numbers = pa.array(np.arange(start + 2, start + len(body) + 2, dtype=np.int64))
    data = pa.Table.from_arrays([*arrays, numbers], names=[*columns, "_row"])
    if arrays:
        data = data.filter(pc.invert(_all_null(arrays)))
    return columns, data


def _all_null(arrays: list[pa.Array]) -> pa.Array:
    acc = pc.is_null(arrays[0])
    for a in arrays[1:]:
        acc = pc.and_(acc, pc.is_null(a))
    return acc


def _cells_to_text(cells) -> pa.Array:
    """Text of one column of cell values (dates ISO, whole numbers without ``.0``, booleans yes/no).

    A column whose cells share a type is converted at once; a column mixing types (text and numbers)
    falls back to cell-by-cell text."""
    kinds = set(map(type, cells))
    if kinds <= {str}:
        return _blank_to_null(pa.array(cells, pa.string()))
    if str in kinds:  # calamine gives "" for an empty cell
        cells = [None if c.__class__ is str and not c.strip() else c for c in cells]
    try:
        return _as_text(pa.array(cells))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([_cell_text(c) for c in cells], pa.string())


def _read_parquet(path: Path) -> SourceTable:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise CartregError(f"{path.name}: cannot be read as Parquet ({exc})", 2) from exc
    names = unique_headers(list(table.column_names))
    arrays = [_as_text(table.column(i).combine_chunks()) for i in range(table.num_columns)]
    rows = pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64))
    return SourceTable(path.stem, path.name, tuple(names), pa.Table.from_arrays([*arrays, rows], names=[*names, "_row"]),
                       {}, sha256_file(path))


def _as_text(arr: pa.Array) -> pa.Array:
    """Text of a typed column: dates ISO, whole numbers without ``.0``, booleans yes/no."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return _blank_to_null(arr.cast(pa.string()))
    if pa.types.is_boolean(t):
        return pc.if_else(arr, "yes", "no")
    if pa.types.is_timestamp(t):
        if t.tz is not None:
            arr = pc.local_timestamp(arr)
            t = arr.type
        day = pc.cast(arr, pa.date32())
        midnight = pc.equal(pc.cast(day, t), arr)
        if pc.all(pc.fill_null(midnight, True)).as_py():  # dates stored as datetimes: ISO dates (fast cast)
            return day.cast(pa.string())
        return pc.if_else(midnight, day.cast(pa.string()), pc.strftime(arr, "%Y-%m-%d %H:%M:%S"))
    if pa.types.is_date(t):
        return arr.cast(pa.string())  # ISO YYYY-MM-DD
    if pa.types.is_floating(t):
        arr = pc.cast(pc.if_else(pc.is_nan(arr), pa.scalar(None, t), arr), pa.float64())
        # whole numbers as integers (an ID 123456789012 is not "1.23456789012e+11"), others in the
        # shortest text that reads back as the same double
        whole = pc.fill_null(pc.and_(pc.equal(pc.floor(arr), arr), pc.less(pc.abs(arr), 2.0 ** 53)), False)
        ints = pc.cast(pc.if_else(whole, arr, 0.0), pa.int64()).cast(pa.string())
        return pc.if_else(whole, ints, arr.cast(pa.string()))
    return arr.cast(pa.string())


# -------------------------------------------------------------------------------- SAS, SPSS, Stata


# pyreadstat's own lists of date and datetime display formats (pyreadstat/_readstat_parser.pyx).
_SAS_DATE = {"WEEKDATE", "MMDDYY", "DDMMYY", "YYMMDD", "DATE", "DDMMYYB", "DDMMYYC", "DDMMYYD", "DDMMYYN", "DDMMYYP",
             "DDMMYYS", "MMDDYYB", "MMDDYYC", "MMDDYYD", "MMDDYYN", "MMDDYYP", "MMDDYYS", "WEEKDATX", "DTDATE",
             "IS8601DA", "E8601DA", "B8601DA", "YYMMDDB", "YYMMDDD", "YYMMDDN", "YYMMDDP", "YYMMDDS"}
_SAS_DATETIME = {"DATETIME", "E8601DT", "DATEAMPM", "MDYAMPM", "IS8601DT", "B8601DT", "B8601DN"}
_SPSS_DATE = {"DATE", "ADATE", "EDATE", "JDATE", "SDATE"}
_SPSS_DATETIME = {"DATETIME", "YMDHMS"}
_STATA_DATE = {"%td", "%d", "%tdD_m_Y", "%tdCCYY-NN-DD"}
_STATA_DATETIME = {"%tC", "%tc"}
_FORMAT_NAME = __import__("re").compile(r"^([A-Z][A-Z0-9]+[A-Z])(\d+)?(?:\.\d+)?$")
#: Days from each format's origin to 1970-01-01: SAS and Stata count from 1960-01-01, SPSS from 1582-10-14.
_ORIGIN_DAYS = {"sas": -3653, "xport": -3653, "stata": -3653, "spss": -141428}


def _date_kind(fmt: str | None, kind: str) -> str | None:
    """"date", "datetime" or None for a variable's display format (pyreadstat's rules)."""
    if not fmt:
        return None
    if kind == "stata":
        if fmt in _STATA_DATE or fmt.startswith("%td"):
            return "date"
        return "datetime" if fmt in _STATA_DATETIME or fmt.startswith(("%tc", "%tC")) and ":" not in fmt else None
    m = _FORMAT_NAME.match(fmt.upper())
    name = m.group(1) if m else fmt.upper()
    if kind == "spss":
        return "date" if name in _SPSS_DATE else "datetime" if name in _SPSS_DATETIME else None
    return "date" if name in _SAS_DATE else "datetime" if name in _SAS_DATETIME else None


def _stat_dates(values: np.ndarray, date_kind: str, kind: str) -> pa.Array:
    """Numbers in a statistical package's date convention -> date32 or timestamp[s] (NaN -> null).

    SAS dates count days and datetimes seconds from 1960-01-01; Stata ``%td`` days and ``%tc``
    milliseconds from 1960-01-01; SPSS dates and datetimes seconds from 1582-10-14.
    """
    v = np.asarray(values, dtype=float)
    mask = ~np.isfinite(v)
    origin = _ORIGIN_DAYS[kind]
    if date_kind == "date":
        days = v / 86400.0 if kind == "spss" else v
        out = np.where(mask, 0, np.floor(days) + origin).astype(np.int32)
        return pa.array(out, pa.date32(), mask=mask)
    secs = v / 1000.0 if kind == "stata" else v
    out = np.where(mask, 0, np.round(secs) + origin * 86400).astype(np.int64)
    return pa.array(out, pa.timestamp("s"), mask=mask)


def _read_stat_frame(path: Path, kind: str):
    """(pandas frame with dates as numbers, metadata, {column: "date"|"datetime"})."""
    import pyreadstat

    readers = {"sas": pyreadstat.read_sas7bdat, "xport": pyreadstat.read_xport,
               "spss": pyreadstat.read_sav, "stata": pyreadstat.read_dta}
    try:
        # dates converted here, vectorised (pyreadstat converts cell by cell in Python objects)
        df, meta = readers[kind](str(path), disable_datetime_conversion=True)
    except Exception as exc:  # pyreadstat raises its own ReadstatError, or OSError/ValueError
        what = "SAS transport" if kind == "xport" else {"sas": "SAS", "spss": "SPSS", "stata": "Stata"}[kind]
        raise CartregError(f"{path.name}: cannot be read as a {what} file ({type(exc).__name__}: {exc})", 2) from exc
    formats = getattr(meta, "original_variable_types", {}) or {}
    dates = {c: k for c in df.columns if (k := _date_kind(formats.get(c), kind)) is not None}
    return df, meta, dates


def _stat_column(series, date_kind: str | None, kind: str) -> pa.Array:
    if date_kind is not None and series.dtype.kind in "fiu":
        return _stat_dates(series.to_numpy(), date_kind, kind)
    arr = pa.array(series, from_pandas=True)
    if pa.types.is_null(arr.type):
        arr = pa.array([None] * len(series), pa.string())
    return arr


def _read_stat(path: Path, kind: str) -> SourceTable:
    """A SAS, SPSS or Stata file: value labels applied (codes kept), dates ISO, missing codes empty.

    User-defined missing values (SPSS missing values and ranges, SAS ``.A``-``.Z``, Stata
    ``.a``-``.z``) arrive from pyreadstat as NaN, so they are empty cells.
    """
    df, meta, dates = _read_stat_frame(path, kind)
    names = unique_headers([str(c) for c in df.columns])
    labels = getattr(meta, "variable_value_labels", {}) or {}
    arrays: list[pa.Array] = []
    codes: dict[str, pa.Array] = {}
    for name, col in zip(names, df.columns):
        arr = _stat_column(df[col], dates.get(col), kind)
        text = _as_text(arr)
        value_labels = labels.get(col)
        if value_labels and col not in dates:
            text, code_text = _apply_labels(arr, text, value_labels)
            codes[name] = code_text
        arrays.append(text)
    rows = pa.array(np.arange(1, len(df) + 1, dtype=np.int64))
    data = pa.Table.from_arrays([*arrays, rows], names=[*names, "_row"])
    return SourceTable(path.stem, path.name, tuple(names), data, codes, sha256_file(path))


def _apply_labels(arr: pa.Array, text: pa.Array, value_labels: Mapping) -> tuple[pa.Array, pa.Array]:
    """(label text, code text): each coded cell becomes its label; a code without a label stays."""
    keys = list(value_labels)
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type):
        key_arr = pa.array([float(k) for k in keys], pa.float64())
        idx = pc.index_in(pc.cast(arr, pa.float64()), value_set=key_arr)
    else:
        key_arr = pa.array([str(k) for k in keys], pa.string())
        idx = pc.index_in(text, value_set=key_arr)
    label_arr = pa.array([str(value_labels[k]) for k in keys], pa.string())
    labelled = pc.take(label_arr, idx)
    return pc.coalesce(labelled, text), text


# ------------------------------------------------------------------------------------- dispatch


def read_source_file(path: Path, header_row: int | None = None) -> dict[str, SourceTable]:
    """The tables of one file: every sheet of a workbook, else one table named by the file stem.
    ``header_row``: the header's row in a workbook's sheets (default: the first row with a value)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise CartregError(f"{path}: no such file", 2)
    if suffix in (".xlsx", ".xlsm"):
        return _read_workbook(path, header_row)
    if suffix == ".csv":
        return {path.stem: _read_csv(path)}
    if suffix in (".parquet", ".pq"):
        return {path.stem: _read_parquet(path)}
    if suffix in STAT_SUFFIXES:
        return {path.stem: _read_stat(path, STAT_SUFFIXES[suffix])}
    raise CartregError(f"{path.name}: unsupported file (use {', '.join(TABLE_SUFFIXES)})", 2)


def read_source(path: Path, header_row: int | None = None) -> SourceFile:
    """A file (its sheets or itself) or a directory (every supported file in it, by stem)."""
    path = Path(path)
    if not path.exists():
        raise CartregError(f"{path}: no such file or directory", 2)
    if path.is_dir():
        tables: dict[str, SourceTable] = {}
        for p in sorted(path.iterdir()):
            if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES and not p.name.startswith((".", "~$")):
                for name, t in read_source_file(p, header_row).items():
                    if name in tables:
                        raise CartregError(f"{path}: two tables named '{name}' ({tables[name].label}, {t.label})", 2)
                    tables[name] = t
        sources = tuple(sorted({(t.label.split("[")[0], t.sha256) for t in tables.values()}))
        return SourceFile(path, "dir", tables, sources)
    tables = read_source_file(path, header_row)
    sha = next(iter(tables.values())).sha256 if tables else sha256_file(path)
    kind = {".xlsx": "xlsx", ".xlsm": "xlsx", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(
        path.suffix.lower(), STAT_SUFFIXES.get(path.suffix.lower(), "file"))
    return SourceFile(path, kind, tables, ((path.name, sha),))


# --------------------------------------------------------------- a registry in any table format


def has_non_csv_tables(directory: Path) -> bool:
    """True when a directory holds exchange-format tables in a format other than CSV
    (``patients.dta``, ``infusions.sas7bdat`` ...)."""
    for p in directory.iterdir():
        if p.is_file() and p.stem.lower() in TABLE_NAMES and p.suffix.lower() in TABLE_SUFFIXES \
                and p.suffix.lower() not in (".csv", ".xlsx", ".xlsm"):
            return True
    return False


def read_registry_dir(directory: Path) -> RawRegistry:
    """A directory of format-v1 tables in any supported format (``patients.sas7bdat``,
    ``infusions.dta``, ``responses.csv`` ...) as a :class:`RawRegistry`, without a mapping.

    Headers are trimmed and lower-cased as in CSV registries; value-labelled cells hold their label.
    """
    directory = Path(directory)
    found: dict[str, Path] = {}
    for p in sorted(directory.iterdir()):
        stem, suffix = p.stem.lower(), p.suffix.lower()
        if p.is_file() and stem in TABLE_NAMES and suffix in TABLE_SUFFIXES and suffix not in (".xlsx", ".xlsm"):
            if stem in found:
                raise CartregError(f"{directory}: two files for table '{stem}': {found[stem].name}, {p.name}", 2)
            found[stem] = p
    tables: dict[str, RawTable] = {}
    for name, p in found.items():
        st = next(iter(read_source_file(p).values()))
        columns = _normalise_header(list(st.columns), st.label)
        data = pa.Table.from_arrays(list(st.data.columns), names=[*columns, "_row"])
        tables[name] = RawTable(name, st.label, tuple(columns), data, st.sha256)
    sources = tuple(sorted((t.label, t.sha256) for t in tables.values()))
    return RawRegistry(directory, "dir", tables, sources, ())



# ------------------------------------------------------------ analysis tables (survival, cuminc)


def read_stat_datatable(path: Path):
    """A SAS, SPSS or Stata file as a :class:`cartreg.io.datafile.DataTable` for ``cartreg survival``
    and ``cuminc``: numbers stay numbers (so a labelled status ``0 "censored" 1 "relapse"`` is still
    read as 0/1 by ``--event``/``--status``), while :meth:`~LabelledDataTable.text` (group labels)
    gives the value label; dates are dates; missing-value codes are missing."""
    kind = STAT_SUFFIXES[path.suffix.lower()]
    try:
        df, meta, dates = _read_stat_frame(path, kind)
    except CartregError as exc:
        raise CartregError(exc.message) from exc
    names = unique_headers([str(c) for c in df.columns])
    data: dict[str, pa.Array] = {}
    labels: dict[str, pa.Array] = {}
    value_labels = getattr(meta, "variable_value_labels", {}) or {}
    for name, col in zip(names, df.columns):
        arr = _stat_column(df[col], dates.get(col), kind)
        if pa.types.is_timestamp(arr.type):
            midnight = pc.all(pc.equal(pc.cast(pc.cast(arr, pa.date32()), arr.type), arr)).as_py()
            if midnight is not False:
                arr = pc.cast(arr, pa.date32())
        if pa.types.is_string(arr.type):
            arr = _blank_to_null(arr)
        data[name] = arr
        if value_labels.get(col) and col not in dates:
            labels[name] = _apply_labels(arr, _as_text(arr), value_labels[col])[0]
    return LabelledDataTable(path, tuple(names), data, len(df), 1, False, labels)


def _labelled_datatable_class():
    from cartreg.io.datafile import DataTable

    @dataclass(frozen=True, eq=False)
    class LabelledDataTable(DataTable):
        """A DataTable whose value-labelled columns read as their labels in :meth:`text`."""

        labels: Mapping[str, pa.Array] = field(default_factory=dict)

        def text(self, name: str) -> np.ndarray:
            col = self.column(name)
            if col in self.labels:
                return np.asarray(self.labels[col].to_numpy(zero_copy_only=False), dtype=object)
            return super().text(name)

    return LabelledDataTable


LabelledDataTable = _labelled_datatable_class()
