"""validate/import commands: exit codes, every error kind at once, atomic import, --replace, --drop-invalid."""

from __future__ import annotations

import json
import os

import duckdb
import pytest

from cartreg.cli.main import main
from cartreg.errors import CartregError
from cartreg.registry import import_registry, read_registry
from cartreg.registry import store
from cartreg.registry.schema import RULES

from .conftest import BASE

ERROR_RULES = {r.id for r in RULES if r.severity == "error"}


def _every_error(t):
    """One registry that breaks every error rule (malformed_row aside, which needs raw text)."""
    p, i, r, tr = t["patients"], t["infusions"], t["responses"], t["treatments"]
    p[0].update(age="sixty", stage="5", histology="FL", prior_auto_hsct="maybe", death_cause="toxicity")
    p[1].update(last_contact_date="2020-11-01")                      # death_date differs from last contact
    p.append({**p[0], "patient_id": "P3", "age": "50", "stage": "2", "histology": "DLBCL", "prior_auto_hsct": "no",
              "death_cause": "", "eligibility_date": "2020-13-01"})  # invalid date
    p.append({**p[0], "patient_id": "P4", "eligibility_date": "", "age": "50", "stage": "2", "histology": "DLBCL",
              "prior_auto_hsct": "no", "death_cause": "",
              "last_contact_date": "2020-05-01", "death_date": "2020-05-01"})  # missing value
    p.append(dict(p[0]))                                             # duplicate P1
    i[0].update(infusion_date="2019-12-01")                          # before eligibility
    i.append({**i[0], "infusion_date": "2020-02-05"})                # second infusion of P1
    i.append({**i[0], "patient_id": "P4", "infusion_date": "2020-06-01"})  # death before infusion; after last contact
    r.append({"patient_id": "P9", "assessment_date": "2020-05-01", "response": "CR"})  # unknown patient
    r.append({"patient_id": "P1", "assessment_date": "2022-01-01", "response": "CR"})  # after last contact
    tr.append({"patient_id": "P2", "start_date": "2020-12-15", "regimen": "glofitamab"})  # after death
    tr.append({"patient_id": "P2", "start_date": "2999-12-15", "regimen": "R-\x1bGemOx"})  # future; ESC
    p.append({**p[1], "patient_id": "P\u200b2"})                  # an invisible character in an identifier
    return t


