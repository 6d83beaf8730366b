"""Read a registry export (a directory of CSV files or one .xlsx workbook) as raw text.

Nothing is interpreted here: every cell stays text (``None`` when empty), so the validator can report
each value exactly as the user typed it. Each table carries ``_row``, the row number a spreadsheet
shows (header = row 1, first data row = row 2), and a label for messages: ``patients.csv`` or
``registry.xlsx[patients]``.

Real exports are messy, so the reader accepts a UTF-8 BOM, ``;`` or a tab as the delimiter (detected
from the header line), Windows-1252 text (with a warning) and Excel date cells. Rows with the wrong
number of fields are skipped and reported as ``malformed_row``, and the row numbers of the rows after
them stay right. A UTF-8 file with a few bytes that are not UTF-8 stays UTF-8: each cell holding
such bytes is an ``invalid_encoding`` error (the file is not re-decoded as Windows-1252). Cells with
control characters (NUL, ESC, ...) are ``control_character`` errors. UTF-16 text, binary files and
entries that are not regular files are unusable input (exit 2), named.

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
from cartreg.io.xlsx_limits import MAX_ROWS, too_many_rows

#: The table names of the exchange format, in report order.
TABLE_NAMES: tuple[str, ...] = ("patients", "infusions", "responses", "treatments")

_BOM = b"\xef\xbb\xbf"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # control characters cannot be part of a column name
#: Control characters that may not appear in a value (tab, LF and CR may: quoted free text).
_CELL_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CELL_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
#: bytes.translate table: a control byte -> 0, any other byte -> 1 (a C-speed scan for controls).
_CONTROL_TABLE = bytes(0 if _CELL_CONTROL_BYTES.match(bytes([i])) else 1 for i in range(256))
#: A valid multi-byte UTF-8 sequence (a file holding one is UTF-8, whatever stray bytes it has).
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")
#: The header line may be at most this long (a CSV header of 16 MiB is not a registry).
MAX_HEADER_BYTES = 16 << 20
#: pyarrow's block size is raised up to this when one field is longer than a block.
MAX_BLOCK_BYTES = 1 << 28


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
    delimiter: str | None = None  # ",", ";" or "\t" for CSV; None for a workbook sheet


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
    return _scan(path).sha256


@dataclass(frozen=True)
class FileScan:
    """What one pass over a file's bytes found."""

    sha256: str
    utf8: bool  # the whole file is valid UTF-8
    utf8_multibyte: bool  # it holds at least one valid multi-byte UTF-8 sequence
    controls: bool  # it holds a control byte other than tab, LF, CR


def scan_file(path: Path) -> tuple[str, bool]:
    """(SHA-256, whether the whole file is valid UTF-8), in one pass of 1 MiB blocks."""
    s = _scan(path)
    return s.sha256, s.utf8


def _scan(path: Path) -> FileScan:
    h = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, multibyte, controls = True, False, False
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
                ascii_block = block.isascii()  # C speed; the common case for registry exports
                if utf8 and not ascii_block:
                    try:
                        decoder.decode(block)
                        multibyte = True  # valid UTF-8 with a byte >= 0x80: a multi-byte sequence
                    except UnicodeDecodeError:
                        utf8 = False
                if not utf8 and not multibyte and not ascii_block:
                    # a block boundary may split one sequence: harmless, others follow
                    multibyte = _UTF8_MULTIBYTE.search(block) is not None
                if not controls:
                    controls = b"\x00" in block.translate(_CONTROL_TABLE)
            if utf8:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    utf8 = False
    except OSError as exc:
        raise CartregError(f"{path.name}: cannot read ({exc.strerror})", 2) from exc
    return FileScan(h.hexdigest(), utf8, multibyte, controls)


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
        _check_regular_file(path)  # a FIFO would block the zip reader forever
        return _read_workbook(path)
    raise CartregError(
        f"{path}: not a registry (expected a directory of CSV files, an .xlsx workbook or a .duckdb file)", 2
    )


# --------------------------------------------------------------------------------------------- CSV


def _find_csv_files(directory: Path) -> dict[str, Path]:
    """Map table name -> file, matching ``patients.csv`` case-insensitively (and trimmed).

    An entry with a table's name that is not a readable regular file (a directory, a FIFO, a
    dangling symbolic link) is unusable input, never an absent table.
    """
    found: dict[str, Path] = {}
    try:
        entries = sorted(directory.iterdir())
    except OSError as exc:
        raise CartregError(f"{directory}: cannot list the directory ({exc.strerror})", 2) from exc
    for p in entries:
        stem, suffix = p.stem.strip().lower(), p.suffix.strip().lower()
        if suffix != ".csv" or stem not in TABLE_NAMES:
            continue
        _check_regular_file(p)
        if stem in found:
            raise CartregError(f"{directory}: two files for table '{stem}': {found[stem].name}, {p.name}", 2)
        found[stem] = p
    return found


