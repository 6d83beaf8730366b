"""Each derivation rule of docs/endpoints.md on a registry of a few patients, answers worked by hand."""

from __future__ import annotations

import pytest

from cartreg.endpoints import EndpointRules, derive_endpoints
from cartreg.errors import CartregError

from tiny_registry import build, infusion, patient, resp, tx


def rows(ep) -> dict[str, dict]:
    return {r["patient_id"]: r for r in ep.patients.to_pylist()}


def test_failure_day_91_is_early_and_day_92_is_late_at_default_cutoff():
    con = build(
        patients=[patient("a", 400), patient("b", 400)],
        infusions=[infusion("a"), infusion("b")],
        responses=[resp("a", 30, "PMR"), resp("a", 91, "PMD"), resp("b", 30, "PMR"), resp("b", 92, "PMD")],
    )
    r = rows(derive_endpoints(con))
    assert (r["a"]["ttf_days"], r["a"]["late"]) == (91, False)  # 91 <= 91.3125
    assert (r["b"]["ttf_days"], r["b"]["late"]) == (92, True)
    r90 = rows(derive_endpoints(con, EndpointRules(late_after_days=90)))
    assert r90["a"]["late"] is True and r90["b"]["late"] is True


def test_relapse_needs_a_complete_response_before_failure():
    con = build(
        patients=[patient("rel", 400), patient("prog", 400), patient("none", 400)],
        infusions=[infusion("rel"), infusion("prog"), infusion("none")],
        responses=[resp("rel", 30, "PMR"), resp("rel", 90, "CMR"), resp("rel", 200, "PMD"),
                   resp("prog", 30, "PR"), resp("prog", 90, "SD"), resp("prog", 150, "PD"),
                   resp("none", 30, "CR")],
    )
    r = rows(derive_endpoints(con))
    assert r["rel"]["failure_type"] == "relapse" and r["rel"]["best_response"] == "CR"
    assert r["prog"]["failure_type"] == "progression" and r["prog"]["best_response"] == "PR"
    assert r["none"]["failed"] is False and r["none"]["failure_type"] is None and r["none"]["late"] is None


def test_pd_and_cr_on_the_same_day_make_that_day_the_failure():
    con = build(
        patients=[patient("a", 400)],
        infusions=[infusion("a")],
        responses=[resp("a", 30, "PR"), resp("a", 120, "CR"), resp("a", 120, "PD")],
    )
    r = rows(derive_endpoints(con))["a"]
    assert r["ttf_days"] == 120
    # the CR on the failure date is neither a response to CAR T nor makes it a relapse
    assert r["best_response"] == "PR" and r["failure_type"] == "progression"


def test_treatment_on_the_failure_date_is_the_first_post_failure_treatment():
    con = build(
        patients=[patient("a", 400)],
        infusions=[infusion("a")],
        responses=[resp("a", 30, "CMR"), resp("a", 150, "PMD"), resp("a", 200, "PMR")],
        treatments=[tx("a", 150, "R-GemOx")],
    )
    r = rows(derive_endpoints(con))["a"]
    assert r["tx_status"] == "treated" and r["tx_gap_days"] == 0 and r["tx_class"] == "chemotherapy"
    assert r["post_best_response"] == "PR"


def test_two_regimens_starting_the_same_day_form_one_treatment_of_highest_precedence():
    con = build(
        patients=[patient("a", 400)],
        infusions=[infusion("a")],
        responses=[resp("a", 30, "CMR"), resp("a", 150, "PMD")],
        treatments=[tx("a", 160, "R-GemOx"), tx("a", 160, "glofitamab")],
    )
    r = rows(derive_endpoints(con))["a"]
    assert r["tx_class"] == "bispecific" and r["tx_regimen"] == "R-GemOx + glofitamab" and r["tx_n_regimens"] == 2
    r2 = rows(derive_endpoints(con, EndpointRules(class_precedence=("chemotherapy", "bispecific"))))["a"]
    assert r2["tx_class"] == "chemotherapy"


def test_treatment_between_infusion_and_failure_ends_the_car_t_window_only():
    con = build(
        patients=[patient("a", 400)],
        infusions=[infusion("a")],
        responses=[resp("a", 30, "PR"), resp("a", 90, "CR"), resp("a", 200, "PD")],
        treatments=[tx("a", 60, "radiotherapy"), tx("a", 210, "lenalidomide + rituximab")],
    )
    r = rows(derive_endpoints(con))["a"]
    # the CR at day 90 comes after the day-60 treatment: not a response to CAR T
    assert r["best_response"] == "PR"
    # ...but it still makes the failure a relapse (a CR after infusion and before failure)
    assert r["failure_type"] == "relapse"
    assert r["tx_date"].isoformat() == "2020-07-29" and r["tx_class"] == "IMiD" and r["tx_gap_days"] == 10


def test_unmapped_regimen_is_other_and_listed():
    con = build(
        patients=[patient("a", 400)],
        infusions=[infusion("a")],
        responses=[resp("a", 150, "PMD")],
        treatments=[tx("a", 155, "Experimental XYZ-123")],
    )
    ep = derive_endpoints(con)
    assert rows(ep)["a"]["tx_class"] == "other"
    assert ep.unmapped_regimens == [("Experimental XYZ-123", 1)]


