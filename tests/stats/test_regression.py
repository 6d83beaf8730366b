"""Issue 12 (parts 2 and 4): factor covariates, weights, robust and cluster variance, weighted
Kaplan-Meier, Fine-Gray and cause-specific models, checked against R (scripts/r-reference/regression.R)
through the CLI contracts and the DataFrame API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cartreg.cli.main import main
from cartreg.errors import CartregError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "r"
COX_CASES = ["lung_factors", "veteran_factors_breslow", "lung_weights_robust", "lung_weights_cluster",
             "lung_fweights", "lung_robust_noweights", "veteran_cluster_breslow",
             "colon_months_weights_cluster", "veteran_unused_level"]
CR_CASES = ["mgus2_crr", "cmprsk_ties", "bmt_like"]
EST = 1e-9  # estimates: far inside the 1e-6 contract (we match R to ~1e-13)
PVAL = 1e-8


def ref(name: str) -> dict:
    return json.loads((FIX / f"reg_{name}.json").read_text())


def run(capsys, args: list[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def close(a, b, rtol: float) -> None:
    a = np.array([np.nan if v is None else v for v in np.atleast_1d(a)], dtype=float)
    b = np.array([np.nan if v is None else v for v in np.atleast_1d(b)], dtype=float)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", COX_CASES)
def test_survival_cli_cox_matches_r(capsys, name: str) -> None:
    r = ref(name)
    code, out, err = run(capsys, ["survival", str(FIX / r["csv"]), *r["cli"], "--format", "json"])
    assert code == 0, err
    res = json.loads(out)
    cox = res["cox"]
    assert [t["term"] for t in cox["terms"]] == r["names"]
    assert (cox["n"], cox["events"]) == (r["n"], r["events"])
    assert res["excluded"] == r["excluded"]
    close([t["coef"] for t in cox["terms"]], r["coef"], EST)
    close([t["se"] for t in cox["terms"]], r["se"], EST)
    close([t["hr"] for t in cox["terms"]], r["hr"], EST)
    close([t["ci"][0] for t in cox["terms"]], r["ci_lower"], EST)
    close([t["ci"][1] for t in cox["terms"]], r["ci_upper"], EST)
    close([t["p"] for t in cox["terms"]], r["p"], PVAL)
    close(cox["loglik"], r["loglik"][1], EST)
    close(cox["loglik_null"], r["loglik"][0], EST)
    if r["robust_se"] is None:
        assert "robust_se" not in cox and all("robust_se" not in t for t in cox["terms"])
    else:
        close(cox["robust_se"], r["robust_se"], EST)
        close([t["robust_se"] for t in cox["terms"]], r["robust_se"], EST)
    # weighted Kaplan-Meier medians (the CLI's curves are survfit(weights=), no cluster)
    if "km_median" in r and "--cluster" not in r["cli"]:
        close([s["median"] for s in res["strata"]], r["km_median"], 1e-12)
        close([s["median_ci"][0] for s in res["strata"]], r["km_median_lower"], 1e-12)
        close([s["median_ci"][1] for s in res["strata"]], r["km_median_upper"], 1e-12)
        strata = np.array(r["km_strata"])
        ev = np.array(r["km_n_event"], dtype=float)
        close([s["events_weighted"] for s in res["strata"]],
              [ev[strata == (s["group"] or "all")].sum() for s in res["strata"]], 1e-12)


def _frame(name: str):
    import pandas as pd

    r = ref(name)
    return r, pd.read_csv(FIX / r["csv"])


def _cli_options(r: dict) -> dict:
    cli = [c for c in r["cli"] if c != "--robust"]
    opts: dict = {}
    for k, v in zip(cli[::2], cli[1::2]):
        opts.setdefault(k, []).append(v)
    return opts


@pytest.mark.parametrize("name", [c for c in COX_CASES if "km_time" in ref(c)])
def test_weighted_km_steps_match_survfit(name: str) -> None:
    from cartreg.stats import kaplan_meier

    r, df = _frame(name)
    o = _cli_options(r)
    used = ["time", "event", *o["--covariates"][0].split(","), *o.get("--weights", []),
            *o.get("--cluster", []), *o.get("--group", [])]
    df = df.dropna(subset=used)
    cl = o.get("--cluster", [None])[0]
    by = o.get("--group", [None])[0]
    fits = kaplan_meier("time", "event", data=df, by=by, weights=o["--weights"][0], cluster=cl)
    curves = {"all": fits} if by is None else dict(fits)
    strata = np.array(r["km_strata"])
    for level, km in curves.items():
        m = strata == level
        assert km.variance == ("robust" if r["km_robust"] else "greenwood")
        close(km.time, np.array(r["km_time"])[m], 0)
        close(km.n_risk, np.array(r["km_n_risk"])[m], 1e-12)
        close(km.n_event, np.array(r["km_n_event"])[m], 1e-12)
        close(km.surv, np.array(r["km_surv"])[m], 1e-12)
        # R stores se(S) in std.err for the robust variance, se(log S) for Greenwood
        se_r = np.array(r["km_std_err"], dtype=float)[m]
        se = km.std_err * km.surv if km.variance == "robust" else km.std_err
        fin = np.isfinite(se_r)
        close(se[fin], se_r[fin], 1e-10)
        close(km.lower, np.array(r["km_lower"], dtype=float)[m], 1e-10)
        close(km.upper, np.array(r["km_upper"], dtype=float)[m], 1e-10)


@pytest.mark.parametrize("name", ["lung_weights_robust", "colon_months_weights_cluster"])
def test_score_residuals_match_r(name: str) -> None:
    from cartreg.stats import coxph

    r, df = _frame(name)
    o = _cli_options(r)
    used = ["time", "event", *o["--covariates"][0].split(","), *o.get("--weights", []),
            *o.get("--cluster", []), *o.get("--group", [])]
    df = df.dropna(subset=used).reset_index(drop=True)
    refs = dict(x.split("=") for x in o.get("--reference-level", []))
    fit = coxph("time", "event", covariates=o["--covariates"][0].split(","), data=df,
                reference_levels=refs, weights=o["--weights"][0], ties=o["--ties"][0])
    from cartreg.stats.frame import as_table, covariate_matrix

    X, names, _ = covariate_matrix(as_table(df), o["--covariates"][0].split(","), refs)
    from cartreg.stats.cox_robust import score_residuals

    t = df["time"].to_numpy(float)
    e = df["event"].to_numpy(float)
    order = np.lexsort((-e, -t))  # time descending, events first
    res = score_residuals(t[order], e[order].astype(np.int8), None, X[order].T, np.nan_to_num(fit.coef),
                          o["--ties"][0], df[o["--weights"][0]].to_numpy(float)[order])
    out = np.empty_like(res)
    out[:, order] = res
    np.testing.assert_allclose(out.T, np.array(r["score_resid"]), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name", CR_CASES)
@pytest.mark.parametrize("cause", [1, 2])
def test_cuminc_cli_finegray_and_cause_specific_match_r(capsys, name: str, cause: int) -> None:
    r = ref(name)
    args = ["cuminc", str(FIX / r["csv"]), "--time", "time", "--status", "status", "--covariates",
            ",".join(r["covariates"]), "--cause", str(cause), "--cause-specific", "--format", "json"]
    for item in r["refs"]:
        args += ["--reference-level", item]
    code, out, err = run(capsys, args)
    assert code == 0, err
    res = json.loads(out)
    fg, cs = res["finegray"], res["cause_specific"]
    assert fg["cause"] == cs["cause"] == str(cause)
    assert [t["term"] for t in fg["terms"]] == r["names"] == [t["term"] for t in cs["terms"]]
    assert fg["n"] == r[f"fg{cause}_n"] and fg["excluded"] == r["excluded"]
    assert set(fg["terms"][0]) >= {"term", "coef", "se", "hr", "ci", "p"}
    pre = f"fg{cause}_"
    close([t["coef"] for t in fg["terms"]], r[pre + "coef"], EST)
    close([t["se"] for t in fg["terms"]], r[pre + "se"], EST)
    close([t["hr"] for t in fg["terms"]], r[pre + "hr"], EST)
    close([t["ci"][0] for t in fg["terms"]], r[pre + "ci_lower"], EST)
    close([t["ci"][1] for t in fg["terms"]], r[pre + "ci_upper"], EST)
    close([t["p"] for t in fg["terms"]], r[pre + "p"], PVAL)
    close([fg["loglik"], fg["loglik_null"]], [r[pre + "loglik"], r[pre + "loglik_null"]], EST)
    assert fg["converged"] is r[pre + "converged"]
    pre = f"cs{cause}_"
    assert set(cs["terms"][0]) >= {"term", "hr", "ci", "p", "coef", "se", "infinite"}
    assert cs["events"] == r[pre + "events"]
    close([t["coef"] for t in cs["terms"]], r[pre + "coef"], EST)
    close([t["se"] for t in cs["terms"]], r[pre + "se"], EST)
    close([t["ci"][0] for t in cs["terms"]], r[pre + "ci_lower"], EST)
    close([t["ci"][1] for t in cs["terms"]], r[pre + "ci_upper"], EST)
    close([t["p"] for t in cs["terms"]], r[pre + "p"], PVAL)


def test_cuminc_default_cause_is_first_and_today_keys_stay(capsys) -> None:
    r = ref("mgus2_crr")
    code, out, err = run(capsys, ["cuminc", str(FIX / r["csv"]), "--time", "time", "--status", "status",
                                  "--covariates", "age,sex", "--format", "json"])
    assert code == 0
    res = json.loads(out)
    assert set(res) >= {"n", "excluded", "conf_level", "causes", "times", "finegray"}
    assert res["finegray"]["cause"] == "1" and "cause_specific" not in res
    assert "first cause" in err


def test_cuminc_strata_option_stratifies_gray(capsys) -> None:
    from cartreg.stats.cuminc import cuminc

    r = ref("bmt_like")
    import pandas as pd

    df = pd.read_csv(FIX / r["csv"])
    df["older"] = np.where(df["age"] > 40, "yes", "no")
    p = Path(FIX / r["csv"]).parent  # noqa: F841
    code, out, err = run(capsys, ["cuminc", str(FIX / r["csv"]), "--time", "time", "--status", "status",
                                  "--group", "disease", "--format", "json"])
    plain = json.loads(out)
    direct = cuminc(df["time"], df["status"], df["disease"].astype(object), strata=df["older"].astype(object))
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "b.csv"
        df.to_csv(f, index=False)
        code, out, err = run(capsys, ["cuminc", str(f), "--time", "time", "--status", "status",
                                      "--group", "disease", "--strata", "older", "--format", "json"])
    assert code == 0, err
    res = json.loads(out)
    assert res["strata_column"] == "older"
    for c in res["causes"]:
        g = direct.gray[c["cause"]]
        close(c["gray"]["chi2"], g.stat, 1e-12)
    assert [c["gray"]["chi2"] for c in res["causes"]] != [c["gray"]["chi2"] for c in plain["causes"]]


def test_reference_level_errors(capsys) -> None:
    r = ref("lung_factors")
    code, out, err = run(capsys, ["survival", str(FIX / r["csv"]), "--time", "time", "--event", "event",
                                  "--covariates", "age,sex", "--reference-level", "sex"])
    assert code == 2 and "COL=LEVEL" in err
    code, out, err = run(capsys, ["survival", str(FIX / r["csv"]), "--time", "time", "--event", "event",
                                  "--covariates", "age,sex", "--reference-level", "sex=other"])
    assert code != 0 and "'other'" in err and "female" in err
    code, out, err = run(capsys, ["survival", str(FIX / r["csv"]), "--time", "time", "--event", "event",
                                  "--covariates", "age", "--reference-level", "sex=male"])
    assert code != 0 and "not a covariate" in err


def test_bad_weights_are_rejected(tmp_path: Path, capsys) -> None:
    p = tmp_path / "w.csv"
    p.write_text("t,e,x,w\n1,1,0,1\n2,0,1,0\n3,1,0,2\n4,1,1,1\n")
    code, out, err = run(capsys, ["survival", str(p), "--time", "t", "--event", "e", "--covariates", "x",
                                  "--weights", "w"])
    assert code != 0 and "weights must be > 0" in err and "Traceback" not in err


# ---- the notebook API ------------------------------------------------------------------------


def test_dataframe_api_equals_cli_and_r() -> None:
    import pandas as pd

    from cartreg.stats import coxph

    r = ref("lung_factors")
    df = pd.read_csv(FIX / r["csv"])
    fit = coxph("time", "event", covariates=["age", "sex", "ph.ecog", "weight_loss"],
                reference_levels={"ph.ecog": 1}, data=df)
    assert fit.names == tuple(r["names"]) and fit.excluded == r["excluded"]
    close(fit.coef, r["coef"], EST)
    tidy = fit.to_frame()
    assert list(tidy.columns) == ["term", "estimate", "std_error", "statistic", "p_value", "hr",
                                  "conf_low", "conf_high"]
    close(tidy["estimate"], r["coef"], EST)
    close(tidy["p_value"], r["p"], PVAL)
    html = fit._repr_html_()
    assert html.startswith("<div><strong>Cox proportional hazards") and "ph.ecog=3" in html


def test_polars_and_timedelta_give_the_same_fit() -> None:
    import pandas as pd

    pl = pytest.importorskip("polars")
    from cartreg.stats import coxph, kaplan_meier

    r = ref("veteran_factors_breslow")
    df = pd.read_csv(FIX / r["csv"], dtype={"trt": str})
    covs = ["celltype", "karno", "trt"]
    a = coxph("time", "event", covariates=covs, reference_levels={"celltype": "large"}, data=df,
              ties="breslow")
    b = coxph("time", "event", covariates=covs, reference_levels={"celltype": "large"},
              data=pl.from_pandas(df), ties="breslow")
    df2 = df.assign(time=pd.to_timedelta(df["time"], unit="D"))
    c = coxph("time", "event", covariates=covs, reference_levels={"celltype": "large"}, data=df2,
              ties="breslow")
    assert a.names == b.names == c.names == tuple(r["names"])
    np.testing.assert_array_equal(a.coef, b.coef)
    np.testing.assert_array_equal(a.coef, c.coef)
    close(a.coef, r["coef"], EST)
    # a timedelta in hours is days, not nanoseconds
    km = kaplan_meier("t", "event", data=pd.DataFrame({"t": pd.to_timedelta([36, 48, 12], unit="h"),
                                                       "event": [1, 0, 1]}))
    assert km.time.tolist() == [0.5, 1.5, 2.0]


def test_boolean_dtype_is_a_factor_and_numeric_01_stays_numeric() -> None:
    import pandas as pd

    from cartreg.stats import coxph

    df = pd.DataFrame({"t": [5., 8, 3, 9, 2, 7, 4, 6], "e": [1, 0, 1, 1, 0, 1, 1, 0],
                       "flag": [True, False, True, False, False, True, False, True],
                       "x01": [1, 0, 1, 0, 0, 1, 0, 1]})
    a = coxph("t", "e", covariates=["flag"], data=df)
    b = coxph("t", "e", covariates=["x01"], data=df)
    c = coxph("t", "e", covariates=["x01"], data=df, reference_levels={"x01": 0})
    assert a.names == ("flag=TRUE",) and b.names == ("x01",) and c.names == ("x01=1",)
    assert a.coef[0] == b.coef[0] == c.coef[0]


def test_survival_analysis_is_what_the_cli_prints(capsys) -> None:
    import pandas as pd

    from cartreg.stats import survival_analysis

    r = ref("lung_weights_robust")
    df = pd.read_csv(FIX / r["csv"])
    a = survival_analysis(df, "time", "event", group="sex", covariates=["age", "sex"], weights="w",
                          robust=True)
    code, out, err = run(capsys, ["survival", str(FIX / r["csv"]), *r["cli"], "--format", "json"])
    assert json.loads(out) == json.loads(json.dumps(a.to_dict()))
    assert list(a.to_frame()["term"]) == r["names"]


def test_finegray_to_frame_and_errors() -> None:
    import pandas as pd

    from cartreg.stats import finegray

    r = ref("mgus2_crr")
    df = pd.read_csv(FIX / r["csv"])
    fit = finegray("time", "status", covariates=r["covariates"], data=df, cause=2)
    close(fit.to_frame()["estimate"], r["fg2_coef"], EST)
    assert "Fine-Gray model for cause 2" in fit._repr_html_()
    with pytest.raises(CartregError, match="cause '3' does not occur"):
        finegray("time", "status", covariates=["age"], data=df, cause=3)


def test_docstring_examples_run() -> None:
    """Doctest every module of the statistics layer (the examples in the docs are tested)."""
    import doctest
    import importlib
    import pkgutil

    import cartreg.stats

    failed = 0
    tried = 0
    for info in pkgutil.iter_modules(cartreg.stats.__path__):
        mod = importlib.import_module(f"cartreg.stats.{info.name}")
        res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        failed += res.failed
        tried += res.attempted
    res = doctest.testmod(cartreg.stats)
    assert failed == 0 and res.failed == 0
    assert tried > 30


# ---- Firth's penalised Cox (coxphf) ----------------------------------------------------------

FIRTH_CASES = ["breast", "lung_ecog", "veteran_sparse", "monotone"]


@pytest.mark.parametrize("name", FIRTH_CASES)
def test_survival_cli_firth_matches_coxphf(capsys, name: str) -> None:
    r = json.loads((FIX / f"firth_{name}.json").read_text())
    code, out, err = run(capsys, ["survival", str(FIX / r["csv"]), *r["cli"], "--format", "json"])
    assert code == 0, err
    res = json.loads(out)
    fth = res["firth"]
    assert [t["term"] for t in fth["terms"]] == r["names"]
    assert set(fth["terms"][0]) >= {"term", "coef", "hr", "ci", "p"}
    assert fth["n"] == r["n"] and fth["iterations"] == r["iter"]
    close([t["coef"] for t in fth["terms"]], r["coef"], EST)
    close([t["se"] for t in fth["terms"]], r["se"], EST)
    close([t["hr"] for t in fth["terms"]], r["hr"], EST)
    close([t["ci"][0] for t in fth["terms"]], r["ci_lower"], EST)
    close([t["ci"][1] for t in fth["terms"]], r["ci_upper"], EST)
    # R computes 1 - pchisq(chi, 1), which loses digits for small P; we use the upper tail
    close([t["p"] for t in fth["terms"]], r["p"], 1e-6)
    close([fth["loglik_null"], fth["loglik"]], r["loglik"], EST)
    # the ordinary Cox model is reported as well (Breslow/Efron as --ties; Efron by default)
    assert [t["term"] for t in res["cox"]["terms"]] == r["names"]


def test_firth_iterations_equal_coxphf() -> None:
    import pandas as pd

    from cartreg.stats import coxphf

    r = json.loads((FIX / "firth_breast.json").read_text())
    df = pd.read_csv(FIX / r["csv"])
    fit = coxphf("time", "event", covariates=["T", "N", "G", "CD"], data=df)
    assert fit.iterations == r["iter"]
    assert fit.ci_iterations.tolist() == r["iter_ci"]
    tidy = fit.to_frame()
    close(tidy["conf_high"], r["ci_upper"], EST)
    assert "profile penalised-likelihood" in fit._repr_html_()


def test_firth_is_finite_where_coxph_is_infinite(capsys) -> None:
    r = json.loads((FIX / "firth_monotone.json").read_text())
    code, out, err = run(capsys, ["survival", str(FIX / r["csv"]), *r["cli"], "--format", "json"])
    res = json.loads(out)
    assert res["cox"]["terms"][0]["infinite"] is True and res["cox"]["terms"][0]["hr"] is None
    assert res["firth"]["terms"][0]["hr"] > 1 and res["firth"]["terms"][0]["ci"][1] is not None


def test_firth_rejects_weights(capsys) -> None:
    r = ref("lung_weights_robust")
    code, out, err = run(capsys, ["survival", str(FIX / r["csv"]), "--time", "time", "--event", "event",
                                  "--covariates", "age", "--weights", "w", "--firth"])
    assert code != 0 and "--firth takes no --weights" in err


def test_logrank_followup_cuminc_take_data_and_tidy() -> None:
    import pandas as pd

    import cartreg.stats as cs
    from cartreg.stats.logrank import logrank_test as lr_arrays

    r = json.loads((FIX / "km_cli_lung.json").read_text())
    df = pd.read_csv(FIX / r["csv"])
    df = df.dropna(subset=["time", "status", r["group"]])
    a = cs.logrank_test("time", "status", r["group"], data=df)  # status 1/2: R's Surv coding
    b = lr_arrays(df["time"].to_numpy(float), (df["status"] == 2).to_numpy(float),
                  df[r["group"]].to_numpy(float))
    assert a.chi2 == b.chi2 and a.levels == b.levels
    t = cs.tidy(a)
    assert list(t.columns) == ["group", "n", "observed", "expected", "statistic", "df", "p_value"]
    fu = cs.median_followup("time", "status", data=df)
    assert cs.tidy(fu)["median"][0] == fu.median
    m = pd.read_csv(FIX / ref("mgus2_crr")["csv"])
    ci = cs.cuminc("time", "status", "sex", data=m)
    direct = cs.cuminc(m["time"].to_numpy(float), m["status"].to_numpy(float), m["sex"].to_numpy(object))
    np.testing.assert_array_equal(ci.curve("1", "F").est, direct.curve("1", "F").est)
    assert set(ci.to_frame()["cause"]) == {"1", "2"}


@pytest.mark.parametrize("name", ["lung_months_strata_robust", "lung_strata_robust_breslow"])
def test_robust_with_strata_matches_r(name: str) -> None:
    import pandas as pd

    from cartreg.stats import coxph

    r = ref(name)
    df = pd.read_csv(FIX / r["csv"])
    fit = coxph("time", "event", covariates=r["covariates"], data=df, strata=r["strata"],
                weights=r["weights"], robust=True, ties=r["ties"])
    assert fit.n == r["n"] and fit.excluded == r["excluded"]
    close(fit.coef, r["coef"], EST)
    close(fit.se, r["se"], EST)
    close(fit.robust_se, r["robust_se"], EST)
    close(fit.p, r["p"], PVAL)


def test_pandas_categorical_keeps_category_order() -> None:
    import pandas as pd

    from cartreg.stats import coxph

    r = ref("veteran_factors_breslow")
    df = pd.read_csv(FIX / r["csv"])
    cats = ["squamous", "smallcell", "adeno", "large", "unused"]
    df["cell"] = pd.Categorical(df["celltype"], categories=cats)
    a = coxph("time", "event", covariates=["cell", "karno"], data=df)
    b = coxph("time", "event", covariates=["cell", "karno"], data=df.assign(cell=df["celltype"]),
              reference_levels={"cell": "squamous"})
    assert a.names == ("cell=smallcell", "cell=adeno", "cell=large", "karno")
    got = dict(zip(a.names, a.coef))
    for name, coef in zip(b.names, b.coef):
        assert got[name] == pytest.approx(coef, rel=1e-12)


def test_categorical_by_keeps_order_and_errors_are_clear(capsys) -> None:
    import pandas as pd

    from cartreg.stats import kaplan_meier

    r = ref("bmt_like")
    df = pd.read_csv(FIX / r["csv"])
    df["dz"] = pd.Categorical(df["disease"], categories=["CML", "ALL", "AML"])
    km = kaplan_meier("time", "status", data=df.assign(status=(df["status"] > 0).astype(int)), by="dz")
    assert list(km) == ["CML", "ALL", "AML"]
    assert list(km.to_frame()["strata"].unique()) == ["CML", "ALL", "AML"]
    code, out, err = run(capsys, ["cuminc", str(FIX / r["csv"]), "--time", "time", "--status", "status",
                                  "--cause", "1"])
    assert code != 0 and "need --covariates" in err
    code, out, err = run(capsys, ["cuminc", str(FIX / r["csv"]), "--time", "time", "--status", "status",
                                  "--covariates", "age", "--cause", "7"])
    assert code != 0 and "cause '7' does not occur" in err and "Traceback" not in err


def test_every_result_has_a_tidy_frame_and_html() -> None:
    import pandas as pd

    import cartreg.stats as cs

    r = ref("bmt_like")
    df = pd.read_csv(FIX / r["csv"])
    ev = df.assign(ev=(df["status"] > 0).astype(int))
    km = cs.kaplan_meier("time", "ev", data=ev)
    at = km.at([12, 24])
    t = at.to_frame()
    assert t["estimate"].tolist() == at.surv.tolist() and t["n_risk"].tolist() == at.n_risk.tolist()
    assert km.risk_table([0, 12]).to_frame()["n_risk"].tolist() == [km.n, int(at.n_risk[0])]
    ci = cs.cuminc("time", "status", "disease", data=df)
    g = ci.gray["1"]
    assert ci.gray["1"].to_frame()["statistic"][0] == g.stat
    cv = ci.curve("1", "ALL")
    assert cv.to_frame()["estimate"].tolist() == cv.est.tolist()
    for obj in (km, at, km.risk_table([12]), ci, cv, cv.at([12]), g,
                cs.coxph("time", "ev", covariates=["age"], data=ev),
                cs.finegray("time", "status", covariates=["age"], data=df)):
        html = obj._repr_html_()
        assert html.startswith("<div><strong>") and "<table" in html
