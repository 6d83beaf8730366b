"""``cartreg survival --zph``: the PH test of R ``cox.zph(fit, transform = "km", terms = TRUE)`` through
the CLI, against the committed R references (scripts/r-reference/zph.R), and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cartreg.cli.main import main

R = Path(__file__).resolve().parents[1] / "fixtures" / "r"


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("name", ["zph_veteran_celltype_karno", "zph_lung_sex_age", "zph_lung_ecog_factor_age"])
def test_zph_json_matches_r(name, capsys):
    ref = json.loads((R / f"{name}.json").read_text())
    assert ref["strata"] is None and ref["ties"] == "efron" and ref["transform"] == "km"
    args = ["survival", str(R / ref["csv"]), "--time", "time", "--event", "event", "--zph", "--format", "json"]
    covs = list(ref["numeric"])
    if ref["group"]:
        args += ["--group", ref["group"], "--reference", str(ref["reference"])]
    if covs:
        args += ["--covariates", ",".join(covs)]
    code, out, err = _run(args, capsys)
    assert code == 0, err
    z = json.loads(out)["zph"]
    assert [t["term"] for t in z["terms"]] == [ref["group"] if t == ".g" else t for t in ref["terms"]]
    for t, c, d, p in zip(z["terms"], ref["chisq"], ref["df"], ref["p"]):
        assert t["df"] == d
        assert t["chisq"] == pytest.approx(c, rel=1e-8)
        assert t["p"] == pytest.approx(p, rel=1e-6)
    assert z["global"]["df"] == ref["global_df"]
    assert z["global"]["chisq"] == pytest.approx(ref["global_chisq"], rel=1e-8)
    assert z["global"]["p"] == pytest.approx(ref["global_p"], rel=1e-6)


def test_zph_table_output(capsys):
    ref = json.loads((R / "zph_lung_sex_age.json").read_text())
    code, out, err = _run(["survival", str(R / ref["csv"]), "--time", "time", "--event", "event",
                           "--covariates", "sex,age", "--zph"], capsys)
    assert code == 0, err
    assert "cox.zph" in out and "GLOBAL" in out


def test_zph_refuses_what_it_cannot_check(capsys):
    csv = str(R / "data" / "zph_lung_sex_age.csv")
    code, _, err = _run(["survival", csv, "--time", "time", "--event", "event", "--zph"], capsys)
    assert code == 2 and "--zph needs a Cox model" in err
    code, _, err = _run(["survival", csv, "--time", "time", "--event", "event", "--covariates", "age",
                         "--zph", "--robust"], capsys)
    assert code == 2 and "--zph" in err and "--robust" in err