def _check_regular_file(p: Path) -> None:
    """Unusable input (exit 2) unless ``p`` is a regular file (after following links)."""
    import stat

    try:
        mode = p.stat().st_mode
    except FileNotFoundError:
        raise CartregError(f"{p.name}: a symbolic link to a file that does not exist; it cannot be read", 2) from None
    except OSError as exc:
        raise CartregError(f"{p.name}: cannot be read ({exc.strerror})", 2) from exc
    if stat.S_ISDIR(mode):
        raise CartregError(f"{p.name}: is a directory, not a CSV file", 2)
    if not stat.S_ISREG(mode):
        raise CartregError(f"{p.name}: is not a regular file (a pipe, socket or device); it cannot be read", 2)


def _read_csv_dir(directory: Path) -> RawRegistry:
    files = _find_csv_files(directory)
    # Every header first: a file that is unusable stops the command before any pyarrow reader
    # thread has started (no thread left running at exit, issue 16 item 20).
    layouts = {name: csv_layout(p) for name, p in files.items()}
    tables: dict[str, RawTable] = {}
    problems: list[ReadProblem] = []
    for name, p in files.items():
        table, probs = read_csv_table(p, name, layouts[name])
        tables[name] = table
        problems.extend(probs)
    sources = tuple(sorted((tables[name].label, tables[name].sha256) for name in files))
    return RawRegistry(directory, "csv", tables, sources, tuple(problems))


def _sniff_delimiter(header_line: str) -> str:
    """``;`` when the header has more semicolons than commas (French Excel exports), a tab when it has
    more tabs than either, else ``,``."""
    commas, semis, tabs = header_line.count(","), header_line.count(";"), header_line.count("\t")
    if tabs > max(commas, semis):
        return "\t"
    return ";" if semis > commas else ","


