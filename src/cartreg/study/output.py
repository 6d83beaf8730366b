"""Writing the identifying per-patient table (patients.csv) fast, with the bytes of one pyarrow call.

Two speed-ups, neither of which changes a byte of the file:

* :func:`prefetch_csv`: a plan calls it right after deriving the endpoints; a worker thread formats
  the table as CSV (pyarrow releases the GIL) while the plan computes its statistics, and
  :func:`write_csv` then only writes the prepared bytes. One table is prepared at a time.
* :func:`write_csv` without prepared bytes formats large tables in parallel row slices.
"""

from __future__ import annotations

import contextvars
import io
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

#: Below this many rows a table is written in one piece (threads are not worth it).
PARALLEL_MIN_ROWS = 100_000

#: Off while a caller does not write the table (:func:`cartreg.study.analyze` returns results only).
prefetch_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("cartreg_csv_prefetch", default=True)

_lock = threading.Lock()
_pending: tuple[Any, Future] | None = None  # (table, future of its CSV bytes): at most one


def _csv_bytes(table: Any) -> memoryview:
    import pyarrow.csv as pacsv

    buf = io.BytesIO()
    pacsv.write_csv(table, buf)
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


def write_csv(table: Any, path: Path, parts: int | None = None) -> None:
    """Write an Arrow table as CSV with ``pyarrow.csv.write_csv``, byte for byte as one call would.

    Bytes prepared by :func:`prefetch_csv` for this table are written as they are. Otherwise large
    tables are cut into ``parts`` row slices (default: the number of CPUs, at most 4) formatted in
    threads; the first goes to the file with the header, the others to memory without it, appended
    in order. Rows are formatted value by value, so the bytes are those of a single call.
    """
    import pyarrow.csv as pacsv

    prepared = _claim(table)
    if prepared is not None:
        with open(path, "wb") as fh:
            fh.write(prepared.result())
        return
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
