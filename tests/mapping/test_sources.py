"""Readers (SAS/SPSS/Stata/Parquet), REDCap, synth shapes round trip, map init (issue 11)."""

from __future__ import annotations

import datetime as dt
import json
import tomllib

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from cartreg.cli.main import main
from cartreg.io.datafile import read_table
from cartreg.io.readers import read_source
from cartreg.registry import import_registry, read_registry
from cartreg.synth import generate, write_registry
from cartreg.synth.shapes import SHAPES, write_shape

TABLES = ("patients", "infusions", "responses", "treatments")


def _frame():
    return pd.DataFrame({"id": ["a", "b", "c"], "sex": [1.0, 2.0, np.nan],
                         "d": [dt.date(2020, 1, 2), None, dt.date(2021, 3, 4)], "x": [1.5, -9.0, 3.0]})


@pytest.mark.parametrize("suffix", [".dta", ".sav", ".xpt"])
def test_stat_files_read_as_text_with_labels_dates_and_missing(tmp_path, suffix):
    p = tmp_path / f"t{suffix}"
    if suffix == ".dta":
        pyreadstat.write_dta(_frame(), str(p), variable_value_labels={"sex": {1: "M", 2: "F"}})
    elif suffix == ".sav":
        pyreadstat.write_sav(_frame(), str(p), variable_value_labels={"sex": {1: "M", 2: "F"}},
                             missing_ranges={"x": [-9.0]})
    else:
        pyreadstat.write_xport(_frame(), str(p))
    t = read_source(p).tables["t"]
    assert t.label == p.name and t.columns == ("id", "sex", "d", "x")
    d = t.data.to_pydict()
    assert d["d"] == ["2020-01-02", None, "2021-03-04"]
    assert d["_row"] == [1, 2, 3]
    if suffix == ".xpt":  # no value labels in transport files
        assert d["sex"] == ["1", "2", None]
    else:
        assert d["sex"] == ["M", "F", None]
        assert t.codes["sex"].to_pylist() == ["1", "2", None]
    assert d["x"] == (["1.5", None, "3"] if suffix == ".sav" else ["1.5", "-9", "3"])  # SPSS user-missing -> empty
    # the same file for cartreg survival: numbers stay numbers, labels for text
    dt_ = read_table(p)
    assert dt_.numeric("sex")[:2].tolist() == [1.0, 2.0]
    assert dt_.text("sex")[0] == ("1" if suffix == ".xpt" else "M")


@pytest.mark.parametrize("suffix", [".dta", ".sav", ".xpt"])
def test_survival_reads_stat_files_like_the_same_csv(tmp_path, capsys, suffix):
    frame = pd.DataFrame({"time": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "status": [1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
                          "arm": [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]})
    (tmp_path / "s.csv").write_text("time,status,arm\n" + "".join(
        f"{t:g},{e:g},{'A' if g == 1 else 'B'}\n" for t, e, g in frame.itertuples(index=False)), encoding="utf-8")
    p = tmp_path / f"s{suffix}"
    labels = {"arm": {1: "A", 2: "B"}}
    if suffix == ".dta":
        pyreadstat.write_dta(frame, str(p), variable_value_labels=labels)
    elif suffix == ".sav":
        pyreadstat.write_sav(frame, str(p), variable_value_labels=labels)
    else:
        frame = frame.assign(arm=["A" if g == 1 else "B" for g in frame["arm"]])
        pyreadstat.write_xport(frame, str(p))
    args = ["--time", "time", "--event", "status", "--group", "arm", "--reference", "A", "--format", "json"]
    assert main(["survival", str(tmp_path / "s.csv"), *args]) == 0
    from_csv = json.loads(capsys.readouterr().out)
    assert main(["survival", str(p), *args]) == 0
    from_stat = json.loads(capsys.readouterr().out)
    for d in (from_csv, from_stat):  # the file name differs
        d.pop("data", None), d.pop("file", None), d.pop("path", None)
    assert from_stat == from_csv


def test_directory_of_stata_tables_imports_without_mapping(tmp_path):
    reg = generate(80, seed=5)
    write_registry(reg, tmp_path / "csv")
    direct = read_registry(tmp_path / "csv")
    d = tmp_path / "dta"
    d.mkdir()
    for name, t in reg.tables.items():
        frame = {}
        for c in t.column_names:
            col = t.column(c)
            vals = col.to_pylist()
            if str(col.type).startswith("date"):
                frame[c] = pd.Series(vals, dtype=object)
            elif str(col.type) in ("int64", "double"):
                frame[c] = pd.Series([np.nan if v is None else float(v) for v in vals])
            else:
                frame[c] = pd.Series(["" if v is None else v for v in vals], dtype=object)
        pyreadstat.write_dta(pd.DataFrame(frame), str(d / f"{name}.dta"))
    via = read_registry(d)
    assert via.report.count("error") == 0
    for t in TABLES:
        q = f"SELECT * EXCLUDE (_row) FROM {t} ORDER BY ALL"
        assert direct.con.sql(q).fetchall() == via.con.sql(q).fetchall()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [1, 7, 23])
