"""Competing risks: cumulative incidence (Aalen-Johansen, cmprsk variance), log(-log) CIs, Gray's test.

References are R 4.2.2 + cmprsk 2.2.11, written by scripts/r-reference/cuminc.R at full precision
(tests/fixtures/r/cuminc_*.json, inputs in tests/fixtures/r/data/). The CIs are tidycmprsk's formula
evaluated in R on cmprsk's est/var (tidycmprsk is not installed there).
"""

from __future__ import annotations

import csv
import dataclasses
import importlib
import json
from fractions import Fraction as Fr
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as hst

from cartreg.errors import CartregError
from cartreg.stats.cuminc import CumIncResult, cuminc, loglog_ci

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "r"
CASES = sorted(p.stem.removeprefix("cuminc_") for p in FIX.glob("cuminc_*.json")
               if p.stem not in ("cuminc_pretty", "cuminc_gray_rho"))
RTOL = 1e-10  # observed agreement is ~1e-13; the issue asks for 1e-6 (estimates) and 1e-4 (p-values)


def load_case(case: str) -> tuple[dict, dict[str, np.ndarray | None], object]:
    ref = json.loads((FIX / f"cuminc_{case}.json").read_text())
    with open(FIX / ref["data"], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))

    def col(name: str | None, numeric: bool) -> np.ndarray | None:
        if name is None:
            return None
        if numeric:
            return np.array([float(r[name]) if r[name] != "" else np.nan for r in rows])
        return np.array([r[name] if r[name] != "" else None for r in rows], dtype=object)

    numeric_status = ref["cencode"] == "0"
    cols = {
        "time": col("time", True),
        "status": col("status", numeric_status),
        "group": col(ref["group"], False),
        "strata": col(ref["strata"], False),
    }
    cens = 0 if numeric_status else ref["cencode"]
    return ref, cols, cens


def fit_case(case: str) -> tuple[dict, CumIncResult]:
    ref, c, cens = load_case(case)
    fit = cuminc(c["time"], c["status"], c["group"], strata=c["strata"], conf_level=ref["conf_level"],
                 cens_code=cens)
    return ref, fit


def arr(values: list) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def close(actual, expected, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), arr(list(expected)), rtol=rtol, atol=0,
                               equal_nan=True)


# ------------------------------------------------------------------------------------------------
# agreement with R
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_counts_match_r(case: str) -> None:
    ref, fit = fit_case(case)
    assert (fit.n, fit.excluded) == (ref["n"], ref["excluded"])
    assert list(fit.causes) == ref["causes"]
    assert list(fit.groups) == (ref["groups"] if ref["group"] else ["all"])
    assert list(fit.curves) == [(c["cause"], c["group"] if ref["group"] else "all") for c in ref["curves"]]


@pytest.mark.parametrize("case", CASES)
def test_curves_match_cmprsk(case: str) -> None:
    ref, fit = fit_case(case)
    for c in ref["curves"]:
        cv = fit.curve(c["cause"], c["group"] if ref["group"] else None)
        assert cv.time.tolist() == c["time"]  # the same points, exactly
        close(cv.est, c["est"])
        close(cv.var, c["var"])


@pytest.mark.parametrize("case", CASES)
def test_timepoints_and_cis_match_r(case: str) -> None:
    ref, fit = fit_case(case)
    for c in ref["timepoints"]:
        a = fit.at(c["cause"], c["group"] if ref["group"] else None, ref["times"])
        close(a.est, c["est"])
        close(a.var, c["var"])
        close(a.lower, c["lower"])
        close(a.upper, c["upper"])
        assert a.conf_level == ref["conf_level"]


@pytest.mark.parametrize("case", [c for c in CASES if json.loads((FIX / f"cuminc_{c}.json").read_text())["tests"]])
def test_gray_matches_cmprsk(case: str) -> None:
    ref, fit = fit_case(case)
    assert list(fit.gray) == [t["cause"] for t in ref["tests"]]
    for t in ref["tests"]:
        g = fit.gray[t["cause"]]
        assert g.df == t["df"] and not g.singular
        close(g.stat, [t["stat"]])
        close(g.p, [t["pv"]], rtol=1e-8)
        assert g.stratified == (ref["strata"] is not None)


