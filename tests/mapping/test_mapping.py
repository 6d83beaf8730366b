"""Mappings (issue 11): source cells in any layout -> exchange format, issues named at the source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook

from cartreg.cli.main import main
from cartreg.errors import CartregError
from cartreg.io.mapping import TARGET_COLUMNS, load_mapping
from cartreg.registry import import_registry, read_registry
from cartreg.registry.schema import TABLES

HEADERS = ["N° patient", "Sexe", "Date d'éligibilité", "Autogreffe", "CRP (mg/L)", "Date des dernières nouvelles",
           "Date de décès", "Date de réinjection", "Date évaluation M3", "Réponse M3", "Date de rechute"]
ROWS = [
    ["001", "H", "03/01/2020", "Oui", 52, "01/06/2021", None, "10/02/2020", "10/05/2020", "RC", "01/03/2021"],
    ["002", "f", "15/01/2020", "Non", None, "20/12/2020", "20/12/2020", "20/02/2020", "20/05/2020", "PROG", None],
    ["003", "F", "20/01/2020", "ND", 7.5, "30/04/2021", None, None, None, None, None],  # never infused
]
MAPPING = """
[source]
path = "registre.xlsx"
sheet = "Feuil1"
date_format = "%d/%m/%Y"
missing = ["NA", "ND", "?"]

[patients]
patient_id = "N° patient"
sex = { column = "Sexe", values = { H = "M", F = "F" } }
eligibility_date = "Date d'éligibilité"
prior_auto_hsct = { column = "Autogreffe", values = { Oui = "yes", Non = "no" } }
last_contact_date = "Date des dernières nouvelles"
death_date = "Date de décès"

[infusions]
patient_id = "N° patient"
infusion_date = "Date de réinjection"
crp_mg_dl = { column = "CRP (mg/L)", scale = 0.1 }

[[responses]]
patient_id = "N° patient"
assessment_date = "Date évaluation M3"
response = { column = "Réponse M3", values = { RC = "CR", RP = "PR", PROG = "PD" } }

