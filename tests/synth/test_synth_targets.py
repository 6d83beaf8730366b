"""Targets file, tolerance rules and derived figures, checked by hand on tiny results dicts."""

from __future__ import annotations

from cartreg.synth.calibrate import CalibrationResult, CalibrationRow, Target, format_table, load_targets, lookup


def _t(kind: str, value: float, tol: float | None) -> Target:
    return Target("k", kind, value, "", None, None, tol, False, "")


def test_tolerance_rules_by_hand():
    assert _t("pct", 44.1, 1.5).check(45.6) is True          # 1.5 points exactly
    assert _t("pct", 44.1, 1.5).check(45.61) is False
    assert _t("median", 4.2, 0.05).check(4.41) is True       # 5% of 4.2 = 0.21
    assert _t("median", 4.2, 0.05).check(4.42) is False
    assert _t("rate6", 0.775, 0.02).check(0.755) is True
    assert _t("hr", 0.188, 0.15).check(0.2162) is True       # 15% of 0.188 = 0.0282
    assert _t("hr", 0.188, 0.15).check(0.2163) is False
    assert _t("pct", 10.0, 1.5).check(None) is False
    assert _t("info", 19, None).check(3.0) is None


RESULTS = {
    "cohort": {"registered": 10, "infused": 8, "products": {"axi-cel": 5, "tisa-cel": 2, "unknown": 1}},
    "late": {
        "baseline": {"histology": {"DLBCL": {"n": 2, "N": 4, "pct": 50.0}, "tFL": {"n": 1, "N": 4, "pct": 25.0},
                                   "tMZL": {"n": 1, "N": 4, "pct": 25.0}}},
        "first_treatment": {"treated": {"n": 6, "N": 10, "pct": 60.0},
                            "classes": {"radiotherapy": {"n": 1, "N": 6}, "other": {"n": 1, "N": 6}}},
        "best_response": {"orr": {"n": 9, "N": 10, "pct": 90.0}},
        "time_to_failure": {"median": 4.0, "q1": 3.5, "q3": 6.0},
        "by_class": {"bispecific": {"os2_hr": {"hr": 0.2, "ci": [0.1, 0.4], "p": 0.01}}},
        "followup": {"median": 15.0, "ci": [12.0, 17.0]},
    },
}


def test_derived_figures_by_hand():
    assert lookup(RESULTS, "derived.cohort.products_pct.axi-cel") == 62.5
    assert lookup(RESULTS, "derived.cohort.products_pct.unknown") == 12.5
    assert lookup(RESULTS, "derived.late.histology_other.pct") == 25.0           # tMZL 1 of 4
    assert lookup(RESULTS, "derived.late.systemic_treated.pct") == 40.0          # (6 - 1 - 1) / 10
    assert lookup(RESULTS, "derived.late.best_response.non_responders.pct") == 10.0
    assert lookup(RESULTS, "derived.late.time_to_failure.iqr") == 2.5


def test_paths_and_missing_values():
    assert lookup(RESULTS, "late.by_class.bispecific.os2_hr.hr") == 0.2
    assert lookup(RESULTS, "late.followup.ci.1") == 17.0
    assert lookup(RESULTS, "late.by_class.targeted.os2_hr.hr") is None


def test_table_says_fail():
    t = _t("pct", 44.1, 1.5)
    res = CalibrationResult(rows=[CalibrationRow(t, 40.0, t.check(40.0))], patients=100, seed=1, seeds=0, spread_n=977)
    text = format_table(res)
    assert "FAIL" in text and "0/1 targets within tolerance" in text
    assert not res.all_pass


def test_every_target_row_is_well_formed():
    for t in load_targets():
        if t.kind != "info":
            assert t.tolerance is not None and t.tolerance > 0, t.key
        if t.kind == "rate6":
            assert 0 < t.value < 1, t.key
        if t.n is not None and t.denominator and t.kind == "pct":
            assert abs(100 * t.n / t.denominator - t.value) < 0.051, t.key   # the reconstruction reproduces the print
