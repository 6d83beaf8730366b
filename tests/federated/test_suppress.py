"""Small-cell suppression of a results dictionary (counts, nested tallies, texts)."""

from cartreg.federated.suppress import suppress_small_cells, suppress_text


def test_counts_tallies_and_texts_are_suppressed():
    res = {
        "failures": {"n": 3, "pct": 0.5, "cif_curve": {"risk_table": {"n_risk": [600, 4], "cum_failures": [0, 2],
                                                                      "cum_deaths_without_failure": [0, 7]}}},
        "late": {"first_treatment": {"regimens": {"IMiD": {"R2": 6, "lenalidomide": 2}}},
                 "comparisons": {"not_compared": {"adc": "3 treated patient(s), fewer than min_class_size = 5"}}},
        "ignored_records": {"responses_before_infusion": 2, "after_cutoff": {"deaths": 1, "responses": 0}},
        "warnings": [{"kind": "ignored_records", "n": 2, "message": "2 record(s) ignored: x"},
                     {"kind": "unmapped_regimen", "regimen": "R 2 x", "n_rows": 9,
                      "message": "regimen 'R 2 x' matched no treatment class: counted as 'other'"}],
    }
    got = suppress_small_cells(res, 5)
    assert got["failures"]["n"] == "<5" and got["failures"]["pct"] is None
    rt = got["failures"]["cif_curve"]["risk_table"]
    assert rt == {"n_risk": [600, "<5"], "cum_failures": [0, "<5"], "cum_deaths_without_failure": [0, 7]}
    assert got["late"]["first_treatment"]["regimens"] == {"IMiD": {"R2": 6, "lenalidomide": "<5"}}
    assert got["late"]["comparisons"]["not_compared"]["adc"] == "<5 treated patient(s), fewer than min_class_size = 5"
    assert got["ignored_records"] == {"responses_before_infusion": "<5", "after_cutoff": {"deaths": "<5", "responses": 0}}
    assert got["warnings"][0] == {"kind": "ignored_records", "n": "<5", "message": "<5 record(s) ignored: x"}
    assert got["warnings"][1] == res["warnings"][1]  # a quoted regimen text is left as it is; 9 is not small


def test_suppress_text_leaves_dates_decimals_and_large_numbers():
    assert suppress_text("data cut-off 2021-06-03: 3 death(s) after it, 4.5 months, 12 patients, 2%", 5) == \
        "data cut-off 2021-06-03: <5 death(s) after it, 4.5 months, 12 patients, 2%"
