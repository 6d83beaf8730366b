"""The adapter to the statistics issue's estimators (study/plan_stats.py), with test doubles.

``cartreg.stats.compare``, ``.logistic`` and ``.finegray`` are not part of this branch: these tests put
small doubles with the documented signatures in their place and check what the plan passes them (the
population's columns, flags as no/yes text, the outcome as 0/1, the column types) and that their JSON
reaches results.json and the report unchanged. The real estimators are checked against R in their
own tests.
"""

from __future__ import annotations

import sys
import types
from collections import Counter

import numpy as np
import pytest

from cartreg.report.plan_report import build_plan_tables
from cartreg.study import analyze_plan
from cartreg.study.plan import parse_plan_text
from tests_study_registry import registry

CALLS: dict[str, dict] = {}


class _R:
    def __init__(self, d):
        self.d = d

    def to_dict(self):
        return self.d


def _compare(data, by, variables=None, types=None):
    CALLS["compare"] = {"data": data, "by": by, "variables": variables, "types": types}
    g = np.asarray(data[by], dtype=object)
    levels = sorted({x for x in g.tolist() if x is not None})
    out = []
    for v in variables:
        x = np.asarray(data[v], dtype=object)
        if types[v] == "categorical":
            lv = sorted({str(a) for a in x.tolist() if a is not None})
            out.append({"name": v, "type": "categorical", "p": 0.0004, "smd": 0.251,
                        "notes": ["a note from the test"] if v == "product" else [], "levels": [
                {"level": level, "groups": [{"group": gg, "n": int(((g == gg) & (x == level)).sum()),
                                             "pct": 100.0 * ((g == gg) & (x == level)).sum() / max(((g == gg) & (x != None)).sum(), 1)}  # noqa: E711
                                            for gg in levels]} for level in lv]})
        else:
            xf = x.astype(float)
            out.append({"name": v, "type": "continuous", "p": 0.31, "smd": None, "summary": [
                {"group": gg, "n": int((g == gg).sum()), "median": float(np.nanmedian(xf[g == gg])),
                 "q1": float(np.nanpercentile(xf[g == gg], 25)), "q3": float(np.nanpercentile(xf[g == gg], 75))}
                for gg in levels]})
    return _R({"by": by, "groups": [{"level": gg, "n": int((g == gg).sum())} for gg in levels], "variables": out})


def _logistic(outcome, covariates, data, reference_levels=None, firth=False):
    CALLS.setdefault("logistic", {"outcome": outcome, "covariates": covariates, "data": data, "firth": firth})
    y = np.asarray(data[outcome], float)
    CALLS.setdefault("logistic_calls", []).append((list(covariates), len(y)))
    dev = 10.0 - 2.0 * len(covariates)  # the deviance falls by 2 per covariate: each LR chi-square is 2
    return _R({"n": int((~np.isnan(y)).sum()), "events": int(np.nansum(y)), "excluded": 0, "deviance": dev,
               "terms": [{"term": "(Intercept)", "or": 1.0, "ci": [0.5, 2.0], "p": 0.9},
                         {"term": "sex=M", "or": 2.5, "ci": [0.2, 31.4], "p": 0.0412},
                         {"term": "age", "or": 1.1, "ci": [0.9, 1.3], "p": 0.5}]})


@pytest.fixture
def fakes(monkeypatch):
    for name, fn in (("compare", _compare), ("logistic", _logistic)):
        mod = types.ModuleType(f"cartreg.stats.{name}")
        setattr(mod, name, fn)
        monkeypatch.setitem(sys.modules, f"cartreg.stats.{name}", mod)
    CALLS.clear()
    yield


PLAN = '''
[study]
name = "f"
population = "failed"
[[table]]
by = "late"
variables = ["age", "sex", "ecog", "product"]
[[model]]
kind = "logistic"
outcome = "late"
covariates = ["sex", "age"]
'''