def test_synth_shape_round_trip_is_identical(tmp_path, shape, seed):
    reg = generate(150, seed=seed)
    write_registry(reg, tmp_path / "direct")
    direct = read_registry(tmp_path / "direct")
    src = write_shape(reg, shape, tmp_path / shape)
    mapped = read_registry(src, mapping=tmp_path / shape / "mapping.toml")
    assert mapped.report.count("error") == 0
    for t in TABLES:
        q = f"SELECT * EXCLUDE (_row) FROM {t} ORDER BY ALL"
        a, b = direct.con.sql(q).fetchall(), mapped.con.sql(q).fetchall()
        assert len(a) == reg.tables[t].num_rows
        assert a == b, t


def test_redcap_template_dictionary_and_builtin_import(tmp_path, capsys):
    assert main(["redcap-dictionary", "-o", str(tmp_path / "dict.csv")]) == 0
    import csv

    rows = list(csv.reader((tmp_path / "dict.csv").open(encoding="utf-8")))
    assert rows[0][:4] == ["Variable / Field Name", "Form Name", "Section Header", "Field Type"]
    by = {r[0]: r for r in rows[1:]}
    assert by["record_id"][1] == "patients"
    assert by["sex"][3] == "dropdown" and by["sex"][5] == "1, M | 2, F"
    assert by["prior_auto_hsct"][3] == "yesno"
    assert (by["age"][7], by["age"][8], by["age"][9]) == ("integer", "0", "120")
    assert by["eligibility_date"][7] == "date_ymd"
    assert {by[c][1] for c in ("assessment_date", "response")} == {"responses"}
    assert by["regimen"][1] == "treatments" and by["infusion_date"][1] == "infusions"
    # an export of a project built from it imports with no mapping
    reg = generate(120, seed=3)
    write_registry(reg, tmp_path / "direct")
    src = write_shape(reg, "redcap", tmp_path / "rc")
    out = tmp_path / "r.duckdb"
    assert main(["import", str(src), "--redcap-dictionary", str(tmp_path / "rc" / "dict.csv"), "-o", str(out)]) == 0
    direct, via = read_registry(tmp_path / "direct"), read_registry(out)
    for t in TABLES:
        q = f"SELECT * EXCLUDE (_row) FROM {t} ORDER BY ALL"
        assert direct.con.sql(q).fetchall() == via.con.sql(q).fetchall()


