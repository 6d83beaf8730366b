"""The late-failure study on a 10-patient registry whose every figure is worked out by hand below."""

from __future__ import annotations

import json
import math
import pytest

from cartreg.study import analyze, resolve_params
from tests_study_registry import registry as _registry

M = 30.4375  # days per month


@pytest.fixture(scope="module")
def res():
    return analyze(_registry(), params=resolve_params())


def test_cohort_and_failures(res):
    assert res["cohort"] == {"registered": 10, "infused": 9, "products": {"axi-cel": 6, "tisa-cel": 2, "unknown": 1}}
    f = res["failures"]
    assert (f["n"], f["relapse"]["n"], f["progression"]["n"]) == (7, 2, 5)
    assert f["pct"] == pytest.approx(100 * 7 / 9, rel=1e-12)
    assert (f["early"]["n"], f["late"]["n"]) == (2, 5)
    assert f["late"]["pct"] == pytest.approx(100 * 5 / 7, rel=1e-12)
    assert [(s["late_after_days"], s["late_n"]) for s in f["sensitivity"]] == [
        (60.0, 6), (90.0, 6), (91.3125, 5), (120.0, 2)]


def test_late_baseline_denominators_exclude_missing(res):
    b = res["late"]["baseline"]
    assert b["age"] == {"n": 4, "n_missing": 1, "median": 63.0, "min": 50.0, "max": 70.0, "q1": 57.5, "q3": 67.0,
                        "unit": "years"}  # issue 10: unit beside each continuous variable
    assert b["male"] == {"n": 3, "N": 4, "pct": 75.0, "n_missing": 1}
    assert b["age_gt_65"]["n"] == 2 and b["age_gt_65"]["N"] == 4
    # yes if auto or allo is yes; no if both no; otherwise missing (P3: auto no, allo missing)
    assert b["prior_hsct"] == {"n": 2, "N": 3, "pct": pytest.approx(200 / 3), "n_missing": 2}
    assert b["ecog_ge_2"]["n"] == 2 and b["ecog_gt_2"]["n"] == 1 and b["ecog_gt_2"]["N"] == 4
    assert b["bridging"] == {"n": 3, "N": 4, "pct": 75.0, "n_missing": 1}
    assert b["bridging_chemo"]["n"] == 2 and b["bridging_chemo"]["N"] == 3
    assert b["products"]["tisa-cel"]["n"] == 2 and b["products"]["tisa-cel"]["N"] == 5
    assert res["early"]["n"] == 2 and res["early"]["baseline"]["male"]["n"] == 1


def test_response_time_to_failure_and_treatment(res):
    late = res["late"]
    assert late["best_response"]["orr"] == {"n": 4, "N": 5, "pct": 80.0}
    assert late["best_response"]["cmr"] == {"n": 2, "N": 5, "pct": 40.0}
    ttf = late["time_to_failure"]
    assert ttf["median"] == pytest.approx(120 / M, rel=1e-12)
    assert (ttf["q1"], ttf["q3"]) == (pytest.approx(100 / M, rel=1e-12), pytest.approx(150 / M, rel=1e-12))
    assert (ttf["min"], ttf["max"]) == (pytest.approx(95 / M), pytest.approx(200 / M))
    ft = late["first_treatment"]
    assert ft["treated"] == {"n": 4, "N": 5, "pct": 80.0}
    assert ft["untreated"]["n"] == 1 and ft["unknown"]["n"] == 0
    assert ft["classes"]["chemotherapy"] == {"n": 2, "N": 4, "pct": 50.0}
    assert ft["classes"]["bispecific"]["n"] == 2 and ft["classes"]["IMiD"]["n"] == 0
    assert set(ft["classes"]) == {"chemotherapy", "IMiD", "bispecific", "targeted", "anti-PD1", "radiotherapy",
                                  "adc", "cellular", "other"}  # issue 10: adc and cellular classes
    assert ft["regimens"]["bispecific"] == {"Glofitamab": 1, "glofitamab": 1}
    assert late["post_failure_response"]["orr"] == {"n": 2, "N": 4, "pct": 50.0}
    assert late["post_failure_response"]["cmr"] == {"n": 1, "N": 4, "pct": 25.0}


def test_time_to_event_endpoints(res):
    late = res["late"]
    # OS-2 from failure: 15 (death), 200 (death), 250+, 280+, 350+ -> S = 0.8 then 0.6: not reached
    assert (late["os2"]["n"], late["os2"]["events"], late["os2"]["median"]) == (5, 2, None)
    # reverse KM: "events" are censorings at 250, 280, 350 with 3, 2, 1 at risk -> S 2/3, 1/3: median 280 days
    assert late["followup"]["median"] == pytest.approx(280 / M, rel=1e-12)
    # PFS-2 from treatment start: 75, 190 (death), 190 (PD), 350+
    assert (late["pfs2"]["n"], late["pfs2"]["events"]) == (4, 3)
    assert late["pfs2"]["median"] == pytest.approx(190 / M, rel=1e-12)


