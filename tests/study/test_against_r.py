"""The late-failure study's KM, Cox, log-rank and CIF numbers against R survival/cmprsk.

Fixture: a committed synthetic registry (tests/fixtures/study/registry), the endpoint tables cartreg
derived from it (endpoints.csv under the rules before issue 10, endpoints_new_rules.csv under its
default rules), and R's numbers from each table (r_reference.json, r_reference_new_rules.json), all
made by scripts/r-reference/make_study_fixture.sh + late_failure_study.R. Tolerances as the stats engine:
estimates and CIs 1e-6 relative, p-values 1e-4 relative, counts exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from cartreg.registry import read_registry
from cartreg.study import resolve_params, run_study

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "study"
EST, PVAL = 1e-6, 1e-4
#: The fixture was made before issue 10 changed the endpoint rules: these parameters give those rules.
OLD_RULES = {"failure_treatment_window_days": 0, "pfs_censoring": "last-contact", "lymphoma_death_as_failure": False,
             "line_window_days": 0, "min_class_size": 1,
             "class_map": str(Path(__file__).resolve().parents[1] / "fixtures" / "classes" / "treatment_classes_before_issue10.csv"),
             "class_precedence": ("bispecific", "IMiD", "targeted", "anti-PD1", "chemotherapy", "radiotherapy")}


def _r(x):
    return None if x == "NA" else x


#: (endpoint table, R reference, parameters): the rules before issue 10, and its default rules.
VARIANTS = {
    "old_rules": ("endpoints.csv", "r_reference.json", OLD_RULES),
    "new_rules": ("endpoints_new_rules.csv", "r_reference_new_rules.json", {}),
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant(request):
    return VARIANTS[request.param]


@pytest.fixture(scope="module")
def analysis(variant):
    return run_study(read_registry(FIX / "registry"), "late-failure", resolve_params(overrides=variant[2]))


@pytest.fixture(scope="module")
def ref(variant):
    return json.loads((FIX / variant[1]).read_text())


def close(a, b, rel):
    b = _r(b)
    if b is None:
        return a is None
    return a == pytest.approx(b, rel=rel, abs=1e-12)


def test_derived_endpoints_are_the_ones_r_was_given(analysis, variant):
    committed = pacsv.read_csv(FIX / variant[0], convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
    derived = analysis.endpoints.patients.select(committed.column_names)
    for name in committed.column_names:
        assert derived.column(name).to_pylist() == committed.column(name).to_pylist(), name


@pytest.mark.parametrize("key", ["os2", "pfs2", "followup"])
def test_medians_and_cis(analysis, ref, key):
    ours, theirs = analysis.results["late"][key], ref[key]
    if key != "followup":
        assert (ours["n"], ours["events"]) == (theirs["n"], theirs["events"])
    assert close(ours["median"], theirs["median"], EST)
    assert close(ours["ci"][0], theirs["lower"], EST) and close(ours["ci"][1], theirs["upper"], EST)


def test_landmark_rates_by_class(analysis, ref):
    bc = analysis.results["late"]["by_class"]
    assert ref["by_class"], "fixture has classes"
    for cls, r in ref["by_class"].items():
        assert bc[cls]["n"] == r["n"]
        for key in ("pfs2_6mo", "os2_6mo"):
            ours, theirs = bc[cls][key], r[key]
            assert ours["n_risk"] == theirs["n_risk"], (cls, key)
            assert close(ours["est"], theirs["est"], EST), (cls, key)
            assert close(ours["ci"][0], theirs["lower"], EST) and close(ours["ci"][1], theirs["upper"], EST), (cls, key)


@pytest.mark.parametrize("endpoint", ["pfs2", "os2"])
def test_hazard_ratios_against_chemotherapy(analysis, ref, endpoint):
    bc = analysis.results["late"]["by_class"]
    terms = ref[f"{endpoint}_cox"]["terms"]
    assert terms
    for cls, r in terms.items():
        ours = bc[cls][f"{endpoint}_hr"]
        assert close(ours["hr"], r["hr"], EST), cls
        assert close(ours["ci"][0], r["lower"], EST) and close(ours["ci"][1], r["upper"], EST), cls
        assert close(ours["p"], r["p"], PVAL), cls
    # classes with events but not in R's model: none; classes without events are null
    for cls, v in bc.items():
        if cls not in terms and not v["reference"]:
            assert v[f"{endpoint}_hr"] is None


@pytest.mark.parametrize("endpoint", ["pfs2", "os2"])
def test_logrank_by_class(analysis, ref, endpoint):
    ours, theirs = analysis.results["late"]["logrank"][endpoint], ref[f"{endpoint}_logrank"]
    assert ours["df"] == theirs["df"]
    assert close(ours["chi2"], theirs["chi2"], EST) and close(ours["p"], theirs["p"], PVAL)


def test_cumulative_incidence_of_failure(analysis, ref):
    cif = analysis.results["failures"]["cif"]
    r = ref["cif"]
    assert [c["months"] for c in cif] == r["months"]
    for c, est, lo, hi in zip(cif, r["est"], r["lower"], r["upper"]):
        assert close(c["est"], est, EST) and close(c["ci"][0], lo, EST) and close(c["ci"][1], hi, EST)
