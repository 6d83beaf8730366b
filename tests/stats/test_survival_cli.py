"""`cartreg survival` end to end: JSON shape, values against R, event coding, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cartreg.cli.main import main

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "r"
CLI_CASES = {
    # name: (time, event, extra args)
    "lung": ("time", "status", ["--reference", "1", "--covariates", "age,ph.karno"]),
    "veteran": ("time", "status", ["--covariates", "karno,trt"]),
    "pbc": ("time", "death", ["--covariates", "age"]),
    "edge": ("time", "event", []),
}


def run(capsys, args: list[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def nan(x):
    return np.nan if x is None else x


def close(a, b, rtol: float) -> None:
    np.testing.assert_allclose(np.array([nan(v) for v in np.atleast_1d(a)], dtype=float),
                               np.array([nan(v) for v in np.atleast_1d(b)], dtype=float),
                               rtol=rtol, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_json_matches_r(capsys, name: str) -> None:
    ref = json.loads((FIX / f"km_cli_{name}.json").read_text())
    time, event, extra = CLI_CASES[name]
    at = ",".join(f"{t:g}" for t in ref["at"])
    code, out, err = run(capsys, ["survival", str(FIX / ref["csv"]), "--time", time, "--event", event,
                                  "--group", ref["group"], "--at", at, "--format", "json", *extra])
    assert code == 0, err
    res = json.loads(out)
    assert set(res) >= {"n", "events", "excluded", "conf_type", "conf_level", "strata", "logrank", "cox"}
    assert (res["n"], res["events"], res["excluded"]) == (ref["n"], ref["events"], ref["excluded"])
    assert res["conf_type"] == "log" and res["conf_level"] == 0.95
    assert [s["group"] for s in res["strata"]] == [s["group"] for s in ref["strata"]]
    for s, r in zip(res["strata"], ref["strata"]):
        assert set(s) >= {"group", "n", "events", "median", "median_ci", "followup_median", "at"}
        assert (s["n"], s["events"]) == (r["n"], r["events"])
        close([s["median"], *s["median_ci"]], [r["median"], *r["median_ci"]], 1e-10)
        close(s["followup_median"], r["followup_median"], 1e-10)
        assert [a["time"] for a in s["at"]] == r["at_time"]
        assert [a["n_risk"] for a in s["at"]] == r["at_n_risk"]
        close([a["survival"] for a in s["at"]], r["at_surv"], 1e-10)
        close([a["ci"][0] for a in s["at"]], r["at_lower"], 1e-10)
        close([a["ci"][1] for a in s["at"]], r["at_upper"], 1e-10)
    lr = res["logrank"]
    assert set(lr) >= {"chi2", "df", "p"} and lr["df"] == ref["logrank"]["df"]
    close(lr["chi2"], ref["logrank"]["chi2"], 1e-10)
    close(lr["p"], ref["logrank"]["p"], 1e-4)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("name", ["lung", "veteran", "pbc"])
def test_cox_matches_r(capsys, name: str, ties: str) -> None:
    ref = json.loads((FIX / f"km_cli_{name}.json").read_text())
    time, event, extra = CLI_CASES[name]
    code, out, err = run(capsys, ["survival", str(FIX / ref["csv"]), "--time", time, "--event", event,
                                  "--group", ref["group"], "--ties", ties, "--format", "json", *extra])
    assert code == 0, err
    cox, rc = json.loads(out)["cox"], ref["cox"][ties]
    assert set(cox) >= {"terms", "loglik", "lr_chi2", "lr_p"}
    assert [t["term"] for t in cox["terms"]] == rc["terms"]
    close([t["hr"] for t in cox["terms"]], rc["hr"], 1e-6)
    close([t["ci"][0] for t in cox["terms"]], rc["lower"], 1e-6)
    close([t["ci"][1] for t in cox["terms"]], rc["upper"], 1e-6)
    close([t["p"] for t in cox["terms"]], rc["p"], 1e-4)
    close(cox["loglik"], rc["loglik"], 1e-10)
    close(cox["lr_chi2"], rc["lr_chi2"], 1e-6)
    close(cox["lr_p"], rc["lr_p"], 1e-4)


def test_group_without_events_gives_null_hr(capsys) -> None:
    ref = json.loads((FIX / "km_cli_edge.json").read_text())
    code, out, err = run(capsys, ["survival", str(FIX / ref["csv"]), "--time", "time", "--event", "event",
                                  "--group", "grp", "--format", "json"])
    assert code == 0
    res = json.loads(out)
    b = res["cox"]["terms"][0]
    assert b["term"] == "grp=B" and b["hr"] is None and b["ci"] == [None, None] and b["p"] is None
    strata = {s["group"]: s for s in res["strata"]}
    assert strata["B"]["events"] == 0 and strata["B"]["median"] is None
    assert strata["C"]["n"] == 1 and strata["C"]["median"] == 5.0
    assert res["excluded"] == ref["excluded"] == 2  # (event and group missing), (time missing)
    close(res["cox"]["loglik_null"], ref["cox"]["efron"]["loglik_null"], 1e-10)


def test_no_group_one_null_stratum(capsys) -> None:
    csv = FIX / "data" / "km_pitfall.csv"
    code, out, err = run(capsys, ["survival", str(csv), "--time", "time", "--event", "event",
                                  "--at", "9,4", "--format", "json"])
    assert code == 0
    res = json.loads(out)
    assert "logrank" not in res and "cox" not in res
    (s,) = res["strata"]
    assert s["group"] is None and s["median"] == 4.0 and s["median_ci"] == [3.0, None]
    assert [a["time"] for a in s["at"]] == [4.0, 9.0]
    assert [a["n_risk"] for a in s["at"]] == [5, 0]
    assert s["at"][1]["survival"] == 0.5
    assert s["followup_median"] == 6.5  # reverse KM flat at 0.5 from 6 to 7 (R: 6.5)


def test_event_words_and_r_coding(capsys, tmp_path: Path) -> None:
    p = tmp_path / "w.csv"
    p.write_text("t,dead,st\n1,yes,2\n2,No,1\n3,TRUE,2\n4,false,1\n")
    code, out, err = run(capsys, ["survival", str(p), "--time", "t", "--event", "dead", "--format", "json"])
    a = json.loads(out)
    code2, out2, err2 = run(capsys, ["survival", str(p), "--time", "t", "--event", "st", "--format", "json"])
    assert code == code2 == 0
    assert a == json.loads(out2) and a["events"] == 2
    assert "Surv coding" in err2 and "Surv coding" not in err


@pytest.mark.parametrize("args, message", [
    (["--time", "nope", "--event", "event"], "unknown column 'nope'"),
    (["--time", "time", "--event", "event", "--conf-type", "logit"], "unknown conf type"),
    (["--time", "time", "--event", "grp"], "event column 'grp' must hold"),
    (["--time", "grp", "--event", "event"], "cannot read 'A' as a number"),
    (["--time", "time", "--event", "event", "--group", "grp", "--reference", "Z"], "reference level 'Z'"),
    (["--time", "time", "--event", "event", "--at", "1,x"], "--at"),
    (["--time", "time", "--event", "event", "--format", "xml"], "--format"),
])
def test_bad_input_exits_2_without_traceback(capsys, args: list[str], message: str) -> None:
    code, out, err = run(capsys, ["survival", str(FIX / "data" / "km_edge_groups.csv"), *args])
    assert code == 2
    assert message in err and "Traceback" not in err


def test_table_output(capsys) -> None:
    code, out, err = run(capsys, ["survival", str(FIX / "data" / "km_aml.csv"), "--time", "time",
                                  "--event", "status", "--group", "x", "--at", "12"])
    assert code == 0
    assert "Maintained" in out and "Log-rank test: chi2 = 3.396 on 1 df, P=0.065" in out
    assert "31 (18–NR)" in out  # R: median 31, 95% CI 18-NA for Maintained


def test_parquet_and_xlsx_give_the_same_json(capsys, tmp_path: Path) -> None:
    import openpyxl
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cartreg.io.datafile import read_table

    src = read_table(FIX / "data" / "km_aml.csv")
    t, e, x = src.numeric("time"), src.numeric("status"), src.text("x")
    pq.write_table(pa.table({"time": t, "status": pa.array(e.astype(int)), "x": list(x)}), tmp_path / "aml.parquet")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["time", "status", "x"])
    for row in zip(t.tolist(), e.astype(int).tolist(), x.tolist()):
        ws.append(list(row))
    wb.save(tmp_path / "aml.xlsx")
    outs = []
    for path in (FIX / "data" / "km_aml.csv", tmp_path / "aml.parquet", tmp_path / "aml.xlsx"):
        code, out, err = run(capsys, ["survival", str(path), "--time", "time", "--event", "status",
                                      "--group", "x", "--at", "12,24", "--format", "json"])
        assert code == 0, err
        outs.append(json.loads(out))
    assert outs[0] == outs[1] == outs[2]
    assert [s["group"] for s in outs[0]["strata"]] == ["Maintained", "Nonmaintained"]