def test_redcap_labelled_export_reads_like_the_raw_one(tmp_path):
    reg = generate(60, seed=4)
    src = write_shape(reg, "redcap", tmp_path / "rc")
    raw = read_registry(src, redcap_dictionary=tmp_path / "rc" / "dict.csv")
    # make the labelled export: headers = field labels, coded values = labels, "Repeat Instrument"
    import csv

    dic = {r[0]: r for r in list(csv.reader((tmp_path / "rc" / "dict.csv").open(encoding="utf-8")))[1:]}
    rows = list(csv.reader(src.open(encoding="utf-8")))
    header = []
    for h in rows[0]:
        header.append({"redcap_repeat_instrument": "Repeat Instrument",
                       "redcap_repeat_instance": "Repeat Instance"}.get(h, dic[h][4] if h in dic else h))
    out_rows = [header]
    for r in rows[1:]:
        new = []
        for h, v in zip(rows[0], r):
            if h in dic and dic[h][3] == "dropdown" and v:
                v = dict(p.split(", ", 1) for p in dic[h][5].split(" | "))[v]
            elif h in dic and dic[h][3] == "yesno" and v:
                v = {"1": "Yes", "0": "No"}[v]
            elif h == "redcap_repeat_instrument" and v:
                v = v.capitalize()
            new.append(v)
        out_rows.append(new)
    lab = tmp_path / "labelled.csv"
    with lab.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(out_rows)
    via = read_registry(lab, redcap_dictionary=tmp_path / "rc" / "dict.csv")
    assert via.report.count("error") == 0
    for t in TABLES:
        q = f"SELECT * EXCLUDE (_row) FROM {t} ORDER BY ALL"
        assert raw.con.sql(q).fetchall() == via.con.sql(q).fetchall()


def test_redcap_unmapped_code_is_reported_at_the_export_row(tmp_path):
    reg = generate(40, seed=2)
    src = write_shape(reg, "redcap", tmp_path / "rc")
    lines = src.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    i_resp = header.index("response")
    k = next(n for n, ln in enumerate(lines) if ",responses," in ln)
    cells = next(__import__("csv").reader([lines[k]]))
    cells[i_resp] = "42"  # a code not in the dictionary's choices
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    lines[k] = buf.getvalue()
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reg2 = read_registry(src, mapping=tmp_path / "rc" / "mapping.toml")
    [issue] = list(reg2.report.errors)
    assert (issue.rule, issue.file, issue.row, issue.column, issue.target_column, issue.value) == \
        ("unknown_code", "export.csv", k + 1, "response", "response", "42")
    with pytest.raises(Exception):
        import_registry(src, tmp_path / "x.duckdb", mapping=tmp_path / "rc" / "mapping.toml")
    assert not (tmp_path / "x.duckdb").exists()


def test_map_init_drafts_a_mapping_that_imports_the_wide_workbook(tmp_path, capsys):
    reg = generate(100, seed=9)
    src = write_shape(reg, "wide-xlsx", tmp_path / "w")
    draft = tmp_path / "w" / "draft.toml"
    assert main(["map", "init", str(src), "-o", str(draft)]) == 0
    text = draft.read_text(encoding="utf-8")
    doc = tomllib.loads(text)
    assert doc["source"]["date_format"] == "%d/%m/%Y"
    assert doc["patients"]["sex"]["values"]["H"] == "M"
    assert doc["infusions"]["crp_mg_dl"] == {"column": "CRP (mg/L)", "scale": 0.1}
    assert doc["responses"][0]["assessment_date"] == "Date évaluation 1"
    # every proposal is commented: a values table never appears without its comment line above it
    lines = text.splitlines()
    for n, ln in enumerate(lines):
        if '"values" =' in ln or '"scale" =' in ln:
            assert lines[n - 1].startswith("#"), ln
    # codes the draft could not translate are TODO comments, not mappings
    assert "# TODO" in text



