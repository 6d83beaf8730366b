"""The endpoint rules of issue 10 on tiny registries (tests/issue10_registry.py), answers worked by hand.

Each test gives the new default answer, then the answer of the parameter value that restores the rule
before issue 10. Days are counted from the infusion (day 0).
"""

from __future__ import annotations

import dataclasses

import pytest

from cartreg.endpoints import EndpointRules, derive_endpoints
from cartreg.errors import CartregError

from issue10_registry import CUTOFF, registry
from tiny_registry import day


def rows(ep) -> dict[str, dict]:
    return {r["patient_id"]: r for r in ep.patients.to_pylist()}


def derive(group: str, **rules):
    return derive_endpoints(registry(group), EndpointRules(**rules))


# --- rule 1: a data freeze censors; it does not drop patients -----------------------------------------


def test_freeze_ignores_later_records_and_ends_follow_up_at_the_cutoff():
    ep = derive("freeze", data_cutoff=CUTOFF)
    r = rows(ep)
    # registered after the cut-off: not registered; infused after it: registered, not infused
    assert sorted(r) == ["F_alive", "F_dies"] and ep.registered == 3
    alive, dies = r["F_alive"], r["F_dies"]
    # the PMD on day 250 does not exist: no failure; follow-up ends at the cut-off (day 200)
    assert alive["failed"] is False and alive["last_contact_date"] == CUTOFF
    assert (alive["os_days"], alive["os_event"]) == (200, False)
    # censored at the last assessment (CMR day 91) for the incidence of failure
    assert (alive["cif_days"], alive["cif_status"]) == (91, 0)
    # dies on day 300, after the cut-off: alive at the cut-off, censored there
    assert dies["dead"] is False and dies["death_date"] is None and dies["death_cause"] is None
    assert (dies["ttf_days"], dies["failure_type"], dies["late"]) == (150, "relapse", True)
    assert (dies["os2_days"], dies["os2_event"]) == (200 - 150, False)
    # glofitamab on day 250 does not exist: R-GemOx is the only treatment, no next treatment
    assert (dies["tx_regimen"], dies["tx_class"], dies["next_tx_date"]) == ("R-GemOx", "chemotherapy", None)
    # PFS-2 from the start (day 160); no assessment after it: censored at the start
    assert (dies["pfs2_days"], dies["pfs2_event"]) == (0, False)
    assert ep.after_cutoff == {"responses": 3, "treatments": 1, "deaths": 1, "last_contacts_truncated": 4,
                               "registered_after_cutoff": 1, "infused_after_cutoff": 1}


def test_without_a_cutoff_every_record_counts():
    ep = derive("freeze")
    r = rows(ep)
    assert sorted(r) == ["F_alive", "F_dies", "F_late_inf", "F_late_reg"] and ep.registered == 4
    assert r["F_alive"]["ttf_days"] == 250 and r["F_dies"]["dead"] is True
    assert ep.after_cutoff is None


def test_cutoff_rule_drop_patients_leaves_out_every_patient_with_a_later_date():
    # the rule before issue 10 (--cutoff --drop-invalid): all four patients have a date after day 200
    ep = derive("freeze", data_cutoff=CUTOFF, cutoff_rule="drop-patients")
    assert ep.patients.num_rows == 0 and ep.registered == 0
    assert ep.ignored["patients_left_out_for_a_date_after_cutoff"] == 4
    # a later cut-off (day 400) keeps those without a later date
    ep = derive("freeze", data_cutoff=day(400), cutoff_rule="drop-patients")
    assert sorted(rows(ep)) == ["F_alive", "F_dies", "F_late_inf", "F_late_reg"]
    assert ep.ignored["patients_left_out_for_a_date_after_cutoff"] == 0


# --- rule 2: a treatment started shortly before the recorded failure ----------------------------------


def test_treatment_days_before_the_recorded_failure_is_the_post_failure_treatment():
    r = rows(derive("window"))
    s = r["W_salvage"]
    # R-GemOx on day 147, PMD on day 150, last assessment before it on day 91: post-failure treatment
    assert (s["tx_status"], s["tx_class"], s["tx_gap_days"]) == ("treated", "chemotherapy", -3)
    assert s["pre_failure_treatment"] is False and s["pre_failure_regimens"] is None
    # PFS-2 from the actual start (day 147); the failure itself (PMD day 150) is not a PFS-2 event:
    # the next PMD (day 300) is
    assert s["pd2_date"] == day(300) and (s["pfs2_days"], s["pfs2_event"]) == (300 - 147, True)
    assert s["post_best_response"] == "PR"  # PMR day 240, before the second progression
    # the treatment still ends the CAR T response window (CMR days 30 and 91 before it)
    assert s["best_response"] == "CR"


