"""`cartreg analyze` as a user runs it: outputs, parameters, exit codes, no tracebacks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cartreg.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "registry"


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_analyze_writes_results_and_identifying_patient_table(tmp_path, capsys):
    code, out, err = run(["analyze", EXAMPLE, "-o", tmp_path, "--no-report"], capsys)
    assert code == 0, err
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["study"] == "late-failure" and res["cohort"]["registered"] == 20
    assert res["parameters"]["late_after_days"] == 91.3125 and res["parameters"]["conf_type"] == "log-log"
    assert res["meta"]["registry_sha256"] and res["parameters"]["data_cutoff"]
    header = (tmp_path / "patients.csv").read_text().splitlines()[0]
    assert header.startswith('"patient_id"')
    assert "identifiers" in (tmp_path / "IDENTIFYING-DATA.txt").read_text()
    assert "registered 20" in out and "results.json" in out
    assert (tmp_path / "tables" / "table1_baseline.csv").is_file() and not (tmp_path / "report.html").exists()


def test_analyze_writes_the_report_by_default(tmp_path, capsys):
    code, out, err = run(["analyze", EXAMPLE, "-o", tmp_path], capsys)
    assert code == 0, err
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "")
    assert (tmp_path / "figures" / "figure1a_pfs2_by_class.svg").is_file()
    assert "report.html" in out


def test_flags_and_config_are_resolved_into_the_results(tmp_path, capsys):
    cfg = tmp_path / "study.toml"
    cfg.write_text('[late-failure]\nlate_after_days = 60\nconf_type = "log"\n', encoding="utf-8")
    code, _, err = run(["analyze", EXAMPLE, "-o", tmp_path / "o", "--no-report", "--config", cfg,
                        "--conf-type", "plain", "--treated-origin", "failure"], capsys)
    assert code == 0, err
    p = json.loads((tmp_path / "o" / "results.json").read_text())["parameters"]
    assert (p["late_after_days"], p["conf_type"], p["treated_origin"]) == (60.0, "plain", "failure")


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--conf-type", "bogus"], "conf_type must be one of"),
        (["--study", "nope"], "unknown study"),
        (["--reference-class", "CAR-T"], "reference_class must be one of"),
        (["--class-precedence", "IMiD,foo"], "unknown treatment class"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, capsys, extra, message):
    code, _, err = run(["analyze", EXAMPLE, "-o", tmp_path, "--no-report", *extra], capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_registry_with_errors_is_refused_unless_drop_invalid(tmp_path, capsys):
    reg = tmp_path / "reg"
    shutil.copytree(EXAMPLE, reg)
    lines = (reg / "patients.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("eligibility_date")] = "2021-13-45"
    lines[1] = ",".join(row)
    (reg / "patients.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run(["analyze", reg, "-o", tmp_path / "o", "--no-report"], capsys)
    assert code == 1 and "--drop-invalid" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "results.json").exists()
    code, _, err = run(["analyze", reg, "-o", tmp_path / "o", "--no-report", "--drop-invalid"], capsys)
    assert code == 0 and "left out 1 patient" in err
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert res["cohort"]["registered"] == 19


def test_missing_registry_is_exit_2(tmp_path, capsys):
    code, _, err = run(["analyze", tmp_path / "nothing", "-o", tmp_path / "o"], capsys)
    assert code == 2 and "error:" in err