def test_gray_other_weights_match_cmprsk() -> None:
    ref = json.loads((FIX / "cuminc_gray_rho.json").read_text())
    _, c, _ = load_case("cmprsk_example_strat")
    assert c["strata"] is not None
    for t in ref["tests"]:
        fit = cuminc(c["time"], c["status"], c["group"], strata=c["strata"] if t["stratified"] else None,
                     rho=t["rho"])
        g = fit.gray[t["cause"]]
        assert g.rho == t["rho"] and g.df == t["df"]
        close(g.stat, [t["stat"]])
        close(g.p, [t["pv"]], rtol=1e-8)


def test_no_group_has_no_gray_test() -> None:
    _, fit = fit_case("mgus2_all")
    assert fit.gray == {} and fit.groups == ("all",)


# ------------------------------------------------------------------------------------------------
# a tiny cohort worked by hand
# ------------------------------------------------------------------------------------------------

TINY_T = np.array([1, 2, 2, 3, 4, 4, 5, 6.0])
TINY_S = np.array([1, 2, 1, 0, 1, 0, 2, 0])


def test_tiny_by_hand() -> None:
    # t=1: n=8, one cause-1 event: F1 = 1/8, S = 7/8
    # t=2: n=7, one of each cause: F1 += 7/8 * 1/7, F2 = 7/8 * 1/7, S = 5/8
    # t=4: n=4 (3 left at 3 is censored), one cause-1 event: F1 += 5/8 * 1/4 = 13/32 in all, S = 15/32
    # t=5: n=2, one cause-2 event: F2 += 15/32 * 1/2 = 23/64 in all
    fit = cuminc(TINY_T, TINY_S)
    c1, c2 = fit.curve(1), fit.curve("2")
    assert c1.time.tolist() == [0, 1, 1, 2, 2, 4, 4, 6]
    assert c1.est.tolist() == [0, 0, 1 / 8, 1 / 8, 1 / 4, 1 / 4, 13 / 32, 13 / 32]
    assert c2.time.tolist() == [0, 2, 2, 5, 5, 6]
    assert c2.est.tolist() == [0, 0, 1 / 8, 1 / 8, 23 / 64, 23 / 64]
    # cmprsk's variance, accumulated as v1, v2, v3 and combined as v1 + F^2 v3 - 2 F v2:
    # t=1: w = S-^2 d1/n^2 = 1/64, b = 1/S = 8/7, a = 1 + b F = 8/7: v1 = v2 = v3 = 1/49
    #      var = (1/49)(1 + 1/64 - 2/8) = 1/64
    # t=2: competing w = 1/64, b = 8/5, a = F/S = 2/5; cause w = 1/64, b = 8/5, a = 1 + (8/5)(1/4) = 7/5
    v1 = Fr(1, 49) + (Fr(2, 5) ** 2 + Fr(7, 5) ** 2) / 64
    v2 = Fr(1, 49) + (Fr(8, 5) * Fr(2, 5) + Fr(8, 5) * Fr(7, 5)) / 64
    v3 = Fr(1, 49) + 2 * Fr(8, 5) ** 2 / 64
    f = Fr(1, 4)
    var2 = v1 + f * f * v3 - 2 * f * v2
    assert var2 == Fr(9, 784) + Fr(1, 64)
    np.testing.assert_allclose(c1.var[[2, 4]], [1 / 64, float(var2)], rtol=1e-14)
    # the step function, as cmprsk::timepoints: right-continuous, NA before 0 and after the last time
    a = fit.at("1", times=[-1, 0, 0.5, 1, 1.5, 2, 4, 6, 6.5])
    np.testing.assert_array_equal(a.est, [np.nan, 0, 0, 1 / 8, 1 / 8, 1 / 4, 13 / 32, 13 / 32, np.nan])
    # tidycmprsk's interval, by its formula
    z = -1.959963984540054  # qnorm(0.025)
    e, se = 1 / 8, 1 / 8
    lo, hi = e ** np.exp(z * se / (e * np.log(e))), e ** np.exp(-z * se / (e * np.log(e)))
    np.testing.assert_allclose([a.lower[3], a.upper[3]], [lo, hi], rtol=1e-14)
    assert np.isnan(a.lower[1]) and np.isnan(a.upper[1])  # est = 0: NA, as tidycmprsk


# ------------------------------------------------------------------------------------------------
# edge cases
# ------------------------------------------------------------------------------------------------


