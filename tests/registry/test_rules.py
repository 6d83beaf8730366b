"""One minimal registry per rule: each asserts the rule id, severity, file, row and column."""

from __future__ import annotations

import pytest

from cartreg.registry import read_registry
from cartreg.registry.schema import RULES_BY_ID


def _set(tables, table, i, **values):
    tables[table][i].update(values)
    return tables


def _add(tables, table, **row):
    tables[table].append({**tables[table][0], **row})
    return tables


def _found(report, rule, file, row, column):
    return [i for i in report if (i.rule, i.file, i.row, i.column) == (rule, file, row, column)]


def test_base_registry_is_clean(make_registry, base_tables):
    report = read_registry(make_registry(base_tables)).report
    assert len(report) == 0, list(report)


# (edit, rule, file, row, column)
CASES = [
    (lambda t: _set(t, "patients", 0, eligibility_date="2020-13-01"), "invalid_date", "patients.csv", 2, "eligibility_date"),
    (lambda t: _set(t, "patients", 1, death_date="01/12/2020"), "invalid_date", "patients.csv", 3, "death_date"),
    (lambda t: _set(t, "patients", 0, age="sixty"), "invalid_number", "patients.csv", 2, "age"),
    (lambda t: _set(t, "patients", 0, age="60.5"), "invalid_number", "patients.csv", 2, "age"),
    (lambda t: _set(t, "infusions", 1, crp_mg_dl="high"), "invalid_number", "infusions.csv", 3, "crp_mg_dl"),
    (lambda t: _set(t, "patients", 0, prior_auto_hsct="maybe"), "invalid_boolean", "patients.csv", 2, "prior_auto_hsct"),
    (lambda t: _set(t, "patients", 0, histology="FL"), "unknown_code", "patients.csv", 2, "histology"),
    (lambda t: _set(t, "responses", 2, response="VGPR"), "unknown_code", "responses.csv", 4, "response"),
    (lambda t: _set(t, "patients", 0, stage="5"), "out_of_range", "patients.csv", 2, "stage"),
    (lambda t: _set(t, "patients", 1, age="130"), "out_of_range", "patients.csv", 3, "age"),
    (lambda t: _set(t, "patients", 0, prior_lines="0"), "out_of_range", "patients.csv", 2, "prior_lines"),
    (lambda t: _set(t, "infusions", 0, ecog="7"), "out_of_range", "infusions.csv", 2, "ecog"),
    (lambda t: _set(t, "infusions", 0, ferritin_ug_l="-1"), "out_of_range", "infusions.csv", 2, "ferritin_ug_l"),
    (lambda t: _set(t, "patients", 0, eligibility_date=""), "missing_value", "patients.csv", 2, "eligibility_date"),
    (lambda t: _set(t, "responses", 1, response=" "), "missing_value", "responses.csv", 3, "response"),
    (lambda t: _set(t, "treatments", 0, regimen=""), "missing_value", "treatments.csv", 2, "regimen"),
    (lambda t: _add(t, "patients", center="Nantes"), "duplicate_patient", "patients.csv", 4, "patient_id"),
    (lambda t: _add(t, "responses", patient_id="P9"), "unknown_patient", "responses.csv", 6, "patient_id"),
    (lambda t: _add(t, "infusions", infusion_date="2020-02-05"), "multiple_infusions", "infusions.csv", 4, "patient_id"),
    (lambda t: _set(t, "infusions", 0, infusion_date="2019-12-01"), "infusion_before_eligibility", "infusions.csv", 2, "infusion_date"),
    (lambda t: _set(t, "responses", 1, assessment_date="2021-07-01"), "event_after_last_contact", "responses.csv", 3, "assessment_date"),
    (lambda t: _set(t, "patients", 0, last_contact_date="2020-01-15"), "event_after_last_contact", "infusions.csv", 2, "infusion_date"),
    (lambda t: _set(t, "patients", 0, last_contact_date="2019-06-01"), "event_after_last_contact", "patients.csv", 2, "eligibility_date"),
    (lambda t: _set(t, "patients", 1, death_date="2020-02-15", last_contact_date="2020-02-15"), "death_before_infusion", "patients.csv", 3, "death_date"),
    (lambda t: _set(t, "treatments", 0, start_date="2020-12-15"), "event_after_death", "treatments.csv", 2, "start_date"),
    (lambda t: _set(t, "patients", 1, last_contact_date="2020-11-01"), "death_last_contact_mismatch", "patients.csv", 3, "death_date"),
    (lambda t: _set(t, "patients", 0, death_cause="toxicity"), "death_cause_without_death", "patients.csv", 2, "death_cause"),
    # warnings
    (lambda t: _set(t, "responses", 0, assessment_date="2020-02-01"), "event_before_infusion", "responses.csv", 2, "assessment_date"),
    (lambda t: _set(t, "treatments", 0, start_date="2020-02-20"), "event_before_infusion", "treatments.csv", 2, "start_date"),
    (lambda t: (_add(t, "patients", patient_id="P3"), _add(t, "treatments", patient_id="P3"))[1],
     "not_infused", "treatments.csv", 3, "patient_id"),
    (lambda t: _add(t, "responses", response="PMD"), "conflicting_responses", "responses.csv", 6, "response"),
    (lambda t: _add(t, "treatments"), "duplicate_row", "treatments.csv", 3, None),
    (lambda t: _set(t, "responses", 3, response="SD"), "lymphoma_death_without_progression", "patients.csv", 3, "death_cause"),
    (lambda t: _set(t, "infusions", 0, crs_grade="5"), "grade5_without_death", "infusions.csv", 2, "crs_grade"),
    (lambda t: _set(t, "infusions", 0, icans_grade="5"), "grade5_without_death", "infusions.csv", 2, "icans_grade"),
    (lambda t: _set(t, "patients", 0, age="95"), "implausible_value", "patients.csv", 2, "age"),
    (lambda t: _set(t, "infusions", 1, ferritin_ug_l="150000"), "implausible_value", "infusions.csv", 3, "ferritin_ug_l"),
    (lambda t: [r.update(comment="x") for r in t["patients"]] and t, "unknown_column", "patients.csv", 1, "comment"),
    (lambda t: [r.pop("center") for r in t["patients"]] and t, "missing_column", "patients.csv", 1, "center"),
    # notes
    (lambda t: _set(t, "infusions", 1, product="Kymriah"), "code_synonym", "infusions.csv", 3, "product"),
]


