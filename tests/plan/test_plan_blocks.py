"""Plan blocks equal direct calls of the estimators on the catalogue columns (counts exact, estimates 1e-12)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cartreg.endpoints import DAYS_PER_MONTH, derive_endpoints
from cartreg.endpoints.catalogue import build_catalogue
from cartreg.errors import CartregError
from cartreg.stats import coxph, cuminc, design_matrix, kaplan_meier, logrank_test
from cartreg.study import analyze_plan
from cartreg.study.plan import parse_plan_text
from plan.conftest import Reg, connect

PLAN = '''
[study]
name = "mine"
population = "infused"
[parameters]
conf_type = "log"
conf_level = 0.9
[[survival]]
endpoint = "os_infusion"
by = "product"
reference = "axi-cel"
landmarks_months = [6, 12, 24]
adjust = ["age", "ecog", "ldh_elevated"]
[[cuminc]]
endpoint = "relapse_nrm"
by = "product"
times_months = [3, 6, 12]
[[model]]
kind = "cox"
outcome = "pfs_infusion"
covariates = ["age", "bridging", "ldh_elevated"]
[[survival]]
endpoint = "pfs2"
where = "late and treated_after_failure"
landmarks_months = [6]
'''

RTOL = 1e-12


def close(a, b, rtol=RTOL):
    if a is None or b is None:
        assert a is None and (b is None or not np.isfinite(b)), (a, b)
        return
    assert a == pytest.approx(float(b), rel=rtol, abs=1e-14)


@pytest.fixture(scope="module")
def run(synth_reg):
    plan = parse_plan_text(PLAN, "mine.toml")
    res = analyze_plan(synth_reg, plan)
    con = connect()
    cat = build_catalogue(con, derive_endpoints(con, plan.parameters.rules())).table.to_pylist()
    return res, cat


def cols(cat, *names, where=lambda r: r["infused"]):
    rows = [r for r in cat if where(r)]
    return [np.array([r[n] for r in rows], dtype=object) for n in names]


def test_cohort_counts(run):
    res, cat = run
    assert res["cohort"]["registered"] == len(cat)
    assert res["cohort"]["infused"] == res["cohort"]["n"] == sum(r["infused"] for r in cat)
    assert sum(res["cohort"]["not_infused"].values()) == len(cat) - res["cohort"]["infused"]
    assert [b["kind"] for b in res["blocks"]] == ["survival", "cuminc", "model", "survival"]


def test_survival_block_equals_direct_estimators(run):
    res, cat = run
    blk = res["blocks"][0]
    assert set(blk) >= {"kind", "endpoint", "by", "groups", "logrank", "cox", "adjusted"}
    d, e, g, age, ecog, ldh = cols(cat, "os_infusion_days", "os_infusion_event", "product", "age", "ecog", "ldh_elevated",
                                   where=lambda r: r["infused"] and r["product"] is not None)
    assert blk["excluded"]["missing_by"] == sum(r["infused"] and r["product"] is None for r in cat) > 0
    d, e = d.astype(float), e.astype(bool)
    levels = sorted(set(g.tolist()))
    assert list(blk["groups"]) == levels
    for lv in levels:
        m = g == lv
        km = kaplan_meier(d[m], e[m], conf_type="log", conf_level=0.9)
        got = blk["groups"][lv]
        assert (got["n"], got["events"]) == (int(m.sum()), int(e[m].sum()))
        close(got["median"], None if km.median is None or not np.isfinite(km.median) else km.median / DAYS_PER_MONTH)
        s = km.at([6 * DAYS_PER_MONTH, 12 * DAYS_PER_MONTH, 24 * DAYS_PER_MONTH])
        for i, lm in enumerate(got["landmarks"]):
            close(lm["est"], s.surv[i]); close(lm["ci"][0], s.lower[i]); close(lm["ci"][1], s.upper[i])
            assert lm["n_risk"] == s.n_risk[i] and lm["months"] == [6, 12, 24][i]
    lr = logrank_test(d, e, g)
    close(blk["logrank"]["chi2"], lr.chi2); close(blk["logrank"]["p"], lr.p)
    assert blk["logrank"]["df"] == len(levels) - 1
    X, names = design_matrix(g, "axi-cel", numeric={}, group_name="product")
    fit = coxph(d, e, X, names, ties="efron", conf_level=0.9)
    for j, name in enumerate(names):
        lv = name.split("=")[1]
        close(blk["cox"][lv]["hr"], fit.hr[j]); close(blk["cox"][lv]["p"], fit.p[j])
        close(blk["cox"][lv]["ci"][0], fit.ci_lower[j]); close(blk["cox"][lv]["ci"][1], fit.ci_upper[j])
    num = {"age": np.array([np.nan if v is None else v for v in age], float), "ecog": np.array([np.nan if v is None else v for v in ecog], float),
           "ldh_elevated=yes": np.array([np.nan if v is None else float(v) for v in ldh], float)}
    X, names = design_matrix(g, "axi-cel", numeric=num, group_name="product")
    ok = ~np.isnan(X).any(axis=1)
    fit = coxph(d[ok], e[ok], X[ok], names, ties="efron", conf_level=0.9)
    for j, name in enumerate(names[: len(levels) - 1]):
        lv = name.split("=")[1]
        close(blk["adjusted"][lv]["hr"], fit.hr[j]); close(blk["adjusted"][lv]["p"], fit.p[j])
    assert blk["adjusted_model"]["n"] == int(ok.sum()) and blk["adjusted_model"]["excluded"] == int((~ok).sum()) + blk["excluded"]["missing_by"]


def test_cuminc_block_equals_direct_estimator(run):
    res, cat = run
    blk = res["blocks"][1]
    d, s, g = cols(cat, "relapse_nrm_days", "relapse_nrm_status", "product",
                   where=lambda r: r["infused"] and r["product"] is not None)
    fit = cuminc(d.astype(float), s.astype(int), g, conf_level=0.9)
    times = [m * DAYS_PER_MONTH for m in (3, 6, 12)]
    for lv in fit.groups:
        for code, name in (("1", "relapse"), ("2", "nrm")):
            a = fit.at(code, lv, times)
            for i, row in enumerate(blk["groups"][lv][name]):
                close(row["est"], a.est[i]); close(row["ci"][0], a.lower[i]); close(row["ci"][1], a.upper[i])
        assert blk["n"][lv] == int((g == lv).sum())
    for code, name in (("1", "relapse"), ("2", "nrm")):
        t = fit.gray[code]
        close(blk["gray"][name]["chi2"], t.stat); close(blk["gray"][name]["p"], t.p)
        assert blk["gray"][name]["df"] == t.df
    assert blk["finegray"] is None


def test_cox_model_block_has_reference_rows_and_global_p(run):
    res, cat = run
    blk = res["blocks"][2]
    d, e, age, br, ldh = cols(cat, "pfs_infusion_days", "pfs_infusion_event", "age", "bridging", "ldh_elevated")
    levels = sorted({v for v in br.tolist() if v is not None})
    X, names = design_matrix(br, levels[0], numeric={"age": age.astype(float)}, group_name="bridging")
    # plan order: age, bridging, ldh_elevated
    Xp = np.column_stack([X[:, -1], X[:, :-1], np.array([np.nan if v is None else float(v) for v in ldh])])
    ok = ~np.isnan(Xp).any(axis=1)
    fit = coxph(d[ok].astype(float), e[ok].astype(bool), Xp[ok], ["age", *names[:-1], "ldh"], ties="efron")
    assert (blk["n"], blk["events"]) == (fit.n, fit.events)
    by_var = {t["variable"]: t for t in blk["terms"]}
    assert by_var["bridging"]["rows"][0] == {"level": levels[0], "reference": True}
    close(by_var["age"]["rows"][0]["hr"], fit.hr[0])
    for j, lv in enumerate(levels[1:], start=1):
        row = by_var["bridging"]["rows"][j]
        assert row["level"] == lv
        close(row["hr"], fit.hr[j])
    # global P of bridging: LR test of dropping its columns
    keep = [0, Xp.shape[1] - 1]
    sub = coxph(d[ok].astype(float), e[ok].astype(bool), Xp[ok][:, keep], ["age", "ldh"], ties="efron")
    close(by_var["bridging"]["global"]["chi2"], 2 * (fit.loglik - sub.loglik), 1e-9)
    assert by_var["bridging"]["global"]["df"] == len(levels) - 1


def test_block_where_subsets_the_population(run):
    res, cat = run
    blk = res["blocks"][3]
    d, e = cols(cat, "pfs2_days", "pfs2_event", where=lambda r: r["late"] and r["treated_after_failure"])
    km = kaplan_meier(d.astype(float), e.astype(bool), conf_type="log", conf_level=0.9)
    assert blk["groups"]["overall"]["n"] == len(d) == blk["n_population"]
    assert blk["groups"]["overall"]["events"] == km.events
    assert blk["logrank"] is None and blk["cox"] is None


def test_unknown_reference_level_is_exit_2(synth_reg):
    plan = parse_plan_text('[study]\nname = "x"\n[[survival]]\nendpoint = "os_infusion"\nby = "product"\n'
                           'reference = "cilta-cel"\n', "x.toml")
    with pytest.raises(CartregError) as info:
        analyze_plan(synth_reg, plan)
    assert info.value.exit_code == 2
    assert "unknown level 'cilta-cel' of product; levels are axi-cel" in info.value.message


def test_table_and_logistic_blocks_say_what_they_need(synth_reg):
    import importlib.util

    if importlib.util.find_spec("cartreg.stats.compare") is not None:
        pytest.skip("cartreg.stats.compare is present")
    with pytest.raises(CartregError, match="block kind 'table' needs cartreg.stats.compare"):
        analyze_plan(synth_reg, "product-outcomes")


def test_a_block_that_cannot_be_fitted_is_kept_with_its_error(tmp_path):
    from cartreg.report.plan_report import write_plan_report
    from tests_study_registry import registry

    plan = parse_plan_text('[study]\nname = "x"\n[[model]]\nkind = "cox"\noutcome = "os_infusion"\n'
                           'covariates = ["ferritin_ug_l"]\n[[survival]]\nendpoint = "os_infusion"\n', "x.toml")
    res = analyze_plan(registry(), plan)  # no ferritin in this registry: no complete rows for the Cox model
    model, surv = res["blocks"]
    assert model == {"kind": "model", "title": "", "error": "no complete rows to fit the Cox model",
                     "outcome": "os_infusion", "model": "cox"}
    assert surv["groups"]["overall"]["n"] == 9  # the plan went on
    assert res["warnings"][0] == {"kind": "model", "block": 0, "message": "not computed: no complete rows to fit the Cox model"}
    write_plan_report(res, tmp_path, lang="fr")
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<div class="notice warn">Non calculé : no complete rows to fit the Cox model</div>' in html


def test_results_json_shapes_are_the_issue_contract(run):
    res, _ = run
    assert {"study", "parameters", "cohort", "blocks"} <= set(res)
    assert {"registered", "infused", "n"} <= set(res["cohort"])
    surv, cif, model, _ = res["blocks"]
    assert {"kind", "endpoint", "by", "groups", "logrank", "cox", "adjusted"} <= set(surv)
    for g in surv["groups"].values():
        assert set(g) == {"n", "events", "median", "ci", "landmarks"}
        assert all(set(lm) == {"months", "est", "ci", "n_risk"} for lm in g["landmarks"])
    assert set(surv["logrank"]) == {"chi2", "df", "p"}
    assert all(v is None or set(v) == {"hr", "ci", "p"} for v in surv["cox"].values())
    assert all(v is None or set(v) == {"hr", "ci", "p"} for v in surv["adjusted"].values())
    assert {"kind", "endpoint", "by", "groups", "gray", "finegray"} <= set(cif)
    for causes in cif["groups"].values():
        assert set(causes) == {"relapse", "nrm"}
        assert all(set(p) == {"months", "est", "ci"} for pts in causes.values() for p in pts)
    assert set(cif["gray"]) == {"relapse", "nrm"} and all(set(g) == {"chi2", "df", "p"} for g in cif["gray"].values())
    assert model["kind"] == "model" and model["model"] == "cox"
    json.dumps(res, allow_nan=False)  # plain JSON