REDCAP_DICT = '''"Variable / Field Name","Form Name","Section Header","Field Type","Field Label","Choices, Calculations, OR Slider Labels","Field Note","Text Validation Type OR Show Slider Number","Text Validation Min","Text Validation Max"
study_id,baseline,,text,Study ID,,,,,
gender,baseline,,radio,Gender,"1, Male | 2, Female",,,,
dt_incl,baseline,,text,Inclusion date,,,date_dmy,,
dt_fu,baseline,,text,Last follow-up,,,date_dmy,,
prior,baseline,,checkbox,Prior therapies,"1, Autologous SCT | 2, Allogeneic SCT",,,,
dt_cart,cart,,text,CAR T date,,,date_dmy,,
visit_dt,visit,,text,Visit date,,,date_dmy,,
resp,visit,,dropdown,Response,"1, Complete response | 2, Partial response | 3, Progression",,,,
'''
REDCAP_EXPORT = '''study_id,redcap_repeat_instrument,redcap_repeat_instance,gender,dt_incl,dt_fu,prior___1,prior___2,baseline_complete,dt_cart,cart_complete,visit_dt,resp,visit_complete
A-01,,,1,2020-01-03,2021-06-01,1,0,2,2020-02-10,2,,,
A-01,visit,1,,,,,,,,,2020-05-10,1,2
A-01,visit,2,,,,,,,,,2021-03-01,3,2
A-02,,,2,2020-01-15,2020-12-20,0,0,2,,,,,
A-02,visit,1,,,,,,,,,2020-05-20,9,2
'''
REDCAP_MAPPING = '''[source]
path = "export.csv"
redcap_dictionary = "dict.csv"

[patients]
from = "baseline"
sex = { column = "gender", values = { Male = "M", Female = "F" } }
eligibility_date = "dt_incl"
last_contact_date = "dt_fu"
prior_auto_hsct = { column = "prior___1", values = { Checked = "yes", Unchecked = "no" } }
prior_allo_hsct = { column = "prior___2", values = { 1 = "yes", 0 = "no" } }

[infusions]
from = "cart"
infusion_date = "dt_cart"

[[responses]]
from = "visit"
assessment_date = "visit_dt"
response = { column = "resp", values = { "Complete response" = "CR", "Partial response" = "PR", Progression = "PD" } }
'''


def test_redcap_own_field_names_checkboxes_and_repeating_instrument(tmp_path):
    (tmp_path / "dict.csv").write_text(REDCAP_DICT, encoding="utf-8")
    (tmp_path / "export.csv").write_text(REDCAP_EXPORT, encoding="utf-8")
    (tmp_path / "map.toml").write_text(REDCAP_MAPPING, encoding="utf-8")
    reg = read_registry(tmp_path / "export.csv", mapping=tmp_path / "map.toml")
    assert reg.con.sql("SELECT patient_id, sex, prior_auto_hsct, prior_allo_hsct FROM patients ORDER BY 1").fetchall() == [
        ("A-01", "M", True, False), ("A-02", "F", False, False)]
    assert reg.con.sql("SELECT patient_id, infusion_date::VARCHAR FROM infusions").fetchall() == [("A-01", "2020-02-10")]
    assert reg.con.sql("SELECT patient_id, assessment_date::VARCHAR, response FROM responses ORDER BY 1, 2").fetchall() == [
        ("A-01", "2020-05-10", "CR"), ("A-01", "2021-03-01", "PD"), ("A-02", "2020-05-20", None)]
    # code 9 is not in the dictionary: an unknown_code error at the export's row 6, column resp
    [err] = list(reg.report.errors)
    assert (err.rule, err.file, err.row, err.column, err.target_column, err.value) == \
        ("unknown_code", "export.csv", 6, "resp", "response", "9")


def test_csv_source_with_repeated_headers(tmp_path):
    (tmp_path / "s.csv").write_text("id;Date;Date\n1;01/02/2020;03/04/2020\n", encoding="utf-8")
    t = read_source(tmp_path / "s.csv").tables["s"]
    assert t.columns == ("id", "Date", "Date (2)")
    assert t.data.to_pylist() == [{"id": "1", "Date": "01/02/2020", "Date (2)": "03/04/2020", "_row": 2}]


