"""Exactness: the federated study equals ``cartreg analyze`` on the union of the registries."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from helpers import local_transport, settings

from cartreg.endpoints import DAYS_PER_MONTH, derive_endpoints, load_class_map
from cartreg.federated.central import FederatedOptions, federated_cox, run_federated
from cartreg.registry import read_registry
from cartreg.stats import cox_zph, coxph
from cartreg.stats.design import design_matrix
from cartreg.study import analyze, jsonable
from cartreg.study import late_failure as lf
from cartreg.study.params import LateFailureParams

#: keys the federated analysis cannot give as analyze does (documented in docs/federated.md)
NOT_COMPARED = {"meta", "federated"}
PARAMS_NOT_COMPARED = {"data_cutoff", "data_cutoff_inferred"}  # per registry (federated.n)


def compare(fed, ref, path="", out=None, rtol=1e-9):
    """Every difference between two results dicts: ints and texts exactly, floats to rtol."""
    out = [] if out is None else out
    if isinstance(ref, dict):
        if not isinstance(fed, dict):
            out.append((path, fed, ref))
            return out
        for k in set(fed) | set(ref):
            if k in NOT_COMPARED or (path == "/parameters" and k in PARAMS_NOT_COMPARED):
                continue
            if k not in fed or k not in ref:
                out.append((f"{path}/{k}", fed.get(k, "<absent>"), ref.get(k, "<absent>")))
                continue
            compare(fed[k], ref[k], f"{path}/{k}", out, rtol)
    elif isinstance(ref, list):
        if not isinstance(fed, list) or len(fed) != len(ref):
            out.append((path, fed, ref))
        else:
            for i, (a, b) in enumerate(zip(fed, ref)):
                compare(a, b, f"{path}[{i}]", out, rtol)
    elif isinstance(ref, float) and isinstance(fed, float):
        if abs(fed - ref) > rtol * max(1.0, abs(ref)):
            out.append((path, fed, ref))
    elif type(fed) is not type(ref) or fed != ref:
        out.append((path, fed, ref))
    return out


def permissive(tmp: Path, n: int = 3):
    return [settings(tmp, k, allow_day_grid=True, allow_pooled_risk_sets=True) for k in range(n)]


def test_day_grid_pooled_equals_analyze_on_union(split, full_registry, tmp_path):
    run = run_federated(local_transport(split, permissive(tmp_path)),
                        FederatedOptions(grid="day", pooled_risk_sets=True))
    ref = analyze(read_registry(full_registry))
    diffs = compare(run.results, ref)
    assert diffs == []
    # the comparison is not vacuous: counts, KM, Gray/log-rank and Cox are all there
    late = run.results["late"]
    assert run.results["cohort"]["infused"] == ref["cohort"]["infused"] == 600
    assert late["logrank"]["pfs2"]["chi2"] == pytest.approx(ref["late"]["logrank"]["pfs2"]["chi2"], rel=1e-9)
    assert any(v["pfs2_hr"] for v in late["by_class"].values())
    assert run.results["federated"]["registries"] == 3
    assert sum(x["infused"] for x in run.results["federated"]["n"]) == 600


def test_events_are_tied_across_nodes(split):
    """The splits have event times shared by several registries (the pooled risk sets matter)."""
    sets = []
    for d in split:
        c = lf.Columns(derive_endpoints(read_registry(d).con).patients)
        ev = c.flag("os_event")[0]
        sets.append(set(c.num("os_days")[ev].tolist()))
    assert len((sets[0] & sets[1]) | (sets[0] & sets[2]) | (sets[1] & sets[2])) >= 5


def _stratified_union(split, endpoint: str, grid_days: float):
    days_col, ev_col = {"pfs2": ("pfs2_days", "pfs2_event"), "os2": ("os2_treated_days", "os2_treated_event")}[endpoint]
    parts = []
    for k, d in enumerate(split):
        c = lf.Columns(derive_endpoints(read_registry(d).con).patients)
        tr = c.flag("late")[0] & c.eq("tx_status", "treated")
        parts.append((np.ceil(c.num(days_col)[tr] / grid_days) * grid_days, c.flag(ev_col)[0][tr],
                      c.text("tx_class")[tr], np.full(int(tr.sum()), k)))
    t, e, g, s = (np.concatenate(x) for x in zip(*parts))
    # the classes compared (issue 10 rule 7: min_class_size, 'other' described only), with events
    study = lf.classes_of_study(load_class_map(), "chemotherapy")
    compared, _ = lf.compared_classes({cl: int((g == cl).sum()) for cl in study}, LateFailureParams().min_class_size)
    keep = np.isin(g, [cl for cl in compared if e[g == cl].sum() > 0])
    X, names = design_matrix(g[keep], "chemotherapy", numeric={}, group_name="class")
    fit = coxph(t[keep], e[keep], X, names, strata=s[keep])
    return fit, (t[keep], e[keep], X, s[keep])


@pytest.mark.parametrize("grid,width", [("day", 1.0), ("month", DAYS_PER_MONTH)])
def test_stratified_cox_equals_cox_stratified_by_registry(split, tmp_path, grid, width):
    run = run_federated(local_transport(split, permissive(tmp_path)), FederatedOptions(grid=grid))
    assert run.results["federated"]["cox"] == "stratified by registry"
    for endpoint, key in (("pfs2", "pfs2_hr"), ("os2", "os2_hr")):
        fit, data = _stratified_union(split, endpoint, width)
        assert fit.converged
        checked = 0
        for j, (name, hr, lo, hi, p) in enumerate(zip(fit.names, fit.hr, fit.ci_lower, fit.ci_upper, fit.p)):
            got = run.results["late"]["by_class"][name.split("=", 1)[1]][key]
            if fit.infinite[j]:
                assert got is None  # as blocks.cox_vs_reference: an infinite HR is not reported
                continue
            if fit.aliased[j]:  # NA in R: reported with null values, and a note, as analyze does
                assert got == {"hr": None, "ci": [None, None], "p": None}
                assert any(name in n and "collinear" in n for n in run.results["late"]["hr_notes"][endpoint])
                continue
            assert got["hr"] == pytest.approx(hr, rel=1e-9)
            assert got["ci"] == pytest.approx([lo, hi], rel=1e-9)
            assert got["p"] == pytest.approx(p, rel=1e-7, abs=1e-12)
            checked += 1
        assert checked >= 3
        # the proportional-hazards test: R's cox.zph of the stratified fit on the union (per-node sums)
        ph = run.results["late"]["ph_test"][endpoint]
        ref = cox_zph(fit, *data[:3], strata=data[3]).to_dict()
        assert ph["df"] == ref["df"] and ph["terms"]["class"]["df"] == ref["terms"]["class"]["df"]
        assert ph["chisq"] == pytest.approx(ref["chisq"], rel=1e-9)
        assert ph["p"] == pytest.approx(ref["p"], rel=1e-7, abs=1e-12)
        assert ph["terms"]["class"]["chisq"] == pytest.approx(ref["terms"]["class"]["chisq"], rel=1e-9)


def _coarsened_derive(width: float):
    real = lf.derive_endpoints

    def derive(con, rules, class_map):
        ep = real(con, rules, class_map)
        t = ep.patients
        for col in ("ttf_days", "cif_days", "pfs2_days", "os2_days", "os2_treated_days", "tx_gap_days"):
            v = lf.Columns(t).num(col)
            t = t.set_column(t.column_names.index(col), col, pa.array(np.ceil(v / width) * width, from_pandas=True))
        return dataclasses.replace(ep, patients=t)  # every other field (after_cutoff...) as derived

    return derive


@pytest.mark.parametrize("grid,width", [("month", DAYS_PER_MONTH), ("week", 7.0)])
def test_coarse_grid_equals_analyze_on_coarsened_union(split, full_registry, tmp_path, monkeypatch, grid, width):
    run = run_federated(local_transport(split, permissive(tmp_path)),
                        FederatedOptions(grid=grid, pooled_risk_sets=True))
    exact = analyze(read_registry(full_registry))
    monkeypatch.setattr(lf, "derive_endpoints", _coarsened_derive(width))
    reg = read_registry(full_registry)  # run as analyze runs it: with the registry's data cut-off
    ref, _ = lf.run(reg.con, LateFailureParams(), data_cutoff=reg.metadata.data_cutoff)
    ref = jsonable(ref)
    diffs = compare(run.results, ref)
    # the sensitivity counts use the exact time to failure at each node, not the grid
    assert [d for d in diffs if not d[0].startswith("/failures/sensitivity")] == []
    assert run.results["failures"]["sensitivity"] == exact["failures"]["sensitivity"]
    # heavy ties: on this grid many event times are shared by several patients
    curve = run.results["late"]["curves"]["os2"]["overall"]
    assert max(curve["n_event"]) >= 3


def test_federated_cox_shares_the_newton_loop_with_coxph():
    """One node's evaluations through federated_cox give coxph's fit exactly (same loop, same rules)."""
    rng = np.random.default_rng(3)
    t = rng.integers(1, 20, 200).astype(float)  # heavy ties
    e = rng.random(200) < 0.7
    g = rng.choice(np.array(["a", "b", "c"], dtype=object), 200)
    X, names = design_matrix(g, "a", numeric={}, group_name="g")
    ref = coxph(t, e, X, names)
    from cartreg.stats import cox as _cox

    order = _cox._sort_rows(t, e.astype(np.int8), None)
    data = _cox._prepare(t[order], e.astype(np.int8)[order], None, np.ascontiguousarray(X[order].T), "efron")
    calls = []

    def nodes(beta):
        calls.append(beta.copy())
        half = _cox._evaluate(data, beta)
        return [half]

    fit = federated_cox(nodes, names, 200, int(e.sum()), 1, 0.95)
    np.testing.assert_allclose(fit.coef, ref.coef, rtol=1e-12)
    np.testing.assert_allclose(fit.var, ref.var, rtol=1e-12)
    assert fit.loglik == pytest.approx(ref.loglik, rel=1e-14) and fit.iterations == ref.iterations
    assert len(calls) == ref.iterations + 1


def test_values_off_the_agreed_resolution_are_flagged(plain_split, tmp_path):
    """A ferritin recorded with decimals cannot be exact on the 1 µg/L value grid: a warning says so."""
    import shutil

    import duckdb

    parts = []
    for k, d in enumerate(plain_split):
        dst = tmp_path / f"r{k}"
        shutil.copytree(d, dst)
        parts.append(dst)
    inf = parts[0] / "infusions.csv"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT * REPLACE (CASE WHEN ferritin_ug_l IS NOT NULL THEN CAST(CAST(ferritin_ug_l AS DOUBLE) + 0.5 AS VARCHAR) END AS ferritin_ug_l) "
                f"FROM read_csv(?, all_varchar=true)) TO '{tmp_path / 'x.csv'}' (HEADER)", [str(inf)])
    shutil.move(tmp_path / "x.csv", inf)
    run = run_federated(local_transport(parts, permissive(tmp_path)), FederatedOptions())
    msgs = [w["message"] for w in run.results["warnings"] if w["kind"] == "federated"]
    assert any("of ferritin_ug_l are not multiples of 1" in m for m in msgs), msgs
    assert not any("crp_mg_dl" in m for m in msgs)


def test_data_freeze_equals_analyze_on_union(plain_split, full_plain, tmp_path):
    """Registries imported with a data cut-off (issue 10 rule 1): each node derives at its freeze, as
    analyze does, and ``ignored_records.after_cutoff`` and its warnings are the union's."""
    from cartreg.cli.main import main

    cut = "2021-06-30"
    dbs = []
    for k, d in enumerate([*plain_split, full_plain]):
        db = tmp_path / f"r{k}.duckdb"
        assert main(["import", str(d), "-o", str(db), "--cutoff", cut]) == 0
        dbs.append(db)
    run = run_federated(local_transport(dbs[:3], permissive(tmp_path)),
                        FederatedOptions(grid="day", pooled_risk_sets=True))
    ref = analyze(read_registry(dbs[3]))
    assert compare(run.results, ref) == []
    after = run.results["ignored_records"]["after_cutoff"]
    assert after == ref["ignored_records"]["after_cutoff"]
    assert after["infused_after_cutoff"] > 0 and after["last_contacts_truncated"] > 0  # the freeze bites
    assert run.results["parameters"]["data_cutoff"] == cut
    assert any(w["kind"] == "after_cutoff" and w["message"].startswith(f"data cut-off {cut}:")
               for w in run.results["warnings"])
