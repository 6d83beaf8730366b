"""Issue 16: input that gave wrong results with exit 0, or crashed, is now reported at its source."""

from __future__ import annotations

import re

import datetime as dt
import os

import openpyxl
import pytest

from cartreg.errors import CartregError
from cartreg.registry import read_registry


def _issues(reg, rule):
    return [(i.severity, i.file, i.row, i.column, i.value) for i in reg.report if i.rule == rule]


# ---------------------------------------------------------------- 5. thousands separators
def test_quoted_thousands_in_comma_file_is_an_ambiguous_number(make_registry, base_tables, tmp_path):
    base_tables["infusions"][0]["ferritin_ug_l"] = "1,450"
    base_tables["infusions"][1]["ferritin_ug_l"] = "1_000"
    base_tables["infusions"][1]["crp_mg_dl"] = "2,5"  # no other reading: a decimal comma
    reg = read_registry(make_registry(base_tables))
    bad = {(r, v) for _, _, r, _, v in _issues(reg, "invalid_number")}
    assert bad == {(2, "1,450"), (3, "1_000")}
    msgs = [i.message for i in reg.report if i.rule == "invalid_number"]
    assert any("ambiguous" in m for m in msgs)
    assert reg.con.execute("SELECT ferritin_ug_l, crp_mg_dl FROM infusions ORDER BY _row").fetchall() == [
        (None, 5.0), (None, 2.5)]


def test_decimal_comma_still_reads_in_a_semicolon_file(make_registry, base_tables):
    base_tables["infusions"][0]["ferritin_ug_l"] = "1,450"
    reg = read_registry(make_registry(base_tables, delimiter=";"))
    assert not reg.report.has_errors
    assert reg.con.execute("SELECT ferritin_ug_l FROM infusions ORDER BY _row LIMIT 1").fetchone()[0] == 1.45


# ---------------------------------------------------------------- 6. future dates
def _many(base_tables, n):
    """n copies of the two patients (P1_k, P2_k): enough dates for a 99th percentile below the latest."""
    out = {k: [] for k in base_tables}
    for k in range(n):
        for name, rows in base_tables.items():
            out[name].extend({**r, "patient_id": f"{r['patient_id']}_{k}"} for r in rows)
    return out


def test_date_after_today_is_an_error_and_an_outlying_cutoff_a_warning(make_registry, base_tables):
    base_tables = _many(base_tables, 20)
    base_tables["patients"][0]["last_contact_date"] = "2202-06-01"
    reg = read_registry(make_registry(base_tables))
    assert _issues(reg, "date_in_future") == [("error", "patients.csv", 2, "last_contact_date", "2202-06-01")]
    assert _issues(reg, "inferred_cutoff_outlier") == [
        ("warning", "patients.csv", 2, "last_contact_date", "2202-06-01")]


def test_no_cutoff_warning_for_an_ordinary_registry(make_registry, base_tables):
    reg = read_registry(make_registry(base_tables))
    assert _issues(reg, "inferred_cutoff_outlier") == [] and _issues(reg, "date_in_future") == []


def test_today_is_a_parameter(make_registry, base_tables):
    import duckdb

    from cartreg.io.registry_files import read_registry_files
    from cartreg.registry.validate import validate_raw

    raw = read_registry_files(make_registry(base_tables))
    report = validate_raw(duckdb.connect(), raw, None, today=dt.date(2021, 1, 1))
    rows = {(i.file, i.row, i.column) for i in report if i.rule == "date_in_future"}
    assert rows == {("patients.csv", 2, "last_contact_date")}


# ---------------------------------------------------------------- 7. unreadable optional file
@pytest.mark.parametrize("kind", ["dangling", "fifo", "directory"])
def test_unreadable_responses_file_is_unusable_input(make_registry, base_tables, kind):
    base_tables["responses"] = None
    d = make_registry(base_tables)
    target = d / "responses.csv"
    if kind == "dangling":
        target.symlink_to(d / "nowhere.csv")
    elif kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    with pytest.raises(CartregError) as e:
        read_registry(d)
    assert e.value.exit_code == 2 and "responses.csv" in e.value.message