def test_typed_datetime_cell_gives_the_event_date(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "S"
    ws.append(["id", "elig", "last", "inf"])
    ws.append(["P1", dt.datetime(2020, 1, 3, 14, 30), dt.date(2021, 1, 1), "05/02/2020"])
    wb.save(tmp_path / "b.xlsx")
    (tmp_path / "m.toml").write_text('[source]\npath = "b.xlsx"\n[patients]\npatient_id = "id"\neligibility_date = "elig"\n'
                                     'last_contact_date = "last"\n[infusions]\npatient_id = "id"\n'
                                     'infusion_date = { column = "inf", format = "%d/%m/%Y" }\n', encoding="utf-8")
    reg = read_registry(tmp_path / "b.xlsx", mapping=tmp_path / "m.toml")
    assert reg.report.count("error") == 0
    assert reg.con.sql("SELECT eligibility_date::VARCHAR, last_contact_date::VARCHAR FROM patients").fetchall() == [
        ("2020-01-03", "2021-01-01")]


def test_stata_labelled_numbers_and_codes(tmp_path):
    """A labelled ordinal (stage 1 "Stage I") maps to its number; a labelled code maps by label or code."""
    frame = pd.DataFrame({
        "pid": [1.0, 2.0], "sexe": [1.0, 2.0], "stade": [1.0, 4.0],
        "elig": pd.to_datetime(["2020-01-03", "2020-02-01"]), "ddn": pd.to_datetime(["2021-01-01", "2021-02-01"]),
        "inj": pd.to_datetime(["2020-02-03", None]),
    })
    pyreadstat.write_dta(frame, str(tmp_path / "x.dta"),
                         variable_value_labels={"sexe": {1: "Homme", 2: "Femme"}, "stade": {1: "Stage I", 4: "Stage IV"}})
    (tmp_path / "m.toml").write_text(
        '[source]\npath = "x.dta"\n[patients]\npatient_id = "pid"\nsex = { column = "sexe", values = { Homme = "M", 2 = "F" } }\n'
        'stage = "stade"\neligibility_date = "elig"\nlast_contact_date = "ddn"\n'
        '[infusions]\npatient_id = "pid"\ninfusion_date = "inj"\n', encoding="utf-8")
    reg = read_registry(tmp_path / "x.dta", mapping=tmp_path / "m.toml")
    assert reg.report.count("error") == 0
    assert reg.con.sql("SELECT patient_id, sex, stage, eligibility_date::VARCHAR FROM patients ORDER BY 1").fetchall() == [
        ("1", "M", 1, "2020-01-03"), ("2", "F", 4, "2020-02-01")]
    assert reg.con.sql("SELECT patient_id FROM infusions").fetchall() == [("1",)]


def test_analyze_with_mapping_gives_the_same_results(tmp_path, capsys):
    reg = generate(300, seed=12)
    write_registry(reg, tmp_path / "direct")
    src = write_shape(reg, "wide-xlsx", tmp_path / "wide")
    assert main(["analyze", str(tmp_path / "direct"), "-o", str(tmp_path / "a"), "--no-report"]) == 0
    assert main(["analyze", str(src), "--mapping", str(tmp_path / "wide" / "mapping.toml"),
                 "-o", str(tmp_path / "b"), "--no-report"]) == 0
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    a.pop("meta"), b.pop("meta")  # meta names the source files
    assert a == b


def test_map_init_on_a_redcap_export_with_its_dictionary(tmp_path, capsys):
    reg = generate(60, seed=13)
    src = write_shape(reg, "redcap", tmp_path / "rc")
    draft = tmp_path / "rc" / "draft.toml"
    assert main(["map", "init", str(src), "--redcap-dictionary", str(tmp_path / "rc" / "dict.csv"), "-o", str(draft)]) == 0
    doc = tomllib.loads(draft.read_text(encoding="utf-8"))
    assert doc["source"]["redcap_dictionary"] == "dict.csv"
    assert doc["responses"][0]["from"] == "responses" and doc["treatments"][0]["from"] == "treatments"
    assert "# TODO" not in draft.read_text(encoding="utf-8")
    direct = read_registry(src, mapping=tmp_path / "rc" / "mapping.toml")
    via = read_registry(src, mapping=draft)
    assert via.report.count("error") == 0
    for t in TABLES:
        q = f"SELECT * EXCLUDE (_row) FROM {t} ORDER BY ALL"
        assert direct.con.sql(q).fetchall() == via.con.sql(q).fetchall()


def test_whole_numbers_read_as_integers(tmp_path):
    pyreadstat.write_dta(pd.DataFrame({"id": [123456789012.0, 7.0], "x": [0.1, 2.5]}), str(tmp_path / "n.dta"))
    t = read_source(tmp_path / "n.dta").tables["n"]
    assert t.data.column("id").to_pylist() == ["123456789012", "7"]
    assert t.data.column("x").to_pylist() == ["0.1", "2.5"]


def test_stata_unmapped_label_is_reported_at_its_observation(tmp_path):
    reg = generate(50, seed=21)
    src = write_shape(reg, "stata", tmp_path / "st")
    m = tmp_path / "st" / "mapping.toml"
    m.write_text(m.read_text(encoding="utf-8").replace('"Homme" = "M", ', ""), encoding="utf-8")
    got = read_registry(src, mapping=m)
    errs = list(got.report.errors)
    assert errs and {(e.rule, e.file, e.column, e.target_column, e.value) for e in errs} == {
        ("unknown_code", "registre.dta", "sexe", "sex", "Homme")}
    # the row is the observation number: patient k of the registry is observation k
    pids = reg.tables["patients"].column("patient_id").to_pylist()
    assert all(pids[e.row - 1] == e.patient_id for e in errs)


def test_map_init_on_a_stata_file_gives_a_working_mapping(tmp_path, capsys):
    reg = generate(80, seed=17)
    src = write_shape(reg, "stata", tmp_path / "st")
    draft = tmp_path / "st" / "draft.toml"
    assert main(["map", "init", str(src), "-o", str(draft)]) == 0
    text = draft.read_text(encoding="utf-8")
    assert tomllib.loads(text)["infusions"]["crp_mg_dl"] == {"column": "crp_mgl", "scale": 0.1}
    direct = read_registry(src, mapping=tmp_path / "st" / "mapping.toml")
    via = read_registry(src, mapping=draft)
    assert via.report.count("error") == 0
    for t in TABLES:
        q = f"SELECT * EXCLUDE (_row) FROM {t} ORDER BY ALL"
        assert direct.con.sql(q).fetchall() == via.con.sql(q).fetchall()


@pytest.mark.parametrize("shape, name", [("wide-xlsx", "clinique.xlsx"), ("stata", "extract.dta"),
                                         ("spss", "extract.sav"), ("redcap", "projet.csv")])
def test_synth_as_to_a_file_writes_the_file_and_its_mapping(tmp_path, capsys, shape, name):
    out = tmp_path / name
    assert main(["synth", "-n", "60", "--seed", "3", "--as", shape, "-o", str(out)]) == 0
    mapping = tmp_path / f"{out.stem}.mapping.toml"
    assert out.is_file() and mapping.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [name, mapping.name] + ([f"{out.stem}.dict.csv"] if shape == "redcap" else []))
    db = tmp_path / "r.duckdb"
    assert main(["import", str(out), "--mapping", str(mapping), "-o", str(db)]) == 0
    assert read_registry(db).metadata.row_counts["patients"] == 60


