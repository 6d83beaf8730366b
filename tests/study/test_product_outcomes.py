"""The second plan (outcomes from infusion by product) reuses endpoints and blocks: a new plan, no new plumbing."""

from __future__ import annotations

import pytest

from cartreg.errors import CartregError
from cartreg.study import STUDIES, analyze, resolve_params
from cartreg.study.product_outcomes import ProductOutcomesParams
from tests_study_registry import registry


def test_plans_are_registered():
    assert sorted(STUDIES) == ["late-failure", "product-outcomes"]


def test_by_product_counts_and_events():
    res = analyze(registry(), "product-outcomes")
    bp = res["by_product"]
    assert {k: v["n"] for k, v in bp.items()} == {"axi-cel": 6, "tisa-cel": 2, "unknown": 1}
    # deaths among infused: P2, P5, P10 (axi-cel, axi-cel, unknown)
    assert (bp["axi-cel"]["os"]["events"], bp["unknown"]["os"]["events"]) == (2, 1)
    # PFS from infusion: failure or death; axi-cel: P1 P2 P5 P6 P7 fail, P8 censored
    assert bp["axi-cel"]["pfs"]["events"] == 5 and bp["tisa-cel"]["pfs"]["events"] == 2
    assert bp["axi-cel"]["reference"] is True and bp["axi-cel"]["os_hr"] is None
    # issue 10, rule 8: the unknown product is counted and described, not a level of the comparisons
    assert res["cohort"]["products"]["unknown"] == 1 and bp["unknown"]["compared"] is False
    assert res["logrank"]["os"]["df"] == 1 and res["logrank"]["os"]["groups"] == ["axi-cel", "tisa-cel"]
    assert bp["unknown"]["os_hr"] is None and bp["tisa-cel"]["compared"] is True
    assert any(w["kind"] == "product_unknown" and w["n"] == 1 for w in res["warnings"])


def test_unknown_product_compared_as_before_when_asked():
    p = ProductOutcomesParams(compare_unknown_product=True)
    res = analyze(registry(), "product-outcomes", params=p)
    assert res["logrank"]["os"]["df"] == 2 and res["by_product"]["unknown"]["compared"] is True
    with pytest.raises(CartregError, match="compare_unknown_product"):
        ProductOutcomesParams(compare_unknown_product="yes")


def test_parameters_are_the_plans_own():
    p = resolve_params(overrides={"landmark_months": 24}, study="product-outcomes", params_type=ProductOutcomesParams)
    assert p.landmark_months == 24.0
    with pytest.raises(CartregError, match="does not apply"):
        resolve_params(overrides={"late_after_days": 90}, study="product-outcomes", params_type=ProductOutcomesParams)


def test_pfs_censored_at_the_last_assessment_unless_last_contact_is_asked():
    from cartreg.study import run_study

    def p8(**overrides):
        params = resolve_params(overrides=overrides, study="product-outcomes", params_type=ProductOutcomesParams)
        rows = run_study(registry(), "product-outcomes", params).endpoints.patients.to_pylist()
        return next((r["cif_days"], r["cif_status"]) for r in rows if r["patient_id"] == "P8")

    # P8: no failure, CMR on day 30, last contact day 600 (issue 10 rule 3)
    assert p8() == (30, 0) and p8(pfs_censoring="last-contact") == (600, 0)
    with pytest.raises(CartregError):
        resolve_params(overrides={"pfs_censoring": "never"}, study="product-outcomes", params_type=ProductOutcomesParams)
