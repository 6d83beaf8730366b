"""cox.zph (proportional-hazards test) against R survival 3.5.3: scripts/r-reference/zph.R.

Each fixture holds the data (CSV), the model and R's cox.zph(fit) output at 17 digits.
Tolerances: estimates (statistics, residuals, transformed times) 1e-6 relative as the issue asks
(we hold 1e-10), P values 1e-4 (we hold 1e-10).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cartreg.errors import CartregError
from cartreg.stats import cox_zph, coxph, design_matrix
from cartreg.stats.zph import term_assignment

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "r"
CASES = sorted(p.stem[len("zph_"):] for p in FIXTURES.glob("zph_*.json"))
RTOL = 1e-10
RTOL_P = 1e-10


def _read_csv(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([r[k] for r in rows], dtype=object) for k in rows[0]}


def _num(col: np.ndarray) -> np.ndarray:
    return np.array([float(v) if v != "" else np.nan for v in col])


def _arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _fit(ref: dict):
    data = _read_csv(FIXTURES / ref["csv"])
    numeric = {name: _num(data[name]) for name in ref["numeric"]}
    group = data[ref["group"]] if ref["group"] else None
    X, names = design_matrix(group, ref["reference"], numeric=numeric, group_name=ref["group"] or "g")
    # strata as numbers, so their order is R's (numeric factor levels)
    strata = _num(data[ref["strata"]]) if ref["strata"] else None
    t, e = _num(data["time"]), _num(data["event"])
    fit = coxph(t, e, X, names, ties=ref["ties"], strata=strata)
    return fit, cox_zph(fit, t, e, X, strata=strata, transform=ref["transform"])


@pytest.fixture(scope="module", params=CASES)
def case(request):
    ref = json.loads((FIXTURES / f"zph_{request.param}.json").read_text())
    return ref, *_fit(ref)


def test_fixtures_cover_the_brief():
    assert len(CASES) >= 12
    refs = [json.loads((FIXTURES / f"zph_{c}.json").read_text()) for c in CASES]
    assert any(r["strata"] for r in refs) and any(r["group"] for r in refs)
    assert {r["ties"] for r in refs} == {"efron", "breslow"}
    assert {r["transform"] for r in refs} == {"km", "identity", "rank", "log"}
    assert {r["dataset"].split("_")[0] for r in refs} >= {"lung", "veteran", "pbc"}


def test_fit_is_r_fit(case):
    ref, fit, z = case
    assert list(fit.names) == ref["columns"]
    assert (fit.n, fit.events) == (ref["n"], ref["events"])
    np.testing.assert_allclose(fit.coef, ref["coef"], rtol=1e-7)


def test_table(case):
    ref, _fit_, z = case
    assert list(z.terms) == ref["terms"]
    np.testing.assert_allclose(z.chisq, ref["chisq"], rtol=RTOL)
    assert z.df.tolist() == [int(d) for d in ref["df"]]
    np.testing.assert_allclose(z.p, ref["p"], rtol=RTOL_P)
    np.testing.assert_allclose(z.global_chisq, ref["global_chisq"], rtol=RTOL)
    assert z.global_df == ref["global_df"]
    np.testing.assert_allclose(z.global_p, ref["global_p"], rtol=RTOL_P)


def test_times_and_residuals(case):
    ref, _fit_, z = case
    np.testing.assert_allclose(z.time, ref["time"], rtol=1e-12)
    np.testing.assert_allclose(z.x, ref["x"], rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(z.y, np.array([_arr(r) for r in ref["y"]]), rtol=RTOL, atol=1e-10)
    np.testing.assert_allclose(z.var, np.array(ref["var"], dtype=float), rtol=RTOL)
    np.testing.assert_allclose(z.schoenfeld, np.array(ref["schoenfeld"], dtype=float), rtol=RTOL, atol=1e-9)
    if ref["event_strata"] is not None:
        assert len(z.strata) == len(ref["event_strata"])


def test_to_dict_shape():
    ref = json.loads((FIXTURES / "zph_veteran_celltype_karno.json").read_text())
    _f, z = _fit(ref)
    d = z.to_dict()
    assert set(d) == {"chisq", "df", "p", "terms"}
    assert list(d["terms"]) == ["celltype", "karno", "age"]
    assert d["terms"]["celltype"]["df"] == 3 and d["df"] == 5


def test_hand_check_single_binary_breslow_no_ties():
    """Two groups, no ties, identity transform: U and the information written out by hand."""
    t = np.array([1.0, 2, 3, 4, 5, 6])
    e = np.array([1, 1, 1, 1, 1, 1])
    x = np.array([[1.0], [0], [1], [0], [1], [0]])
    fit = coxph(t, e, x, ["x"], ties="breslow")
    z = cox_zph(fit, t, e, x, transform="identity")
    b = float(fit.coef[0])
    g = t - t.mean()
    u2 = i11 = i12 = i22 = 0.0
    for j in range(6):  # risk set = rows j..5
        xs, w = x[j:, 0], np.exp(b * x[j:, 0])
        m = (w * xs).sum() / w.sum()
        v = (w * xs * xs).sum() / w.sum() - m * m
        u2 += g[j] * (x[j, 0] - m)
        i11, i12, i22 = i11 + v, i12 + g[j] * v, i22 + g[j] ** 2 * v
    A = np.array([[i11, i12], [i12, i22]])
    expected = np.linalg.solve(A, [0.0, u2]) @ [0.0, u2]
    assert z.global_chisq == pytest.approx(expected, rel=1e-10)
    assert z.chisq[0] == pytest.approx(expected, rel=1e-10)


def test_term_assignment_and_errors():
    assert term_assignment(["a=1", "a=2", "b"]) == {"a": [0, 1], "b": [2]}
    t = np.array([1.0, 2, 3, 4]); e = np.array([1, 0, 1, 1]); x = np.array([[0.0], [1], [0], [1]])
    fit = coxph(t, e, x, ["x"])
    with pytest.raises(CartregError, match="fitted on"):
        cox_zph(fit, t[:3], e[:3], x[:3])
    with pytest.raises(CartregError, match="transform"):
        cox_zph(fit, t, e, x, transform="sqrt")