def test_no_competing_events_is_one_minus_kaplan_meier() -> None:
    t = np.array([1, 2, 2, 3, 5, 8, 8, 9, 12.0])
    s = np.array([1, 1, 0, 1, 0, 1, 1, 0, 1])
    fit = cuminc(t, s)
    assert fit.causes == ("1",)
    cv = fit.curve(1)
    # Kaplan-Meier at the event times 1, 2, 3, 8, 12: n = 9, 8, 6, 4, 1
    km = np.cumprod([8 / 9, 7 / 8, 5 / 6, 2 / 4, 0 / 1])
    np.testing.assert_allclose(cv.est[2::2], 1 - km, rtol=1e-14)
    # cmprsk's variance then reduces to Aalen's form S^2 sum c d/(n-d)^2 with the tie correction
    # c = 1 - (d-1)/(n-1) (not Greenwood's S^2 sum d/(n(n-d))), before S reaches 0
    aalen = km[:4] ** 2 * np.cumsum([1 / 64, 1 / 49, 1 / 25, (1 - 1 / 3) * 2 / 4])
    np.testing.assert_allclose(cv.var[2::2][:4], aalen, rtol=1e-12)
    a = fit.at(1, times=[12])
    assert a.est[0] == 1.0 and a.lower[0] == 1.0 and a.upper[0] == 1.0  # est = 1: (1, 1)


def test_all_censored_is_an_input_error() -> None:
    with pytest.raises(CartregError, match="no events"):
        cuminc([1, 2, 3], [0, 0, 0])


def test_single_group_level() -> None:
    fit = cuminc(TINY_T, TINY_S, np.array(["x"] * 8, dtype=object))
    assert fit.groups == ("x",) and fit.gray == {}
    np.testing.assert_array_equal(fit.curve("1", "x").est, cuminc(TINY_T, TINY_S).curve("1").est)


def test_ties_between_causes_share_the_risk_set() -> None:
    # two events of different causes and one censoring at t=1 (censoring at a tie counts after events):
    # F1(1) = F2(1) = 1/4, S(1) = 1/2; at t=2 the one left fails: F1 += 1/2
    fit = cuminc([1, 1, 1, 2], [1, 2, 0, 1])
    assert fit.curve(1).est.tolist() == [0, 0, 1 / 4, 1 / 4, 3 / 4, 3 / 4]
    assert fit.curve(2).est.tolist() == [0, 0, 1 / 4, 1 / 4]
    # deterministic: the same input in another row order gives the same numbers
    other = cuminc([2, 1, 1, 1], [1, 0, 2, 1])
    np.testing.assert_array_equal(other.curve(1).var, fit.curve(1).var)


def test_missing_values_are_excluded_and_counted() -> None:
    t = np.array([1, 2, np.nan, 3, 4, 5, 6, 7.0])
    s = np.array([1, 2, 1, np.nan, 1, 0, 2, 1])
    g = np.array(["a", "b", "a", "b", None, "a", "", "b"], dtype=object)
    fit = cuminc(t, s, g)
    assert (fit.n, fit.excluded) == (4, 4)
    keep = [0, 1, 5, 7]
    ref = cuminc(t[keep], s[keep], g[keep])
    for key, cv in fit.curves.items():
        np.testing.assert_array_equal(cv.est, ref.curves[key].est)
    assert fit.n_by_group == {"a": 2, "b": 2}


def test_text_causes_numeric_labels_and_level_order() -> None:
    fit = cuminc([1, 2, 3, 4, 5, 6], np.array(["relapse", "death", "none", "relapse", "death", "none"],
                                               dtype=object), ["10", "9", "10", "9", "10", "9"],
                 cens_code="none")
    assert fit.causes == ("death", "relapse")
    assert fit.groups == ("9", "10")  # numbers sort as numbers, as R's factor() of a numeric column
    fit2 = cuminc([1, 2, 3], np.array([1.0, 2.0, 0.0]))
    assert fit2.causes == ("1", "2")


def test_gray_does_not_depend_on_group_labels() -> None:
    _, c, _ = load_case("cmprsk_example")
    a = cuminc(c["time"], c["status"], c["group"])
    relabel = np.array([{"a": "z", "b": "y", "c": "x"}[v] for v in c["group"]], dtype=object)
    b = cuminc(c["time"], c["status"], relabel)
    for cause in a.causes:
        np.testing.assert_allclose(a.gray[cause].stat, b.gray[cause].stat, rtol=1e-12)


def test_one_stratum_equals_unstratified() -> None:
    ref, fit = fit_case("cmprsk_example")
    _, c, _ = load_case("cmprsk_example")
    one = cuminc(c["time"], c["status"], c["group"], strata=np.ones(c["time"].size))
    for cause in fit.causes:
        np.testing.assert_allclose(one.gray[cause].stat, fit.gray[cause].stat, rtol=1e-13)


