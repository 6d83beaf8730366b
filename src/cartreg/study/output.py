"""Writing the identifying per-patient table (patients.csv) fast, safely and atomically.

* Formula injection (OWASP "CSV injection"): a text cell starting with ``=``, ``+``, ``-``, ``@``, a
  tab or a carriage return is written with a leading ``'`` (:func:`neutralise_table`), so that a
  spreadsheet shows it as text instead of running it (``=HYPERLINK(...)``). Numeric columns, text
  cells that are plain numbers (``-1.5``) and a lone ``-`` are left as they are. The transform is columnar (pyarrow
  compute), one pass per text column.
* :func:`prefetch_csv`: a plan calls it right after deriving the endpoints; a worker thread formats
  the table as CSV (pyarrow releases the GIL) while the plan computes its statistics, and
  :func:`write_csv` then only writes the prepared bytes. One table is prepared at a time, and a
  preparation nobody claims is waited for at exit (no thread is left running when the interpreter
  stops).
* :func:`write_csv` without prepared bytes formats large tables in parallel row slices.
* The file is written to a temporary name in the same directory and renamed onto ``path``: a
  failure (disk full, Ctrl-C) leaves no partial file.
"""

from __future__ import annotations

import atexit
import contextvars
import io
import os
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

#: Below this many rows a table is written in one piece (threads are not worth it).
PARALLEL_MIN_ROWS = 100_000

#: Off while a caller does not write the table (:func:`cartreg.study.analyze` returns results only).
prefetch_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("cartreg_csv_prefetch", default=True)

#: A text cell starting with one of these is a formula for a spreadsheet (OWASP CSV injection).
FORMULA_START = r"^[=+\-@\t\r]"
#: ... unless it is a plain number (``-1.5``, ``+3``, ``-2e-3``), which a spreadsheet reads as a number.
PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
#: ... or a lone sign (``-`` for "none" in a table), which is no formula either.
LONE_SIGN = r"^[+-]$"


def is_formula_like(text: str) -> bool:
    """Whether one cell would be neutralised (the scalar form of :func:`neutralise_text`)."""
    import re

    return (re.match(FORMULA_START, text) is not None and re.match(PLAIN_NUMBER, text) is None
            and re.match(LONE_SIGN, text) is None)

_lock = threading.Lock()
_pending: tuple[Any, Future] | None = None  # (table, future of its CSV bytes): at most one


def neutralise_text(arr: Any) -> Any:
    """A text array with every formula-like cell prefixed by ``'`` (vectorised; other arrays unchanged)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return arr
    starts = pc.match_substring_regex(arr, FORMULA_START)
    if not pc.any(starts).as_py():  # the common case: one anchored regex pass, nothing else
        return arr
    risky = pc.and_(pc.and_(starts, pc.invert(pc.match_substring_regex(arr, PLAIN_NUMBER))),
                    pc.invert(pc.match_substring_regex(arr, LONE_SIGN)))
    if not pc.any(risky).as_py():
        return arr
    prefixed = pc.binary_join_element_wise(pa.scalar("'", arr.type), arr, pa.scalar("", arr.type))
    return pc.if_else(pc.fill_null(risky, False), prefixed, arr)


def neutralise_table(table: Any) -> Any:
    """``table`` with :func:`neutralise_text` applied to each text column (the same table when no cell is)."""
    cols = [neutralise_text(c) for c in table.columns]
    if all(a is b for a, b in zip(cols, table.columns)):
        return table
    import pyarrow as pa

    return pa.Table.from_arrays(cols, schema=table.schema)


def _csv_bytes(table: Any) -> memoryview:
    import pyarrow.csv as pacsv

    buf = io.BytesIO()
    pacsv.write_csv(neutralise_table(table), buf)
    return buf.getbuffer()


def prefetch_csv(table: Any) -> None:
    """Start formatting ``table`` as CSV on a worker thread (only for large tables, when enabled)."""
    global _pending
    if not prefetch_enabled.get() or table.num_rows < PARALLEL_MIN_ROWS:
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cartreg-csv")
    future = pool.submit(_csv_bytes, table)
    pool.shutdown(wait=False)
    with _lock:
        _pending = (table, future)  # a previous, unclaimed table is dropped


def _claim(table: Any) -> Future | None:
    global _pending
    with _lock:
        if _pending is not None and _pending[0] is table:
            future, _pending = _pending[1], None
            return future
    return None


@atexit.register
def discard_prefetch() -> None:
    """Wait for (and drop) a preparation nobody claimed: no worker thread outlives the program."""
    global _pending
    with _lock:
        pending, _pending = _pending, None
    if pending is not None:
        try:
            pending[1].result()
        except BaseException:  # noqa: BLE001 - the bytes are discarded anyway
            pass


def _temp_for(path: Path) -> Path:
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def write_csv(table: Any, path: Path, parts: int | None = None) -> None:
    """Write an Arrow table as CSV with ``pyarrow.csv.write_csv``, byte for byte as one call would
    write the neutralised table, atomically (temporary file, then rename).

    Bytes prepared by :func:`prefetch_csv` for this table are written as they are. Otherwise large
    tables are cut into ``parts`` row slices (default: the number of CPUs, at most 4) formatted in
    threads; the first goes to the file with the header, the others to memory without it, appended
    in order. Rows are formatted value by value, so the bytes are those of a single call.
    """
    path = Path(path)
    tmp = _temp_for(path)
    try:
        _write_csv_to(table, tmp, parts)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def _write_csv_to(table: Any, path: Path, parts: int | None) -> None:
    import pyarrow.csv as pacsv

    prepared = _claim(table)
    if prepared is not None:
        with open(path, "wb") as fh:
            fh.write(prepared.result())
        return
    table = neutralise_table(table)
    n = table.num_rows
    if parts is None:
        parts = min(os.cpu_count() or 1, 4) if n >= PARALLEL_MIN_ROWS else 1
    if parts <= 1 or n < 2:
        pacsv.write_csv(table, path)
        return
    step = -(-n // parts)
    slices = [table.slice(i * step, step) for i in range(parts) if i * step < n]

    def write(i: int) -> io.BytesIO | None:
        if i == 0:
            pacsv.write_csv(slices[0], path)
            return None
        buf = io.BytesIO()
        pacsv.write_csv(slices[i], buf, pacsv.WriteOptions(include_header=False))
        return buf

    with ThreadPoolExecutor(max_workers=len(slices)) as pool:
        bufs = list(pool.map(write, range(len(slices))))
    with open(path, "ab") as fh:
        for buf in bufs[1:]:
            fh.write(buf.getbuffer())
