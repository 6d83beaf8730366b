"""Reading real-world exports: BOM, ';' and decimal comma, Windows-1252, malformed rows, workbooks."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from cartreg.errors import CartregError
from cartreg.io.registry_files import _spreadsheet_rows, read_csv_table, read_registry_files
from cartreg.registry import read_registry

PATIENTS = ("patient_id,sex,age,eligibility_date,last_contact_date\n"
            "001,M,62,2020-01-01,2021-01-01\n"
            "002,F,55,2020-02-01,2021-02-01\n")
INFUSIONS = "patient_id,infusion_date,crp_mg_dl\n001,2020-02-01,5.5\n002,2020-03-01,2\n"


def _write(d, name, text, encoding="utf-8"):
    d.mkdir(exist_ok=True)
    (d / name).write_bytes(text.encode(encoding))


def test_bom_semicolon_decimal_comma(tmp_path):
    d = tmp_path / "fr"
    _write(d, "patients.csv", "\ufeff" + PATIENTS.replace(",", ";").replace(";62;", ";62,0;"))
    _write(d, "infusions.csv", "\ufeff" + INFUSIONS.replace(",", ";").replace("5.5", "5,5"))
    reg = read_registry(d)
    assert not reg.report.has_errors, list(reg.report)
    assert reg.con.execute("SELECT patient_id, age FROM patients ORDER BY _row").fetchall() == [("001", 62), ("002", 55)]
    assert reg.con.execute("SELECT crp_mg_dl FROM infusions ORDER BY _row").fetchall() == [(5.5,), (2.0,)]


def test_windows_1252_is_read_with_a_warning(tmp_path):
    d = tmp_path / "cp"
    _write(d, "patients.csv", PATIENTS.replace("patient_id,sex", "patient_id,centre,sex").replace("001,M", "001,Hôpital Lyon,M")
           .replace("002,F", "002,Créteil,F"), encoding="cp1252")
    _write(d, "infusions.csv", INFUSIONS)
    reg = read_registry(d)
    assert [(i.rule, i.file) for i in reg.report.warnings if i.rule == "not_utf8"] == [("not_utf8", "patients.csv")]
    assert reg.con.execute("SELECT centre FROM patients ORDER BY _row").fetchall() == [("Hôpital Lyon",), ("Créteil",)]


def test_malformed_row_is_reported_and_later_rows_keep_their_numbers(tmp_path):
    p = tmp_path / "patients.csv"
    p.write_text("patient_id,age\nA,1\nB,2,extra\n\nC,3\n")
    table, problems = read_csv_table(p, "patients")
    assert [(x.rule, x.row) for x in problems] == [("malformed_row", 3)]
    data = table.data.to_pydict()
    # the blank line (row 4) stays a row so that C is on row 5, as a spreadsheet shows it
    assert list(zip(data["patient_id"], data["_row"])) == [("A", 2), ("", 4), ("C", 5)]


def test_spreadsheet_rows_after_skipped_lines():
    assert _spreadsheet_rows(4, [3, 5]).tolist() == [2, 4, 6, 7]
    assert _spreadsheet_rows(2, []).tolist() == [2, 3]


def test_header_is_trimmed_and_lowercased(tmp_path):
    p = tmp_path / "patients.csv"
    p.write_text(" Patient_ID ,AG\x00E\nA,1\n")
    table, _ = read_csv_table(p, "patients")
    assert table.columns == ("patient_id", "age")


def test_duplicate_header_is_unusable(tmp_path):
    p = tmp_path / "patients.csv"
    p.write_text("patient_id,age,age\nA,1,2\n")
    with pytest.raises(CartregError) as e:
        read_csv_table(p, "patients")
    assert e.value.exit_code == 2 and "'age' appears twice" in e.value.message


def test_empty_file_is_unusable(tmp_path):
    p = tmp_path / "patients.csv"
    p.write_text("")
    with pytest.raises(CartregError) as e:
        read_csv_table(p, "patients")
    assert e.value.exit_code == 2


def _workbook(path, patients_rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Patients"
    ws.append(["patient_id", "age", "eligibility_date", "last_contact_date", "prior_auto_hsct"])
    for r in patients_rows:
        ws.append(r)
    wi = wb.create_sheet("infusions")
    wi.append(["patient_id", "infusion_date", "product", "ferritin_ug_l"])
    wi.append(["007", dt.datetime(2020, 2, 1), "Kymriah", 512.5])
    wb.save(path)


def test_workbook_dates_floats_and_sheet_labels(tmp_path):
    path = tmp_path / "registry.xlsx"
    _workbook(path, [["007", 62.0, dt.datetime(2020, 1, 1), dt.date(2021, 1, 1), True],
                     [None, None, None, None, None],
                     ["008", 61.5, "2020-13-01", "2021-01-01", "no"]])
    reg = read_registry(path)
    assert reg.con.execute("SELECT patient_id, age, eligibility_date, prior_auto_hsct FROM patients WHERE _row = 2"
                           ).fetchone() == ("007", 62, dt.date(2020, 1, 1), True)
    errors = sorted((i.rule, i.file, i.row, i.column) for i in reg.report.errors)
    assert errors == [("invalid_date", "registry.xlsx[Patients]", 4, "eligibility_date"),
                      ("invalid_number", "registry.xlsx[Patients]", 4, "age")]
    notes = [(i.rule, i.file, i.row) for i in reg.report.notes if i.rule == "code_synonym"]
    assert notes == [("code_synonym", "registry.xlsx[infusions]", 2)]
    missing = [(i.file, i.row) for i in reg.report.warnings if i.rule == "missing_table"]
    assert ("registry.xlsx[responses]", None) in missing


def test_unreadable_workbook_is_unusable(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(CartregError) as e:
        read_registry_files(path)
    assert e.value.exit_code == 2 and "broken.xlsx" in e.value.message


def test_missing_path_is_unusable(tmp_path):
    with pytest.raises(CartregError) as e:
        read_registry_files(tmp_path / "nope")
    assert e.value.exit_code == 2


def test_reserved_extra_column_is_unusable(tmp_path):
    d = tmp_path / "r"
    _write(d, "patients.csv", PATIENTS.replace("last_contact_date\n", "last_contact_date,age__raw\n")
           .replace("2021-01-01\n", "2021-01-01,x\n").replace("2021-02-01\n", "2021-02-01,y\n"))
    _write(d, "infusions.csv", INFUSIONS)
    with pytest.raises(CartregError) as e:
        read_registry(d)
    assert e.value.exit_code == 2 and "age__raw" in e.value.message


def test_extra_columns_are_kept_as_text(tmp_path):
    d = tmp_path / "r"
    _write(d, "patients.csv", PATIENTS.replace("last_contact_date\n", "last_contact_date,Comment\n")
           .replace("2021-01-01\n", "2021-01-01,  relapse? \n").replace("2021-02-01\n", "2021-02-01,\n"))
    _write(d, "infusions.csv", INFUSIONS)
    reg = read_registry(d)
    assert reg.con.execute("SELECT comment FROM patients ORDER BY _row").fetchall() == [("relapse?",), (None,)]
    assert [(i.rule, i.row, i.column) for i in reg.report.warnings if i.rule == "unknown_column"] == [
        ("unknown_column", 1, "comment")]


def test_zip_that_is_not_a_workbook_is_unusable(tmp_path):
    import zipfile

    path = tmp_path / "registry.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    with pytest.raises(CartregError) as e:
        read_registry_files(path)
    assert e.value.exit_code == 2 and "registry.xlsx" in e.value.message


def test_workbook_without_mandatory_sheet_is_unusable(tmp_path):
    path = tmp_path / "registry.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "patients"
    wb.active.append(["patient_id", "eligibility_date", "last_contact_date"])
    wb.save(path)
    with pytest.raises(CartregError) as e:
        read_registry(path)
    assert e.value.exit_code == 2 and "sheet 'infusions'" in e.value.message


def test_invalid_utf8_in_a_malformed_row_is_reported_quietly(tmp_path, capfd):
    p = tmp_path / "patients.csv"
    p.write_bytes(b"patient_id,age\nA,1\nB,\xfd,extra\nC,3\n")
    table, problems = read_csv_table(p, "patients")
    assert sorted((x.rule, x.row) for x in problems) == [("malformed_row", 3), ("not_utf8", None)]
    assert table.data.column("_row").to_pylist() == [2, 4]
    assert capfd.readouterr().err == ""
