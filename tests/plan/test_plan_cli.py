"""`cartreg plans`, `cartreg analyze --plan/--study NAME` as a user runs them: outputs, exit codes, messages."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cartreg.cli.main import main
from cartreg.study import shipped_plans

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "registry"


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_plans_lists_and_shows(capsys):
    code, out, _ = run(["plans"], capsys)
    assert code == 0
    for name in ("late-failure", "product-outcomes", "relapse-nrm", "late-failure-factors", "intention-to-treat"):
        assert name in out
    code, out, _ = run(["plans", "show", "relapse-nrm"], capsys)
    assert code == 0 and out == shipped_plans()["relapse-nrm"]
    code, _, err = run(["plans", "show", "nope"], capsys)
    assert code == 2 and "unknown plan 'nope'; shipped plans: intention-to-treat" in err


def test_shown_plan_runs_from_a_copy(tmp_path, capsys):
    code, text, _ = run(["plans", "show", "intention-to-treat"], capsys)
    plan = tmp_path / "itt.toml"
    plan.write_text(text, encoding="utf-8")
    code, out, err = run(["analyze", EXAMPLE, "--plan", plan, "-o", tmp_path / "out"], capsys)
    assert code == 0, err
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["study"] == "intention-to-treat" and res["cohort"]["n"] == res["cohort"]["registered"] == 20
    assert [b["endpoint"] for b in res["blocks"]] == ["os_eligibility", "os_eligibility", "pfs_eligibility"]
    for key in ("report.html", "report.docx", "patients.csv", "tables/flow.csv"):
        assert (tmp_path / "out" / key).exists(), key
    assert "Traceback" not in err


def test_study_name_runs_the_shipped_plan(tmp_path, capsys):
    code, out, err = run(["analyze", EXAMPLE, "--study", "intention-to-treat", "-o", tmp_path, "--no-report",
                          "--conf-type", "log"], capsys)
    assert code == 0, err
    res = json.loads((tmp_path / "results.json").read_text())
    assert res["parameters"]["conf_type"] == "log" and not (tmp_path / "report.html").exists()
    assert (tmp_path / "tables" / "block1_survival.csv").exists()


@pytest.mark.parametrize("args, needle", [
    (["--study", "no-such"], "unknown study 'no-such'; available: intention-to-treat, late-failure"),
    (["--study", "intention-to-treat", "--lang", "de"], "--lang must be en or fr"),
    (["--study", "intention-to-treat", "--figure-width", "triple"], "--figure-width must be single or double"),
    (["--study", "intention-to-treat", "--reference-class", "IMiD"], "reference_class does not apply to a plan"),
])
def test_bad_options_are_one_line_exit_2(tmp_path, capsys, args, needle):
    code, _, err = run(["analyze", EXAMPLE, "-o", tmp_path, *args], capsys)
    assert code == 2 and needle in err and "Traceback" not in err


def test_plan_errors_name_the_file(tmp_path, capsys):
    plan = tmp_path / "bad.toml"
    plan.write_text('[study]\nname = "x"\n[[survival]]\nendpoint = "os_infusion"\nby = "produit"\n', encoding="utf-8")
    code, _, err = run(["analyze", EXAMPLE, "--plan", plan, "-o", tmp_path / "o"], capsys)
    assert code == 2 and err.startswith("error: bad.toml [[survival]] #1: unknown column 'produit' in by")
    assert len(err.strip().splitlines()) == 1


def test_blocks_waiting_for_the_statistics_issue_say_so(tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("cartreg.stats.compare") is not None:
        pytest.skip("cartreg.stats.compare is present")
    code, _, err = run(["analyze", EXAMPLE, "--study", "product-outcomes", "-o", tmp_path], capsys)
    assert code == 2 and "block kind 'table' needs cartreg.stats.compare" in err