def test_untreated_needs_death_or_enough_follow_up_otherwise_unknown():
    con = build(
        patients=[patient("dead", 160, death=160), patient("long", 180), patient("short", 179),
                  patient("edge", 149 + 30)],
        infusions=[infusion(p) for p in ("dead", "long", "short", "edge")],
        responses=[resp("dead", 150, "PMD"), resp("long", 150, "PMD"), resp("short", 151, "PMD"),
                   resp("edge", 149, "PMD")],
    )
    r = rows(derive_endpoints(con))
    assert r["dead"]["tx_status"] == "untreated"  # died 10 days after failure
    assert r["long"]["tx_status"] == "untreated"  # 30 days of follow-up
    assert r["short"]["tx_status"] == "unknown"  # 28 days
    assert r["edge"]["tx_status"] == "untreated"  # exactly 30
    r60 = rows(derive_endpoints(con, EndpointRules(min_untreated_followup_days=31)))
    assert r60["long"]["tx_status"] == "unknown" and r60["dead"]["tx_status"] == "untreated"


def test_patient_dead_before_any_assessment_is_a_competing_death_and_non_responder():
    con = build(
        patients=[patient("a", 20, death=20)],
        infusions=[infusion("a")],
        responses=[],
    )
    r = rows(derive_endpoints(con))["a"]
    assert r["failed"] is False and r["best_response"] is None
    assert (r["cif_status"], r["cif_days"]) == (2, 20)
    assert r["os2_days"] is None and r["tx_status"] is None


def test_pfs2_ends_at_progression_or_death_whichever_first():
    con = build(
        patients=[patient("prog", 400, death=400), patient("death", 260, death=260), patient("cens", 300)],
        infusions=[infusion(p) for p in ("prog", "death", "cens")],
        responses=[resp("prog", 150, "PMD"), resp("prog", 250, "PMD"),
                   resp("death", 150, "PMD"), resp("death", 200, "PMR"),
                   resp("cens", 150, "PMD"), resp("cens", 250, "CMR")],
        treatments=[tx("prog", 160, "glofitamab"), tx("death", 170, "R-ICE"), tx("cens", 165, "ISRT")],
    )
    r = rows(derive_endpoints(con))
    assert (r["prog"]["pfs2_days"], r["prog"]["pfs2_event"]) == (250 - 160, True)
    assert (r["prog"]["os2_days"], r["prog"]["os2_event"]) == (400 - 150, True)
    assert (r["prog"]["os2_treated_days"], r["prog"]["os2_treated_event"]) == (400 - 160, True)
    assert (r["death"]["pfs2_days"], r["death"]["pfs2_event"]) == (260 - 170, True)
    # censored at the last assessment (CMR on day 250; issue 10 rule 3), not at the last contact (day 300)
    assert (r["cens"]["pfs2_days"], r["cens"]["pfs2_event"]) == (250 - 165, False)
    rc = rows(derive_endpoints(con, EndpointRules(pfs_censoring="last-contact")))
    assert (rc["cens"]["pfs2_days"], rc["cens"]["pfs2_event"]) == (300 - 165, False)
    assert r["cens"]["post_best_response"] == "CR" and r["cens"]["tx_class"] == "radiotherapy"
    # measured from failure instead
    rf = rows(derive_endpoints(con, EndpointRules(treated_origin="failure")))
    assert rf["prog"]["pfs2_days"] == 250 - 150


def test_post_failure_response_window_stops_at_pd_and_at_a_different_later_treatment():
    con = build(
        patients=[patient("pd", 500), patient("switch", 500), patient("same", 500)],
        infusions=[infusion(p) for p in ("pd", "switch", "same")],
        responses=[resp("pd", 150, "PD"), resp("pd", 200, "SD"), resp("pd", 230, "PD"), resp("pd", 260, "CR"),
                   resp("switch", 150, "PD"), resp("switch", 200, "NE"), resp("switch", 260, "CR"),
                   resp("same", 150, "PD"), resp("same", 200, "NE"), resp("same", 260, "PR")],
        treatments=[tx("pd", 160, "R-GDP"), tx("pd", 240, "glofitamab"),
                    tx("switch", 160, "R-GDP"), tx("switch", 240, "glofitamab"),
                    tx("same", 160, "R-GDP"), tx("same", 190, "r gdp")],
    )
    r = rows(derive_endpoints(con))
    assert r["pd"]["post_best_response"] == "SD" and r["pd"]["pd2_date"].isoformat() == "2020-08-18"
    assert r["switch"]["post_best_response"] == "NE"  # the CR comes after glofitamab started
    assert r["same"]["post_best_response"] == "PR"  # the same regimen recorded again does not end the window


def test_records_on_or_before_infusion_are_ignored_and_counted():
    con = build(
        patients=[patient("a", 400), patient("noinf", 400)],
        infusions=[infusion("a")],
        responses=[resp("a", 0, "PD"), resp("a", -5, "PR"), resp("a", 100, "PMD"), resp("noinf", 50, "PD")],
        treatments=[tx("a", 0, "R-ICE"), tx("noinf", 60, "R-ICE")],
    )
    ep = derive_endpoints(con)
    assert rows(ep)["a"]["ttf_days"] == 100
    assert ep.ignored == {
        "responses_on_or_before_infusion": 2,
        "treatments_on_or_before_infusion": 1,
        "responses_of_patients_not_infused": 1,
        "treatments_of_patients_not_infused": 1,
    }
    assert ep.registered == 2 and ep.patients.num_rows == 1


def test_bad_rule_parameters_are_user_errors():
    with pytest.raises(CartregError):
        EndpointRules(late_after_days=-1)
    with pytest.raises(CartregError):
        EndpointRules(treated_origin="infusion")
    with pytest.raises(CartregError, match="unknown treatment class"):
        EndpointRules(class_precedence=("bispecific", "CAR-T"))
