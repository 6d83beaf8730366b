"""Fixtures of the report tests: the example results dict and one report written for the session."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "results_example.json"


@pytest.fixture(scope="session")
def _example() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture
def results(_example) -> dict:
    """A fresh deep copy of ``tests/fixtures/results_example.json`` (tests may edit it)."""
    return copy.deepcopy(_example)


@pytest.fixture(scope="session")
def report_dir(_example, tmp_path_factory) -> Path:
    """``write_report`` run once on the example results (figures are the slow part)."""
    from cartreg.report import write_report

    out = tmp_path_factory.mktemp("report")
    write_report(copy.deepcopy(_example), out)
    return out
