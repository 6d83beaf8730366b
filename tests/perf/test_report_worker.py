"""Issue 15: the forked report worker writes exactly what write_report writes in process, and any
failure of it leaves the caller to write the report itself."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from cartreg.report import write_report
from cartreg.report.worker import ReportWorker

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "results_example.json"
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")


def _files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_worker_writes_the_same_files(tmp_path):
    results = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    w = ReportWorker.start()
    assert w.pid is not None
    path = w.write_report(copy.deepcopy(results), tmp_path / "w", png=False)
    assert path == tmp_path / "w" / "report.html" and w.pid is None  # reaped
    write_report(copy.deepcopy(results), tmp_path / "p", png=False)
    a, b = _files(tmp_path / "w"), _files(tmp_path / "p")
    assert sorted(a) == sorted(b) and "report.html" in a and len(a) > 5
    assert a == b


def test_a_failing_worker_returns_none(tmp_path):
    w = ReportWorker.start()
    assert w.write_report({"not": "results"}, tmp_path / "x") is None  # the child's write_report raised
    assert w.pid is None
    with pytest.raises(Exception):  # in process, the same error is raised to the caller
        write_report({"not": "results"}, tmp_path / "y")


def test_an_unused_worker_exits(tmp_path):
    w = ReportWorker.start()
    pid = w.pid
    w.close()  # killed (it was given nothing to write) and reaped
    assert w.pid is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert not (tmp_path / "report.html").exists()


def test_no_worker_without_fork(monkeypatch, tmp_path):
    monkeypatch.delattr(os, "fork")
    w = ReportWorker.start()
    assert w.pid is None and w.write_report({}, tmp_path) is None


def test_figures_in_two_processes_are_the_same_files(tmp_path):
    results = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    write_report(copy.deepcopy(results), tmp_path / "two", png=False, jobs=2)
    write_report(copy.deepcopy(results), tmp_path / "one", png=False, jobs=1)
    assert _files(tmp_path / "two") == _files(tmp_path / "one")


def test_a_failing_figure_child_is_replaced_by_the_parent(tmp_path, monkeypatch):
    from cartreg.report import figures

    parent, real = os.getpid(), figures.save_figure

    def save_in_parent_only(fig, directory, png=True):
        if os.getpid() != parent:
            raise RuntimeError("child fails")
        return real(fig, directory, png=png)

    monkeypatch.setattr(figures, "save_figure", save_in_parent_only)
    results = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    write_report(copy.deepcopy(results), tmp_path / "two", png=False, jobs=2)
    monkeypatch.setattr(figures, "save_figure", real)
    write_report(copy.deepcopy(results), tmp_path / "one", png=False, jobs=1)
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
