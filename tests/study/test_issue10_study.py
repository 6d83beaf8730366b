"""The late-failure study under the rules of issue 10: new results keys, warnings, the data freeze end to
end (CSV, .duckdb, CLI) and a registry without any failure (issue 16 item 17)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from cartreg.cli.main import main
from cartreg.registry import import_registry, read_registry
from cartreg.study import analyze, resolve_params

from issue10_registry import registry
from tiny_registry import build, infusion, patient, resp

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "registry"


def study(*groups, **overrides):
    return analyze(SimpleNamespace(con=registry(*groups)), params=resolve_params(overrides=overrides))


def test_pre_failure_treatments_of_late_failures_are_counted_with_their_regimens():
    # three late failures (days 150, 200, 125): ISRT (day 60) and lenalidomide (while still assessed)
    # do not qualify; R-GemOx 3 days before the PMD does
    pre = study("window")["late"]["pre_failure_treatment"]
    assert pre == {"n": 2, "N": 3, "pct": pytest.approx(200 / 3, rel=1e-12), "regimens": {"ISRT": 1, "lenalidomide": 1}}
    old = study("window", failure_treatment_window_days=0)["late"]["pre_failure_treatment"]
    assert (old["n"], old["regimens"]) == (3, {"ISRT": 1, "R-GemOx": 1, "lenalidomide": 1})


def test_lymphoma_deaths_counted_as_progression_and_flagged():
    res = study("lymphoma")
    f = res["failures"]
    # L_death (day 200), L_treated (day 200, lymphoma deaths) and L_pd (PD day 100); L_infection is not
    assert (f["n"], f["lymphoma_death"]["n"], f["progression"]["n"], f["relapse"]["n"]) == (3, 2, 3, 0)
    (w,) = [w for w in res["warnings"] if w["kind"] == "lymphoma_death_as_failure"]
    assert w["n"] == 2 and "2 death(s) from lymphoma" in w["message"]
    old = study("lymphoma", lymphoma_death_as_failure=False)
    assert (old["failures"]["n"], old["failures"]["lymphoma_death"]["n"]) == (1, 0)
    assert not [w for w in old["warnings"] if w["kind"] == "lymphoma_death_as_failure"]


def test_parameters_are_in_results_with_their_defaults():
    p = study("line")["parameters"]
    assert (p["failure_treatment_window_days"], p["pfs_censoring"], p["lymphoma_death_as_failure"],
            p["line_window_days"]) == (30, "last-assessment", True, 14)


def test_config_file_and_flags_set_the_rules(tmp_path):
    cfg = tmp_path / "study.toml"
    cfg.write_text('[late-failure]\nfailure_treatment_window_days = 0\npfs_censoring = "last-contact"\n'
                   'lymphoma_death_as_failure = false\nline_window_days = 0\n', encoding="utf-8")
    p = resolve_params(cfg)
    assert (p.failure_treatment_window_days, p.pfs_censoring, p.lymphoma_death_as_failure, p.line_window_days) == (
        0, "last-contact", False, 0)
    assert resolve_params(cfg, {"line_window_days": 7}).line_window_days == 7
    from cartreg.errors import CartregError
    for bad in ({"pfs_censoring": "last-visit"}, {"line_window_days": 2.5}, {"lymphoma_death_as_failure": "maybe"},
                {"failure_treatment_window_days": -3}):
        with pytest.raises(CartregError):
            resolve_params(overrides=bad)


# --- the data freeze end to end ---------------------------------------------------------------------

CUT = "2021-12-31"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo registry (977 patients, seed 1) with follow-up to 2022-04-29."""
    d = tmp_path_factory.mktemp("demo") / "reg"
    assert main(["synth", "--patients", "977", "--seed", "1", "-o", str(d)]) == 0
    return d


def _infused_by(reg_dir: Path, cut: str) -> int:
    with (reg_dir / "infusions.csv").open(encoding="utf-8") as f:
        return sum(1 for r in csv.DictReader(f) if r["infusion_date"] and r["infusion_date"] <= cut)


