"""`cartreg cuminc` end to end: JSON shape, values against R (cmprsk 2.2.11), defaults, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cartreg.cli.cuminc_cmd import default_times, r_pretty
from cartreg.cli.main import main

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "r"
DATA = FIX / "data"


def run(capsys, args: list[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def nan(x):
    return np.nan if x is None else x


def close(a, b, rtol: float = 1e-10) -> None:
    np.testing.assert_allclose(np.array([nan(v) for v in a], dtype=float),
                               np.array([nan(v) for v in b], dtype=float), rtol=rtol, atol=0, equal_nan=True)


def check_shape(res: dict) -> None:
    """The public contract of issue 3 (extra keys allowed)."""
    assert isinstance(res["n"], int) and isinstance(res["excluded"], int)
    assert isinstance(res["causes"], list) and res["causes"]
    for c in res["causes"]:
        assert isinstance(c["cause"], str)
        for s in c["strata"]:
            assert isinstance(s["group"], str)
            for a in s["at"]:
                assert isinstance(a["time"], float)
                assert a["cif"] is None or isinstance(a["cif"], float)
                assert isinstance(a["ci"], list) and len(a["ci"]) == 2
        g = c["gray"]
        if g is not None:
            assert set(g) >= {"chi2", "df", "p"} and isinstance(g["df"], int)


CLI_CASES = {
    # fixture: (data file, status args)
    "mgus2_sex": ["--group", "sex"],
    "pbc_trt": ["--group", "trt"],
    "pbc_stage": ["--group", "stage"],
    "transplant_abo": ["--group", "abo", "--cens-code", "censored"],
    "mgus2_all": [],
    "cmprsk_example": ["--group", "group"],
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_json_matches_r(capsys, case: str) -> None:
    ref = json.loads((FIX / f"cuminc_{case}.json").read_text())
    at = ",".join(repr(t) for t in ref["times"])
    code, out, err = run(capsys, ["cuminc", str(FIX / ref["data"]), "--time", "time", "--status", "status",
                                  "--at", at, "--format", "json", *CLI_CASES[case]])
    assert code == 0, err
    res = json.loads(out)
    check_shape(res)
    assert (res["n"], res["excluded"]) == (ref["n"], ref["excluded"])
    assert [c["cause"] for c in res["causes"]] == ref["causes"]
    tp = {(r["cause"], r["group"]): r for r in ref["timepoints"]}
    for c in res["causes"]:
        groups = [s["group"] for s in c["strata"]]
        assert groups == (ref["groups"] if ref["group"] else ["all"])
        for s in c["strata"]:
            r = tp[(c["cause"], s["group"] if ref["group"] else "1")]
            assert [a["time"] for a in s["at"]] == ref["times"]
            close([a["cif"] for a in s["at"]], r["est"])
            close([a["ci"][0] for a in s["at"]], r["lower"])
            close([a["ci"][1] for a in s["at"]], r["upper"])
        if ref["tests"] is None:
            assert c["gray"] is None
        else:
            t = next(t for t in ref["tests"] if t["cause"] == c["cause"])
            assert c["gray"]["df"] == t["df"]
            close([c["gray"]["chi2"]], [t["stat"]])
            close([c["gray"]["p"]], [t["pv"]], rtol=1e-8)


def test_beyond_follow_up_is_null(capsys) -> None:
    code, out, _ = run(capsys, ["cuminc", str(DATA / "cuminc_mgus2.csv"), "--time", "time", "--status",
                                "status", "--group", "sex", "--at", "430", "--format", "json"])
    assert code == 0
    for c in json.loads(out)["causes"]:
        for s in c["strata"]:
            assert s["at"] == [{"time": 430.0, "cif": None, "ci": [None, None], "std_err": None}]


def test_no_group_is_one_stratum_all_without_gray(capsys) -> None:
    code, out, _ = run(capsys, ["cuminc", str(DATA / "cuminc_tiny.csv"), "--time", "time", "--status", "status",
                                "--at", "2", "--format", "json"])
    assert code == 0
    res = json.loads(out)
    assert [len(c["strata"]) for c in res["causes"]] == [1, 1]
    assert res["causes"][0]["strata"][0]["group"] == "all"
    assert [c["gray"] for c in res["causes"]] == [None, None]
    assert res["causes"][0]["strata"][0]["at"][0]["cif"] == 0.25


def test_default_times_are_those_print_cuminc_shows(capsys) -> None:
    code, out, _ = run(capsys, ["cuminc", str(DATA / "cuminc_mgus2.csv"), "--time", "time", "--status",
                                "status", "--format", "json"])
    assert code == 0
    assert json.loads(out)["times"] == [100.0, 200.0, 300.0, 400.0]  # max time 424 months
    assert default_times(0.0) == [0.0]


def test_r_pretty_matches_r() -> None:
    ref = json.loads((FIX / "cuminc_pretty.json").read_text())
    for case in ref["cases"]:
        np.testing.assert_allclose(r_pretty(0.0, case["max"], 5), case["pretty"], rtol=1e-12, atol=1e-15)


def test_table_output(capsys) -> None:
    code, out, _ = run(capsys, ["cuminc", str(DATA / "cuminc_mgus2.csv"), "--time", "time", "--status", "status",
                                "--group", "sex", "--at", "120"])
    assert code == 0
    assert "Competing risks: n=1384, excluded=0 (missing values); 95% CI, log(-log) transform" in out
    assert "Cumulative incidence of 1" in out and "Cumulative incidence of 2" in out
    assert "Gray's test: chi2 = 1.195 on 1 df, P=0.274" in out
    assert "Gray's test: chi2 = 11.651 on 1 df, P<.001" in out


def test_semicolon_csv_with_bom_and_missing_group(tmp_path, capsys) -> None:
    p = tmp_path / "d.csv"
    p.write_bytes(b"\xef\xbb\xbfdays;state;arm\n1;1;A\n2;2;B\n3;0;\n4;1;A\n5;1;B\n6;0;B\n")
    code, out, err = run(capsys, ["cuminc", str(p), "--time", "days", "--status", "state", "--group", "arm",
                                  "--at", "4", "--format", "json"])
    assert code == 0, err
    res = json.loads(out)
    assert (res["n"], res["excluded"]) == (5, 1)
    assert [s["group"] for s in res["causes"][0]["strata"]] == ["A", "B"]


@pytest.mark.parametrize(("args", "message"), [
    (["--time", "tim", "--status", "status"], "unknown column 'tim'"),
    (["--time", "time", "--status", "status", "--format", "xml"], "unknown --format"),
    (["--time", "time", "--status", "status", "--at", "1,x"], "--at: 'x' is not a number"),
    (["--time", "time", "--status", "status", "--at", "-1"], "not a finite time >= 0"),
    (["--time", "time", "--status", "status", "--conf-level", "95"], "strictly between 0 and 1"),
    (["--time", "group", "--status", "status"], "group"),
])
def test_input_errors_exit_without_traceback(capsys, args: list[str], message: str) -> None:
    code, out, err = run(capsys, ["cuminc", str(DATA / "cuminc_tiny.csv"), *args])
    assert code == 2
    assert message in err and "Traceback" not in err


def test_all_censored_is_an_error(tmp_path, capsys) -> None:
    p = tmp_path / "c.csv"
    p.write_text("t,s\n1,0\n2,0\n")
    code, _, err = run(capsys, ["cuminc", str(p), "--time", "t", "--status", "s"])
    assert code == 2 and "no events" in err
