"""With the old-behaviour parameters, every number is the one of the code before issue 10.

References made by that code (commit d9efbe5), committed as fixtures:

* tests/fixtures/issue10/old_rules.json: the endpoint table and late-failure results of the rule
  registries of tests/issue10_registry.py and of its random registry (150 patients with every kind of
  record), made by tests/endpoints/make_issue10_old_rules.py;
* tests/fixtures/issue10/study_results_old_rules.json: results.json of the 977-patient study fixture
  (tests/fixtures/study/registry, ``cartreg analyze --no-report``), less ``meta``.

The only differences allowed are the keys issue 10 adds (listed in ADDED): exact equality otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from cartreg.endpoints import derive_endpoints, load_class_map
from cartreg.registry import read_registry
from cartreg.study import analyze, resolve_params

from issue10_registry import random_registry, registry

FIX = Path(__file__).resolve().parents[1] / "fixtures"
#: rules 1-5 at their earlier behaviour
RULES_1_5 = {"failure_treatment_window_days": 0, "pfs_censoring": "last-contact", "lymphoma_death_as_failure": False,
             "line_window_days": 0}
#: rules 6-8 at their earlier behaviour: the class table and precedence of that time, every class compared
CLASSES_BEFORE = {"min_class_size": 1,
                  "class_map": str(FIX / "classes" / "treatment_classes_before_issue10.csv"),
                  "class_precedence": ("bispecific", "IMiD", "targeted", "anti-PD1", "chemotherapy", "radiotherapy")}
OLD_RULES = RULES_1_5 | CLASSES_BEFORE
#: results.json keys that issue 10 adds (absent before it).
ADDED = {
    ("failures", "lymphoma_death"), ("late", "pre_failure_treatment"), ("ignored_records", "after_cutoff"),
    *(("parameters", k) for k in RULES_1_5), ("parameters", "cutoff_rule"), ("parameters", "min_class_size"),
    ("late", "comparisons"), ("late", "ph_test"),
}
#: keys issue 10 adds deeper in results.json (rules 6-8 and the report: units, compared classes, the CIF
#: risk table, toxicity), and the class-map parameters, which name the earlier table's file here (removed
#: from both sides: the class table itself is checked by the endpoint tables and every class result).
ADDED_DEEP = {("toxicity",), ("failures", "cif_curve", "risk_table"),
              *((g, "baseline", v, "unit") for g in ("early", "late") for v in ("age", "crp", "ferritin", "prior_lines")),
              ("late", "by_class", "*", "compared"),
              ("late", "by_class", "*", "pfs2_hr", "imprecise"), ("late", "by_class", "*", "os2_hr", "imprecise"), ("parameters", "class_map"), ("parameters", "class_map_source")}
#: endpoint-table columns that issue 10 adds.
ADDED_COLUMNS = {"failure_by_lymphoma_death", "pre_failure_treatment", "pre_failure_regimens", "last_assessment_date"}


def _pop_path(d, path: tuple[str, ...]) -> None:
    if not isinstance(d, dict):
        return
    head, *rest = path
    if not rest:
        d.pop(head, None)
        return
    for key in (list(d) if head == "*" else [head]):
        _pop_path(d.get(key), tuple(rest))


def _without_added(results: dict) -> dict:
    out = json.loads(json.dumps(results))
    for section, key in ADDED:
        out.get(section, {}).pop(key, None)
    for path in ADDED_DEEP:
        _pop_path(out, path)
    return out


@pytest.fixture(scope="module")
def old():
    return json.loads((FIX / "issue10" / "old_rules.json").read_text(encoding="utf-8"))


def test_rule_registries_endpoint_table_is_unchanged(old):
    params = resolve_params(overrides=OLD_RULES)
    ep = derive_endpoints(registry(), params.rules(), load_class_map(params.class_map))
    new = [{k: v.isoformat() if isinstance(v, dt.date) else v for k, v in r.items()} for r in ep.patients.to_pylist()]
    assert set(new[0]) - set(old["endpoints"][0]) == ADDED_COLUMNS
    assert [{k: r[k] for k in old["endpoints"][0]} for r in new] == old["endpoints"]


def test_rule_registries_results_are_unchanged(old):
    new = analyze(SimpleNamespace(con=registry()), params=resolve_params(overrides=OLD_RULES))
    new.pop("meta")
    assert _without_added(new) == _without_added(old["results"])
    assert {(s, k) for s, k in ADDED if k in new.get(s, {})} == ADDED - {("ignored_records", "after_cutoff")}


def test_random_registry_endpoints_and_results_are_unchanged(old):
    params = resolve_params(overrides=OLD_RULES)
    ep = derive_endpoints(random_registry(), params.rules(), load_class_map(params.class_map))
    new = [{k: v.isoformat() if isinstance(v, dt.date) else v for k, v in r.items()} for r in ep.patients.to_pylist()]
    assert len(new) == len(old["random_endpoints"]) > 100
    assert [{k: r[k] for k in old["random_endpoints"][0]} for r in new] == old["random_endpoints"]
    res = analyze(SimpleNamespace(con=random_registry()), params=params)
    res.pop("meta")
    assert _without_added(res) == _without_added(old["random_results"])
    # under the new defaults the same registry gives other answers (the rules do bite on it)
    ep_new = derive_endpoints(random_registry())
    changed = {k for k in old["random_endpoints"][0]
               if ep_new.patients.column(k).to_pylist() != ep.patients.column(k).to_pylist()}
    assert {"failure_date", "tx_date", "tx_class", "pfs2_days", "cif_days"} <= changed


def test_rule_registries_results_differ_under_the_new_defaults(old):
    # the fixture is not trivially equal to the new answers: the rules change them
    new = analyze(SimpleNamespace(con=registry()))
    assert new["failures"]["n"] != old["results"]["failures"]["n"]  # lymphoma deaths become failures


def test_study_fixture_results_are_unchanged():
    old = json.loads((FIX / "issue10" / "study_results_old_rules.json").read_text(encoding="utf-8"))
    new = analyze(read_registry(FIX / "study" / "registry"), params=resolve_params(overrides=OLD_RULES))
    new.pop("meta")
    # the inferred cut-off is the latest date: nothing is after it
    assert new["ignored_records"]["after_cutoff"] == dict.fromkeys(
        ("responses", "treatments", "deaths", "last_contacts_truncated", "registered_after_cutoff",
         "infused_after_cutoff"), 0)
    assert _without_added(new) == _without_added(old)


def test_cutoff_rule_drop_patients_is_cutoff_with_drop_invalid_before_issue_10():
    # the code before issue 10: `analyze REG --cutoff 2021-12-31 --drop-invalid` (669 of 977 patients
    # left out); now `--cutoff-rule drop-patients`, and validation only warns
    old = json.loads((FIX / "issue10" / "study_results_cutoff_drop_old.json").read_text(encoding="utf-8"))
    reg = read_registry(FIX / "study" / "registry", cutoff="2021-12-31")
    assert not reg.report.has_errors
    new = analyze(reg, params=resolve_params(overrides=OLD_RULES | {"cutoff_rule": "drop-patients"}))
    new.pop("meta")
    assert (new["cohort"]["registered"], new["failures"]["n"]) == (308, 241)
    assert new["ignored_records"].pop("patients_left_out_for_a_date_after_cutoff") == 977 - 308
    # the warnings it adds (what was after the cut-off, and the patients left out) come after the old ones
    added = [w for w in new["warnings"] if w["kind"] == "after_cutoff"
             or w.get("what") == "patients_left_out_for_a_date_after_cutoff"]
    assert len(added) == 7
    new["warnings"] = [w for w in new["warnings"] if w not in added]
    assert _without_added(new) == _without_added(old)
    # the default (censor) keeps every patient registered and infused by the cut-off
    censor = analyze(reg)
    assert censor["cohort"]["infused"] > 800
