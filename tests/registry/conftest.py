"""A tiny valid registry to corrupt one rule at a time.

Spreadsheet rows: patients P1 = row 2, P2 = row 3; infusions P1 = 2, P2 = 3; responses rows 2-5;
treatments row 2.
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path

import pytest

BASE: dict[str, list[dict[str, str]]] = {
    "patients": [
        dict(patient_id="P1", center="Lyon", sex="M", age="60", histology="DLBCL", eligibility_date="2020-01-01",
             stage="3", aaipi="2", prior_lines="2", prior_auto_hsct="no", prior_allo_hsct="no",
             last_contact_date="2021-06-01", death_date="", death_cause=""),
        dict(patient_id="P2", center="Lille", sex="F", age="55", histology="tFL", eligibility_date="2020-02-01",
             stage="4", aaipi="3", prior_lines="3", prior_auto_hsct="yes", prior_allo_hsct="no",
             last_contact_date="2020-12-01", death_date="2020-12-01", death_cause="lymphoma"),
    ],
    "infusions": [
        dict(patient_id="P1", infusion_date="2020-02-01", product="axi-cel", ecog="1", ldh_elevated="yes", bulky="no",
             ferritin_ug_l="500", crp_mg_dl="5.0", bridging="chemotherapy", crs_grade="1", icans_grade="0"),
        dict(patient_id="P2", infusion_date="2020-03-01", product="tisa-cel", ecog="0", ldh_elevated="no", bulky="no",
             ferritin_ug_l="300", crp_mg_dl="2.5", bridging="none", crs_grade="2", icans_grade="1"),
    ],
    "responses": [
        dict(patient_id="P1", assessment_date="2020-03-01", response="CMR"),
        dict(patient_id="P1", assessment_date="2020-05-01", response="CMR"),
        dict(patient_id="P2", assessment_date="2020-04-01", response="PR"),
        dict(patient_id="P2", assessment_date="2020-07-01", response="PMD"),
    ],
    "treatments": [dict(patient_id="P2", start_date="2020-07-15", regimen="R-GemOx")],
}


def write_registry(directory: Path, tables: dict[str, list[dict[str, str]]], delimiter: str = ",",
                   encoding: str = "utf-8") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        if rows is None:
            continue
        fields = list(rows[0]) if rows else list(BASE[name][0])
        with (directory / f"{name}.csv").open("w", newline="", encoding=encoding) as f:
            w = csv.DictWriter(f, fieldnames=fields, delimiter=delimiter, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    return directory


@pytest.fixture
def base_tables() -> dict[str, list[dict[str, str]]]:
    return copy.deepcopy(BASE)


@pytest.fixture
def make_registry(tmp_path):
    """make_registry(tables) -> directory with those tables written as CSV."""
    counter = iter(range(10_000))

    def make(tables, **kw) -> Path:
        return write_registry(tmp_path / f"reg{next(counter)}", tables, **kw)

    return make
