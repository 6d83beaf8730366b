"""Table 1 (`cartreg compare`, `cartreg.stats.compare`) against R: chisq.test / fisher.test /
wilcox.test / kruskal.test with gtsummary's default choice, quantile type 7, tableone's SMD.

References: scripts/r-reference/compare.R -> tests/fixtures/r/compare_*.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cartreg.cli.main import main
from cartreg.errors import CartregError
from cartreg.stats.compare import compare
from cartreg.stats.group_tests import chisq_test, fisher_exact, kruskal_test, wilcox_test

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "r"
CASES = sorted(p.stem.removeprefix("compare_") for p in FIX.glob("compare_*.json"))
EST, PV = 1e-6, 1e-4  # relative tolerance for estimates; P values


def nan(x):
    return np.nan if x is None else x


def close(a, b, rtol=EST):
    np.testing.assert_allclose(np.array([nan(v) for v in np.atleast_1d(a)], dtype=float),
                               np.array([nan(v) for v in np.atleast_1d(b)], dtype=float),
                               rtol=rtol, atol=0, equal_nan=True)


def test_cases_exist():
    assert len(CASES) >= 7


@pytest.mark.parametrize("name", CASES)
def test_cli_json_matches_r(capsys, name):
    ref = json.loads((FIX / f"compare_{name}.json").read_text())
    code = main(["compare", str(FIX / ref["csv"]), "--by", ref["by"], "--vars", ",".join(ref["vars"]),
                 "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    res = json.loads(out)
    assert set(res) >= {"by", "groups", "variables"}
    assert res["by"] == ref["by"]
    assert [g["level"] for g in res["groups"]] == ref["groups"]
    assert [g["n"] for g in res["groups"]] == ref["n"]
    assert res["excluded"] == ref["excluded"]
    assert [v["name"] for v in res["variables"]] == [v["name"] for v in ref["variables"]]
    for v, r in zip(res["variables"], ref["variables"]):
        assert set(v) >= {"name", "type", "test", "statistic", "p", "smd", "n_missing"}
        assert v["type"] == r["type"], v["name"]
        assert v["test"] == r["test"], v["name"]
        assert v["n_missing"] == r["n_missing"]
        assert v["n_missing_by_group"] == r["n_missing_by_group"]
        close(v["p"], r["p"], PV)
        close(v["p"], r["p"], 1e-9)  # tighter than required: the same formulas
        close(v["statistic"], r["statistic"])
        if r["df"] is not None:
            assert v["df"] == r["df"]
        close(v["smd"], r["smd"])
        close(v["smd_pairs"], r["smd_pairs"])
        if r["type"] == "categorical":
            assert [lev["level"] for lev in v["levels"]] == r["levels"]
            counts = [[g["n"] for g in lev["groups"]] for lev in v["levels"]]
            assert counts == r["counts"]
            close([[g["pct"] for g in lev["groups"]] for lev in v["levels"]], r["pct"])
        else:
            s = v["summary"]
            assert [x["n"] for x in s] == r["n"]
            for key in ("median", "q1", "q3", "mean", "sd"):
                close([x[key] for x in s], r[key])
            assert v["exact"] == r.get("exact", v["exact"])


def test_quantile_type_2_matches_r(capsys):
    ref = json.loads((FIX / "compare_pbc_trt.json").read_text())
    code = main(["compare", str(FIX / ref["csv"]), "--by", "trt", "--vars", "age,bili,chol",
                 "--quantile-type", "2", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    res = json.loads(out)
    refs = {r["name"]: r for r in ref["variables"]}
    for v in res["variables"]:
        for key in ("median", "q1", "q3"):
            close([x[key] for x in v["summary"]], refs[v["name"]][key + "_type2"])


def test_table_output(capsys):
    code = main(["compare", str(FIX / "data" / "compare_ovarian_rx.csv"), "--by", "rx"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "5 (38.5%)" in out and "P=0.724" in out and "Wilcoxon" in out


# ---- hand-checkable cases --------------------------------------------------------------------

def test_fisher_2x2_by_hand():
    # hypergeometric: margins 4/4, 4/4; observed x11 = 3 has P = 16/70; tables with P <= that:
    # x11 in {0, 1, 3, 4}: (1 + 16 + 16 + 1) / 70
    assert fisher_exact([[3, 1], [1, 3]]) == pytest.approx(34 / 70, rel=1e-12)


def test_fisher_rxc_values_from_r():
    # fisher.test(matrix(c(2,0,5, 3,4,1, 1,6,0), 3)); fisher.test(table(pbc$edema, pbc$stage))
    assert fisher_exact([[2, 3, 1], [0, 4, 6], [5, 1, 0]]) == pytest.approx(0.004673813849158623, rel=1e-9)
    assert fisher_exact([[20, 86, 138, 104], [1, 5, 14, 24], [0, 1, 3, 16]]) == pytest.approx(
        9.111685727988e-05, rel=1e-8)


def test_fisher_symmetric_ties_counted():
    # every table of a symmetric 2x2 with equal margins: the mirror table has equal probability
    p = fisher_exact([[5, 0], [0, 5]])
    assert p == pytest.approx(2 / 252, rel=1e-12)


def test_fisher_drops_empty_rows_and_transposes():
    t = np.array([[2, 3, 1], [0, 0, 0], [5, 1, 0]])
    assert fisher_exact(t) == pytest.approx(fisher_exact(t[[0, 2]]), rel=1e-12)
    assert fisher_exact(t.T) == pytest.approx(fisher_exact(t), rel=1e-12)


def test_chisq_by_hand():
    t = chisq_test([[10, 20], [20, 10]])
    assert t.statistic == pytest.approx(4 * 25 / 15, rel=1e-12)
    assert t.df == 1


def test_wilcox_exact_by_hand():
    # x all above y: W = nx*ny = 12, P(U >= 12) = 1 / C(7, 3) = 1/35, two-sided 2/35
    t = wilcox_test(np.array([10., 11, 12, 13]), np.array([1., 2, 3]))
    assert (t.statistic, t.exact) == (12.0, True)
    assert t.p == pytest.approx(2 / 35, rel=1e-12)


def test_wilcox_ties_use_normal_approximation():
    t = wilcox_test(np.array([1., 2, 2, 3]), np.array([2., 4, 5]))
    assert not t.exact
    # wilcox.test(c(1,2,2,3), c(2,4,5)): W = 2, p-value = 0.19908985214820457 (R 4.2.2)
    assert t.statistic == 2.0
    assert t.p == pytest.approx(0.19908985214820457, rel=1e-9)


def test_kruskal_by_hand():
    t = kruskal_test(np.array([1., 2, 3, 4, 5, 6]), np.array([0, 0, 1, 1, 2, 2]))
    # H = 12 / (6 * 7) * (3^2/2 + 7^2/2 + 11^2/2) - 3 * 7 = 32/7
    assert t.statistic == pytest.approx(32 / 7, rel=1e-12)
    assert t.df == 2


def test_missing_group_rows_excluded_and_counted():
    res = compare({"g": np.array(["a", None, "b", "a", "b"], dtype=object),
                   "x": np.array([1.0, 2.0, np.nan, 4.0, 5.0])}, by="g", types={"x": "continuous"})
    assert res.n == (2, 2) and res.excluded == 1
    v = res.variables[0]
    assert v.n_missing == 1 and v.n_missing_by_group == (0, 1)
    assert v.stats[0]["median"] == 2.5


def test_errors():
    with pytest.raises(CartregError):
        compare({"g": np.array([None, None], dtype=object), "x": np.array([1.0, 2.0])}, by="g")
    with pytest.raises(CartregError):
        compare({"g": np.array(["a", "b"], dtype=object), "x": np.array(["u", "v"], dtype=object)},
                by="g", types={"x": "continuous"})
    with pytest.raises(CartregError):
        compare({"g": np.array(["a", "b"], dtype=object)}, by="g", variables=["nope"])


def test_to_frame_is_long():
    pd = pytest.importorskip("pandas")
    res = compare({"g": np.array(["a", "a", "b", "b"], dtype=object),
                   "s": np.array(["F", "M", "F", "F"], dtype=object)}, by="g")
    f = res.to_frame()
    assert isinstance(f, pd.DataFrame)
    assert f[(f.level == "F") & (f.group == "b")]["n"].iloc[0] == 2


def test_fisher_too_large_is_reported_not_approximated():
    # colon's differ x extent (n = 1812): R's fisher.test stops with "FEXACT error 6"
    big = [[10, 24, 152, 0], [24, 156, 1084, 62], [6, 24, 254, 16]]
    with pytest.raises(CartregError, match="too large"):
        fisher_exact(big, max_nodes=20_000)
    rows = np.repeat(np.arange(3), [sum(r) for r in big])
    cols = np.concatenate([np.repeat(np.arange(4), r) for r in big])
    import cartreg.stats.group_tests as gt

    old = gt.FISHER_MAX_NODES
    try:
        gt.fisher_exact.__defaults__ = (20_000,)
        res = compare({"g": rows.astype(str).astype(object), "v": cols.astype(str).astype(object)}, by="g")
    finally:
        gt.fisher_exact.__defaults__ = (old,)
    v = res.variables[0]
    assert v.test == "fisher" and v.p is None and "too large" in v.notes[0]


def test_parquet_boolean_column_is_true_false(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"g": ["a", "b", "a", "b", "a", "b"], "flag": [True, False, True, True, None, False]}),
                   path)
    code = main(["compare", str(path), "--by", "g", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    v = json.loads(out)["variables"][0]
    assert [lev["level"] for lev in v["levels"]] == ["FALSE", "TRUE"]
    assert [[g["n"] for g in lev["groups"]] for lev in v["levels"]] == [[0, 2], [2, 1]]
    assert v["n_missing"] == 1 and v["test"] == "fisher"
