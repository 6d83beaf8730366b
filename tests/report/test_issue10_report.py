"""Report changes of issue 10, with exact strings: toxicity table, units, HR decimals, classes not
compared, imprecise HRs, landmark rates without CI, the PH test under Table 4, non-default parameters,
the data cut-off counts, and the numbers at risk under the cumulative incidence figure."""

from __future__ import annotations

import pytest
from matplotlib import rc_context

from cartreg.report.figures import RC, cif_failure, forest
from cartreg.report.html import after_cutoff_text, ignored_lines, parameter_rows, render_html
from cartreg.report.summary import non_default_parameters, parameters_sentence, summary_paragraphs
from cartreg.report.tables import build_tables, outcomes_table, table1, toxicity_table

LATE, EARLY = "Late failures (N=145)", "Early failures (N=286)"


def _grades(counts: list[int], missing: int = 0) -> dict:
    N = sum(counts)
    g = {str(i): {"n": n, "N": N, "pct": 100.0 * n / N} for i, n in enumerate(counts)}
    ge = sum(counts[3:])
    return {"grades": g, "ge_3": {"n": ge, "N": N, "pct": 100.0 * ge / N}, "N": N, "n_missing": missing}


@pytest.fixture
def r10(results):
    """The example results with the keys issue 10 adds."""
    results["toxicity"] = {
        "crs_grade": {"late": _grades([40, 60, 35, 6, 2, 0], 2), "early": _grades([70, 120, 80, 12, 3, 1]),
                      "infused": _grades([300, 400, 220, 40, 12, 4], 2)},
        "icans_grade": {"late": _grades([100, 20, 15, 8, 2, 0]), "early": _grades([180, 50, 35, 15, 5, 1]),
                        "infused": _grades([650, 150, 110, 45, 19, 2])},
    }
    late = results["late"]
    by = late["by_class"]
    for cls, v in by.items():
        v["compared"] = cls not in ("other", "anti-PD1")
    by["anti-PD1"]["pfs2_hr"] = by["anti-PD1"]["os2_hr"] = None
    by["other"]["pfs2_hr"] = by["other"]["os2_hr"] = None
    by["targeted"]["os2_hr"]["imprecise"] = True
    by["bispecific"]["pfs2_hr"]["imprecise"] = False
    by["anti-PD1"]["pfs2_6mo"] = {"est": 1.0, "ci": [None, None], "n_risk": 3}
    late["comparisons"] = {"min_class_size": 5, "compared": [c for c in by if by[c]["compared"]],
                           "not_compared": {"other": "...", "anti-PD1": "..."}, "imprecise_events": 5}
    late["ph_test"] = {"pfs2": {"chisq": 4.04745, "df": 5, "p": 0.5426, "terms": {"class": {"chisq": 4.04745, "df": 5, "p": 0.5426}}},
                       "os2": {"chisq": 17.2, "df": 5, "p": 0.0004, "terms": {"class": {"chisq": 17.2, "df": 5, "p": 0.0004}}}}
    results["late"]["baseline"]["ferritin"]["unit"] = "\u00b5g/l"
    results["late"]["baseline"]["crp"]["unit"] = "mg/dl"
    return results


def test_toxicity_table_grades_and_grade_3_or_more(r10):
    t = toxicity_table(r10)
    assert t.id == "table6_toxicity"
    assert t.columns == ["Toxicity", LATE, EARLY, "All infused (N=976)"]
    labels = [row[0] for row in t.rows]
    assert labels[:9] == ["Cytokine release syndrome (CRS), grade, n (%)", "0", "1", "2", "3", "4", "5",
                          "Grade \u2265 3", "Missing"]
    assert t.rows[4] == ["3", "6 (4.2%)", "12 (4.2%)", "40 (4.1%)"]
    assert t.rows[7] == ["Grade \u2265 3", "8 (5.6%)", "16 (5.6%)", "56 (5.7%)"]
    assert t.rows[8] == ["Missing", "2", "0", "2"]
    i = labels.index("Neurotoxicity (ICANS), grade, n (%)")
    assert t.rows[i + 6] == ["5", "0 (0%)", "1 (0.3%)", "2 (0.2%)"]
    assert "table6_toxicity" in [x.id for x in build_tables(r10)]


def test_table1_units_and_no_crs_icans_when_toxicity_is_given(r10, results):
    t = table1(r10)
    labels = [row[0] for row in t.rows]
    assert "Ferritin, \u00b5g/l, median (range)" in labels and "C-reactive protein, mg/dl, median (range)" in labels
    assert not any(lbl.startswith(("CRS", "ICANS")) for lbl in labels)
    del r10["toxicity"]  # results written before issue 10: CRS/ICANS stay in Table 1
    assert "CRS grade \u2265 3, n (%)" in [row[0] for row in table1(r10).rows]