@pytest.mark.parametrize("edit, rule, file, row, column", CASES, ids=[f"{c[1]}-{c[2]}-{c[4]}" for c in CASES])
def test_rule(make_registry, base_tables, edit, rule, file, row, column):
    report = read_registry(make_registry(edit(base_tables))).report
    hits = _found(report, rule, file, row, column)
    assert len(hits) == 1, [(i.rule, i.file, i.row, i.column) for i in report]
    assert hits[0].severity == RULES_BY_ID[rule].severity
    # each warning/note case breaks nothing else: it must not produce an error
    assert report.has_errors == (RULES_BY_ID[rule].severity == "error")


def test_cell_values_and_patient_in_issue(make_registry, base_tables):
    _set(base_tables, "patients", 1, age="130")
    (issue,) = [i for i in read_registry(make_registry(base_tables)).report if i.rule == "out_of_range"]
    assert (issue.value, issue.patient_id) == ("130", "P2")
    assert "0–120" in issue.message


def test_date_after_cutoff(make_registry, base_tables):
    report = read_registry(make_registry(base_tables), cutoff="2021-01-01").report
    hits = [(i.file, i.row, i.column) for i in report if i.rule == "date_after_cutoff"]
    assert hits == [("patients.csv", 2, "last_contact_date")]


def test_missing_optional_file_is_a_warning(make_registry, base_tables):
    base_tables["treatments"] = None
    reg = read_registry(make_registry(base_tables))
    hits = [(i.severity, i.file, i.row) for i in reg.report if i.rule == "missing_table"]
    assert hits == [("warning", "treatments.csv", None)]
    assert reg.con.execute("SELECT count(*) FROM treatments").fetchone() == (0,)


def test_code_case_insensitive_and_synonym_canonical(make_registry, base_tables):
    _set(base_tables, "patients", 0, histology="tfl", sex="f")
    _set(base_tables, "infusions", 0, product="YESCARTA")
    _set(base_tables, "responses", 0, response="cmr")
    reg = read_registry(make_registry(base_tables))
    assert not reg.report.has_errors
    assert reg.con.execute("SELECT histology, sex FROM patients WHERE patient_id='P1'").fetchone() == ("tFL", "F")
    assert reg.con.execute("SELECT product FROM infusions WHERE patient_id='P1'").fetchone() == ("axi-cel",)
    assert reg.con.execute("SELECT response FROM responses WHERE _row=2").fetchone() == ("CMR",)


def test_invalid_values_are_null_in_typed_tables(make_registry, base_tables):
    _set(base_tables, "patients", 0, age="130", stage="x", histology="FL", eligibility_date="2020-02-30")
    reg = read_registry(make_registry(base_tables))
    row = reg.con.execute("SELECT age, stage, histology, eligibility_date FROM patients WHERE patient_id='P1'").fetchone()
    assert row == (None, None, None, None)


def test_typed_columns(make_registry, base_tables):
    _set(base_tables, "patients", 0, patient_id=" 007 ", age="62.0")
    _set(base_tables, "infusions", 0, patient_id="007", crp_mg_dl="5,5")
    _set(base_tables, "responses", 0, patient_id="007")
    _set(base_tables, "responses", 1, patient_id="007")
    reg = read_registry(make_registry(base_tables))
    assert not reg.report.has_errors, list(reg.report)
    types = dict(reg.con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name='patients'").fetchall())
    assert (types["age"], types["eligibility_date"], types["prior_auto_hsct"]) == ("INTEGER", "DATE", "BOOLEAN")
    assert reg.con.execute("SELECT patient_id, age, prior_auto_hsct FROM patients WHERE _row=2").fetchone() == ("007", 62, False)
    assert reg.con.execute("SELECT crp_mg_dl FROM infusions WHERE _row=2").fetchone() == (5.5,)


def test_malformed_row(make_registry, base_tables):
    d = make_registry(base_tables)
    text = (d / "responses.csv").read_text().splitlines()
    text[2] += ",extra"  # row 3
    (d / "responses.csv").write_text("\n".join(text) + "\n")
    reg = read_registry(d)
    assert [(i.rule, i.file, i.row) for i in reg.report.errors] == [("malformed_row", "responses.csv", 3)]
    assert reg.con.execute("SELECT list(_row ORDER BY _row) FROM responses").fetchall() == [([2, 4, 5],)]
