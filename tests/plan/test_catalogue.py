"""The endpoint catalogue: every column documented, and each rule on hand-worked patients."""

from __future__ import annotations

import re
from pathlib import Path

from cartreg.endpoints import EndpointRules, derive_endpoints
from cartreg.endpoints.catalogue import COHORT_FLAGS, COLUMNS, COMPETING, TIME_TO_EVENT, build_catalogue
from tests_study_registry import registry
from tiny_registry import build, infusion, patient, resp

DOC = Path(__file__).resolve().parents[2] / "docs" / "endpoints.md"


def catalogue(reg_con, rules=None, **kw):
    return build_catalogue(reg_con, derive_endpoints(reg_con, rules), **kw).table


def rows(table) -> dict[str, dict]:
    return {r["patient_id"]: r for r in table.to_pylist()}


def test_columns_are_exactly_the_documented_ones():
    t = catalogue(registry().con)
    assert list(t.column_names) == [c.name for c in COLUMNS]
    section = DOC.read_text(encoding="utf-8").split("## Endpoint catalogue", 1)[1]
    documented = re.findall(r"^\| `([a-z0-9_]+)` \| (\w+) \|", section, flags=re.MULTILINE)
    assert [(c.name, c.type) for c in COLUMNS] == documented[: len(COLUMNS)]


def test_contract_names():
    assert set(COHORT_FLAGS) >= {"registered", "infused", "failed", "early", "late", "treated_after_failure"}
    assert set(TIME_TO_EVENT) >= {"os_infusion", "pfs_infusion", "os_eligibility", "os2", "pfs2", "dor"}
    assert set(COMPETING) == {"relapse_nrm", "failure_death"}
    names = {c.name for c in COLUMNS}
    for e in TIME_TO_EVENT.values():
        assert {e.days, e.event_col} <= names
    for e in COMPETING.values():
        assert {e.days, e.status} <= names
    for col in ("age", "sex", "histology", "stage", "aaipi", "ecog", "ldh_elevated", "bulky", "bridging", "product",
                "crs_grade", "icans_grade", "best_response", "response_3mo"):
        assert col in names


def test_flags_on_the_ten_patient_registry():
    r = rows(catalogue(registry().con))
    assert len(r) == 10  # P9 is registered, not infused
    flags = {k: sorted(p for p, v in r.items() if v[k]) for k in COHORT_FLAGS}
    assert flags["infused"] == sorted(p for p in r if p != "P9")
    assert flags["late"] == ["P1", "P2", "P3", "P4", "P5"]
    assert flags["early"] == ["P6", "P7"]
    assert flags["failed"] == ["P1", "P2", "P3", "P4", "P5", "P6", "P7"]
    assert flags["treated_after_failure"] == ["P1", "P2", "P3", "P4"]
    assert r["P9"]["not_infused_reason"] == "alive, not infused" and r["P9"]["os_infusion_days"] is None
    # eligibility is day -40 for everyone: OS from eligibility = last contact or death + 40
    assert r["P9"]["os_eligibility_days"] == 140 and r["P9"]["os_eligibility_event"] is False
    assert r["P10"]["os_eligibility_days"] == 60 and r["P10"]["os_eligibility_event"] is True
    # PFS from eligibility: P1 fails on day 120 -> 160 days; P9 (not infused, alive) censored at 140
    assert (r["P1"]["pfs_eligibility_days"], r["P1"]["pfs_eligibility_event"]) == (160, True)
    assert (r["P9"]["pfs_eligibility_days"], r["P9"]["pfs_eligibility_event"]) == (140, False)


def test_time_to_event_columns_by_hand():
    r = rows(catalogue(registry().con))
    # P1: CMR day 30, PMD day 120 (failure), alive at 400
    p1 = r["P1"]
    assert (p1["os_infusion_days"], p1["os_infusion_event"]) == (400, False)
    assert (p1["pfs_infusion_days"], p1["pfs_infusion_event"]) == (120, True)
    assert (p1["dor_days"], p1["dor_event"]) == (90, True)  # first response day 30 -> failure day 120
    assert (p1["os2_days"], p1["os2_event"]) == (280, False)  # failure day 120 -> last contact 400
    assert p1["relapse_nrm_status"] == 1 and p1["failure_death_status"] == 1 and p1["relapse_nrm_days"] == 120
    # P8: CMR day 30, never fails, alive at 600: a censored response
    assert (r["P8"]["dor_days"], r["P8"]["dor_event"]) == (570, False)
    assert r["P8"]["relapse_nrm_status"] == 0 and r["P8"]["os2_days"] is None
    # P10: death on day 20 without assessment, cause unknown: non-relapse mortality
    assert (r["P10"]["relapse_nrm_days"], r["P10"]["relapse_nrm_status"]) == (20, 2)
    assert r["P10"]["dor_days"] is None and r["P10"]["responders"] is False
    # response at 3 months: P6 failed day 60 -> PD; P1 CMR day 30 -> CR; P5 (PD day 95, nothing before) -> empty
    assert (r["P6"]["response_3mo"], r["P1"]["response_3mo"], r["P5"]["response_3mo"]) == ("PD", "CR", None)


def test_death_without_failure_is_nrm_and_lymphoma_death_is_relapse_by_parameter():
    con = build(
        [patient("A", 50, death=50, death_cause="lymphoma"), patient("B", 60, death=60, death_cause="infection"),
         patient("C", 70, death=70, death_cause="lymphoma")],
        [infusion("A"), infusion("B"), infusion("C", crs_grade=3, icans_grade=1)],
        [resp("C", 40, "PD")],
    )
    # issue 10 (rule 4, default): a lymphoma death without a recorded progression is a failure
    r = rows(catalogue(con))
    assert [r[p]["relapse_nrm_status"] for p in "ABC"] == [1, 2, 1]
    assert [r[p]["failure_death_status"] for p in "ABC"] == [1, 2, 1]
    assert [r[p]["relapse_nrm_days"] for p in "ABC"] == [50, 60, 40]
    old = EndpointRules(lymphoma_death_as_failure=False)
    r = rows(catalogue(con, old))
    assert [r[p]["relapse_nrm_status"] for p in "ABC"] == [2, 2, 1]  # the definition: death without failure
    assert [r[p]["failure_death_status"] for p in "ABC"] == [2, 2, 1]
    r = rows(catalogue(con, old, lymphoma_death_as_relapse=True))  # CIBMTR: a lymphoma death is relapse
    assert [r[p]["relapse_nrm_status"] for p in "ABC"] == [1, 2, 1]
    assert (r["C"]["crs_grade3"], r["C"]["icans_grade3"], r["A"]["crs_grade3"]) == (True, False, None)
