"""Cox proportional hazards: R fixtures, a hand-worked cohort, edge cases and input errors.

The R references are written by ``scripts/r-reference/cox.R`` (survival 3.5.3) at 17 digits.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

from cartreg.errors import CartregError
from cartreg.stats.cox import CoxResult, coxph
from cartreg.stats.design import design_matrix

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "r"
CASES = sorted(p.stem[len("cox_"):] for p in FIXTURES.glob("cox_*.json"))

RTOL_EST = 1e-9  # issue 3 asks 1e-6 for estimates and CIs; we hold 1e-9
RTOL_P = 1e-6  # issue 3 asks 1e-4 for p-values
RTOL_LL = 1e-10  # issue 3 asks 1e-8 for log-likelihoods


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([r[k] for r in rows], dtype=object) for k in rows[0]}


def _num(col: np.ndarray) -> np.ndarray:
    return np.array([float(v) if v != "" else np.nan for v in col])


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _fit_fixture(ref: dict) -> CoxResult:
    data = _read_csv(FIXTURES / ref["csv"])
    numeric = {name: _num(data[name]) for name in ref["numeric"]}
    group = data[ref["group"]] if ref["group"] else None
    X, names = design_matrix(group, ref["reference"], numeric=numeric, group_name=ref["group"] or "g")
    strata = data[ref["strata"]] if ref["strata"] else None
    if strata is not None:
        strata = np.where(strata == "", None, strata)
    return coxph(_num(data["time"]), _num(data["event"]), X, names, ties=ref["ties"], strata=strata)


@pytest.fixture(scope="module", params=CASES)
def case(request):
    ref = json.loads((FIXTURES / f"cox_{request.param}.json").read_text())
    return ref, _fit_fixture(ref)


def test_fixtures_exist():
    assert len(CASES) >= 15


def test_counts_and_names(case):
    ref, res = case
    assert list(res.names) == ref["names"]
    assert (res.n, res.events, res.excluded) == (ref["n"], ref["events"], ref["excluded"])
    assert res.n + res.excluded == ref["n_rows"]
    assert res.iterations == ref["iterations"]
    assert res.lr_df == ref["lr_df"]
    ran_out = any("Ran out of iterations" in w for w in ref["r_warnings"])
    assert res.converged == (not ran_out)


def test_loglik_and_tests(case):
    ref, res = case
    np.testing.assert_allclose(res.loglik_null, ref["loglik_null"], rtol=RTOL_LL)
    np.testing.assert_allclose(res.loglik, ref["loglik"], rtol=RTOL_LL)
    np.testing.assert_allclose(res.lr_chi2, ref["lr_chi2"], rtol=1e-8)
    np.testing.assert_allclose(res.lr_p, ref["lr_p"], rtol=RTOL_P)
    np.testing.assert_allclose(res.score_chi2, ref["score_chi2"], rtol=1e-8)
    np.testing.assert_allclose(res.score_p, ref["score_p"], rtol=RTOL_P)
    if not ref["expected_infinite"]:  # R's Wald test on an infinite term is numerical noise
        np.testing.assert_allclose(res.wald_chi2, ref["wald_chi2"], rtol=1e-8)
        np.testing.assert_allclose(res.wald_p, ref["wald_p"], rtol=RTOL_P)


def test_terms(case):
    ref, res = case
    infinite = np.array([n in ref["expected_infinite"] for n in ref["names"]])
    aliased = np.isnan(_arr(ref["coef"]))
    assert res.infinite.tolist() == infinite.tolist()
    assert res.aliased.tolist() == aliased.tolist()
    ok = ~infinite & ~aliased
    for field in ("coef", "se", "hr", "ci_lower", "ci_upper", "z"):
        np.testing.assert_allclose(getattr(res, field)[ok], _arr(ref[field])[ok], rtol=RTOL_EST,
                                   err_msg=field)
    np.testing.assert_allclose(res.p[ok], _arr(ref["p"])[ok], rtol=RTOL_P)
    np.testing.assert_allclose(res.means, _arr(ref["means"]), rtol=1e-12)
    var = np.array(ref["var"], dtype=float)
    np.testing.assert_allclose(res.var[np.ix_(ok, ok)], var[np.ix_(ok, ok)], rtol=1e-8)
    # not estimable terms: NaN, never a number
    for field in ("hr", "ci_lower", "ci_upper", "p", "z"):
        assert np.isnan(getattr(res, field)[~ok]).all()
    assert np.isnan(res.coef[aliased]).all() and np.isnan(res.se[aliased]).all()


INF_CASES = ["noevent_group", "nonconverged_toy"]


@pytest.mark.parametrize("name", INF_CASES)
def test_infinite_terms_follow_r_iterates(name):
    """For an infinite term R prints the last iterate; we reach the same one."""
    ref = json.loads((FIXTURES / f"cox_{name}.json").read_text())
    res = _fit_fixture(ref)
    infinite = np.array([n in ref["expected_infinite"] for n in ref["names"]])
    assert infinite.any()
    np.testing.assert_allclose(res.coef[infinite], _arr(ref["coef"])[infinite], rtol=1e-6)
    assert all(any(n in w and "infinite" in w for w in res.warnings) for n in ref["expected_infinite"])


# ---------------------------------------------------------------------------------------------
# The hand-worked cohort of Therneau & Grambsch (2000, appendix E; survival's test "test1"):
# times 1,1,6,6,8,9 with x = 1,1,1,0,0,0; events at 1 (x=1), 6 (x=1), 6 (x=0), 9 (x=0),
# censored at 1 (x=1) and 8 (x=0); a seventh row has a missing status.
# With r = exp(beta):
#   Breslow: LL = 2 beta - log(3r + 3) - 2 log(r + 3)
#   Efron:   LL = 2 beta - log(3r + 3) - log(r + 3) - log((r + 5) / 2)
# ---------------------------------------------------------------------------------------------

T1_TIME = np.array([9, 3, 1, 1, 6, 6, 8], dtype=float)
T1_EVENT = np.array([1, np.nan, 1, 0, 1, 1, 0])
T1_X = np.array([[0], [2], [1], [1], [1], [0], [0]], dtype=float)


def _ll_breslow(b):
    r = math.exp(b)
    return 2 * b - math.log(3 * r + 3) - 2 * math.log(r + 3)


def _ll_efron(b):
    r = math.exp(b)
    return 2 * b - math.log(3 * r + 3) - math.log(r + 3) - math.log((r + 5) / 2)


def test_hand_worked_breslow():
    res = coxph(T1_TIME, T1_EVENT, T1_X, ["x"], ties="breslow")
    assert (res.n, res.events, res.excluded) == (6, 4, 1)
    # score at 0: 2 - 1/2 - 1/2 = 1; information 1/4 + 2 * 3/16 = 5/8
    assert res.loglik_null == pytest.approx(-math.log(6) - 2 * math.log(4), rel=1e-12)
    assert res.score_chi2 == pytest.approx(1 / (5 / 8), rel=1e-10)
    # the MLE solves -r^2 + 3r + 6 = 0
    bhat = math.log((3 + math.sqrt(33)) / 2)
    assert res.coef[0] == pytest.approx(bhat, rel=1e-9)
    assert res.loglik == pytest.approx(_ll_breslow(bhat), rel=1e-12)
    r = math.exp(bhat)
    info = 3 * r / (3 * r + 3) * (1 - 3 * r / (3 * r + 3)) + 2 * (r / (r + 3)) * (3 / (r + 3))
    assert res.se[0] == pytest.approx(1 / math.sqrt(info), rel=1e-8)


def test_hand_worked_efron():
    res = coxph(T1_TIME, T1_EVENT, T1_X, ["x"])
    assert res.ties == "efron"
    assert res.loglik_null == pytest.approx(-math.log(72), rel=1e-12)
    # score at 0: 2 - 1/2 - 1/4 - 1/6 = 13/12; information 1/4 + 3/16 + 5/36 = 83/144
    assert res.score_chi2 == pytest.approx(169 / 83, rel=1e-10)
    bhat = optimize.brentq(lambda b: 2 - math.exp(b) / (math.exp(b) + 1) - math.exp(b) / (math.exp(b) + 3)
                           - math.exp(b) / (math.exp(b) + 5), 0, 5, xtol=1e-15)
    assert res.coef[0] == pytest.approx(bhat, rel=1e-9)
    assert res.loglik == pytest.approx(_ll_efron(bhat), rel=1e-12)
    assert res.lr_chi2 == pytest.approx(2 * (_ll_efron(bhat) + math.log(72)), rel=1e-9)
    r = math.exp(bhat)
    m = [3 * r / (3 * r + 3), r / (r + 3), r / (r + 5)]
    info = sum(v * (1 - v) for v in m)
    assert res.se[0] == pytest.approx(1 / math.sqrt(info), rel=1e-8)
    z = bhat * math.sqrt(info)
    assert res.p[0] == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-8)
    assert res.ci_lower[0] == pytest.approx(math.exp(bhat - 1.959963984540054 / math.sqrt(info)), rel=1e-8)


# ---------------------------------------------------------------------------------------------
# A per-row reference implementation (the loops of coxfit6.c), to check the vectorised sums on
# random data with ties and strata at a non-zero beta.
# ---------------------------------------------------------------------------------------------


def _naive(time, event, X, beta, strata, efron):
    n, p = X.shape
    ll, u, imat = 0.0, np.zeros(p), np.zeros((p, p))
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        for t in np.unique(time[idx][event[idx] == 1]):
            risk = idx[time[idx] >= t]
            dead = idx[(time[idx] == t) & (event[idx] == 1)]
            r = np.exp(X[risk] @ beta)
            rd = np.exp(X[dead] @ beta)
            s0, s1 = r.sum(), r @ X[risk]
            s2 = (X[risk] * r[:, None]).T @ X[risk]
            d0, d1 = rd.sum(), rd @ X[dead]
            d2 = (X[dead] * rd[:, None]).T @ X[dead]
            m = len(dead)
            ll += (X[dead] @ beta).sum()
            u += X[dead].sum(axis=0)
            for k in range(m):
                f = k / m if efron else 0.0
                den, a, c = s0 - f * d0, s1 - f * d1, s2 - f * d2
                ll -= math.log(den)
                u -= a / den
                imat += c / den - np.outer(a, a) / den**2
    return ll, u, imat


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("stratified", [False, True])
def test_vectorised_sums_match_per_row_loops(ties, stratified):
    rng = np.random.default_rng(7)
    n = 120
    time = rng.integers(1, 15, size=n).astype(float)  # many ties
    event = (rng.random(n) < 0.7).astype(int)
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 2, size=n), rng.normal(5, 2, size=n)])
    strata = rng.integers(0, 3, size=n) if stratified else np.zeros(n, int)
    res = coxph(time, event, X, ["a", "b", "c"], ties=ties, strata=strata if stratified else None)
    ll, u, imat = _naive(time, event, X, res.coef, strata, ties == "efron")
    assert res.loglik == pytest.approx(ll, rel=1e-12)
    assert np.abs(u).max() < 1e-6  # the score vanishes at the estimate
    np.testing.assert_allclose(res.var, np.linalg.inv(imat), rtol=1e-6)
    fortran = coxph(time, event, np.asfortranarray(X), ["a", "b", "c"], ties=ties,
                    strata=strata if stratified else None)
    np.testing.assert_array_equal(fortran.coef, res.coef)
    ll0, u0, i0 = _naive(time, event, X, np.zeros(3), strata, ties == "efron")
    assert res.loglik_null == pytest.approx(ll0, rel=1e-12)
    assert res.score_chi2 == pytest.approx(u0 @ np.linalg.solve(i0, u0), rel=1e-9)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("n_strata", [1, 25])
def test_blocked_and_many_strata_paths_agree(monkeypatch, ties, n_strata):
    """Cache-sized column blocks and the many-strata cumulative sums give the same fit."""
    import cartreg.stats.cox as cox_module

    rng = np.random.default_rng(5)
    n = 400
    time = rng.integers(1, 20, size=n).astype(float)
    event = (rng.random(n) < 0.7).astype(int)
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 2, size=n)])
    strata = rng.integers(0, n_strata, size=n) if n_strata > 1 else None
    fits = []
    for block_elements, loop_max in [(10**9, 1000), (100, 1000), (100, 0)]:  # one block, blocks, global
        monkeypatch.setattr(cox_module, "BLOCK_ELEMENTS", block_elements)
        monkeypatch.setattr(cox_module, "STRATA_LOOP_MAX", loop_max)
        fits.append(coxph(time, event, X, ["a", "b"], ties=ties, strata=strata))
    ll, u, imat = _naive(time, event, X, fits[0].coef, strata if strata is not None else np.zeros(n),
                         ties == "efron")
    for b in fits:
        np.testing.assert_allclose(b.coef, fits[0].coef, rtol=1e-10)
        np.testing.assert_allclose(b.se, fits[0].se, rtol=1e-10)
        assert b.loglik == pytest.approx(ll, rel=1e-12)
    np.testing.assert_allclose(fits[0].var, np.linalg.inv(imat), rtol=1e-6)


def test_efron_equals_breslow_without_ties():
    rng = np.random.default_rng(3)
    t = rng.exponential(size=50)
    e = (rng.random(50) < 0.8).astype(int)
    x = rng.normal(size=(50, 2))
    a = coxph(t, e, x, ["u", "v"], ties="efron")
    b = coxph(t, e, x, ["u", "v"], ties="breslow")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-13)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-14)


def test_tied_times_efron_differs_from_breslow():
    a = coxph(T1_TIME, T1_EVENT, T1_X, ["x"], ties="efron")
    b = coxph(T1_TIME, T1_EVENT, T1_X, ["x"], ties="breslow")
    assert a.coef[0] != pytest.approx(b.coef[0], rel=1e-3)


def test_scale_and_shift_invariance():
    """Centring and scaling change rounding only: x*1000 + 7 gives coef / 1000."""
    rng = np.random.default_rng(11)
    t = rng.integers(1, 30, size=80).astype(float)
    e = (rng.random(80) < 0.6).astype(int)
    x = rng.normal(size=80)
    a = coxph(t, e, x[:, None], ["x"])
    b = coxph(t, e, (x * 1000 + 7)[:, None], ["x"])
    assert b.coef[0] * 1000 == pytest.approx(a.coef[0], rel=1e-10)
    assert b.p[0] == pytest.approx(a.p[0], rel=1e-10)
    assert b.loglik == pytest.approx(a.loglik, rel=1e-13)


def test_stratified_with_one_stratum_equals_unstratified():
    a = coxph(T1_TIME, T1_EVENT, T1_X, ["x"])
    b = coxph(T1_TIME, T1_EVENT, T1_X, ["x"], strata=np.array(["s"] * 7))
    assert b.n_strata == 1 and b.coef[0] == pytest.approx(a.coef[0], rel=1e-14)


def test_strata_missing_rows_are_excluded():
    strata = np.array(["a", "a", "b", None, "b", "a", "b"], dtype=object)
    res = coxph(T1_TIME, T1_EVENT, T1_X, ["x"], strata=strata)
    assert res.excluded == 2 and res.n == 5 and res.n_strata == 2


# ---------------------------------------------------------------------------------------------
# Edge cases
# ---------------------------------------------------------------------------------------------


def test_group_without_events_is_infinite_with_plain_warning():
    time = np.arange(1.0, 13.0)
    event = np.array([1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1])
    group = np.array(list("ABCABCABCABC"), dtype=object)  # B is always censored
    X, names = design_matrix(group, "A", group_name="arm")
    res = coxph(time, event, X, names)
    j = names.index("arm=B")
    assert res.infinite[j] and not res.infinite[names.index("arm=C")]
    assert np.isnan([res.hr[j], res.ci_lower[j], res.ci_upper[j], res.p[j]]).all()
    assert "term arm=B: no events in this group; coefficient is infinite, HR not estimable" in res.warnings
    assert np.isfinite(res.hr[names.index("arm=C")])
    assert "not estimable" in res.summary()


def test_all_censored_is_a_documented_result():
    res = coxph(T1_TIME, np.zeros(7), T1_X, ["x"])
    assert res.events == 0 and res.n == 7
    assert res.aliased.all() and np.isnan(res.coef).all() and np.isnan(res.hr).all()
    assert res.lr_df == 0 and res.lr_chi2 == 0.0 and math.isnan(res.lr_p)
    assert res.loglik == 0.0 and res.loglik_null == 0.0
    assert any("no events" in w for w in res.warnings)


def test_constant_covariate_is_aliased():
    res = coxph(T1_TIME, T1_EVENT, np.column_stack([T1_X[:, 0], np.full(7, 4.0)]), ["x", "k"])
    assert res.aliased.tolist() == [False, True]
    assert np.isnan(res.coef[1]) and np.isnan(res.hr[1]) and res.lr_df == 1
    ref = coxph(T1_TIME, T1_EVENT, T1_X, ["x"])
    assert res.coef[0] == pytest.approx(ref.coef[0], rel=1e-12)
    assert any(w.startswith("term k: not estimable") for w in res.warnings)


def test_single_constant_covariate_only():
    res = coxph(T1_TIME, T1_EVENT, np.ones((7, 1)), ["k"])
    assert res.aliased.tolist() == [True] and res.lr_df == 0 and math.isnan(res.lr_p)
    assert res.loglik == pytest.approx(res.loglik_null, rel=1e-14)


def test_missing_values_counted():
    X = T1_X.copy()
    X[0, 0] = np.nan
    res = coxph(T1_TIME, T1_EVENT, X, ["x"])
    assert res.excluded == 2 and res.n == 5
    t = T1_TIME.copy()
    t[2] = np.nan
    assert coxph(t, T1_EVENT, T1_X, ["x"]).excluded == 2


def test_null_model_without_covariates():
    res = coxph(T1_TIME, T1_EVENT, np.empty((7, 0)), [])
    assert res.loglik == res.loglik_null == pytest.approx(-math.log(72), rel=1e-12)
    assert res.lr_df == 0


def test_conf_level():
    a = coxph(T1_TIME, T1_EVENT, T1_X, ["x"], conf_level=0.9)
    half = (math.log(a.ci_upper[0]) - math.log(a.ci_lower[0])) / 2
    assert half == pytest.approx(1.6448536269514722 * a.se[0], rel=1e-12)


def test_result_is_frozen_and_repr_formats():
    res = coxph(T1_TIME, T1_EVENT, T1_X, ["x"])
    with pytest.raises(AttributeError):
        res.loglik = 0.0  # type: ignore[misc]
    text = repr(res)
    assert text.startswith("Cox proportional hazards (efron ties): n=6, events=4, excluded=1")
    assert "Likelihood ratio test" in text


# ---------------------------------------------------------------------------------------------
# Input problems
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(time=-T1_TIME), "time must be >= 0"),
        (dict(time=np.where(T1_TIME == 8, np.inf, T1_TIME)), "infinite"),
        (dict(time=T1_TIME[:5]), "shape"),
        (dict(event=np.array([1, 0, 2, 1, 0, 1, 0])), "event must be 0/1"),
        (dict(X=np.ones((7, 2))), "2 columns but 1 names"),
        (dict(X=np.where(T1_TIME[:, None] == 9, np.inf, T1_X)), "infinite"),
        (dict(ties="exact"), "ties must be"),
        (dict(conf_level=95), "conf_level"),
        (dict(strata=np.array([1, 2])), "strata has shape"),
    ],
)
def test_input_errors(kwargs, message):
    args = dict(time=T1_TIME, event=T1_EVENT, X=T1_X, names=["x"])
    args.update(kwargs)
    with pytest.raises(CartregError, match=message):
        coxph(**args)


def test_no_complete_rows():
    with pytest.raises(CartregError, match="no complete rows"):
        coxph(np.array([np.nan, 1.0]), np.array([1, np.nan]), np.ones((2, 1)), ["x"])


# ---------------------------------------------------------------------------------------------
# design_matrix
# ---------------------------------------------------------------------------------------------


def test_design_matrix_names_order_and_missing():
    group = np.array(["10", "9", "", "2", "9"], dtype=object)
    X, names = design_matrix(group, "9", numeric={"age": np.array([50, np.nan, 60, 70, 80.0])},
                             group_name="dose")
    assert names == ["dose=2", "dose=10", "age"]  # numeric levels sort by value, like R
    assert X[0].tolist() == [0.0, 1.0, 50.0]
    assert np.isnan(X[2, :2]).all() and X[2, 2] == 60.0
    assert np.isnan(X[1, 2])


def test_design_matrix_text_levels_and_default_reference():
    X, names = design_matrix(np.array(["b", "a", "c", None], dtype=object), None, group_name="g")
    assert names == ["g=b", "g=c"]
    assert X[:3].tolist() == [[1, 0], [0, 0], [0, 1]]


def test_design_matrix_numeric_group_column():
    X, names = design_matrix(np.array([0.0, 1.0, np.nan, 2.0]), 1, group_name="ecog")
    assert names == ["ecog=0", "ecog=2"]


def test_design_matrix_unknown_reference_names_the_level():
    with pytest.raises(CartregError, match="reference level 'Z' does not occur in column 'arm'"):
        design_matrix(np.array(["A", "B"], dtype=object), "Z", group_name="arm")


def test_design_matrix_non_numeric_covariate():
    with pytest.raises(CartregError, match="not numeric"):
        design_matrix(None, None, numeric={"age": np.array(["1", "x"], dtype=object)})
