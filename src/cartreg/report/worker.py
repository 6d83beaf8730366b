"""The report written by a forked worker that imports matplotlib while the study runs (issue 15).

Importing matplotlib and the report modules takes about 0.4 s of CPU, as long as the whole analysis
of a typical (1,000-patient) registry. ``cartreg analyze`` therefore forks a worker *before* it reads
the registry: the worker imports the report stack on the second core while the parent process reads,
derives and computes, then receives the results dict through a pipe and runs the very same
:func:`cartreg.report.write_report`, drawing the figures in two processes (``jobs=2``: the worker
forks once more; it has no DuckDB or pyarrow threads, so that fork is safe). Nothing else changes:
the files written are those of ``write_report`` in process (tested byte for byte).

If the platform has no ``fork``, or the worker fails in any way (it reports an error, dies, or the pipe
breaks), :meth:`ReportWorker.write_report` returns None and the caller writes the report in process,
so an error in the report is raised, and reported, exactly as before.

Example::

    >>> worker = ReportWorker.start()                                  # doctest: +SKIP
    >>> ... # read the registry, run the study, write results.json
    >>> path = worker.write_report(results, out) or write_report(results, out)   # doctest: +SKIP
"""

from __future__ import annotations

import os
import pickle
import signal
from pathlib import Path

__all__ = ["ReportWorker"]


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def _child(request_fd: int, status_fd: int) -> None:  # pragma: no cover - runs in the forked child
    code = 1
    try:
        # the slow imports, done while the parent analyses
        import cartreg.report.figures  # noqa: F401
        import cartreg.report.html  # noqa: F401
        import cartreg.report.summary  # noqa: F401
        from cartreg.report import write_report

        data = _read_all(request_fd)
        if not data:  # the parent gave up (no report to write): exit quietly
            os.write(status_fd, b"cancelled")
            code = 0
            return
        results, outdir, kwargs = pickle.loads(data)
        write_report(results, outdir, jobs=2, **kwargs)  # no DuckDB threads here: forking again is safe
        os.write(status_fd, b"ok")
        code = 0
    except BaseException:  # noqa: BLE001 - any failure: the parent writes the report itself
        try:
            os.write(status_fd, b"error")
        except OSError:
            pass
    finally:
        os._exit(code)  # no atexit handlers, no flush of the parent's inherited buffers


class ReportWorker:
    """A forked process waiting to write one report (see the module docstring)."""

    def __init__(self, pid: int | None = None, request_fd: int | None = None, status_fd: int | None = None):
        self.pid, self._request, self._status = pid, request_fd, status_fd

    @classmethod
    def start(cls) -> ReportWorker:
        """Fork the worker now (call it before DuckDB or pyarrow start threads); a no-op worker where
        ``fork`` is unavailable or fails."""
        if not hasattr(os, "fork"):
            return cls()
        try:
            req_r, req_w = os.pipe()
            st_r, st_w = os.pipe()
            pid = os.fork()
        except OSError:
            return cls()
        if pid == 0:  # pragma: no cover - child
            os.close(req_w)
            os.close(st_r)
            _child(req_r, st_w)
        os.close(req_r)
        os.close(st_w)
        return cls(pid, req_w, st_r)

    def write_report(self, results: dict, outdir: Path, **kwargs) -> Path | None:
        """Have the worker run ``write_report(results, outdir, **kwargs)``; the path of report.html, or
        None if there is no worker or it failed (then write the report in process)."""
        if self.pid is None:
            return None
        status = b""
        try:
            data = pickle.dumps((results, Path(outdir), kwargs), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(self._request, "wb") as fh:
                self._request = None
                fh.write(data)
            status = _read_all(self._status)
        except (OSError, pickle.PicklingError):
            status = b""
        finally:
            self.close()
        return Path(outdir) / "report.html" if status == b"ok" else None

    def close(self) -> None:
        """Release the worker. One that was never given a report (the analysis failed, or wrote no
        report) has written nothing: it is killed rather than waited for."""
        if self._request is not None:
            os.close(self._request)
            self._request = None
            if self.pid is not None:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except OSError:
                    pass
        if self._status is not None:
            os.close(self._status)
            self._status = None
        if self.pid is not None:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self.pid = None

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> ReportWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