def _check_text_file(head: bytes, label: str) -> None:
    """Unusable input (exit 2) for a file that is not 8-bit text: UTF-16, a zip archive, binary data."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CartregError(f"{label}: the file is UTF-16 text (it starts with a UTF-16 byte-order mark); "
                           "save it as CSV UTF-8", 2)
    if head.startswith(b"PK\x03\x04"):
        raise CartregError(f"{label}: the file is a zip archive (an .xlsx workbook renamed?), not CSV text", 2)
    sample = head[:4096]
    nul = sample.count(b"\x00")
    if sample and nul * 4 >= len(sample):
        even, odd = sample[0::2].count(b"\x00"), sample[1::2].count(b"\x00")
        if max(even, odd) * 2 >= len(sample) // 2 * 0.9 and min(even, odd) * 10 < max(even, odd):
            raise CartregError(f"{label}: the file looks like UTF-16 text without a byte-order mark (every "
                               "other byte is NUL); save it as CSV UTF-8", 2)
        raise CartregError(f"{label}: the file is binary data (many NUL bytes), not CSV text", 2)


def _read_head(path: Path, label: str) -> bytes:
    """The first 64 KiB of the file, extended to the end of the header line (at most MAX_HEADER_BYTES)."""
    try:
        with path.open("rb") as f:
            head = f.read(1 << 16)
            _check_text_file(head, label)
            while b"\n" not in head and b"\r" not in head:
                more = f.read(1 << 20)
                if not more:
                    break
                head += more
                if len(head) > MAX_HEADER_BYTES:
                    raise CartregError(f"{label}: the header line is longer than {MAX_HEADER_BYTES >> 20} MiB; "
                                       "this is not a registry table", 2)
    except OSError as exc:
        raise CartregError(f"{label}: cannot read ({exc.strerror})", 2) from exc
    return head


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


@dataclass(frozen=True)
class CsvLayout:
    """What the header and one scan of a CSV file tell, before any data is parsed."""

    scan: FileScan
    encoding: str  # "utf8" or "cp1252"
    mixed: bool  # UTF-8 with stray bytes: stays UTF-8, the cells holding them are reported
    delimiter: str
    columns: list[str]


def csv_layout(path: Path) -> CsvLayout:
    """Check a CSV file's header (and encoding) without parsing its rows: every unusable-input
    error of a header is raised here, before any reader thread starts."""
    label = path.name
    head = _read_head(path, label)
    # The whole file is checked: pyarrow cannot report a malformed row whose bytes are not UTF-8.
    scan = _scan(path)
    mixed = not scan.utf8 and scan.utf8_multibyte
    if head.startswith(_BOM):
        head = head[len(_BOM):]
    encoding = "utf8" if scan.utf8 or mixed else "cp1252"
    # errors="ignore" for UTF-8: the 64 KiB block may end inside a character.
    head_text = head.decode("utf-8", errors="ignore") if encoding == "utf8" else head.decode("cp1252", errors="replace")
    first_line = head_text.splitlines()[0] if head_text.strip() else ""
    if not first_line.strip():
        raise CartregError(f"{label}: empty file (no header row)", 2)
    delimiter = _sniff_delimiter(first_line)
    try:
        header = next(csv.reader(io.StringIO(head_text, newline=""), delimiter=delimiter))
    except (csv.Error, StopIteration) as exc:
        raise CartregError(f"{label}: the header row cannot be read ({exc})", 2) from exc
    return CsvLayout(scan, encoding, mixed, delimiter, _normalise_header(header, label))


def read_csv_table(path: Path, name: str, layout: CsvLayout | None = None) -> tuple[RawTable, list[ReadProblem]]:
    """Read one CSV file as text columns plus ``_row`` (``layout`` from :func:`csv_layout`, if known)."""
    label = path.name
    lay = layout if layout is not None else csv_layout(path)
    scan, sha, encoding, mixed = lay.scan, lay.scan.sha256, lay.encoding, lay.mixed
    delimiter, columns = lay.delimiter, lay.columns

    problems: list[ReadProblem] = []
    if encoding != "utf8":
        problems.append(
            ReadProblem("warning", label, None, None, None, "not_utf8",
                        "the file is not UTF-8; it was read as Windows-1252 (save it as CSV UTF-8)")
        )
    source = _utf8_replaced(path) if mixed else path
    data, bad = _arrow_read(source, label, columns, delimiter, encoding, use_threads=True)
    if bad and any(number is None for number, _ in bad):
        data, bad = _arrow_read(source, label, columns, delimiter, encoding, use_threads=False)
    for number, text in bad:
        problems.append(
            ReadProblem("error", label, number, None, text[:200], "malformed_row",
                        f"this row does not have the {len(columns)} fields of the header; it was skipped")
        )
    rows = _spreadsheet_rows(data.num_rows, [n for n, _ in bad if n is not None])
    data = data.append_column("_row", pa.array(rows, pa.int64()))
    if mixed:
        problems.extend(_cells_matching(data, label, columns, "\ufffd", regex=False, rule="invalid_encoding",
                                        why="holds bytes that are not UTF-8 (shown as \ufffd) in a UTF-8 file; "
                                            "retype the value or save the file as CSV UTF-8"))
    if scan.controls:
        problems.extend(_cells_matching(data, label, columns, _CELL_CONTROL, regex=True, rule="control_character",
                                        why="holds a control character (such as NUL or ESC) that no registry "
                                            "value may contain"))
    return RawTable(name, label, tuple(columns), data, sha, delimiter), problems


def _utf8_replaced(path: Path) -> pa.BufferReader:
    """The file decoded as UTF-8, each undecodable byte replaced by U+FFFD (read only for such files)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    return pa.BufferReader(text.encode("utf-8"))


def _cells_matching(data: pa.Table, label: str, columns: list[str], pattern: str, regex: bool, rule: str,
                    why: str) -> list[ReadProblem]:
    """One error per cell matching ``pattern`` (vectorised search; only files flagged by the scan)."""
    import pyarrow.compute as pc

    out: list[ReadProblem] = []
    rows = data.column("_row")
    for col in columns:
        arr = data.column(col)
        hit = pc.match_substring_regex(arr, pattern) if regex else pc.match_substring(arr, pattern)
        idx = pc.indices_nonzero(pc.fill_null(hit, False))
        if len(idx) == 0:
            continue
        values = pc.take(arr, idx).to_pylist()
        for r, v in zip(pc.take(rows, idx).to_pylist(), values):
            out.append(ReadProblem("error", label, r, col, v[:200], rule, f"{col} {why}"))
    return out


