"""Writers: byte-identical output for a seed, and every generated registry validates without errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cartreg.cli.main import main
from cartreg.registry import read_registry
from cartreg.synth import generate, write_csv_dir, write_xlsx

FILES = ("patients.csv", "infusions.csv", "responses.csv", "treatments.csv")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_byte_identical_csv(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_csv_dir(generate(600, seed=5), a)
    write_csv_dir(generate(600, seed=5), b)
    write_csv_dir(generate(600, seed=6), c)
    for f in FILES:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert (a / "patients.csv").read_bytes() != (c / "patients.csv").read_bytes()


def test_csv_format(tmp_path):
    write_csv_dir(generate(300, seed=2), tmp_path)
    head = (tmp_path / "patients.csv").read_text(encoding="utf-8").splitlines()[:2]
    assert head[0].startswith("patient_id,center,sex,age,histology,eligibility_date,")
    fields = head[1].split(",")
    assert fields[0] == "SYN000001"
    assert len(fields[5]) == 10 and fields[5][4] == "-"  # ISO date
    inf = (tmp_path / "infusions.csv").read_text(encoding="utf-8")
    assert ",yes," in inf or ",no," in inf
    assert "true" not in inf and "True" not in inf


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_registry_validates_without_errors(tmp_path, seed):
    reg = generate(300, seed=seed)
    write_csv_dir(reg, tmp_path)
    read = read_registry(tmp_path, cutoff=reg.cutoff)
    assert not read.report.has_errors, read.report.to_text()
    # the generator avoids every warning too (none is expected from its model)
    assert read.report.count("warning") == 0, read.report.to_text()


def test_xlsx_is_deterministic_and_valid(tmp_path):
    reg = generate(150, seed=4)
    a, b = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    write_xlsx(reg, a)
    write_xlsx(generate(150, seed=4), b)
    assert _digest(a) == _digest(b)
    read = read_registry(a, cutoff=reg.cutoff)
    assert not read.report.has_errors, read.report.to_text()
    assert read.con.cursor().execute("SELECT count(*) FROM patients").fetchone()[0] == 150


def test_cli_synth_csv_and_duckdb(tmp_path, capsys):
    out = tmp_path / "reg"
    assert main(["synth", "--patients", "200", "--seed", "9", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    err = capsys.readouterr().err
    assert "generating 200 patients" in err
    assert main(["validate", str(out), "--cutoff", "2022-04-29"]) == 0
    db = tmp_path / "reg.duckdb"
    assert main(["synth", "--patients", "200", "--seed", "9", "-o", str(db)]) == 0
    read = read_registry(db)
    assert read.con.cursor().execute("SELECT count(*) FROM patients").fetchone()[0] == 200


def test_cli_synth_with_edited_config(tmp_path):
    cfg = tmp_path / "more-bispecific.toml"
    cfg.write_text(
        "[post_failure.late]\nuntreated = 0.10\nchemotherapy = 0.10\nIMiD = 0.10\nbispecific = 0.50\n"
        "targeted = 0.05\n\"anti-PD1\" = 0.05\nradiotherapy = 0.05\nother = 0.05\n", encoding="utf-8")
    out = tmp_path / "reg"
    assert main(["synth", "--patients", "3000", "--seed", "1", "-o", str(out), "--config", str(cfg)]) == 0
    text = (out / "treatments.csv").read_text(encoding="utf-8")
    n_bs = sum(text.count(f",{r}\n") for r in ("glofitamab", "Glofitamab", "epcoritamab", "mosunetuzumab", "odronextamab"))
    assert n_bs > 150


def test_cli_bad_config_is_a_clean_error(tmp_path, capsys):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[products]\n\"axi-cel\" = 0.9\n", encoding="utf-8")
    assert main(["synth", "--patients", "10", "-o", str(tmp_path / "x"), "--config", str(cfg)]) == 2
    assert "products" in capsys.readouterr().err


def test_cli_calibrate_small_writes_table(tmp_path, capsys):
    code = main(["calibrate", "--patients", "2000", "--seeds", "2", "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert code in (0, 1)  # at 2,000 patients sampling noise may exceed the large-sample tolerances
    assert "targets within tolerance at N = 2000" in out
    assert "late.by_class.bispecific.os2_hr.hr" in out
    assert {p.name for p in tmp_path.iterdir()} == {"calibration.csv", "calibration.json", "calibration.txt"}


def test_edited_calendar_and_non_infused_patients_validate(tmp_path):
    from cartreg.synth import load_config
    from cartreg.synth.config import merge

    cfg = tmp_path / "cfg.toml"
    cfg.write_text('[registry]\ncutoff = "2024-12-31"\naccrual_start = "2020-01-01"\np_not_infused = 0.1\n',
                   encoding="utf-8")
    conf = load_config(cfg)
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}) == {"a": {"b": 3, "c": 2}}
    reg = generate(500, seed=8, config=conf)
    assert 20 < 500 - reg.tables["infusions"].num_rows < 90
    write_csv_dir(reg, tmp_path / "reg")
    read = read_registry(tmp_path / "reg", cutoff=reg.cutoff)
    assert not read.report.has_errors, read.report.to_text()
    assert str(reg.cutoff) == "2024-12-31"
    assert max(reg.tables["patients"].column("last_contact_date").to_pylist()).isoformat() <= "2024-12-31"
