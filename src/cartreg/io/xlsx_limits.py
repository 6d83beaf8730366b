"""Size limits checked on an .xlsx workbook *before* any sheet is parsed (bounded memory and time).

An .xlsx file is a zip archive; a few kilobytes can declare gigabytes of sheet XML (a "zip bomb"),
and openpyxl keeps every shared string in memory. :func:`check_workbook` reads only the zip
directory and the first bytes of each sheet part, then refuses, with a
:class:`~cartreg.errors.CartregError` (exit 2) naming the limit:

* a sheet over Excel's own limits (:data:`MAX_ROWS` rows, :data:`MAX_COLUMNS` columns), from the
  ``<dimension ref="A1:K10000000"/>`` element Excel writes at the start of each sheet;
* a zip entry whose uncompressed size is over :data:`MAX_PART_BYTES`, shared strings over
  :data:`MAX_SHARED_STRINGS_BYTES`, or a total over :data:`MAX_TOTAL_BYTES`.

Python's :mod:`zipfile` never inflates an entry beyond its declared size, so the declared sizes
are the sizes openpyxl can read. The ``<row>`` elements of each sheet are then counted by streaming
its XML (constant memory, seconds for 10^7 rows), so a sheet written without a dimension element is
refused before openpyxl parses it too; the readers also stop at :data:`MAX_ROWS` while iterating.

Example::

    check_workbook(Path("registry.xlsx"))   # None, or CartregError
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from cartreg.errors import CartregError

#: Excel's limits on one worksheet.
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
#: Uncompressed size of one part of the archive (one sheet's XML): 2 GiB.
MAX_PART_BYTES = 2 << 30
#: Uncompressed size of the shared-strings part (openpyxl holds it in memory): 512 MiB.
MAX_SHARED_STRINGS_BYTES = 512 << 20
#: Uncompressed size of the whole archive: 4 GiB.
MAX_TOTAL_BYTES = 4 << 30

_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="([A-Z]+)?(\d+)?(?::([A-Z]+)(\d+))?"')


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MiB"


def check_workbook(path: Path) -> None:
    """Refuse a workbook over the documented limits, reading only its zip directory and sheet heads."""
    label = Path(path).name
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            total = sum(i.file_size for i in infos)
            if total > MAX_TOTAL_BYTES:
                raise CartregError(f"{label}: the workbook unpacks to {_mib(total)}, over the limit of "
                                   f"{_mib(MAX_TOTAL_BYTES)}; export the tables as CSV files instead", 2)
            for info in infos:
                name = info.filename
                limit = MAX_SHARED_STRINGS_BYTES if name.lower().endswith("sharedstrings.xml") else MAX_PART_BYTES
                if info.file_size > limit:
                    raise CartregError(f"{label}: part {name} unpacks to {_mib(info.file_size)}, over the limit "
                                       f"of {_mib(limit)}; export the tables as CSV files instead", 2)
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    with z.open(info) as fh:
                        head = fh.read(8192)
                    _check_dimension(label, name, head)
                    _check_row_count(z, info, label)
    except CartregError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise CartregError(f"{label}: not a readable .xlsx workbook ({type(exc).__name__}: {exc})", 2) from exc


def _check_dimension(label: str, part: str, head: bytes) -> None:
    m = _DIMENSION.search(head)
    if m is None:
        return
    last_col = m.group(3) or m.group(1)
    last_row = m.group(4) or m.group(2)
    rows = int(last_row) if last_row else 0
    cols = _col_number(last_col.decode()) if last_col else 0
    if rows > MAX_ROWS or cols > MAX_COLUMNS:
        raise CartregError(
            f"{label}: a sheet ({part}) declares {rows:,} rows and {cols:,} columns, over Excel's limit of "
            f"{MAX_ROWS:,} rows and {MAX_COLUMNS:,} columns; it was not read", 2)


_ROW_TAGS = (b"<row ", b"<row>", b":row ", b":row>")


def _check_row_count(z: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> None:
    """Count the ``<row>`` elements of a sheet by streaming its XML (seconds for 10^7 rows, constant
    memory): a sheet without (or with a wrong) ``<dimension>`` is refused before openpyxl parses it."""
    n, tail = 0, b""
    with z.open(info) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            chunk = tail + block
            n += sum(chunk.count(t) for t in _ROW_TAGS)  # a 4-byte tail cannot hold a whole 5-byte tag
            if n > MAX_ROWS:
                raise CartregError(f"{label}: a sheet ({info.filename}) has more than {MAX_ROWS:,} rows, Excel's "
                                   "limit; it was not read", 2)
            tail = chunk[-4:]


def too_many_rows(label: str) -> CartregError:
    """The error raised while iterating a sheet past :data:`MAX_ROWS` rows."""
    return CartregError(f"{label}: more than {MAX_ROWS:,} rows (Excel's limit); the sheet was not read", 2)