def test_singular_gray_variance_is_not_a_number() -> None:
    # group b is censored before the first event: never at risk, Gray's variance is 0 (cmprsk: -1)
    fit = cuminc([2, 3, 4, 1], [1, 2, 1, 0], ["a", "a", "a", "b"])
    g = fit.gray["1"]
    assert g.singular and np.isnan(g.stat) and np.isnan(g.p) and g.df == 1


def test_input_errors() -> None:
    with pytest.raises(CartregError, match="negative"):
        cuminc([-1, 2], [1, 0])
    with pytest.raises(CartregError, match="conf level"):
        cuminc([1, 2], [1, 0], conf_level=1.5)
    with pytest.raises(CartregError, match="no complete rows"):
        cuminc([np.nan], [1])
    with pytest.raises(KeyError):
        cuminc([1, 2], [1, 0]).curve("3")


def test_results_are_frozen_and_print() -> None:
    fit = cuminc(TINY_T, TINY_S, ["a"] * 4 + ["b"] * 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.n = 3  # type: ignore[misc]
    assert repr(fit).startswith("CumIncResult(n=8, excluded=0, causes=['1', '2'], groups=['a', 'b']")
    assert repr(fit.curve("1", "a")) == "CumIncCurve(cause='1', group='a', n=4, events=2, final=0.5, points=6)"


def test_loglog_ci_edges() -> None:
    lo, hi = loglog_ci(np.array([0.0, 1.0, 0.3, np.nan]), np.array([0.0, 0.1, 0.0, 0.1]), 0.95)
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    assert (lo[1], hi[1]) == (1.0, 1.0)
    assert (lo[2], hi[2]) == (0.3, 0.3)
    assert np.isnan(lo[3])


# ------------------------------------------------------------------------------------------------
# properties
# ------------------------------------------------------------------------------------------------

ROWS = hst.lists(hst.tuples(hst.integers(0, 6), hst.integers(0, 2), hst.integers(0, 2)), min_size=2, max_size=40)


@settings(max_examples=60, deadline=None)
@given(ROWS)
def test_cifs_add_up_to_one_minus_kaplan_meier(rows) -> None:
    t = np.array([r[0] for r in rows], float)
    s = np.array([r[1] for r in rows])
    assume((s > 0).any())
    fit = cuminc(t, s)
    grid = np.unique(t)
    total = sum(fit.at(c, times=grid).est for c in fit.causes)
    n_risk = np.array([(t >= u).sum() for u in grid])
    d = np.array([((t == u) & (s > 0)).sum() for u in grid])
    np.testing.assert_allclose(total, 1 - np.cumprod(1 - d / n_risk), rtol=1e-12, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(ROWS, hst.randoms(use_true_random=False))
def test_row_order_does_not_matter(rows, rnd) -> None:
    t = np.array([r[0] for r in rows], float)
    s = np.array([r[1] for r in rows])
    g = np.array(["a", "b", "c"])[[r[2] for r in rows]]
    assume((s > 0).any())
    perm = np.array(rnd.sample(range(len(rows)), len(rows)))
    a, b = cuminc(t, s, g), cuminc(t[perm], s[perm], g[perm])
    for key in a.curves:
        np.testing.assert_array_equal(a.curves[key].est, b.curves[key].est)
        np.testing.assert_allclose(a.curves[key].var, b.curves[key].var, rtol=1e-12, atol=1e-15)
    for c in a.gray:
        np.testing.assert_allclose(a.gray[c].stat, b.gray[c].stat, rtol=1e-9, equal_nan=True)


def test_result_arrays_are_read_only() -> None:
    fit = cuminc(TINY_T, TINY_S, ["a"] * 4 + ["b"] * 4)
    with pytest.raises(ValueError):
        fit.curve("1", "a").est[0] = 1.0
    with pytest.raises(ValueError):
        fit.gray["1"].var[0, 0] = 1.0


@pytest.mark.parametrize("case", ["mgus2_sex_strat", "transplant_abo"])
def test_gray_in_many_small_blocks(monkeypatch, case: str) -> None:
    # large data are processed in blocks of event times; force blocks of 7 event times here
    mod = importlib.import_module("cartreg.stats.cuminc")  # the module (the package exports the function)
    monkeypatch.setattr(mod, "_BLOCK_CELLS", 1)
    monkeypatch.setattr(mod, "_MIN_BLOCK", 7)
    ref, fit = fit_case(case)
    for t in ref["tests"]:
        close(fit.gray[t["cause"]].stat, [t["stat"]])
