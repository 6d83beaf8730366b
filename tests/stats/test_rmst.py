"""RMST (`cartreg survival --rmst TAU`, `cartreg.stats.rmst`) against R: print(survfit, rmean = tau)
for each group and survRM2::rmst2 for each pair of groups.

References: scripts/r-reference/rmst.R -> tests/fixtures/r/rmst_*.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cartreg.cli.main import main
from cartreg.errors import CartregError
from cartreg.stats.rmst import rmst, rmst_from_km

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "r"
CASES = sorted(p.stem.removeprefix("rmst_") for p in FIX.glob("rmst_*.json"))
EST, PV = 1e-6, 1e-4


def close(a, b, rtol=EST):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=rtol, atol=0)


def test_cases_exist():
    assert len(CASES) >= 10


@pytest.mark.parametrize("name", CASES)
def test_cli_rmst_matches_r(capsys, name):
    ref = json.loads((FIX / f"rmst_{name}.json").read_text())
    args = ["survival", str(FIX / ref["csv"]), "--time", "time", "--event", "event",
            "--rmst", repr(ref["tau"]), "--format", "json"]
    if ref["grouped"]:
        args += ["--group", "group"]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 0, err
    block = json.loads(out)["rmst"]
    assert set(block) >= {"tau", "strata", "contrasts"}
    assert block["tau"] == ref["tau"]
    assert [s["group"] for s in block["strata"]] == [s["group"] for s in ref["strata"]]
    close([s["rmst"] for s in block["strata"]], [s["rmst"] for s in ref["strata"]], 1e-12)
    close([s["se"] for s in block["strata"]], [s["se"] for s in ref["strata"]], 1e-10)
    assert [c["groups"] for c in block["contrasts"]] == [c["groups"] for c in ref["contrasts"]]
    for c, r in zip(block["contrasts"], ref["contrasts"]):
        assert set(c) >= {"groups", "diff", "ratio"}
        if "error" in r:  # rmst2 stops: cartreg keeps the per-group RMST and explains
            assert c["diff"]["est"] is None and "survRM2::rmst2" in c["note"]
            continue
        for key in ("diff", "ratio", "rmtl_ratio"):
            if not np.isfinite(r[key]["est"]):  # R: Inf (a group has RMST = tau); JSON null here
                assert c[key]["est"] is None and c[key]["p"] is None and r[key]["p"] is None
                continue
            close(c[key]["est"], r[key]["est"])
            close(c[key]["ci"], r[key]["ci"])
            close(c[key]["p"], r[key]["p"], PV)
            close(c[key]["p"], r[key]["p"], 1e-9)


def test_by_hand():
    # S = 0.75 on [1,2), 0.5 on [2,4): RMST(3) = 1 + 0.75 + 0.5 = 2.25
    # variance: event at 1 (n=4, d=1): area beyond 1 up to 3 = 1.25 -> 1.25^2 / 12;
    #           event at 2 (n=3, d=1): area beyond 2 = 0.5 -> 0.5^2 / 6
    r = rmst(np.array([1., 2, 3, 4]), np.array([1, 1, 0, 1]), tau=3.0)
    assert r.strata[0].rmst == pytest.approx(2.25, rel=1e-14)
    assert r.strata[0].variance == pytest.approx(1.25 ** 2 / 12 + 0.5 ** 2 / 6, rel=1e-14)


def test_tau_before_any_time_is_an_error():
    with pytest.raises(CartregError, match="smallest time"):
        rmst(np.array([5., 6, 7]), np.array([1, 0, 1]), tau=2.0)


def test_tau_beyond_follow_up_carries_last_value_forward():
    a, v = rmst_from_km(np.array([1., 2]), np.array([2, 1]), np.array([1, 0]), np.array([0.5, 0.5]), 10.0)
    assert a == pytest.approx(1 + 0.5 * 9, rel=1e-14)
    assert v == pytest.approx(4.5 ** 2 * 1 / (2 * 1), rel=1e-14)


def test_bad_tau(capsys):
    code = main(["survival", str(FIX / "data" / "rmst_aml_early.csv"), "--time", "time", "--event", "event",
                 "--rmst", "-1"])
    _, err = capsys.readouterr()
    assert code == 2 and "tau" in err and "Traceback" not in err