@pytest.mark.parametrize("file, pos, junk, message", [
    ("export.csv", 0, b"\r", "export.csv: the header row holds a line break (a lone carriage return)"),
    ("export.csv", 20, b"\r", "export.csv: the header row holds a line break (a lone carriage return)"),
    ("dict.csv", 50, b"\r", "dict.csv: "),
])
def test_stray_carriage_return_in_a_mapped_csv_is_a_clear_error(tmp_path, capfd, file, pos, junk, message):
    """Issue 16 (found by the mapped-source property test): a lone CR in a CSV source's header line, or in
    a REDCap dictionary, raised ``_csv.Error`` (a traceback) instead of a clear exit 2."""
    import shutil
    from pathlib import Path

    src = tmp_path / "redcap"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "sources" / "redcap", src)
    data = (src / file).read_bytes()
    (src / file).write_bytes(data[:pos] + junk + data[pos:])
    out = tmp_path / "out"
    out.mkdir()
    for args in (["validate"], ["import", "-o", str(out / "r.duckdb")]):
        code = main([args[0], str(src / "export.csv"), "--mapping", str(src / "mapping.toml"), *args[1:]])
        err = capfd.readouterr().err
        assert code == 2 and "Traceback" not in err and message in err, err
    assert list(out.iterdir()) == []
