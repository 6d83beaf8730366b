"""Re-analysis cache (issue 7): analysing a cartreg .duckdb registry again, with other study
parameters, never re-parses nor re-validates the source files.

The source CSV directory is deleted after the import, and the CSV reader and the validator are
replaced by functions that fail when called; two analyses with different ``--late-after-days`` must
still succeed, from the stored tables, the stored validation issues and the stored metadata.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cartreg.cli.main import main
from cartreg.registry import read_registry
from cartreg.registry import store


def _forbidden(name: str):
    def fail(*args, **kwargs):
        raise AssertionError(f"{name} was called: re-analysis of a .duckdb registry must not re-read sources")

    return fail


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    """A synthetic registry imported into a .duckdb file, its CSV source directory deleted."""
    root = tmp_path_factory.mktemp("cache")
    src = root / "registry"
    assert main(["synth", "--patients", "400", "--seed", "7", "-o", str(src)]) == 0
    db = root / "registry.duckdb"
    assert main(["import", str(src), "-o", str(db)]) == 0
    shutil.rmtree(src)
    return db


def test_reanalysis_reads_only_the_store(imported: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(store, "read_registry_files", _forbidden("read_registry_files"))
    monkeypatch.setattr(store, "validate_raw", _forbidden("validate_raw"))

    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert main(["analyze", str(imported), "-o", str(out_a), "--no-report"]) == 0
    assert main(["analyze", str(imported), "-o", str(out_b), "--no-report", "--late-after-days", "60"]) == 0

    a = json.loads((out_a / "results.json").read_text())
    b = json.loads((out_b / "results.json").read_text())
    assert a["parameters"]["late_after_days"] == 91.3125
    assert b["parameters"]["late_after_days"] == 60.0
    # the same data (fingerprint of the original source files, kept in the store) ...
    assert a["meta"]["registry_sha256"] == b["meta"]["registry_sha256"]
    assert a["failures"]["n"] == b["failures"]["n"] > 0
    # ... analysed with the new parameter: the earlier cut-off makes more failures late
    assert b["late"]["n"] > a["late"]["n"]
    sens = {s["late_after_days"]: s["late_n"] for s in a["failures"]["sensitivity"]}
    assert b["late"]["n"] == sens[60.0]
    assert a["late"]["n"] == sens[91.3125]


def test_stored_issues_and_metadata_are_loaded(imported: Path, monkeypatch) -> None:
    monkeypatch.setattr(store, "read_registry_files", _forbidden("read_registry_files"))
    monkeypatch.setattr(store, "validate_raw", _forbidden("validate_raw"))

    reg = read_registry(imported)
    assert reg.metadata.row_counts["patients"] == 400
    assert {name for name, _ in reg.metadata.sources} >= {"patients.csv", "infusions.csv"}
    assert len(reg.fingerprint) == 64
    assert not reg.report.has_errors
    # the typed tables come straight from the file, not from a re-parse
    assert reg.con.execute("SELECT count(*) FROM patients").fetchone()[0] == 400
