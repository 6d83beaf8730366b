"""Issue 10: with every new rule set to its earlier behaviour, the study gives exactly the earlier results.

The reference is the study fixture as committed before issue 10 (tests/fixtures/study/before_issue10:
cartreg's endpoint table and R's numbers from it). Rules 6-8 are set back with the class table of that
time (tests/fixtures/classes), its precedence and ``min_class_size = 1``; rules 1-5 (another branch)
with their documented old values when this version has them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from cartreg.registry import read_registry
from cartreg.study import LateFailureParams, run_study

FIX = Path(__file__).resolve().parents[1] / "fixtures"
OLD = FIX / "study" / "before_issue10"
OLD_RULES = {  # the old behaviour of each issue-10 rule (docs/endpoints.md)
    "class_map": str(FIX / "classes" / "treatment_classes_before_issue10.csv"),
    "class_precedence": ("bispecific", "IMiD", "targeted", "anti-PD1", "chemotherapy", "radiotherapy"),
    "min_class_size": 1,
    "failure_treatment_window_days": 0,
    "pfs_censoring": "last-contact",
    "lymphoma_death_as_failure": False,
    "line_window_days": 0,
}


@pytest.fixture(scope="module")
def analysis():
    fields = {f.name for f in dataclasses.fields(LateFailureParams)}
    params = LateFailureParams(**{k: v for k, v in OLD_RULES.items() if k in fields})
    return run_study(read_registry(FIX / "study" / "registry"), "late-failure", params)


def test_endpoints_are_the_earlier_ones(analysis):
    committed = pacsv.read_csv(OLD / "endpoints.csv", convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    derived = analysis.endpoints.patients.select(committed.column_names)
    for name in committed.column_names:
        assert derived.column(name).to_pylist() == committed.column(name).to_pylist(), name


def test_comparisons_are_the_earlier_ones(analysis):
    ref = json.loads((OLD / "r_reference.json").read_text())
    late = analysis.results["late"]
    assert set(late["by_class"]) == {"chemotherapy", "IMiD", "bispecific", "targeted", "anti-PD1", "radiotherapy",
                                     "other"}
    assert sorted(late["comparisons"]["compared"]) == sorted(ref["by_class"])  # other included
    for ep in ("pfs2", "os2"):
        lr = late["logrank"][ep]
        assert lr["df"] == ref[f"{ep}_logrank"]["df"]
        assert lr["chi2"] == pytest.approx(ref[f"{ep}_logrank"]["chi2"], rel=1e-6)
        for cls, r in ref[f"{ep}_cox"]["terms"].items():
            hr = late["by_class"][cls][f"{ep}_hr"]
            assert hr["hr"] == pytest.approx(r["hr"], rel=1e-6) and hr["p"] == pytest.approx(r["p"], rel=1e-4)
        for cls, v in ref["by_class"].items():
            assert late["by_class"][cls]["n"] == v["n"]
            assert late["by_class"][cls][f"{ep}_6mo"]["est"] == pytest.approx(v[f"{ep}_6mo"]["est"], rel=1e-6)
