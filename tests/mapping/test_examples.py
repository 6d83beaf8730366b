"""examples/sources/: each source imports with its mapping with 0 errors (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cartreg.cli.main import main
from cartreg.registry import read_registry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sources"
SOURCES = {"clinician-workbook": "registre.xlsx", "redcap": "export.csv", "stata": "registre.dta"}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_example_imports_with_no_error(tmp_path, name, capsys):
    d = EXAMPLES / name
    out = tmp_path / "r.duckdb"
    assert main(["import", str(d / SOURCES[name]), "--mapping", str(d / "mapping.toml"), "-o", str(out)]) == 0
    reg = read_registry(out)
    assert reg.report.count("error") == 0
    counts = reg.metadata.row_counts
    assert counts["patients"] == 40 and counts["infusions"] > 30 and counts["responses"] > 40
    assert main(["map", "check", str(d / "mapping.toml")]) == 0


def test_all_examples_give_the_same_tables():
    tables = {}
    for name, src in SOURCES.items():
        reg = read_registry(EXAMPLES / name / src, mapping=EXAMPLES / name / "mapping.toml")
        tables[name] = {t: reg.con.sql(f"SELECT * EXCLUDE (_row) FROM {t} ORDER BY ALL").fetchall()
                        for t in ("patients", "infusions", "responses", "treatments")}
    first = tables.pop("clinician-workbook")
    for other in tables.values():
        assert other == first


def test_redcap_example_imports_without_its_mapping(tmp_path):
    d = EXAMPLES / "redcap"
    out = tmp_path / "r.duckdb"
    assert main(["import", str(d / "export.csv"), "--redcap-dictionary", str(d / "dict.csv"), "-o", str(out)]) == 0