# ---------------------------------------------------------------- 8. near-duplicate sheets
def _workbook(path, tables, extra_sheets=()):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, name in [(n, n) for n in tables] + list(extra_sheets):
        ws = wb.create_sheet(title)
        rows = tables[name]
        ws.append(list(rows[0]))
        for r in rows:
            ws.append(list(r.values()))
    wb.save(path)
    return path


def test_two_sheets_differing_by_case_and_space_are_unusable(tmp_path, base_tables):
    p = _workbook(tmp_path / "r.xlsx", base_tables, extra_sheets=[("Patients ", "patients")])
    with pytest.raises(CartregError) as e:
        read_registry(p)
    assert e.value.exit_code == 2 and "two sheets" in e.value.message and "'Patients '" in e.value.message


# ---------------------------------------------------------------- 9. identifiers
def test_identifiers_trimmed_of_unicode_whitespace_and_invisible_characters_rejected(make_registry, base_tables):
    base_tables["infusions"][0]["patient_id"] = "P1\t"        # trailing tab: the same patient
    base_tables["responses"][0]["patient_id"] = "\u00a0P1"    # no-break space: the same patient
    base_tables["responses"][1]["patient_id"] = "P1\u200b"    # zero-width space: an error
    base_tables["responses"][2]["patient_id"] = "P\x002"      # NUL: an error
    base_tables["patients"].append({**base_tables["patients"][0], "patient_id": "p1"})
    reg = read_registry(make_registry(base_tables))
    assert _issues(reg, "unknown_patient") == [
        ("error", "responses.csv", 3, "patient_id", "P1\u200b"), ("error", "responses.csv", 4, "patient_id", "P\x002")]
    assert [(r, v) for _, _, r, _, v in _issues(reg, "invalid_identifier")] == [(3, "P1\u200b"), (4, "P\x002")]
    assert _issues(reg, "patient_id_case") == [("warning", "patients.csv", 4, "patient_id", "p1")]
    assert reg.con.execute("SELECT patient_id FROM infusions ORDER BY _row").fetchall() == [("P1",), ("P2",)]


# ---------------------------------------------------------------- 10. one stray byte
def test_one_windows_1252_byte_does_not_re_decode_a_utf8_file(make_registry, base_tables):
    base_tables["treatments"].append({"patient_id": "P2", "start_date": "2020-08-15", "regimen": "Radiothérapie"})
    d = make_registry(base_tables)
    p = d / "treatments.csv"
    p.write_bytes(p.read_bytes() + "P2,2020-09-01,Lénalidomide\n".encode("cp1252"))
    reg = read_registry(d)
    assert _issues(reg, "not_utf8") == []
    assert [(r, c) for _, _, r, c, _ in _issues(reg, "invalid_encoding")] == [(4, "regimen")]
    assert reg.con.execute("SELECT regimen FROM treatments ORDER BY _row").fetchall()[:2] == [
        ("R-GemOx",), ("Radiothérapie",)]


def test_a_whole_windows_1252_file_is_still_read_with_a_warning(make_registry, base_tables):
    base_tables["treatments"][0]["regimen"] = "Radiothérapie"
    reg = read_registry(make_registry(base_tables, encoding="cp1252"))
    assert len(_issues(reg, "not_utf8")) == 1 and _issues(reg, "invalid_encoding") == []
    assert reg.con.execute("SELECT regimen FROM treatments").fetchall() == [("Radiothérapie",)]


# ---------------------------------------------------------------- 11. formulas without values
def test_formula_without_cached_value_is_an_error(tmp_path, base_tables):
    p = _workbook(tmp_path / "r.xlsx", base_tables)
    wb = openpyxl.load_workbook(p)
    wb["infusions"]["G2"] = "=400+100"  # ferritin: openpyxl writes no cached value
    wb.save(p)
    reg = read_registry(p)
    assert _issues(reg, "formula_without_value") == [
        ("error", "r.xlsx[infusions]", 2, "ferritin_ug_l", "=400+100")]