def test_table_and_logistic_blocks_through_the_adapter(fakes):
    res = analyze_plan(registry(), parse_plan_text(PLAN, "f.toml"))
    c = CALLS["compare"]
    assert c["by"] == "late" and c["variables"] == ["age", "sex", "ecog", "product"]
    assert c["types"] == {"age": "continuous", "sex": "categorical", "ecog": "categorical", "product": "categorical"}
    assert Counter(c["data"]["late"].tolist()) == {"yes": 5, "no": 2}  # 7 failures: 5 late, 2 early
    lg = CALLS["logistic"]
    assert sorted(lg["data"]["late"].tolist()) == [0.0] * 2 + [1.0] * 5 and lg["covariates"] == ["sex", "age"]
    table, model = res["blocks"]
    assert table["kind"] == "table" and table["by"] == "late" and [g["level"] for g in table["groups"]] == ["no", "yes"]
    assert model["kind"] == "model" and model["model"] == "logistic" and model["events"] == 5
    t1, = build_plan_tables(res, "en")[0]
    assert t1.columns == ["Characteristic", "No (N=2)", "Yes (N=5)", "P", "SMD"]
    assert t1.cell("Sex", "P") == "<.001" and t1.cell("Sex", "SMD") == "0.25"
    assert t1.cell("Age, years", "P") == ".31"
    assert t1.footnotes[-1] == "Product: a note from the test"
    fr, = build_plan_tables(res, "fr")[0]
    assert fr.cell("Sexe", "P") == "<0,001" and fr.cell("homme", "Oui (N=5)").endswith(" %)")
    m, = build_plan_tables(res, "en")[1]
    assert m.columns == ["Characteristic", "OR (95% CI)", "P"]
    # tbl_regression layout: variable row with its global P, reference row, levels; no intercept
    assert m.rows == [["Sex", "", ".16"], ["female", "1 (reference)", ""], ["male", "2.50 (0.20-31.40)", ".04"],
                      ["Age, years", "1.10 (0.90-1.30)", ".50"]]
    # global P: the full model, then each reduced model, all on the same complete cases (6 failures with sex and age)
    assert CALLS["logistic_calls"] == [(["sex", "age"], 7), (["age"], 6), (["sex"], 6)]
    assert res["blocks"][1]["variables"][0] == {"variable": "sex", "type": "factor", "reference": "F",
                                                "levels": ["F", "M"], "global": {"chi2": 2.0, "df": 1,
                                                                                 "p": pytest.approx(0.1572992070502851)}}


def _finegray(time, status, X, names, cause=1, conf_level=0.95):
    CALLS.setdefault("finegray", []).append({"n": len(time), "names": list(names), "cause": cause, "X": X})
    k = len(names)
    return types.SimpleNamespace(cause=str(cause), n=len(time), excluded=0, events=int((status == cause).sum()),
                                 competing=int(((status != cause) & (status != 0)).sum()), converged=True,
                                 names=tuple(names), coef=np.zeros(k), se=np.ones(k), hr=np.ones(k),
                                 ci_lower=np.full(k, 0.5), ci_upper=np.full(k, 2.0), p=np.full(k, 0.5), warnings=())


def test_fine_gray_through_the_adapter(monkeypatch):
    mod = types.ModuleType("cartreg.stats.finegray")
    mod.finegray = _finegray
    monkeypatch.setitem(sys.modules, "cartreg.stats.finegray", mod)
    CALLS.clear()
    plan = parse_plan_text('[study]\nname = "x"\n[[cuminc]]\nendpoint = "relapse_nrm"\nby = "product"\n'
                           'adjust = ["age", "sex"]\n', "x.toml")
    res = analyze_plan(registry(), plan)
    fg = res["blocks"][0]["finegray"]
    assert list(fg) == ["relapse", "nrm"] and [c["cause"] for c in CALLS["finegray"]] == [1, 2]
    # 9 infused; P10 has no product and P4 no age or sex: 7 complete cases, 2 left out
    call = CALLS["finegray"][0]
    assert call["names"] == ["product=tisa-cel", "age", "sex=M"] and call["n"] == 7
    assert fg["relapse"]["excluded"] == 2 and fg["relapse"]["terms"][0] == {
        "term": "product=tisa-cel", "coef": 0.0, "se": 1.0, "hr": 1.0, "ci": [0.5, 2.0], "p": 0.5}
    t = build_plan_tables(res, "en")[0][1]
    assert t.rows[0] == ["Relapse or progression", "", ""] and t.rows[1] == ["Product: tisa-cel", "1.00 (0.50-2.00)", ".50"]


def test_fine_gray_needs_its_module():
    import importlib.util

    if importlib.util.find_spec("cartreg.stats.finegray") is not None:
        pytest.skip("cartreg.stats.finegray is present")
    from cartreg.errors import CartregError

    plan = parse_plan_text('[study]\nname = "x"\n[[cuminc]]\nendpoint = "relapse_nrm"\nadjust = ["age"]\n', "x.toml")
    with pytest.raises(CartregError, match=r"needs cartreg.stats.finegray \(issue 12b"):
        analyze_plan(registry(), plan)