def test_treatment_too_early_or_while_still_assessed_is_a_pre_failure_treatment():
    r = rows(derive("window"))
    c, a = r["W_consol"], r["W_assessed"]
    # ISRT on day 60, failure on day 200: more than 30 days before -> consolidation, not salvage
    assert c["pre_failure_treatment"] is True and c["pre_failure_regimens"] == "ISRT"
    assert (c["tx_regimen"], c["tx_gap_days"]) == ("R-ICE", 10)
    assert c["best_response"] == "CR"  # the CAR T window ends at ISRT (day 60): CMR on day 30
    # lenalidomide on day 100 is within 30 days of the PD (day 125), but the patient was assessed after
    # it (SD on day 120): not a salvage treatment
    assert a["pre_failure_treatment"] is True and a["pre_failure_regimens"] == "lenalidomide"
    assert a["tx_status"] == "untreated" and a["tx_date"] is None


def test_window_zero_is_the_rule_before_issue_10():
    r = rows(derive("window", failure_treatment_window_days=0))
    s = r["W_salvage"]
    # on or after the failure date only: R-GemOx (day 147) is before it -> untreated (250 days followed)
    assert (s["tx_status"], s["pre_failure_treatment"], s["pre_failure_regimens"]) == ("untreated", True, "R-GemOx")
    assert r["W_assessed"]["tx_status"] == "untreated"


# --- rule 3: PFS censored at the last disease assessment ----------------------------------------------


def test_pfs2_is_censored_at_the_last_assessment_and_a_death_is_an_event():
    r = rows(derive("censoring"))
    # R-ICE on day 160; CMR on day 250 is the last assessment; last contact day 900
    assert (r["C_cens"]["pfs2_days"], r["C_cens"]["pfs2_event"]) == (250 - 160, False)
    # last assessment day 200, death day 500: the death is the event, at its date
    assert (r["C_death"]["pfs2_days"], r["C_death"]["pfs2_event"]) == (500 - 160, True)
    # no assessment after the start: censored at the start
    assert (r["C_noscan"]["pfs2_days"], r["C_noscan"]["pfs2_event"]) == (0, False)
    # OS is censored at the last contact, as before
    assert (r["C_cens"]["os2_treated_days"], r["C_cens"]["os2_treated_event"]) == (900 - 160, False)
    assert (r["C_cens"]["os2_days"], r["C_cens"]["os2_event"]) == (900 - 150, False)


def test_failure_incidence_is_censored_at_the_last_adequate_assessment():
    r = rows(derive("censoring"))
    # CMR day 180 is the last adequate assessment (NE day 300 is not one); last contact day 700
    assert (r["C_nofail"]["cif_days"], r["C_nofail"]["cif_status"]) == (180, 0)
    assert r["C_nofail"]["last_assessment_date"] == day(180)
    assert (r["C_nofail"]["os_days"], r["C_nofail"]["os_event"]) == (700, False)
    # a death without failure is a competing event at its date, whatever the last assessment
    assert (r["C_nofail_dead"]["cif_days"], r["C_nofail_dead"]["cif_status"]) == (400, 2)
    # never assessed: censored at the infusion
    assert (r["C_nofail_noscan"]["cif_days"], r["C_nofail_noscan"]["cif_status"]) == (0, 0)


def test_last_contact_censoring_is_the_rule_before_issue_10():
    r = rows(derive("censoring", pfs_censoring="last-contact"))
    assert (r["C_cens"]["pfs2_days"], r["C_noscan"]["pfs2_days"]) == (900 - 160, 400 - 160)
    assert (r["C_nofail"]["cif_days"], r["C_nofail_noscan"]["cif_days"]) == (700, 300)
    assert (r["C_death"]["pfs2_days"], r["C_nofail_dead"]["cif_days"]) == (340, 400)


# --- rule 4: a lymphoma death without a recorded progression is a failure ----------------------------