# ---------------------------------------------------------------- 16. bounded workbooks
def test_sheet_over_excel_row_limit_refused_before_reading(tmp_path, base_tables):
    import zipfile

    p = _workbook(tmp_path / "r.xlsx", base_tables)
    q = tmp_path / "big.xlsx"
    with zipfile.ZipFile(p) as src, zipfile.ZipFile(q, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet1"):
                data = re.sub(rb'<dimension ref="A1:N3"\s*/>', b'<dimension ref="A1:N10000000" />', data)  # openpyxl writes
                # "<dimension .../>" with lxml installed, "<dimension ... />" without
                assert b"10000000" in data
            dst.writestr(info, data)
    with pytest.raises(CartregError) as e:
        read_registry(q)
    assert e.value.exit_code == 2 and "1,048,576" in e.value.message


def test_zip_bomb_part_refused(tmp_path, monkeypatch, base_tables):
    from cartreg.io import xlsx_limits

    p = _workbook(tmp_path / "r.xlsx", base_tables)
    monkeypatch.setattr(xlsx_limits, "MAX_PART_BYTES", 200)
    with pytest.raises(CartregError) as e:
        read_registry(p)
    assert e.value.exit_code == 2 and "over the limit" in e.value.message


# ---------------------------------------------------------------- 21/22. long headers, fields, UTF-16, TSV
def test_header_over_64_kib_and_a_3_mb_field_are_read(make_registry, base_tables):
    long_name = "x" * 70_000
    for r in base_tables["treatments"]:
        r[long_name] = "a"
    base_tables["treatments"][0]["regimen"] = "R" * 3_000_000
    reg = read_registry(make_registry(base_tables))
    assert not reg.report.has_errors
    assert reg.con.execute("SELECT length(regimen) FROM treatments").fetchone()[0] == 3_000_000


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_file_is_named(make_registry, base_tables, encoding):
    with pytest.raises(CartregError) as e:
        read_registry(make_registry(base_tables, encoding=encoding))
    assert e.value.exit_code == 2 and "UTF-16" in e.value.message


def test_tab_separated_registry_is_read(make_registry, base_tables):
    reg = read_registry(make_registry(base_tables, delimiter="\t"))
    assert not reg.report.has_errors
    assert reg.con.execute("SELECT count(*) FROM responses").fetchone()[0] == 4


def test_control_characters_in_values_are_errors(make_registry, base_tables):
    base_tables["treatments"][0]["regimen"] = "R-GemOx\x1b[2J"
    reg = read_registry(make_registry(base_tables))
    assert _issues(reg, "control_character") == [("error", "treatments.csv", 2, "regimen", "R-GemOx\x1b[2J")]


def test_a_fifo_named_like_a_workbook_does_not_block(tmp_path):
    p = tmp_path / "r.xlsx"
    os.mkfifo(p)
    with pytest.raises(CartregError) as e:
        read_registry(p)
    assert e.value.exit_code == 2 and "not a regular file" in e.value.message


def test_sheet_without_dimension_is_counted_before_parsing(tmp_path, monkeypatch, base_tables):
    import zipfile

    from cartreg.io import xlsx_limits

    p = _workbook(tmp_path / "r.xlsx", base_tables)
    q = tmp_path / "nodim.xlsx"
    with zipfile.ZipFile(p) as src, zipfile.ZipFile(q, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet3"):  # responses: header + 4 rows
                data = re.sub(rb'<dimension ref="A1:C5"\s*/>', b"", data)
                assert b"dimension" not in data
            dst.writestr(info, data)
    monkeypatch.setattr(xlsx_limits, "MAX_ROWS", 4)
    monkeypatch.setattr(xlsx_limits, "_check_dimension", lambda *a: None)  # only the streamed count
    with pytest.raises(CartregError) as e:
        read_registry(q)
    assert e.value.exit_code == 2 and "more than 4 rows" in e.value.message and "sheet3" in e.value.message
