"""Logistic regression (`cartreg logistic`, `cartreg.stats.logistic`) against R glm(binomial),
confint.default, confint (MASS profile) and logistf.

References: scripts/r-reference/logistic.R -> tests/fixtures/r/logistic_*.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cartreg.cli.main import main
from cartreg.errors import CartregError
from cartreg.stats.logistic import logistic, logistic_fit

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "r"
CASES = sorted(p.stem.removeprefix("logistic_") for p in FIX.glob("logistic_*.json"))
EST, PV = 1e-6, 1e-4


def nan(x):
    return np.nan if x is None else x


def arr(x):
    return np.array([nan(v) for v in x], dtype=float)


def close(a, b, rtol=EST, atol=0.0):
    np.testing.assert_allclose(arr(np.atleast_1d(a)), arr(np.atleast_1d(b)), rtol=rtol, atol=atol,
                               equal_nan=True)


def cli_args(ref: dict, firth: bool = False) -> list[str]:
    args = ["logistic", str(FIX / ref["csv"]), "--outcome", ref["outcome"],
            "--covariates", ",".join(ref["covariates"]), "--format", "json"]
    if ref["factors"]:
        args += ["--factors", ",".join(ref["factors"])]
    for r in ref["reference"]:
        args += ["--reference-level", r]
    if firth:
        args.append("--firth")
    return args


def run(capsys, args):
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out), err


def test_cases_exist():
    assert len(CASES) >= 6


def converged_cases():
    return [c for c in CASES if "glm.fit: algorithm did not converge" not in
            json.loads((FIX / f"logistic_{c}.json").read_text())["r_warnings"]]


@pytest.mark.parametrize("name", converged_cases())
def test_glm_matches_r(capsys, name):
    ref = json.loads((FIX / f"logistic_{name}.json").read_text())
    res, _ = run(capsys, cli_args(ref))
    assert set(res) >= {"n", "events", "excluded", "terms", "deviance", "null_deviance", "aic"}
    assert (res["n"], res["events"], res["excluded"]) == (ref["n"], ref["events"], ref["excluded"])
    assert [t["term"] for t in res["terms"]] == ref["names"]
    for t in res["terms"]:
        assert set(t) >= {"term", "coef", "se", "or", "ci", "ci_profile", "p"}
    coef = [t["coef"] for t in res["terms"]]
    close(coef, ref["coef"])
    close([t["se"] for t in res["terms"]], ref["se"])
    close([t["or"] for t in res["terms"]], np.exp(arr(ref["coef"])))
    close([t["p"] for t in res["terms"]], ref["p"], PV)
    close([t["p"] for t in res["terms"]], ref["p"], 1e-6)
    if "confint error" in " ".join(ref["r_warnings"]):  # separation: R's confint() fails
        assert all(t["ci_profile"] == [None, None] for t in res["terms"])
        ref = {**ref, "ci_profile_lower": [None] * len(coef), "ci_profile_upper": [None] * len(coef)}
    close([t["ci_log"][0] for t in res["terms"]], ref["ci_lower"])
    close([t["ci_log"][1] for t in res["terms"]], ref["ci_upper"])
    close([t["ci_profile_log"][0] for t in res["terms"]], ref["ci_profile_lower"])
    close([t["ci_profile_log"][1] for t in res["terms"]], ref["ci_profile_upper"])
    ok = [t["ci"][1] is not None for t in res["terms"]]  # exp() overflows for near-separated levels
    close([t["ci"][0] for t, k in zip(res["terms"], ok) if k], np.exp(arr(ref["ci_lower"]))[ok])
    close([t["ci_profile"][1] for t, k in zip(res["terms"], ok) if k and t["ci_profile"][1] is not None],
          [v for v, k, t in zip(np.exp(arr(ref["ci_profile_upper"])), ok, res["terms"])
           if k and t["ci_profile"][1] is not None])
    close(res["deviance"], ref["deviance"], 1e-9, atol=1e-12)  # a separated fit has deviance ~2e-10
    close(res["null_deviance"], ref["null_deviance"], 1e-12)
    close(res["aic"], ref["aic"], 1e-9, atol=1e-12)
    assert res["iterations"] == ref["iterations"]


@pytest.mark.parametrize("name", ["birthwt", "pbc", "birthwt_small"])
def test_exact_profile_roots_match_uniroot(name):
    ref = json.loads((FIX / f"logistic_{name}.json").read_text())
    from cartreg.cli.compare_cmd import read_columns
    from cartreg.io.datafile import read_table
    from cartreg.stats._data import complete_cases
    from cartreg.stats.logistic import logistic_design, outcome_01

    table = read_table(FIX / ref["csv"])
    cols = read_columns(table, [ref["outcome"], *ref["covariates"]])
    refs = dict(r.split("=", 1) for r in ref["reference"])
    y, _ = outcome_01(cols[ref["outcome"]])
    X, names = logistic_design({c: cols[c] for c in ref["covariates"]}, refs, ref["factors"])
    yy, XX = complete_cases(y, X).arrays
    fit = logistic_fit(yy, XX, names, profile=False, exact_profile=True)
    close(fit.ci_profile_exact_lower, ref["ci_exact_lower"], 1e-8)
    close(fit.ci_profile_exact_upper, ref["ci_exact_upper"], 1e-8)


FIRTH = [c for c in CASES if "firth" in json.loads((FIX / f"logistic_{c}.json").read_text())]


@pytest.mark.parametrize("name", FIRTH)
def test_firth_matches_logistf(capsys, name):
    ref = json.loads((FIX / f"logistic_{name}.json").read_text())
    fr = ref["firth"]
    res, _ = run(capsys, cli_args(ref, firth=True))
    assert res["method"] == "firth"
    assert (res["n"], res["events"], res["excluded"]) == (ref["n"], ref["events"], ref["excluded"])
    assert [t["term"] for t in res["terms"]] == ref["names"]
    close([t["coef"] for t in res["terms"]], fr["coef"])
    close([t["se"] for t in res["terms"]], fr["se"])
    close([t["ci_profile_log"][0] for t in res["terms"]], fr["ci_lower"])
    close([t["ci_profile_log"][1] for t in res["terms"]], fr["ci_upper"])
    # for Firth, `ci` is logistf's reported (profile penalised-likelihood) interval
    close([t["ci_log"][0] for t in res["terms"]], fr["ci_lower"])
    close([t["ci_log"][1] for t in res["terms"]], fr["ci_upper"])
    ok = [t["ci"][1] is not None for t in res["terms"]]
    close([t["ci"][1] for t, k in zip(res["terms"], ok) if k], np.exp(arr(fr["ci_upper"]))[ok])
    coef, se = arr(fr["coef"]), arr(fr["se"])
    close([t["ci_wald_log"][0] for t in res["terms"]], coef - 1.959963984540054 * se)
    close([t["p"] for t in res["terms"]], fr["p"], PV)
    close([t["p"] for t in res["terms"]], fr["p"], 1e-6)
    close(res["loglik"], fr["loglik"], 1e-10)
    # logistf with its default controls (1e-5) is within its own tolerance of the tight answer
    close([t["coef"] for t in res["terms"]], ref["firth_default"]["coef"], rtol=0, atol=1e-4)


def test_separation_warns_and_firth_is_finite(capsys):
    ref = json.loads((FIX / "logistic_separated_toy.json").read_text())
    code = main(cli_args(ref))
    out, err = capsys.readouterr()
    assert code == 0
    assert "fitted probabilities numerically 0 or 1" in err
    assert "confint error" in " ".join(ref["r_warnings"])  # R's confint() stops here
    assert all(t["ci_profile"] == [None, None] for t in json.loads(out)["terms"])
    res, _ = run(capsys, cli_args(ref, firth=True))
    assert all(np.isfinite(t["coef"]) for t in res["terms"])


def test_aliased_column_is_nan():
    ref = json.loads((FIX / "logistic_aliased.json").read_text())
    assert ref["coef"][-1] is None
    rng = np.random.default_rng(3)
    x = rng.normal(size=50)
    y = (rng.uniform(size=50) < 0.5).astype(float)
    fit = logistic_fit(y, np.column_stack((x, 2 * x)), ["x", "x2"], profile=False)
    assert np.isnan(fit.coef[2]) and np.isfinite(fit.coef[1])


def test_by_hand_saturated_two_by_two():
    # one binary covariate: the ML log OR is the sample log odds ratio, SE = sqrt(sum 1/cells)
    a, b, c, d = 7, 3, 4, 6  # x=1: 7 events, 3 non-events; x=0: 4 events, 6 non-events
    x = np.array([1] * 10 + [0] * 10, dtype=float)
    y = np.array([1] * a + [0] * b + [1] * c + [0] * d, dtype=float)
    fit = logistic_fit(y, x[:, None], ["x"], profile=False)
    assert fit.coef[1] == pytest.approx(np.log(a * d / (b * c)), rel=1e-9)
    # R's SE uses the IRLS weights of the last iteration (before the final update): ~3e-7 off here
    assert fit.se[1] == pytest.approx(np.sqrt(1 / a + 1 / b + 1 / c + 1 / d), rel=1e-6)
    assert fit.coef[0] == pytest.approx(np.log(c / d), rel=1e-9)


def test_dataframe_entry_point_and_reference_levels():
    data = {"y": np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 0], dtype=float),
            "arm": np.array(["b", "a", "b", "c", "a", "c", "a", "b", "c", "a"], dtype=object),
            "age": np.array([50, 60, 55, 70, 65, 45, 52, 58, np.nan, 61], dtype=float)}
    res = logistic("y", ["arm", "age"], data, reference_levels={"arm": "c"}, profile=False)
    assert res.names == ("(Intercept)", "arm=a", "arm=b", "age")
    assert res.excluded == 1 and res.n == 9
    d = res.to_dict()
    assert d["terms"][1]["term"] == "arm=a"


def test_errors(capsys):
    data = {"y": np.array([1.0, 1.0, 1.0]), "x": np.array([1.0, 2.0, 3.0])}
    with pytest.raises(CartregError, match="no non-events"):
        logistic("y", ["x"], data)
    with pytest.raises(CartregError, match="must be 0/1"):
        logistic("y", ["x"], {"y": np.array([0.0, 2.0, 1.0]), "x": np.array([1.0, 2.0, 3.0])})
    with pytest.raises(CartregError, match="reference level"):
        logistic("y", ["x"], {"y": np.array([0.0, 1.0]), "x": np.array(["a", "b"], dtype=object)},
                 reference_levels={"x": "z"})
    code = main(["logistic", str(FIX / "data" / "logistic_birthwt.csv"), "--outcome", "low",
                 "--covariates", "nope"])
    _, err = capsys.readouterr()
    assert code != 0 and "nope" in err and "Traceback" not in err


def test_outcome_coding():
    from cartreg.stats.logistic import outcome_01

    y, note = outcome_01(np.array(["Yes", "no", None, "YES"], dtype=object))
    assert np.array_equal(y, [1.0, 0.0, np.nan, 1.0], equal_nan=True) and note is None
    y, note = outcome_01(np.array(["dead", "alive", "dead"], dtype=object))
    assert y.tolist() == [1.0, 0.0, 1.0] and "'dead' is the event" in note
    with pytest.raises(CartregError, match="two"):
        outcome_01(np.array(["a", "b", "c"], dtype=object))
