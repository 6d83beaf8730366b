"""Table-building tests on the example results: the values in the cells."""

from __future__ import annotations

import csv
import io

from cartreg.report.tables import (
    build_tables,
    ordered_classes,
    outcomes_table,
    patient_flow,
    response_table,
    sensitivity_table,
    table1,
    treatments_table,
)

LATE, EARLY = "Late failures (N=145)", "Early failures (N=286)"


def test_patient_flow(results):
    t = patient_flow(results)
    assert t.columns == ["Step", "n", "n/N (%)"]
    assert t.cell("Registered", "n") == "977"
    assert t.cell("Infused", "n/N (%)") == "976/977 (>99%)"
    assert t.cell("Failed after infusion (progression or relapse)", "n/N (%)") == "431/976 (44%)"
    assert t.cell("Late failure (> 91.3125 days)", "n/N (%)") == "145/431 (34%)"
    assert t.cell("Early failure (\u2264 91.3125 days)", "n/N (%)") == "286/431 (66%)"
    assert t.cell("Treated after failure", "n/N (%)") == "124/145 (86%)"
    assert t.cell("Treatment status unknown", "n/N (%)") == "1/145 (0.7%)"


def test_table1_values_missing_rows_and_early_column(results):
    t = table1(results)
    assert t.columns == ["Characteristic", LATE, EARLY]
    assert t.rows[0] == ["Age, years, median (range)", "62 (19-77)", "61 (18-80)"]
    assert t.cell("Male sex, n (%)", LATE) == "85 (59%)"
    assert t.cell("ECOG PS > 2, n (%)", LATE) == "12 (8.4%)"
    assert t.cell("Ferritin, \u00b5g/l, median (range)", LATE) == "474.5 (12-8950)"
    assert t.cell("Chemotherapy-based, of bridged, n (%)", LATE) == "92 (77%)"
    assert t.cell("DLBCL", LATE) == "109 (75%)"
    assert t.cell("PMBL", LATE) == "6 (4.1%)"
    # a Missing row follows each variable with missing values: n minus its denominator, or n_missing
    i = [r[0] for r in t.rows].index("Stage III-IV, n (%)")
    assert t.rows[i + 1] == ["Missing", "4", "7"] and t.indent[i + 1] == 1
    i = [r[0] for r in t.rows].index("Ferritin, \u00b5g/l, median (range)")
    assert t.rows[i + 1] == ["Missing", "17", "40"]
    # no Missing row when nothing is missing in either column
    i = [r[0] for r in t.rows].index("Prior HSCT (auto or allo), n (%)")
    assert t.rows[i + 1][0] != "Missing"
    # the conditional percentage has no Missing row (its denominator is the bridged patients)
    i = [r[0] for r in t.rows].index("Chemotherapy-based, of bridged, n (%)")
    assert t.rows[i + 1][0] != "Missing"


def test_table1_iqr_and_fallback(results):
    t = table1(results, stat="iqr")
    assert t.cell("Age, years, median (IQR)", LATE) == "62 (55-68)"
    del results["late"]["baseline"]["age"]["q1"]
    t = table1(results, stat="iqr")
    assert t.cell("Age, years, median (range)", LATE) == "62 (19-77)"
    assert t.cell("Age, years, median (range)", EARLY) == "61 (18-80)"  # never mixed in one row
    assert any("median (range)" in n for n in t.footnotes)


def test_table1_without_early(results):
    del results["early"]
    assert table1(results).columns == ["Characteristic", LATE]


def test_response_table(results):
    t = response_table(results)
    assert t.cell("Overall response (CR/CMR or PR/PMR)", LATE) == "131/145 (90%)"
    assert t.cell("Complete response (CR/CMR)", LATE) == "76/145 (52%)"
    assert t.cell("No assessment before failure", LATE) == "2/145 (1.4%)"
    assert t.cell("Median (IQR)", LATE) == "4.1 (3.4-6.5)"
    assert t.cell("Range", LATE) == "3.0-21.5"
    assert t.cell("Overall response", LATE) == "19/124 (15%)"


def test_treatments_table_classes_and_regimens(results):
    t = treatments_table(results)
    assert t.cell("Treated", "n/N (%)") == "124/145 (86%)"
    assert t.cell("Not treated", "n/N (%)") == "20/145 (14%)"
    assert t.cell("IMiD", "n/N (%)") == "41/124 (33%)"
    assert t.cell("Anti-PD-1", "n/N (%)") == "7/124 (5.6%)"
    assert t.cell("IMiD", "Regimens seen (n patients)") == "lenalidomide (17); R2 (14); tafasitamab + lenalidomide (10)"
    labels = [r[0] for r in t.rows]
    assert labels.index("IMiD") < labels.index("Chemotherapy") < labels.index("Anti-PD-1")  # most used first


def test_outcomes_table(results):
    t = outcomes_table(results)
    ref = t.rows[0]
    assert ref[0] == "Chemotherapy (reference)"
    assert t.cell("Chemotherapy (reference)", "PFS-2 HR (95% CI)") == "1 (reference)"
    assert t.cell("Bispecific antibody", "n") == "18"
    assert t.cell("Bispecific antibody", "PFS-2 HR (95% CI)") == "0.19 (0.07-0.51)"
    assert t.cell("Bispecific antibody", "PFS-2 P") == "<.001"
    assert t.cell("Bispecific antibody", "OS-2 P") == ".004"
    assert t.cell("Targeted therapy", "OS-2 HR (95% CI)") == "0.28 (0.09-0.83)"
    assert t.cell("Targeted therapy", "OS-2 P") == ".02"
    assert t.cell("Bispecific antibody", "Failure to treatment, median days") == "27.5"
    b = results["late"]["by_class"]["bispecific"]["pfs2_6mo"]
    assert t.cell("Bispecific antibody", "6-month PFS-2, % (95% CI)") == "77 (50-91)"
    assert round(100 * b["est"]) == 77
    assert t.cell("Other", "OS-2 HR (95% CI)") == "NE"
    notes = " ".join(t.footnotes)
    assert "descriptive, unadjusted" in notes.lower()
    assert "from the start of the first treatment after failure" in notes
    assert "immortal-time bias" in notes


def test_outcomes_footnote_follows_origin(results):
    results["parameters"]["treated_origin"] = "failure"
    notes = " ".join(outcomes_table(results).footnotes)
    assert "measured from failure" in notes and "immortal time" in notes


def test_sensitivity_table(results):
    t = sensitivity_table(results)
    assert [r[0] for r in t.rows] == ["60", "90", "91.3125 (used)", "120"]
    assert t.cell("91.3125 (used)", "Late failures, n/N failures (%)") == "145/431 (34%)"
    assert t.cell("60", "Cut-off, months") == "1.97"


def test_class_order_reference_then_precedence_other_last(results):
    assert ordered_classes(results) == [
        "chemotherapy", "bispecific", "IMiD", "targeted", "anti-PD1", "radiotherapy", "other"]


def test_csv_roundtrip(results):
    for t in build_tables(results):
        rows = list(csv.reader(io.StringIO(t.to_csv())))
        assert rows[0] == t.columns
        assert len(rows) == len(t.rows) + 1
        assert [r[1:] for r in rows[1:]] == [r[1:] for r in t.rows]
