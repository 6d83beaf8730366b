"""`cartreg analyze --min-class-size` and the min_class_size TOML key (issue 10, rule 7)."""

from __future__ import annotations

import json
from pathlib import Path

from cartreg.cli.main import main

STUDY = Path(__file__).resolve().parents[1] / "fixtures" / "study" / "registry"


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_min_class_size_flag_and_toml(tmp_path, capsys):
    code, _out, err = run(["analyze", STUDY, "-o", tmp_path / "a", "--no-report", "--min-class-size", "1"], capsys)
    assert code == 0, err
    late = json.loads((tmp_path / "a" / "results.json").read_text())["late"]
    assert late["comparisons"]["min_class_size"] == 1 and "other" in late["comparisons"]["compared"]
    assert late["logrank"]["pfs2"]["df"] == len(late["comparisons"]["compared"]) - 1
    toml = tmp_path / "study.toml"
    toml.write_text("[late-failure]\nmin_class_size = 20\n", encoding="utf-8")
    code, _out, err = run(["analyze", STUDY, "-o", tmp_path / "b", "--no-report", "--config", toml], capsys)
    assert code == 0, err
    late = json.loads((tmp_path / "b" / "results.json").read_text())["late"]
    assert late["comparisons"]["compared"] == ["IMiD", "targeted"]  # 39 and 21 treated; chemotherapy has 14
    assert late["by_class"]["bispecific"]["pfs2_hr"] is None  # reference not compared: no HRs
    assert any("reference class 'chemotherapy' is not compared" in n for n in late["hr_notes"]["pfs2"])


def test_min_class_size_must_be_a_whole_number_at_least_1(tmp_path, capsys):
    code, _out, err = run(["analyze", STUDY, "-o", tmp_path, "--min-class-size", "0"], capsys)
    assert code != 0 and "min_class_size must be a whole number >= 1" in err and "Traceback" not in err
