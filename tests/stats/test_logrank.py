"""Log-rank test (survdiff, rho = 0) against R, plain and stratified, and by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cartreg.errors import CartregError
from cartreg.io.datafile import read_table
from cartreg.stats import logrank_test

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "r"
REFS = {p.stem[3:]: json.loads(p.read_text()) for p in sorted(FIX.glob("km_*.json"))
        if not p.stem.startswith("km_cli_")}
GROUPED = [n for n, r in REFS.items() if r["group"]]
STRATIFIED = [n for n, r in REFS.items() if r["strata"]]


def load(name: str):
    ref = REFS[name]
    tab = read_table(FIX / ref["csv"])
    raw = tab.numeric(ref["event"])
    code = 2.0 if name.startswith("lung") else 1.0
    e = np.where(np.isnan(raw), np.nan, (raw == code).astype(float))
    s = tab.text(ref["strata"]) if ref["strata"] else None
    return ref, tab.numeric(ref["time"]), e, tab.text(ref["group"]), s


def check(lr, r: dict) -> None:
    assert lr.df == r["df"]
    assert list(lr.levels) == r["levels"]
    np.testing.assert_array_equal(lr.n, r["n"])
    np.testing.assert_array_equal(lr.observed, r["observed"])
    np.testing.assert_allclose(lr.expected, r["expected"], rtol=1e-10)
    k = len(lr.levels)
    np.testing.assert_allclose(lr.var, np.array(r["var"]).reshape(k, k, order="F"), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lr.chi2, r["chisq"], rtol=1e-10)
    np.testing.assert_allclose(lr.p, r["p"], rtol=1e-8)


@pytest.mark.parametrize("name", GROUPED)
def test_logrank_matches_survdiff(name: str) -> None:
    ref, t, e, g, _ = load(name)
    lr = logrank_test(t, e, g)
    check(lr, ref["survdiff"])
    assert lr.total == sum(ref["survdiff"]["n"])
    assert lr.excluded == ref["fits"]["log"]["excluded"]


@pytest.mark.parametrize("name", STRATIFIED)
def test_stratified_logrank_matches_survdiff(name: str) -> None:
    ref, t, e, g, s = load(name)
    lr = logrank_test(t, e, g, strata=s)
    check(lr, ref["survdiff_strat"])
    assert lr.excluded == ref["excluded_strat"]


def test_two_groups_by_hand() -> None:
    # times 1..6, events except at 6; a = {1,2,3}, b = {4,5,6}
    lr = logrank_test(np.arange(1, 7.0), np.array([1, 1, 1, 1, 1, 0]),
                      np.array(["a", "a", "a", "b", "b", "b"], dtype=object))
    # E_a = 3/6 + 2/5 + 1/4; V = sum of n_a n_b d (n - d) / (n^2 (n - 1)) over times 1..3
    e_a = 3 / 6 + 2 / 5 + 1 / 4
    v = 3 * 3 / 36 + 2 * 3 / 25 + 1 * 3 / 16
    np.testing.assert_allclose(lr.expected, [e_a, 5 - e_a], rtol=1e-14)
    np.testing.assert_allclose(lr.var[0, 0], v, rtol=1e-14)
    np.testing.assert_allclose(lr.chi2, (3 - e_a) ** 2 / v, rtol=1e-14)
    assert lr.df == 1


def test_group_without_events() -> None:
    lr = logrank_test(np.array([1, 2, 3, 4, 5, 6.0]), np.array([1, 1, 1, 0, 0, 0]),
                      np.array(["a", "a", "a", "b", "b", "b"], dtype=object))
    np.testing.assert_array_equal(lr.observed, [3, 0])
    assert lr.chi2 > 0 and lr.df == 1


def test_stratification_changes_nothing_with_one_stratum() -> None:
    t = np.array([3, 1, 4, 1, 5, 9, 2, 6.0])
    e = np.array([1, 0, 1, 1, 0, 1, 1, 1])
    g = np.array(list("abababab"), dtype=object)
    a = logrank_test(t, e, g)
    b = logrank_test(t, e, g, strata=np.array(["s"] * 8, dtype=object))
    np.testing.assert_allclose(a.chi2, b.chi2, rtol=1e-14)


def test_one_group_is_an_error() -> None:
    with pytest.raises(CartregError):
        logrank_test(np.array([1, 2.0]), np.array([1, 1]), np.array(["a", "a"], dtype=object))


def test_degenerate_tests_follow_r() -> None:
    g = np.array(["a", "a", "b", "b"], dtype=object)
    # events only after every "b" has left: E_b = 0 -> df 0, chi2 0, R's pchisq(0, 0) = 1
    lr = logrank_test(np.array([3, 4, 1, 2.0]), np.array([1, 1, 0, 0]), g)
    assert (lr.df, lr.chi2, lr.p) == (0, 0.0, 1.0)
    # no events at all: df = -1 and p NaN in R
    lr = logrank_test(np.array([3, 4, 1, 2.0]), np.array([0, 0, 0, 0]), g)
    assert lr.df == -1 and lr.chi2 == 0.0 and np.isnan(lr.p)
