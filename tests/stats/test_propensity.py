"""Propensity scores, IP weights and the balance table (`cartreg.stats.propensity`) against R:
glm(binomial) fitted values, the weight formulas, tableone CreateTableOne / svyCreateTableOne SMDs.

References: scripts/r-reference/propensity.R -> tests/fixtures/r/propensity_*.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cartreg.cli.compare_cmd import read_columns
from cartreg.errors import CartregError
from cartreg.io.datafile import read_table
from cartreg.stats.propensity import ipw_weights, propensity

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "r"
CASES = sorted(p.stem.removeprefix("propensity_") for p in FIX.glob("propensity_*.json"))
EST = 1e-6


def close(a, b, rtol=EST):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rtol, atol=0)


def test_cases_exist():
    assert len(CASES) >= 6


@pytest.mark.parametrize("name", CASES)
def test_matches_r(name):
    ref = json.loads((FIX / f"propensity_{name}.json").read_text())
    table = read_table(FIX / ref["csv"])
    data = read_columns(table, [ref["treatment"], *ref["covariates"]])
    res = propensity(ref["treatment"], ref["covariates"], data=data, estimand=ref["estimand"],
                     stabilize=ref["stabilized"], factors=ref["factors"])
    assert (res.treated, res.control) == (ref["treated"], ref["control"])
    assert (res.n, res.excluded) == (ref["n"], ref["excluded"])
    rows = np.flatnonzero(res.keep) + 1
    assert rows.tolist() == [int(r) for r in ref["rows"]]
    close(res.model.coef, ref["coef"])
    close(res.ps[res.keep], ref["ps"])
    close(res.weights[res.keep], ref["weights"])
    assert np.isnan(res.weights[~res.keep]).all()
    assert [b.variable for b in res.balance] == ref["covariates"]
    assert [b.variable for b in res.balance if b.type == "categorical"] == ref["categorical"]
    close([b.smd_before for b in res.balance], ref["smd_before"])
    close([b.smd_after for b in res.balance], ref["smd_after"])
    close(res.ess, [ref["ess_treated"], ref["ess_control"]])
    d = res.to_dict()
    assert set(d) >= {"treatment", "treated", "estimand", "balance", "model", "ess", "weights"}


def test_weights_by_hand():
    ps = np.array([0.2, 0.5, 0.8, 0.4])
    t = np.array([True, False, True, False])
    assert ipw_weights(ps, t).tolist() == pytest.approx([5.0, 2.0, 1.25, 1 / 0.6])
    assert ipw_weights(ps, t, stabilize=True).tolist() == pytest.approx([2.5, 1.0, 0.625, 0.5 / 0.6])
    assert ipw_weights(ps, t, "ATT").tolist() == pytest.approx([1.0, 1.0, 1.0, 0.4 / 0.6])


def test_errors():
    with pytest.raises(CartregError, match="two levels"):
        propensity("t", ["x"], data={"t": np.array(["a", "b", "c"], dtype=object), "x": np.array([1., 2, 3])})
    with pytest.raises(CartregError, match="estimand"):
        ipw_weights(np.array([0.5]), np.array([True]), "ATC")
    with pytest.raises(CartregError, match="treated level"):
        propensity("t", ["x"], data={"t": np.array(["a", "b", "a", "b"], dtype=object),
                                     "x": np.array([1., 2, 3, 4])}, treated="z")


def test_pandas_dataframe_and_frames():
    pd = pytest.importorskip("pandas")
    ref = json.loads((FIX / "propensity_birthwt_ate.json").read_text())
    df = pd.read_csv(FIX / ref["csv"])
    res = propensity(ref["treatment"], ref["covariates"], data=df)
    close(res.weights[res.keep], ref["weights"])
    bal = res.to_frame()
    assert list(bal["variable"]) == ref["covariates"]
    close(bal["smd_after"].to_numpy(), ref["smd_after"])
    from cartreg.stats import compare, logistic

    t1 = compare(df, "smoke", ["age", "race"])
    assert t1.groups == ("no", "yes")
    assert set(t1.to_frame().columns) >= {"variable", "level", "group", "n", "p", "smd"}
    lf = logistic("low", ["age", "race", "smoke"], df, reference_levels={"race": "white"}, profile=False)
    frame = lf.to_frame()
    assert list(frame["term"]) == ["(Intercept)", "age", "race=black", "race=other", "smoke=yes"]