def test_outcomes_table_not_compared_imprecise_no_ci_and_ph_test(r10):
    t = outcomes_table(r10)
    assert t.cell("Anti-PD-1", "PFS-2 HR (95% CI)") == "not compared"
    assert t.cell("Other", "OS-2 HR (95% CI)") == "not compared"
    assert t.cell("Targeted therapy", "OS-2 HR (95% CI)") == "0.28 (0.09-0.83)\u2020"
    assert t.cell("Bispecific antibody", "PFS-2 HR (95% CI)") == "0.19 (0.07-0.51)"
    assert t.cell("Anti-PD-1", "6-month PFS-2, % (95% CI)") == "100 (no CI: no event before 6 months)"
    notes = t.footnotes
    assert ("Proportional hazards (scaled Schoenfeld residuals, global test of each class model as R cox.zph with "
            "the Kaplan-Meier time transform): PFS-2: chi-square 4.05 on 5 df, P=.54; OS-2: chi-square 17.20 on "
            "5 df, P<.001.") in notes
    assert "\u2020 Imprecise: the hazard ratio rests on fewer than 5 events in the class or in the reference." in notes
    assert any(n.startswith("Not compared: classes with fewer than 5 treated patients") for n in notes)
    assert "A 6-month rate of 100% or 0% has no Kaplan-Meier confidence interval." in notes


def test_summary_names_parameters_that_differ_from_defaults(r10):
    p = r10["parameters"]
    p.update(min_class_size=1, conf_type="log", late_after_days=91.3125, class_precedence=[
        "bispecific", "cellular", "adc", "IMiD", "targeted", "anti-PD1", "chemotherapy", "radiotherapy"])
    p["sensitivity_days"] = [60, 90, 91.3125, 120]  # ints equal to the float defaults are not "different"
    assert [k for k, _, _ in non_default_parameters(r10)] == ["conf_type", "min_class_size"]
    assert parameters_sentence(r10) == ("Study parameters that differ from their defaults: conf_type = log "
                                        "(default log-log); min_class_size = 1 (default 5).")
    paras = summary_paragraphs(r10)
    assert paras[-1] == parameters_sentence(r10)
    p.update(min_class_size=5, conf_type="log-log")
    assert parameters_sentence(r10) == "Every study parameter is at its default (see Parameters)."


def test_summary_not_compared_imprecise_and_no_ci(r10):
    text = " ".join(x if isinstance(x, str) else " ".join(x) for x in summary_paragraphs(r10))
    assert "Anti-PD-1 (n=7): 6-month PFS-2 100% (no CI: no event before 6 months), not compared" in text
    assert "HR 0.28 (95% CI, 0.09-0.83), P=.02 (imprecise: fewer than 5 events)" in text
    assert "global test of scaled Schoenfeld residuals): PFS-2 P=.54, OS-2 P<.001." in text


def test_data_cutoff_and_records_after_it(r10):
    r10["parameters"]["data_cutoff"] = "2021-12-31"
    r10["ignored_records"]["after_cutoff"] = {"responses": 120, "treatments": 31, "deaths": 1,
                                              "last_contacts_truncated": 402, "registered_after_cutoff": 12,
                                              "infused_after_cutoff": 3}
    text = after_cutoff_text(r10)
    assert text == ("Data cut-off 2021-12-31: records dated after it are ignored and follow-up ends at it "
                    "(120 response assessments; 31 treatments; 1 death; 402 last contacts moved back to the cut-off; "
                    "12 patients registered after the cut-off (not in the cohort); 3 patients infused after the "
                    "cut-off (not in the cohort)).")
    rows = dict(parameter_rows(r10))
    assert rows["Data cut-off date"] == "2021-12-31" and rows["Records after the cut-off"] == text
    assert not any("after cutoff" in line for line in ignored_lines(r10))
    html = render_html(r10, build_tables(r10), [], summary_paragraphs(r10))
    assert "402 last contacts moved back to the cut-off" in html and "Data cut-off 2021-12-31" in html
    del r10["ignored_records"]["after_cutoff"]
    assert after_cutoff_text(r10) is None


def test_forest_leaves_out_classes_not_compared(r10):
    with rc_context(RC):
        fig = forest(r10)
    texts = [t.get_text() for ax in fig.figure.axes for t in ax.texts]
    assert "Anti-PD-1" not in texts and "Other" not in texts and "Bispecific antibody" in texts
    assert "0.28 (0.09-0.83)\u2020" in texts
    assert "not compared (fewer patients than min_class_size, or the class Other): Anti-PD-1, Other." in fig.caption


def test_cif_figure_numbers_at_risk(r10):
    r10["failures"]["cif_curve"]["risk_table"] = {
        "months": [0.0, 3.0, 6.0, 9.0, 12.0], "n_risk": [976, 610, 480, 431, 400],
        "cum_failures": [0, 286, 360, 390, 405], "cum_deaths_without_failure": [0, 9, 14, 17, 20],
        "cum_censored": [0, 71, 122, 138, 151]}
    with rc_context(RC):
        fig = cif_failure(r10)
    texts = [t.get_text() for ax in fig.figure.axes for t in ax.texts]
    assert {"976", "610", "286", "9", "71", "Number at risk and cumulative numbers of events"} <= set(texts)
    assert "Under the axis: number at risk" in fig.caption


def test_treatments_table_lists_entries_that_are_not_treatment(r10):
    from cartreg.report.tables import treatments_table

    r10["warnings"] = [{"kind": "not_treatment", "regimen": "Dexamethasone", "n_rows": 4, "message": "..."},
                       {"kind": "not_treatment", "regimen": "BSC", "n_rows": 2, "message": "..."}]
    assert treatments_table(r10).footnotes[-1] == (
        "Not anticancer treatment, not counted as a treatment (a patient with only these entries after failure is "
        "untreated); entries (rows): Dexamethasone (4); BSC (2).")
