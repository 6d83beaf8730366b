"""A [[survival]] and a [[cuminc]] block against R (scripts/r-reference/plan_blocks.R, survival 3.5 / cmprsk 2.2).

The input is the committed catalogue extract tests/fixtures/r/data/plan_infused.csv (synthetic registry,
800 patients, seed 13), so the comparison does not move when derivation rules change. Estimates at
1e-6 relative, P values at 1e-4 (the brief's tolerances; the values agree far closer).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from cartreg.study.plan import CumincBlock, PlanParams, SurvivalBlock
from cartreg.study.plan_run import Population, cuminc_block, survival_block

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "r"
R = json.loads((FIX / "plan_blocks.json").read_text())


@pytest.fixture(scope="module")
def pop():
    opts = pacsv.ConvertOptions(strings_can_be_null=True)
    return Population(pacsv.read_csv(FIX / "data" / "plan_infused.csv", convert_options=opts))


def est(a, b):
    if b is None:
        assert a is None
    else:
        assert a == pytest.approx(b, rel=1e-6)


def test_survival_block_matches_r(pop):
    b = SurvivalBlock(endpoint="os_infusion", by="product", reference="axi-cel", landmarks_months=(6, 12, 24),
                      adjust=("age", "ecog", "ldh_elevated"))
    blk, _ = survival_block(pop, b, PlanParams(), "t")
    r = R["survival_block"]
    assert list(blk["groups"]) == list(r["groups"])
    for lv, rg in r["groups"].items():
        g = blk["groups"][lv]
        assert (g["n"], g["events"]) == (rg["n"], rg["events"])
        est(g["median"], rg["median"]); est(g["ci"][0], rg["lower"]); est(g["ci"][1], rg["upper"])
        for i, lm in enumerate(g["landmarks"]):
            est(lm["est"], rg["surv"][i]); est(lm["ci"][0], rg["surv_lower"][i]); est(lm["ci"][1], rg["surv_upper"][i])
            assert lm["n_risk"] == rg["n_risk"][i]
    est(blk["logrank"]["chi2"], r["logrank_chi2"])
    assert blk["logrank"]["p"] == pytest.approx(r["logrank_p"], abs=1e-4) and blk["logrank"]["df"] == r["logrank_df"]
    for key in ("cox", "adjusted"):
        hr = blk[key]["tisa-cel"]
        est(hr["hr"], r[key]["hr"][0]); est(hr["ci"][0], r[key]["lower"][0]); est(hr["ci"][1], r[key]["upper"][0])
        assert hr["p"] == pytest.approx(r[key]["p"][0], abs=1e-4)
    assert (blk["adjusted_model"]["n"], blk["adjusted_model"]["events"]) == (r["adjusted"]["n"], r["adjusted"]["events"])


def test_cuminc_block_matches_r(pop):
    b = CumincBlock(endpoint="relapse_nrm", by="product", times_months=(3, 6, 12))
    blk, _ = cuminc_block(pop, b, PlanParams(), "t")
    names = {"1": "relapse", "2": "nrm"}
    for key, rc in R["cuminc_block"]["curves"].items():
        lv, cause = key.rsplit(" ", 1)
        rows = blk["groups"][lv][names[cause]]
        for i, row in enumerate(rows):
            est(row["est"], rc["est"][i]); est(row["ci"][0], rc["lower"][i]); est(row["ci"][1], rc["upper"][i])
    for cause, g in R["cuminc_block"]["gray"].items():
        got = blk["gray"][names[cause]]
        est(got["chi2"], g["stat"])
        assert got["p"] == pytest.approx(g["p"], abs=1e-4) and got["df"] == g["df"]


def test_cox_model_block_matches_r(pop):
    from cartreg.study.plan import ModelBlock
    from cartreg.study.plan_run import model_block

    b = ModelBlock(model="cox", outcome="pfs_infusion", covariates=("age", "product", "ldh_elevated"))
    blk, _ = model_block(pop, b, PlanParams(), "t")
    r = R["model_block"]
    assert (blk["n"], blk["events"]) == (r["n"], r["events"])
    terms = {t["variable"]: t for t in blk["terms"]}
    rows = [terms["age"]["rows"][0], terms["product"]["rows"][1], terms["ldh_elevated"]["rows"][1]]
    assert terms["product"]["rows"][0] == {"level": "axi-cel", "reference": True}
    assert terms["ldh_elevated"]["rows"][0] == {"level": "no", "reference": True}
    for j, row in enumerate(rows):
        est(row["hr"], r["hr"][j]); est(row["ci"][0], r["lower"][j]); est(row["ci"][1], r["upper"][j])
        assert row["p"] == pytest.approx(r["p"][j], abs=1e-4)
    for j, var in enumerate(r["drop1_vars"]):
        g = terms[var]["global"]
        est(g["chi2"], r["drop1_chi2"][j])
        assert g["p"] == pytest.approx(r["drop1_p"][j], abs=1e-4) and g["df"] == 1
