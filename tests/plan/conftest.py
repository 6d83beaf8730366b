"""A synthetic registry shared by the plan and plan-report tests (imported once per test session)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import duckdb
import pytest

from cartreg.registry import read_registry
from cartreg.synth import generate
from cartreg.synth.write import write_registry


_CACHE: dict[tuple[int, int], Path] = {}


def connect(n: int = 800, seed: int = 13) -> duckdb.DuckDBPyConnection:
    """A synthetic registry, imported (typed tables), on a fresh DuckDB connection."""
    key = (n, seed)
    if key not in _CACHE:
        tmp = tempfile.mkdtemp(prefix="cartreg-plan-")
        atexit.register(shutil.rmtree, tmp, True)
        out = Path(tmp) / "reg.duckdb"
        write_registry(generate(n, seed=seed), out)
        _CACHE[key] = out
    return read_registry(_CACHE[key]).con


class Reg:
    def __init__(self, con):
        self.con = con


@pytest.fixture(scope="session")
def synth_reg():
    return Reg(connect())
