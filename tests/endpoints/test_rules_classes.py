"""Rule 6 of issue 10 (docs/endpoints.md, *Rules 6-8*): adc, cellular and `none` classes, on tiny
registries whose answers are worked out by hand."""

from __future__ import annotations

from pathlib import Path

from cartreg.endpoints import EndpointRules, derive_endpoints, load_class_map
from cartreg.endpoints.treatment_classes import PRECEDENCE_BEFORE_ISSUE_10

from tiny_registry import build, infusion, patient, resp, tx

OLD_MAP = Path(__file__).resolve().parents[1] / "fixtures" / "classes" / "treatment_classes_before_issue10.csv"


def rows(ep) -> dict[str, dict]:
    return {r["patient_id"]: r for r in ep.patients.to_pylist()}


def _registry():
    # every patient fails (PMD) on day 200, after a PMR on day 30
    ids = ["steroid", "bsc_then_gemox", "pola", "allo", "glofit_allo", "steroid_short"]
    last = {"steroid_short": 210}
    return build(
        patients=[patient(p, last.get(p, 500)) for p in ids],
        infusions=[infusion(p) for p in ids],
        responses=[r for p in ids for r in (resp(p, 30, "PMR"), resp(p, 200, "PMD"))] + [resp("steroid", 150, "CMR")],
        treatments=[
            tx("steroid", 100, "Dexamethasone"),                       # before failure: not a treatment either
            tx("steroid", 205, "Dexamethasone"),                       # not a treatment: untreated
            tx("bsc_then_gemox", 205, "Best supportive care"),
            tx("bsc_then_gemox", 240, "R-GemOx"),                      # the first real treatment
            tx("pola", 210, "Pola-BR"),
            tx("allo", 260, "allo-SCT"),
            tx("glofit_allo", 220, "glofitamab"), tx("glofit_allo", 220, "Allo-HSCT"),
            tx("steroid_short", 205, "prednisone"),                    # followed 10 days after failure
        ],
    )


def test_none_entries_are_no_treatment_and_new_classes():
    ep = derive_endpoints(_registry())
    r = rows(ep)
    assert (r["steroid"]["tx_status"], r["steroid"]["tx_class"], r["steroid"]["tx_date"]) == ("untreated", None, None)
    assert r["steroid_short"]["tx_status"] == "unknown"  # 10 days < 30 days of follow-up after failure
    assert (r["bsc_then_gemox"]["tx_class"], r["bsc_then_gemox"]["tx_gap_days"]) == ("chemotherapy", 40)
    assert r["bsc_then_gemox"]["tx_regimen"] == "R-GemOx"
    assert r["pola"]["tx_class"] == "adc"
    assert (r["allo"]["tx_class"], r["allo"]["tx_gap_days"]) == ("cellular", 60)
    assert r["glofit_allo"]["tx_class"] == "bispecific"  # bispecific > cellular
    assert r["glofit_allo"]["tx_regimen"] == "Allo-HSCT + glofitamab"
    # a none entry does not end the CAR T response window: the CMR of day 150 counts (relapse)
    assert (r["steroid"]["best_response"], r["steroid"]["failure_type"]) == ("CR", "relapse")
    # still listed among the regimens, with class none (for the report's note)
    regs = {x["regimen"]: x["class"] for x in ep.regimens.to_pylist()}
    assert regs["Dexamethasone"] == "none" and regs["Best supportive care"] == "none"


def test_todays_class_map_gives_todays_answers():
    rules = EndpointRules(class_precedence=PRECEDENCE_BEFORE_ISSUE_10)
    r = rows(derive_endpoints(_registry(), rules, load_class_map(OLD_MAP)))
    assert (r["steroid"]["tx_status"], r["steroid"]["tx_class"]) == ("treated", "other")
    assert r["steroid"]["best_response"] == "PR"  # dexamethasone on day 100 ended the window
    assert (r["bsc_then_gemox"]["tx_class"], r["bsc_then_gemox"]["tx_gap_days"]) == ("other", 5)
    assert r["pola"]["tx_class"] == "chemotherapy"
    assert r["allo"]["tx_class"] == "other"