[[responses]]
patient_id = "N° patient"
assessment_date = "Date de rechute"
response = { constant = "PD" }
"""


def _workbook(path: Path, rows=ROWS, headers=HEADERS) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "Feuil1"
    ws.append(headers)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.fixture
def wide(tmp_path):
    _workbook(tmp_path / "registre.xlsx")
    (tmp_path / "map.toml").write_text(MAPPING, encoding="utf-8")
    return tmp_path


def test_target_columns_match_the_schema():
    assert {t.name: {c.name: c.type for c in t.columns} for t in TABLES} == {k: dict(v) for k, v in TARGET_COLUMNS.items()}


def test_wide_workbook_maps_to_exchange_tables(wide):
    reg = read_registry(wide / "registre.xlsx", mapping=wide / "map.toml")
    assert reg.report.count("error") == 0
    pats = reg.con.sql("SELECT patient_id, sex, eligibility_date::VARCHAR, prior_auto_hsct, death_date::VARCHAR "
                       "FROM patients ORDER BY 1").fetchall()
    assert pats == [("001", "M", "2020-01-03", True, None), ("002", "F", "2020-01-15", False, "2020-12-20"),
                    ("003", "F", "2020-01-20", None, None)]
    # patient 003 never infused: no infusion row, no error; CRP mg/l -> mg/dl
    assert reg.con.sql("SELECT patient_id, infusion_date::VARCHAR, crp_mg_dl FROM infusions ORDER BY 1").fetchall() == [
        ("001", "2020-02-10", 5.2), ("002", "2020-02-20", None)]
    # the relapse date becomes a PD assessment; empty visit groups make no row
    assert reg.con.sql("SELECT patient_id, assessment_date::VARCHAR, response FROM responses ORDER BY 1, 2").fetchall() == [
        ("001", "2020-05-10", "CR"), ("001", "2021-03-01", "PD"), ("002", "2020-05-20", "PD")]


def test_unmapped_code_and_bad_date_are_reported_at_the_source_cell(wide, tmp_path, capsys):
    rows = [list(r) for r in ROWS]
    rows[1][1] = "X"             # sex: neither mapped nor a code
    rows[0][8] = "31/02/2020"    # an impossible date in the given format
    rows[2][3] = "Peut-être"     # an unmapped boolean
    _workbook(wide / "registre.xlsx", rows)
    code = main(["validate", str(wide / "registre.xlsx"), "--mapping", str(wide / "map.toml"), "--format", "json"])
    assert code == 1
    issues = json.loads(capsys.readouterr().out)["issues"]
    errors = {(i["rule"], i["file"], i["row"], i["column"], i["target_column"], i["value"]) for i in issues
              if i["severity"] == "error"}
    assert errors == {
        ("unknown_code", "registre.xlsx[Feuil1]", 3, "Sexe", "sex", "X"),
        ("invalid_date", "registre.xlsx[Feuil1]", 2, "Date évaluation M3", "assessment_date", "31/02/2020"),
        ("invalid_boolean", "registre.xlsx[Feuil1]", 4, "Autogreffe", "prior_auto_hsct", "Peut-être"),
    }
    bad_date = next(i for i in issues if i["rule"] == "invalid_date")
    assert "dd/mm/yyyy" in bad_date["message"]
    # nothing is imported
    out = tmp_path / "reg.duckdb"
    with pytest.raises(CartregError):
        import_registry(wide / "registre.xlsx", out, mapping=wide / "map.toml")
    assert not out.exists()


def test_relational_issue_names_source_row_and_header(wide):
    rows = [list(r) for r in ROWS]
    rows[1][5] = "01/12/2020"  # last contact differs from the death date
    _workbook(wide / "registre.xlsx", rows)
    reg = read_registry(wide / "registre.xlsx", mapping=wide / "map.toml")
    [issue] = [i for i in reg.report.errors if i.rule == "death_last_contact_mismatch"]
    assert (issue.file, issue.row, issue.column, issue.target_column) == ("registre.xlsx[Feuil1]", 3, "Date de décès", "death_date")
    # the relapse row (second [[responses]] entry) keeps its own source column
    rows[1][5] = "20/12/2020"
    rows[1][10] = "01/01/2021"  # PD after death (20/12/2020)
    _workbook(wide / "registre.xlsx", rows)
    reg = read_registry(wide / "registre.xlsx", mapping=wide / "map.toml")
    [issue] = [i for i in reg.report.errors if i.rule == "event_after_death"]
    assert (issue.row, issue.column, issue.target_column) == (3, "Date de rechute", "assessment_date")


def test_import_with_mapping_is_atomic_and_complete(wide, tmp_path):
    out = tmp_path / "reg.duckdb"
    res = import_registry(wide / "registre.xlsx", out, mapping=wide / "map.toml")
    assert res.metadata.row_counts == {"patients": 3, "infusions": 2, "responses": 3, "treatments": 0}
    names = {n for n, _ in res.metadata.sources}
    assert names == {"registre.xlsx", "map.toml"}
    assert read_registry(out).con.sql("SELECT count(*) FROM responses").fetchall()[0][0] == 3


@pytest.mark.parametrize("text, message", [
    ("[source]\npath='registre.xlsx'\n[patients]\npatient_id='N° patient'\neligibility_date='x'\nlast_contact_date='y'\n",
     "no [infusions] table"),
    (MAPPING.replace('sex = { column = "Sexe"', 'sexe = { column = "Sexe"'), "'sexe' is not an exchange-format column"),
    (MAPPING.replace('column = "Sexe"', 'column = "Sex"'), "no column 'Sex'"),
    (MAPPING.replace("scale = 0.1", "scale = 'ten'"), "'scale' must be a non-zero number"),
    (MAPPING.replace('sheet = "Feuil1"', 'sheet = "Sheet9"'), "no sheet or file 'Sheet9'"),
    (MAPPING.replace('infusion_date = "Date de réinjection"\n', ""), "required column 'infusion_date' is not mapped"),
    (MAPPING.replace('missing = ["NA", "ND", "?"]', "missing = 5"), "[source] missing must be a list"),
    (MAPPING.replace('date_format = "%d/%m/%Y"', 'date_format = "dd/mm/yyyy"'), "[source] date_format must be"),
    (MAPPING.replace('[patients]\n', '[patients]\nfrom = 3\n'), "'from' must be"),
    ("[source\npath = 1", "not a valid TOML mapping"),
])
def test_bad_mappings_are_unusable_input(wide, text, message):
    (wide / "bad.toml").write_text(text, encoding="utf-8")
    with pytest.raises(CartregError) as exc:
        read_registry(wide / "registre.xlsx", mapping=wide / "bad.toml")
    assert exc.value.exit_code == 2
    assert message in exc.value.message


def test_source_path_is_needed_without_a_source_argument(wide):
    (wide / "bad.toml").write_text(MAPPING.replace('path = "registre.xlsx"\n', ""), encoding="utf-8")
    with pytest.raises(CartregError, match=r"\[source\] path is missing"):
        load_mapping(wide / "bad.toml")
    assert load_mapping(wide / "bad.toml", wide / "registre.xlsx").source_path == (wide / "registre.xlsx").resolve()


def test_mapping_values_are_case_insensitive_and_trimmed(wide):
    m = load_mapping(wide / "map.toml")
    sex = next(s for e in m.entries if e.table == "patients" for s in e.specs if s.target == "sex")
    assert dict(sex.values) == {"h": "M", "f": "F"}
    rows = [list(r) for r in ROWS]
    rows[0][1] = "  h "
    _workbook(wide / "registre.xlsx", rows)
    reg = read_registry(wide / "registre.xlsx", mapping=wide / "map.toml")
    assert reg.con.sql("SELECT sex FROM patients WHERE patient_id = '001'").fetchall() == [("M",)]


def test_map_check_counts(wide, capsys):
    rows = [list(r) for r in ROWS]
    rows[1][1] = "X"
    _workbook(wide / "registre.xlsx", rows)
    code = main(["map", "check", str(wide / "map.toml")])
    out = capsys.readouterr().out
    assert code == 1
    line = next(ln for ln in out.splitlines() if ln.startswith("patients.sex "))
    assert line.split()[1:5] == ["3", "2", "0", "1"]
    assert "'X' (1)" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("patients.prior_auto_hsct "))
    assert line.split()[1:5] == ["3", "2", "1", "0"]  # "ND" is a missing token


def test_header_row_below_a_title(wide):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Feuil1"
    ws.append(["Registre CAR-T — extraction du 29/04/2022"])
    ws.append([])
    ws.append(HEADERS)
    for r in ROWS:
        ws.append(r)
    wb.save(wide / "registre.xlsx")
    with pytest.raises(CartregError, match="no column 'N° patient'"):
        read_registry(wide / "registre.xlsx", mapping=wide / "map.toml")  # the title is not a header
    (wide / "map3.toml").write_text(MAPPING.replace('sheet = "Feuil1"', 'sheet = "Feuil1"\nheader_row = 3'),
                                    encoding="utf-8")
    rows = [list(r) for r in ROWS]
    reg = read_registry(wide / "registre.xlsx", mapping=wide / "map3.toml")
    assert reg.report.count("error") == 0
    assert reg.con.sql("SELECT count(*) FROM patients").fetchall() == [(3,)]
    # rows are still the spreadsheet's: make patient 002's sex unknown and find it on row 5
    rows[1][1] = "X"
    wb = Workbook()
    ws = wb.active
    ws.title = "Feuil1"
    ws.append(["Registre"])
    ws.append([])
    ws.append(HEADERS)
    for r in rows:
        ws.append(r)
    wb.save(wide / "registre.xlsx")
    [err] = list(read_registry(wide / "registre.xlsx", mapping=wide / "map3.toml").report.errors)
    assert (err.row, err.column, err.value) == (5, "Sexe", "X")


def test_a_list_of_columns_takes_the_first_non_empty_and_names_it(wide):
    """last_contact_date = death date when there is one, else the last-news date; issues name the cell used."""
    rows = [list(r) for r in ROWS]
    rows[1][5] = "01/12/2020"   # last news before the death (20/12/2020): the death date must win
    _workbook(wide / "registre.xlsx", rows)
    text = MAPPING.replace('last_contact_date = "Date des dernières nouvelles"',
                           'last_contact_date = { column = ["Date de décès", "Date des dernières nouvelles"] }')
    (wide / "m.toml").write_text(text, encoding="utf-8")
    reg = read_registry(wide / "registre.xlsx", mapping=wide / "m.toml")
    assert reg.report.count("error") == 0
    assert reg.con.sql("SELECT patient_id, last_contact_date::VARCHAR FROM patients ORDER BY 1").fetchall() == [
        ("001", "2021-06-01"), ("002", "2020-12-20"), ("003", "2021-04-30")]
    # an assessment after last contact is reported at the header that gave the value
    rows[0][5] = "01/01/2021"   # last news of 001 now before its relapse (01/03/2021)
    _workbook(wide / "registre.xlsx", rows)
    reg = read_registry(wide / "registre.xlsx", mapping=wide / "m.toml")
    errs = {(e.rule, e.row, e.column, e.target_column) for e in reg.report.errors}
    assert ("event_after_last_contact", 2, "Date de rechute", "assessment_date") in errs
    rows[0][5] = "32/01/2021"   # a bad date in the second header of the list
    _workbook(wide / "registre.xlsx", rows)
    reg = read_registry(wide / "registre.xlsx", mapping=wide / "m.toml")
    [bad] = [e for e in reg.report.errors if e.rule == "invalid_date"]
    assert (bad.row, bad.column, bad.target_column, bad.value) == (2, "Date des dernières nouvelles",
                                                                   "last_contact_date", "32/01/2021")


def test_distinct_collapses_a_long_sheets_repeated_baseline(tmp_path):
    """One row per visit with the baseline repeated: identical rows count once; a disagreeing row is
    a duplicate_patient error at its own source row (never silently dropped)."""
    (tmp_path / "long.csv").write_text(
        "id;sexe;elig;ddn;inj;visite;rep\n"
        "1;H;03/01/2020;01/06/2021;10/02/2020;10/05/2020;RC\n"
        "1;H;03/01/2020;01/06/2021;10/02/2020;10/08/2020;RC\n"
        "2;F;15/01/2020;20/12/2020;20/02/2020;20/05/2020;PROG\n", encoding="utf-8")
    text = ('[source]\npath = "long.csv"\ndate_format = "%d/%m/%Y"\n'
            '[patients]\ndistinct = true\npatient_id = "id"\nsex = { column = "sexe", values = { H = "M" } }\n'
            'eligibility_date = "elig"\nlast_contact_date = "ddn"\n'
            '[infusions]\ndistinct = true\npatient_id = "id"\ninfusion_date = "inj"\n'
            '[responses]\npatient_id = "id"\nassessment_date = "visite"\n'
            'response = { column = "rep", values = { RC = "CR", PROG = "PD" } }\n')
    (tmp_path / "m.toml").write_text(text, encoding="utf-8")
    reg = read_registry(tmp_path / "long.csv", mapping=tmp_path / "m.toml")
    assert reg.report.count("error") == 0
    assert reg.con.sql("SELECT count(*) FROM patients").fetchall() == [(2,)]
    assert reg.con.sql("SELECT count(*) FROM infusions").fetchall() == [(2,)]
    assert reg.con.sql("SELECT count(*) FROM responses").fetchall() == [(3,)]
    lines = (tmp_path / "long.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("01/06/2021", "02/06/2021")  # the second visit row disagrees
    (tmp_path / "long.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    reg = read_registry(tmp_path / "long.csv", mapping=tmp_path / "m.toml")
    [dup] = [e for e in reg.report.errors if e.rule == "duplicate_patient"]
    assert (dup.file, dup.row, dup.column) == ("long.csv", 3, "id")


def test_numeric_day_count_formats(tmp_path):
    (tmp_path / "n.csv").write_text("id,elig,ddn,inj\nP1,43833,22281,2020-02-10\nP2,43845,abc,\n", encoding="utf-8")
    (tmp_path / "m.toml").write_text(
        '[source]\npath = "n.csv"\n[patients]\npatient_id = "id"\neligibility_date = { column = "elig", format = "excel" }\n'
        'last_contact_date = { column = "ddn", format = "sas" }\n[infusions]\npatient_id = "id"\ninfusion_date = "inj"\n',
        encoding="utf-8")
    reg = read_registry(tmp_path / "n.csv", mapping=tmp_path / "m.toml")
    # Excel serial 43833 = 2020-01-03; SAS day 22281 = 2021-01-01 (days since 1960-01-01)
    assert reg.con.sql("SELECT patient_id, eligibility_date::VARCHAR, last_contact_date::VARCHAR FROM patients "
                       "ORDER BY 1").fetchall() == [("P1", "2020-01-03", "2021-01-01"), ("P2", "2020-01-15", None)]
    [bad] = [e for e in reg.report.errors if e.rule == "invalid_date"]
    assert (bad.row, bad.column, bad.value) == (3, "ddn", "abc")