def _arrow_read(
    source, label: str, columns: list[str], delimiter: str, encoding: str, use_threads: bool
) -> tuple[pa.Table, list[tuple[int | None, str]]]:
    """Read with pyarrow; a field longer than pyarrow's block is read by raising the block size."""
    block = 1 << 20
    while True:
        bad: list[tuple[int | None, str]] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:  # called only for malformed rows (rare)
            bad.append((row.number, row.text))
            return "skip"

        if isinstance(source, pa.BufferReader):
            source.seek(0)
        try:
            table = pacsv.read_csv(
                source,
                read_options=pacsv.ReadOptions(
                    use_threads=use_threads, column_names=columns, skip_rows=1, encoding=encoding, block_size=block
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter, ignore_empty_lines=False, newlines_in_values=True,
                    invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in columns}, strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeDecodeError, OSError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "straddl" in first:
                if block < MAX_BLOCK_BYTES:
                    block *= 16
                    continue
                raise CartregError(f"{label}: one field (or quoted text) is longer than {MAX_BLOCK_BYTES >> 20} MiB, "
                                   "the longest value cartreg reads (an unclosed quote?)", 2) from exc
            raise CartregError(f"{label}: cannot be read as CSV ({first})", 2) from exc
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

    from cartreg.io.xlsx_limits import check_workbook

    check_workbook(path)  # size limits, before anything is parsed
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, TypeError, Exception) as exc:
        # openpyxl raises many kinds of exceptions for a damaged file; all mean "unusable input".
        raise CartregError(f"{path.name}: not a readable .xlsx workbook ({type(exc).__name__}: {exc})", 2) from exc
    formulas = None
    problems: list[ReadProblem] = []
    try:
        sheets = _table_sheets(wb.worksheets, path.name)
        tables: dict[str, RawTable] = {}
        for name in TABLE_NAMES:
            if name in sheets:
                label = f"{path.name}[{sheets[name].title}]"
                try:
                    tables[name] = _read_sheet(sheets[name], name, label)
                    problems.extend(_cells_matching(
                        tables[name].data, label, list(tables[name].columns), _CELL_CONTROL, regex=True,
                        rule="control_character",
                        why="holds a control character (such as NUL or ESC) that no registry value may contain"))
                    if _sheet_has_formulas(path, sheets[name]):
                        if formulas is None:
                            formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
                        problems.extend(_formulas_without_value(tables[name], formulas[sheets[name].title], label))
                except CartregError:
                    raise
                except Exception as exc:  # read-only mode parses the sheet XML lazily, here
                    raise CartregError(f"{label}: the sheet cannot be read ({type(exc).__name__}: {exc})", 2) from exc
    finally:
        wb.close()
        if formulas is not None:
            formulas.close()
    return RawRegistry(path, "xlsx", tables, ((path.name, sha256_file(path)),), tuple(problems))


def _table_sheets(worksheets, book: str) -> dict:
    """Map table name -> worksheet, matching titles trimmed and case-insensitively.

    Two sheets whose titles differ only by case or spacing (``patients`` and ``Patients ``) are
    unusable input: which one holds the data cannot be known.
    """
    sheets: dict = {}
    for ws in worksheets:
        key = ws.title.strip().lower()
        if key in TABLE_NAMES and key in sheets:
            raise CartregError(f"{book}: two sheets for table '{key}': {sheets[key].title!r} and {ws.title!r}; "
                               "keep one", 2)
        sheets[key] = ws
    return sheets


def _sheet_has_formulas(path: Path, ws) -> bool:
    """Whether the sheet's XML holds a formula element (streamed; most exports have none)."""
    import zipfile

    part = getattr(ws, "_worksheet_path", None) or getattr(ws, "worksheet_path", None)
    if not part:
        return True  # unknown: check cell by cell
    part = part.lstrip("/")
    tail = b""
    with zipfile.ZipFile(path) as z, z.open(part) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            chunk = tail + block
            if b"<f>" in chunk or b"<f " in chunk or b":f>" in chunk or b":f " in chunk:
                return True
            tail = chunk[-8:]
    return False


def _formulas_without_value(table: RawTable, ws, label: str) -> list[ReadProblem]:
    """``formula_without_value`` errors: cells that hold a formula but no cached value (read as empty).

    Excel stores a formula's last result beside it; a workbook written by a program (or saved
    without recalculation) may hold the formula alone, and its value cannot be known here.
    """
    width = len(table.columns)
    out: list[ReadProblem] = []
    values = {c: table.data.column(c) for c in table.columns}
    row_index = {r: i for i, r in enumerate(table.data.column("_row").to_pylist())}
    for i, cells in enumerate(ws.iter_rows(values_only=True), start=1):
        if i == 1:
            continue
        if i > MAX_ROWS:
            break
        for j, v in enumerate(cells[:width]):
            if isinstance(v, str) and v.startswith("="):
                k = row_index.get(i)
                if k is None or values[table.columns[j]][k].as_py() is None:
                    out.append(ReadProblem("error", label, i, table.columns[j], v[:200], "formula_without_value",
                                           f"{table.columns[j]} is a formula without a stored value ({v[:60]}); "
                                           "open the workbook in Excel and save it, or type the value"))
    return out


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
        if i > MAX_ROWS:  # a sheet without a <dimension>: stop at Excel's limit (bounded memory)
            raise too_many_rows(label)
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