def test_lymphoma_death_without_progression_is_a_failure_on_the_death_date():
    r = rows(derive("lymphoma"))
    d = r["L_death"]
    assert (d["failed"], d["failure_by_lymphoma_death"], d["ttf_days"], d["late"]) == (True, True, 200, True)
    assert d["failure_type"] == "progression"  # counted as progression (no relapse recorded)
    assert (d["cif_days"], d["cif_status"]) == (200, 1)
    assert (d["os2_days"], d["os2_event"], d["tx_status"]) == (0, True, "untreated")
    assert d["best_response"] == "CR"
    # R-GemOx on day 180, 20 days before the lymphoma death, after the last assessment (day 91): treated
    t = r["L_treated"]
    assert (t["tx_status"], t["tx_gap_days"], t["pfs2_days"], t["pfs2_event"]) == ("treated", -20, 20, True)
    # a recorded PD is the failure; an infection death is not a failure
    assert (r["L_pd"]["ttf_days"], r["L_pd"]["failure_by_lymphoma_death"]) == (100, False)
    assert (r["L_infection"]["failed"], r["L_infection"]["cif_status"]) == (False, 2)


def test_no_lymphoma_death_as_failure_is_the_rule_before_issue_10():
    r = rows(derive("lymphoma", lymphoma_death_as_failure=False))
    assert (r["L_death"]["failed"], r["L_death"]["cif_status"], r["L_death"]["cif_days"]) == (False, 2, 200)
    assert r["L_treated"]["failed"] is False and r["L_treated"]["tx_status"] is None
    assert r["L_pd"]["ttf_days"] == 100


# --- rule 5: a line of treatment, not a day ------------------------------------------------------------


def test_regimens_within_the_line_window_form_the_first_line():
    r = rows(derive("line"))
    g = r["N_rt_glofit"]
    # radiotherapy on day 95 then glofitamab on day 102: a bispecific line (radiotherapy as bridging)
    assert (g["tx_date"], g["tx_class"], g["tx_regimen"], g["tx_n_regimens"]) == (
        day(95), "bispecific", "glofitamab + radiotherapy", 2)
    assert g["next_tx_date"] is None and g["post_best_response"] == "CR"
    assert (r["N_edge"]["tx_class"], r["N_edge"]["tx_regimen"]) == ("bispecific", "R-ICE + glofitamab")  # day 14
    assert (r["N_out"]["tx_class"], r["N_out"]["next_tx_date"]) == ("chemotherapy", day(125))  # day 15


def test_line_window_zero_is_the_same_day_rule_before_issue_10():
    r = rows(derive("line", line_window_days=0))
    g = r["N_rt_glofit"]
    assert (g["tx_class"], g["tx_regimen"], g["next_tx_date"]) == ("radiotherapy", "radiotherapy", day(102))
    assert g["post_best_response"] is None  # the CMR (day 160) comes after glofitamab started
    assert r["N_edge"]["tx_class"] == "chemotherapy"


def test_bad_rule_parameters_are_user_errors():
    for bad in ({"failure_treatment_window_days": -1}, {"line_window_days": 1.5}, {"line_window_days": 10**9},
                {"pfs_censoring": "last-visit"}, {"lymphoma_death_as_failure": "yes"}, {"data_cutoff": "2020-01-01"},
                {"cutoff_rule": "drop"}):
        with pytest.raises(CartregError):
            EndpointRules(**bad)
    assert dataclasses.replace(EndpointRules(), line_window_days=0).line_window_days == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_invariants_on_random_registries(seed):
    from issue10_registry import random_registry

    for rules in (EndpointRules(), EndpointRules(failure_treatment_window_days=10, line_window_days=3,
                                                 data_cutoff=day(500))):
        rs = derive_endpoints(random_registry(seed), rules).patients.to_pylist()
        assert rs
        for r in rs:
            for col in ("pfs2_days", "os2_days", "os2_treated_days", "cif_days", "os_days"):
                assert r[col] is None or r[col] >= 0, (col, r)
            if r["tx_date"] is not None:
                assert r["tx_gap_days"] >= -rules.failure_treatment_window_days
                assert r["pfs2_days"] is not None and r["pre_failure_treatment"] is not None
            if r["pd2_date"] is not None:
                assert r["pd2_date"] > r["failure_date"] and r["pd2_date"] > r["tx_date"]
            if rules.data_cutoff is not None:
                for col in ("last_contact_date", "death_date", "failure_date", "tx_date", "pd2_date", "next_tx_date",
                            "last_assessment_date", "infusion_date"):
                    assert r[col] is None or r[col] <= rules.data_cutoff, (col, r)
            assert (r["failure_by_lymphoma_death"] is True) <= (r["death_cause"] == "lymphoma")