def test_small_classes_are_described_not_compared(res):
    """Issue 10, rule 7: 2 + 2 treated patients < min_class_size 5: described, no HR, no log-rank."""
    late = res["late"]
    assert late["comparisons"]["compared"] == [] and late["comparisons"]["min_class_size"] == 5
    assert set(late["comparisons"]["not_compared"]) == {"chemotherapy", "bispecific"}
    bc = late["by_class"]
    assert bc["bispecific"]["pfs2_hr"] is None and bc["bispecific"]["compared"] is False
    assert bc["bispecific"]["pfs2_6mo"]["est"] == 1.0 and bc["chemotherapy"]["n"] == 2
    assert late["logrank"] == {"pfs2": None, "os2": None}
    assert late["ph_test"] == {"pfs2": None, "os2": None}


@pytest.fixture(scope="module")
def res_all():
    """min_class_size = 1: every class compared, as before issue 10."""
    return analyze(_registry(), params=resolve_params(overrides={"min_class_size": 1}))


def test_by_class_landmarks_and_hazard_ratios(res_all):
    res = res_all
    bc = res["late"]["by_class"]
    chemo, bsab = bc["chemotherapy"], bc["bispecific"]
    assert (chemo["n"], chemo["events_pfs2"], chemo["events_os2"], chemo["gap_days_median"]) == (2, 2, 1, 7.5)
    # chemotherapy PFS-2: events at 75 and 190 days -> S(182.625) = 0.5 with 1 at risk
    assert chemo["pfs2_6mo"]["est"] == pytest.approx(0.5, rel=1e-12) and chemo["pfs2_6mo"]["n_risk"] == 1
    # bispecific PFS-2: event at 190 (P4); P3 censored at its last assessment (CMR day 250 = 100 days
    # after its start; issue 10 rule 3) -> S(182.625) = 1 with 1 at risk
    assert bsab["pfs2_6mo"]["est"] == 1.0 and bsab["pfs2_6mo"]["n_risk"] == 1
    # censored at the last contact instead (the rule before issue 10): 350 days, 2 at risk
    old = analyze(_registry(), params=resolve_params(overrides={"pfs_censoring": "last-contact"}))
    assert old["late"]["by_class"]["bispecific"]["pfs2_6mo"]["n_risk"] == 2
    assert chemo["reference"] is True and chemo["pfs2_hr"] is None and chemo["os2_hr"] is None
    assert bsab["reference"] is False
    hr = bsab["pfs2_hr"]
    assert hr is not None and 0 < hr["ci"][0] < hr["hr"] < hr["ci"][1] and 0 < hr["p"] < 1
    assert hr["imprecise"] is True  # 1 bispecific PFS-2 event (and 2 in the reference) < 5
    # bispecific has no OS-2 event: left out of that model, null, with a note
    assert bsab["os2_hr"] is None
    notes = [w["message"] for w in res["warnings"] if w["kind"] == "hazard_ratio"]
    assert any("'bispecific' has no events" in n for n in notes)
    assert bc["IMiD"]["n"] == 0 and bc["IMiD"]["pfs2_6mo"]["est"] is None


def test_results_are_plain_json_with_resolved_parameters(res):
    text = json.dumps(res, allow_nan=False)
    assert '"P1"' not in text and '"P10"' not in text
    p = res["parameters"]
    assert p["late_after_days"] == 91.3125 and p["conf_type"] == "log-log" and p["treated_origin"] == "treatment_start"
    assert p["class_precedence"][0] == "bispecific" and p["reference_class"] == "chemotherapy"


def test_cut_off_parameter_changes_early_late(res):
    r90 = analyze(_registry(), params=resolve_params(overrides={"late_after_days": 90}))
    assert (r90["failures"]["early"]["n"], r90["failures"]["late"]["n"]) == (1, 6)


def test_cumulative_incidence_of_failure(res):
    cif = {c["months"]: c for c in res["failures"]["cif"]}
    # failures by 3 months (91.3125 d): days 60 and 91 among 9 infused. P10 dies (no failure) on day 20;
    # P8 (no failure, last assessment CMR day 30) is censored on day 30 (issue 10 rule 3). Aalen-Johansen:
    # S(20) = 8/9; day 60: 7 at risk -> 8/9 * 1/7; day 91: 6 at risk -> 8/9 * 6/7 * 1/6; sum 16/63
    assert cif[3.0]["est"] == pytest.approx(16 / 63, rel=1e-12)
    assert math.isclose(cif[3.0]["pct"], 100 * 16 / 63)
    lo, hi = cif[3.0]["ci"]
    assert 0 < lo < 16 / 63 < hi < 1
    # censored at the last contact (the rule before issue 10): no censoring before day 91 but the death
    # on day 20 -> 2/9
    old = analyze(_registry(), params=resolve_params(overrides={"pfs_censoring": "last-contact"}))
    assert old["failures"]["cif"][0]["est"] == pytest.approx(2 / 9, rel=1e-12)