def test_every_error_kind_reported_exit_1(make_registry, base_tables, capsys):
    d = make_registry(_every_error(base_tables))
    code = main(["validate", str(d), "--format", "json", "--cutoff", "2021-01-01"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    rules = {i["rule"] for i in out["issues"] if i["severity"] == "error"}
    # malformed_row, invalid_encoding and formula_without_value need raw bytes or a workbook
    assert rules == ERROR_RULES - {"malformed_row", "invalid_encoding", "formula_without_value"}
    assert out["summary"]["errors"] == sum(1 for i in out["issues"] if i["severity"] == "error")
    assert set(out) == {"path", "summary", "issues"}
    assert set(out["issues"][0]) == {"severity", "file", "row", "column", "value", "rule", "message", "patient_id",
                                     "target_column"}  # issue 11: target_column (= column without a mapping)
    where = {(i["rule"], i["file"], i["row"], i["column"]) for i in out["issues"]}
    assert ("invalid_date", "patients.csv", 4, "eligibility_date") in where
    assert ("missing_value", "patients.csv", 5, "eligibility_date") in where
    assert ("duplicate_patient", "patients.csv", 6, "patient_id") in where
    assert ("death_before_infusion", "patients.csv", 5, "death_date") in where
    assert ("multiple_infusions", "infusions.csv", 4, "patient_id") in where
    assert ("date_after_cutoff", "responses.csv", 7, "assessment_date") in where


def test_text_output_counts_and_limit(make_registry, base_tables, capsys):
    for k in range(28):
        base_tables["responses"].append({"patient_id": "P1", "assessment_date": f"2020-06-{k + 1:02d}",
                                         "response": "XX"})
    d = make_registry(base_tables)
    assert main(["validate", str(d), "--limit", "5"]) == 1
    out = capsys.readouterr().out
    assert "28 errors, 0 warnings, 0 notes" in out
    assert out.count("unknown_code") == 1 + 5  # its row in the counts table, then the first 5 issues
    assert "showing the first 5 issues of each rule (5 of 28)" in out
    assert main(["validate", str(d), "--all"]) == 1
    assert capsys.readouterr().out.count("'XX' is not a known code") == 28


def test_clean_registry_exit_0_and_unusable_exit_2(make_registry, base_tables, tmp_path, capsys):
    assert main(["validate", str(make_registry(base_tables))]) == 0
    assert main(["validate", str(tmp_path / "missing")]) == 2
    base_tables["infusions"] = None
    assert main(["validate", str(make_registry(base_tables))]) == 2
    assert "missing file infusions.csv" in capsys.readouterr().err


def test_missing_required_column_is_unusable(make_registry, base_tables):
    for r in base_tables["patients"]:
        r.pop("last_contact_date")
    with pytest.raises(CartregError) as e:
        read_registry(make_registry(base_tables))
    assert e.value.exit_code == 2 and "required column 'last_contact_date'" in e.value.message


def test_bad_cutoff_is_unusable(make_registry, base_tables):
    assert main(["validate", str(make_registry(base_tables)), "--cutoff", "29/04/2022"]) == 2


def test_import_roundtrip_metadata_and_fingerprint(make_registry, base_tables, tmp_path):
    src = make_registry(base_tables)
    out = tmp_path / "reg.duckdb"
    assert main(["import", str(src), "-o", str(out), "--cutoff", "2022-04-29"]) == 0
    direct = read_registry(src)
    stored = read_registry(out)
    assert stored.fingerprint == direct.fingerprint
    assert stored.metadata.data_cutoff.isoformat() == "2022-04-29" and not stored.metadata.data_cutoff_inferred
    assert stored.metadata.row_counts == {"patients": 2, "infusions": 2, "responses": 4, "treatments": 1}
    assert [n for n, _ in stored.metadata.sources] == ["infusions.csv", "patients.csv", "responses.csv", "treatments.csv"]
    assert stored.con.execute("SELECT patient_id, infusion_date::VARCHAR FROM infusions ORDER BY _row").fetchall() == [
        ("P1", "2020-02-01"), ("P2", "2020-03-01")]
    con = duckdb.connect(str(out), read_only=True)
    keys = {k for (k,) in con.execute("SELECT key FROM metadata").fetchall()}
    con.close()
    assert {"format_version", "sources", "import_time", "cartreg_version", "row_counts", "data_cutoff",
            "data_cutoff_inferred"} <= keys


def test_inferred_cutoff_is_latest_date(make_registry, base_tables, tmp_path):
    out = tmp_path / "r.duckdb"
    import_registry(make_registry(base_tables), out)
    meta = read_registry(out).metadata
    assert (meta.data_cutoff.isoformat(), meta.data_cutoff_inferred) == ("2021-06-01", True)


def test_duckdb_read_does_not_revalidate_but_applies_cutoff(make_registry, base_tables, tmp_path, monkeypatch):
    out = tmp_path / "r.duckdb"
    import_registry(make_registry(base_tables), out)
    monkeypatch.setattr(store, "validate_raw", lambda *a, **k: pytest.fail("re-validated"))
    reg = read_registry(out, cutoff="2021-01-01")
    assert [(i.rule, i.file, i.row, i.column) for i in reg.report] == [
        ("date_after_cutoff", "patients.csv", 2, "last_contact_date")]


def test_refuse_on_errors_leaves_nothing(make_registry, base_tables, tmp_path, capsys):
    base_tables["patients"][0]["age"] = "old"
    out = tmp_path / "r.duckdb"
    assert main(["import", str(make_registry(base_tables)), "-o", str(out)]) == 1
    assert "invalid_number" in capsys.readouterr().err
    assert list(tmp_path.glob("*.duckdb*")) == [] and list(tmp_path.glob(".r.duckdb*")) == []


def test_replace_needed_and_failed_import_keeps_existing_file(make_registry, base_tables, tmp_path, monkeypatch):
    src = make_registry(base_tables)
    out = tmp_path / "r.duckdb"
    import_registry(src, out)
    before = out.read_bytes()
    with pytest.raises(CartregError) as e:
        import_registry(src, out)
    assert e.value.exit_code == 2 and "--replace" in e.value.message

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_write_store", boom)
    with pytest.raises(KeyboardInterrupt):
        import_registry(src, out, replace=True)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["r.duckdb"]

    monkeypatch.undo()
    base_tables["patients"][0]["center"] = "Marseille"
    import_registry(make_registry(base_tables), out, replace=True)
    assert read_registry(out).con.execute("SELECT center FROM patients WHERE patient_id='P1'").fetchone() == ("Marseille",)


def test_failure_inside_duckdb_write_leaves_no_temp(make_registry, base_tables, tmp_path, monkeypatch):
    real = store._write_store

    def half(reg, target, rejected):
        real(reg, target, rejected)
        assert os.path.exists(target)
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_write_store", half)
    with pytest.raises(RuntimeError):
        import_registry(make_registry(base_tables), tmp_path / "r.duckdb")
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == []


def test_drop_invalid_removes_whole_patients(make_registry, base_tables, tmp_path, capsys):
    base_tables["responses"][3]["assessment_date"] = "2020-07-32"     # P2 error in responses
    base_tables["responses"].append({"patient_id": "", "assessment_date": "2020-06-01", "response": "CR"})
    base_tables["infusions"][1]["ferritin_ug_l"] = "150000"          # P2 warning: leaves with P2
    base_tables["patients"][0]["age"] = "95"                          # P1 warning: stays
    out = tmp_path / "r.duckdb"
    assert main(["import", str(make_registry(base_tables)), "-o", str(out), "--drop-invalid"]) == 0
    assert "1 patients rejected" in capsys.readouterr().out
    reg = read_registry(out)
    for t in ("patients", "infusions", "responses", "treatments"):
        assert reg.con.execute(f"SELECT count(*) FROM {t} WHERE patient_id = 'P2' OR patient_id IS NULL").fetchone() == (0,)
    assert reg.con.execute("SELECT count(*) FROM responses").fetchone() == (2,)
    rejected = reg.con.execute(
        'SELECT patient_id, file, "row", "column", value, rule FROM rejected_rows ORDER BY "row"').fetchall()
    assert rejected == [("P2", "responses.csv", 5, "assessment_date", "2020-07-32", "invalid_date"),
                        (None, "responses.csv", 6, "patient_id", None, "missing_value")]
    assert reg.metadata.rejected_patients == 1 and reg.metadata.row_counts["patients"] == 1
    assert reg.metadata.drop_invalid
    # the stored report describes the stored data: errors went to rejected_rows
    assert not reg.report.has_errors
    assert [(i.rule, i.patient_id) for i in reg.report] == [("implausible_value", "P1")]
    assert main(["validate", str(out)]) == 0


def test_without_invalid_patients_in_memory(make_registry, base_tables):
    base_tables["infusions"][0]["ecog"] = "9"
    reg = read_registry(make_registry(base_tables))
    clean = reg.without_invalid_patients()
    assert clean.con.execute("SELECT list(patient_id) FROM patients").fetchone() == (["P2"],)
    assert clean.con.execute("SELECT count(*) FROM responses WHERE patient_id='P1'").fetchone() == (0,)
    assert clean.fingerprint == reg.fingerprint
    assert reg.report.has_errors and not clean.report.has_errors
    assert clean.metadata.row_counts["patients"] == 1 and clean.metadata.rejected_patients == 1


def test_example_registry_is_valid(capsys):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "registry"
    assert main(["validate", str(example)]) == 0
    reg = read_registry(example)
    assert reg.metadata.row_counts["patients"] >= 20
    regimens = {r for (r,) in reg.con.execute("SELECT DISTINCT regimen FROM treatments").fetchall()}
    assert {"R-GemOx", "glofitamab", "lenalidomide + rituximab", "radiotherapy"} <= regimens


def test_base_fixture_untouched():
    assert BASE["patients"][0]["age"] == "60"


def test_long_listing_is_plain_lines(make_registry, base_tables, monkeypatch):
    from cartreg.registry import report as report_mod

    monkeypatch.setattr(report_mod, "PLAIN_ABOVE", 2)
    for r in base_tables["patients"]:
        r["sex"] = "X"
    base_tables["infusions"][0]["ecog"] = "9"
    text = read_registry(make_registry(base_tables)).report.to_text(limit=None)
    assert "patients.csv:2\tsex\tX\tunknown_code\tsex 'X' is not a known code (allowed: M, F)\n" in text
    assert "infusions.csv:2\tecog\t9\tout_of_range\tecog 9 is outside the allowed range 0–4\n" in text


def test_not_a_cartreg_duckdb_and_missing_output_dir(make_registry, base_tables, tmp_path):
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    with pytest.raises(CartregError) as e:
        read_registry(other)
    assert e.value.exit_code == 2 and "not a cartreg registry" in e.value.message
    assert main(["import", str(make_registry(base_tables)), "-o", str(tmp_path / "no" / "r.duckdb")]) == 2