def test_analyze_with_a_cutoff_keeps_every_patient_infused_before_it(demo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", str(demo), "--cutoff", CUT, "-o", str(out), "--no-report"]) == 0
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    n = _infused_by(demo, CUT)
    assert 800 < n < 977 and res["cohort"]["infused"] == n
    assert res["parameters"]["data_cutoff"] == CUT and res["parameters"]["data_cutoff_inferred"] is False
    after = res["ignored_records"]["after_cutoff"]
    assert set(after) == {"responses", "treatments", "deaths", "last_contacts_truncated", "registered_after_cutoff",
                          "infused_after_cutoff"}
    assert after["registered_after_cutoff"] + after["infused_after_cutoff"] == 977 - n
    assert min(after.values()) > 0
    kinds = {w["what"]: w["n"] for w in res["warnings"] if w["kind"] == "after_cutoff"}
    assert kinds == after
    # nothing in the analysis is dated after the cut-off
    with (out / "patients.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for col in ("last_contact_date", "death_date", "failure_date", "tx_date", "pd2_date", "next_tx_date"):
        assert max((r[col] for r in rows if r[col]), default="") <= CUT, col


def test_cutoff_dates_are_warnings_in_validation_and_import(demo, tmp_path, capsys):
    reg = read_registry(demo, cutoff=CUT)
    after = [i for i in reg.report if i.rule == "date_after_cutoff"]
    assert after and {i.severity for i in after} == {"warning"} and not reg.report.has_errors
    assert main(["validate", str(demo), "--cutoff", CUT]) == 0
    out = tmp_path / "r.duckdb"
    import_registry(demo, out, cutoff=CUT)
    stored = read_registry(out)
    assert stored.metadata.data_cutoff == dt.date(2021, 12, 31)
    a = analyze(stored)
    b = analyze(read_registry(demo, cutoff=CUT))
    a.pop("meta"), b.pop("meta")
    assert a == b and a["cohort"]["infused"] == _infused_by(demo, CUT)
    # a stored registry read with another cut-off: that one is used
    c = analyze(read_registry(out, cutoff="2021-06-30"))
    assert c["cohort"]["infused"] == _infused_by(demo, "2021-06-30") and c["parameters"]["data_cutoff"] == "2021-06-30"


# --- issue 16 item 17: a valid registry without any failure ------------------------------------------


def test_registry_without_failures_gives_the_study_with_zero_failures():
    con = build([patient("a", 400), patient("b", 300, death=300, death_cause="infection"), patient("c", 200)],
                [infusion("a"), infusion("b"), infusion("c")], [resp("a", 30, "CMR")], [])
    res = analyze(SimpleNamespace(con=con))
    assert res["failures"]["n"] == 0 and res["late"]["n"] == 0
    assert [c["est"] for c in res["failures"]["cif"]] == [0.0, 0.0, 0.0]
    assert any(w["kind"] == "no_failures" for w in res["warnings"])
    # no event at all (no failure, no death)
    res = analyze(SimpleNamespace(con=build([patient("a", 400)], [infusion("a")], [], [])))
    assert res["failures"]["n"] == 0 and res["failures"]["cif"][0] == {"months": 3.0, "est": 0.0, "ci": [None, None],
                                                                       "pct": 0.0}


@pytest.mark.parametrize("variant", ["no_responses_file", "no_progression"])
def test_cli_analyze_without_failures_says_so(variant, tmp_path, capsys):
    reg = tmp_path / "reg"
    shutil.copytree(EXAMPLE, reg)
    if variant == "no_responses_file":
        (reg / "responses.csv").unlink()
    else:
        lines = (reg / "responses.csv").read_text(encoding="utf-8").splitlines()
        kept = [ln for ln in lines if not ln.endswith((",PD", ",PMD"))]
        assert len(kept) < len(lines)
        (reg / "responses.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    # without recorded progression, lymphoma deaths would be failures (rule 4): turn that off
    code = main(["analyze", str(reg), "-o", str(tmp_path / "out"), "--no-lymphoma-death-as-failure"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "zero failures" in out.out and "Traceback" not in out.err
    res = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert res["failures"]["n"] == 0 and (tmp_path / "out" / "report.html").is_file()
