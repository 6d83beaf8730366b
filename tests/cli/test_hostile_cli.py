"""Issue 16 reproducers through the CLI: nothing lost, nothing wrong, nothing injected.

Each test reproduces one reported case and asserts the documented exit code, that no data changed,
that no file was left behind and that no formula, markup or escape reaches an output.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cartreg.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "registry"


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def digest(path: Path) -> dict[str, str]:
    """sha256 of every file under ``path`` (or of the file itself)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p.relative_to(path.parent)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture
def reg(tmp_path) -> Path:
    d = tmp_path / "reg"
    shutil.copytree(EXAMPLE, d)
    return d


# ------------------------------------------------------------------------------- 1. analyze -o REG
@pytest.mark.parametrize("where", ["same", "inside", "parent"])
def test_analyze_refuses_an_output_directory_overlapping_the_registry(reg, capsys, where):
    before = digest(reg)
    out = {"same": reg, "inside": reg / "results", "parent": reg.parent}[where]
    code, _, err = run(["analyze", reg, "-o", out, "--no-report"], capsys)
    assert code == 2 and "input registry" in err
    assert digest(reg) == before and not (reg / "results").exists()
    assert not (reg.parent / "results.json").exists()


def test_analyze_refuses_an_output_path_that_is_a_file(reg, tmp_path, capsys):
    f = tmp_path / "out.txt"
    f.write_text("keep")
    code, _, err = run(["analyze", reg, "-o", f, "--no-report"], capsys)
    assert code == 2 and "not a directory" in err and f.read_text() == "keep"


def test_analyze_disk_full_leaves_no_results_json(reg, tmp_path, capsys, monkeypatch):
    import cartreg.report as report

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report, "write_report", full)
    out = tmp_path / "out"
    code, out_text, err = run(["analyze", reg, "-o", out], capsys)
    assert code == 2 and "No space left on device" in err and "Traceback" not in err
    assert not (out / "results.json").exists() and not (out / "patients.csv").exists()
    assert "results:" not in out_text


def test_analyze_landmark_inf_is_an_error(reg, tmp_path, capsys):
    code, _, err = run(["analyze", reg, "-o", tmp_path / "o", "--landmark-months", "inf"], capsys)
    assert code == 2 and "finite" in err and not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------- 2. synth overwrite
@pytest.mark.parametrize("form", ["dir", "xlsx"])
def test_synth_does_not_overwrite_a_registry_without_replace(tmp_path, capsys, form):
    out = tmp_path / ("reg" if form == "dir" else "reg.xlsx")
    assert main(["synth", "-n", "30", "--seed", "1", "-o", str(out)]) == 0
    before = digest(out)
    code, _, err = run(["synth", "-n", "40", "--seed", "2", "-o", out], capsys)
    assert code == 2 and "--replace" in err and digest(out) == before
    assert main(["synth", "-n", "40", "--seed", "2", "-o", str(out), "--replace"]) == 0
    assert digest(out) != before


@pytest.mark.parametrize("args, text", [(["--seed", "-1"], "--seed"), (["-n", "99999999999999"], "--patients"),
                                        (["-n", "0"], "--patients")])
def test_synth_out_of_range_arguments(tmp_path, capsys, args, text):
    code, _, err = run(["synth", *args, "-o", tmp_path / "x"], capsys)
    assert code == 2 and text in err and not (tmp_path / "x").exists()


def test_synth_config_with_a_misspelt_key_is_refused(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[registry]\ncutof = "2021-01-01"\n')
    code, _, err = run(["synth", "-n", "10", "-o", tmp_path / "x", "--config", cfg], capsys)
    assert code == 2 and "registry.cutof" in err and "cutoff" in err and not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------- 3. concurrent imports
def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("noreplace", ["renameat2", "link"])
def test_import_race_loser_gets_an_error_and_the_winner_is_kept(reg, tmp_path, capsys, monkeypatch, noreplace):
    from cartreg.registry import store

    if noreplace == "link":
        monkeypatch.setattr(store, "_rename_noreplace", lambda src, dst: False)
    out = tmp_path / "r.duckdb"
    real = store._write_store

    def racing(kept, target, rejected):
        real(kept, target, rejected)
        out.write_bytes(b"the other import's file")  # the other process publishes first

    monkeypatch.setattr(store, "_write_store", racing)
    code, _, err = run(["import", reg, "-o", out], capsys)
    assert code == 2 and "another process" in err
    assert out.read_bytes() == b"the other import's file" and _temps(tmp_path) == []


def test_two_concurrent_imports_one_wins(reg, tmp_path):
    out = tmp_path / "r.duckdb"
    cmd = [sys.executable, "-m", "cartreg.cli.main", "import", str(reg), "-o", str(out)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes == [0, 2], results
    assert all("Traceback" not in e for _, e in results)
    assert _temps(tmp_path) == []
    assert duckdb.connect(str(out), read_only=True).execute("SELECT count(*) FROM patients").fetchone()[0] == 20


# ------------------------------------------------------------------------------- 4. SIGTERM, stale temporaries
SIGTERM_SCRIPT = """
import os, signal, sys
from cartreg.registry import store
from cartreg.cli.main import main
real = store._write_store
def killed(kept, target, rejected):
    real(kept, target, rejected)
    os.kill(os.getpid(), signal.SIGTERM)
store._write_store = killed
sys.exit(main(["import", sys.argv[1], "-o", sys.argv[2]]))
"""


def test_sigterm_during_import_leaves_nothing(reg, tmp_path):
    out = tmp_path / "r.duckdb"
    p = subprocess.run([sys.executable, "-c", SIGTERM_SCRIPT, str(reg), str(out)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 143 and "terminated" in p.stderr and "Traceback" not in p.stderr
    assert not out.exists() and _temps(tmp_path) == []


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_of_dead_processes_are_named_then_removed(reg, tmp_path, capsys):
    out = tmp_path / "r.duckdb"
    assert main(["import", str(reg), "-o", str(out)]) == 0
    stale = tmp_path / f".r.duckdb.{_dead_pid()}.0badf00d.tmp"
    stale.write_bytes(b"patient rows")
    Path(str(stale) + ".wal").write_bytes(b"wal")
    live = tmp_path / f".r.duckdb.{os.getpid()}.00000001.tmp"  # a running import's: never touched
    live.write_bytes(b"in progress")
    capsys.readouterr()
    code, _, err = run(["validate", out], capsys)
    assert code == 0 and stale.name in err and "interrupted import" in err and live.name not in err
    code, _, err = run(["import", reg, "-o", out, "--replace"], capsys)
    assert code == 0 and "removed" in err and stale.name in err
    assert _temps(tmp_path) == [live.name]


# ------------------------------------------------------------------------------- 13. CSV injection
def _inject(reg: Path) -> None:
    for name in ("patients", "infusions", "responses", "treatments"):
        p = reg / f"{name}.csv"
        p.write_text(p.read_text().replace("P003,", "=1+2,"))
    t = reg / "treatments.csv"
    t.write_text(t.read_text().replace("R-GemOx", '"=HYPERLINK(""http://e.vil"",""R-GemOx"")"'))


def _cells(path: Path) -> list[str]:
    return [c for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))) for c in row]


def test_no_formula_reaches_any_csv_and_results_json_stays_exact(reg, tmp_path, capsys):
    _inject(reg)
    out = tmp_path / "out"
    code, _, err = run(["analyze", reg, "-o", out], capsys)
    assert code == 0, err
    written = [out / "patients.csv", *sorted((out / "tables").glob("*.csv"))]
    cells = [c for p in written for c in _cells(p)]
    risky = [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or (c[:1] == "-" and len(c) > 1
                                                                         and not c[1:].replace(".", "").isdigit())]
    assert risky == []
    assert "'=1+2" in _cells(out / "patients.csv")
    assert any(c.startswith("'=HYPERLINK(") for c in cells)
    results = (out / "results.json").read_text()
    assert '=HYPERLINK(\\"http://e.vil\\",\\"R-GemOx\\")' in results  # exact, not neutralised


def test_neutralise_text_keeps_numbers_and_lone_dash():
    import pyarrow as pa

    from cartreg.study.output import neutralise_table

    t = pa.table({"s": ["=1+2", "-1.5", "+3", "-", "@SUM(A1)", "\tx", "-2+3", None, "ok"], "n": [-1.5] * 9})
    got = neutralise_table(t)
    assert got.column("s").to_pylist() == ["'=1+2", "-1.5", "+3", "-", "'@SUM(A1)", "'\tx", "'-2+3", None, "ok"]
    assert got.column("n").to_pylist() == [-1.5] * 9


# ------------------------------------------------------------------------------- 14/15. terminal injection
def test_markup_and_escapes_in_values_and_paths_are_shown_as_text(tmp_path, capsys):
    d = tmp_path / "reg[/]"
    shutil.copytree(EXAMPLE, d)
    p = d / "patients.csv"
    p.write_text(p.read_text().replace(",DLBCL,", ",[link=https://e.vil]DLBCL[/link],", 1)
                 .replace(",tFL,", ",tFL\x1b[2J\x1b]0;pwned\x07,", 1))
    for fmt in ("text",):
        code, out, err = run(["validate", d, "--format", fmt, "--all"], capsys)
        assert code == 1, err
        text = out + err
        assert "Traceback" not in text and "MarkupError" not in text
        assert "[link=https://e.vil]DLBCL[/link]" in text.replace("\n", "")
        assert "\x1b" not in text and "\x07" not in text and "\\x1b[2J" in text
        assert "reg[/]" in text


def test_error_messages_escape_control_characters(tmp_path, capsys):
    code, _, err = run(["validate", tmp_path / "no\x1b[2Jsuch"], capsys)
    assert code == 2 and "\x1b" not in err and "\\x1b[2J" in err


# ------------------------------------------------------------------------------- 18. import write errors
def test_import_disk_full_is_a_clear_error_and_leaves_nothing(reg, tmp_path, capsys, monkeypatch):
    from cartreg.registry import store

    def full(kept, target, rejected):
        Path(target).write_bytes(b"partial")
        raise duckdb.IOException("IO Error: Could not write file: No space left on device")

    monkeypatch.setattr(store, "_write_store", full)
    code, _, err = run(["import", reg, "-o", tmp_path / "r.duckdb"], capsys)
    assert code == 2 and "No space left on device" in err and _temps(tmp_path) == [] and \
        not (tmp_path / "r.duckdb").exists()


@pytest.mark.parametrize("case", ["existing_dir", "missing_parent", "parent_is_file"])
def test_import_unusable_output_paths(reg, tmp_path, capsys, case):
    out = {"existing_dir": tmp_path, "missing_parent": tmp_path / "no" / "r.duckdb",
           "parent_is_file": reg / "patients.csv" / "r.duckdb"}[case]
    before = digest(reg)
    code, _, err = run(["import", reg, "-o", out], capsys)
    assert code == 2 and "error:" in err and "Traceback" not in err and digest(reg) == before


# ------------------------------------------------------------------------------- 18. damaged .duckdb
def _edit(db: Path, sql: str, params=()) -> None:
    con = duckdb.connect(str(db))
    con.execute(sql, list(params))
    con.close()


@pytest.mark.parametrize("edit, text", [
    ("DELETE FROM metadata WHERE key = 'sources'", "'sources' is missing"),
    ("UPDATE metadata SET value = '{bad json' WHERE key = 'row_counts'", "metadata cannot be read"),
    ("UPDATE metadata SET value = '2020-13-45' WHERE key = 'data_cutoff'", "metadata cannot be read"),
    ("ALTER TABLE patients ALTER age TYPE VARCHAR", "patients.age is VARCHAR"),
    ("DELETE FROM responses WHERE _row = 2", "row counts"),
])
def test_edited_duckdb_is_unusable_input(reg, tmp_path, capsys, edit, text):
    db = tmp_path / "r.duckdb"
    assert main(["import", str(reg), "-o", str(db)]) == 0
    _edit(db, edit)
    for cmd in (["validate", db], ["analyze", db, "-o", tmp_path / "o", "--no-report"]):
        code, _, err = run(cmd, capsys)
        assert code == 2 and text in err and "Traceback" not in err
    assert not (tmp_path / "o" / "results.json").exists()


def test_truncated_duckdb_is_unusable_input(reg, tmp_path, capsys):
    db = tmp_path / "r.duckdb"
    assert main(["import", str(reg), "-o", str(db)]) == 0
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    code, _, err = run(["validate", db], capsys)
    assert code == 2 and "error:" in err


# ------------------------------------------------------------------------------- 19. Ctrl-C in DuckDB
def test_duckdb_interrupt_exits_130(reg, tmp_path, capsys, monkeypatch):
    import cartreg.registry as registry

    def interrupted(*a, **k):
        raise duckdb.InterruptException("Query interrupted")

    monkeypatch.setattr(registry, "read_registry", interrupted)
    code, _, err = run(["analyze", reg, "-o", tmp_path / "o"], capsys)
    assert code == 130 and err.strip() == "interrupted"


# ------------------------------------------------------------------------------- survival / cuminc input
def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_cr_only_csv_is_read(tmp_path, capsys):
    f = _write(tmp_path / "cr.csv", b"time,event\r1,1\r2,0\r3,1\r")
    code, out, err = run(["survival", f, "--time", "time", "--event", "event", "--format", "json"], capsys)
    assert code == 0, err
    res = json.loads(out)
    assert (res["n"], res["events"], res["strata"][0]["median"]) == (3, 2, 3.0)


@pytest.mark.parametrize("cmd", ["survival", "cuminc"])
@pytest.mark.parametrize("data, text", [
    ("time,event\n1,1\n2,0\n".encode("utf-16"), "UTF-16"),
    ("time,event\n1,1\n2,0\n".encode("utf-16-le"), "UTF-16"),
    (b"\x7fELF\x02\x01\x01" + b"\x00" * 500, "binary"),
    (b"time,event\n1,1\n2\x00,0\n", "NUL"),
])
def test_unusable_data_files_are_named(tmp_path, capsys, cmd, data, text):
    f = _write(tmp_path / "d.csv", data)
    opt = "--event" if cmd == "survival" else "--status"
    code, _, err = run([cmd, f, "--time", "time", opt, "event"], capsys)
    assert code == 2 and text in err and "Traceback" not in err


def test_negative_time_is_named_plainly(tmp_path, capsys):
    f = _write(tmp_path / "d.csv", b"time,event,g\n3,1,a\n-1,1,b\n2,0,a\n")
    code, _, err = run(["survival", f, "--time", "time", "--event", "event", "--group", "g"], capsys)
    assert code == 2 and "np.float64" not in err and "-1 (row 3)" in err


def test_all_times_zero_gives_estimates_and_an_uncomputable_test(tmp_path, capsys):
    f = _write(tmp_path / "d.csv", b"time,event,g\n0,1,a\n0,1,a\n0,1,b\n0,1,b\n")
    code, out, err = run(["survival", f, "--time", "time", "--event", "event", "--group", "g", "--format", "json"],
                         capsys)
    assert code == 0, err
    res = json.loads(out)
    assert [s["median"] for s in res["strata"]] == [0.0, 0.0]
    assert res["logrank"]["computable"] is False and res["logrank"]["chi2"] is None and res["logrank"]["p"] is None
    assert "not computable" in err
    code, out, _ = run(["survival", f, "--time", "time", "--event", "event", "--group", "g"], capsys)
    assert code == 0 and "Log-rank test: not computable" in out


def test_logrank_singular_old_behaviour_reachable():
    import numpy as np

    from cartreg.errors import CartregError
    from cartreg.stats import logrank_test

    t, e, g = np.zeros(4), np.ones(4), np.array(["a", "a", "b", "b"], dtype=object)
    lr = logrank_test(t, e, g)
    assert not lr.computable and np.isnan(lr.chi2) and np.isnan(lr.p) and lr.observed.tolist() == [2.0, 2.0]
    with pytest.raises(CartregError):
        logrank_test(t, e, g, on_singular="raise")


@pytest.mark.parametrize("cmd", ["survival", "cuminc"])
def test_group_labels_are_never_markup_or_escapes(tmp_path, capsys, cmd):
    rows = "".join(f"{i},{i % 2},{g}\n" for i, g in enumerate(["[/]", "[link=https://e.vil]DLBCL[/link]",
                                                                  "x\x1b[2J"] * 4, start=1))
    f = _write(tmp_path / "d.csv", ("time,event,g\n" + rows).encode())
    opt = "--event" if cmd == "survival" else "--status"
    code, out, err = run([cmd, f, "--time", "time", opt, "event", "--group", "g"], capsys)
    assert code == 0, err
    assert "[link=https://e.vil]DLBCL[/link]" in out and "[/]" in out
    assert "\x1b" not in out + err and "\\x1b[2J" in out


def test_ctrl_c_prints_interrupted_and_exits_130(reg, tmp_path, capsys, monkeypatch):
    import cartreg.registry as registry

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(registry, "import_registry", interrupted)
    code, _, err = run(["import", reg, "-o", tmp_path / "r.duckdb"], capsys)
    assert code == 130 and err.strip() == "interrupted"


# ------------------------------------------------------------------------------- 20. no reader thread
def test_a_bad_header_stops_before_any_reader_thread(reg, capsys, monkeypatch):
    """The duplicated-header reproducer of item 20: every header is checked before pyarrow's
    (threaded) reader runs on any file, so no reader thread is active when the error exits."""
    from cartreg.io import registry_files

    calls = []
    real = registry_files._arrow_read
    monkeypatch.setattr(registry_files, "_arrow_read", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    p = reg / "patients.csv"
    p.write_text(p.read_text().replace("patient_id,center", "patient_id,patient_id", 1))
    code, _, err = run(["validate", reg], capsys)
    assert code == 2 and "appears twice" in err and calls == []


def test_data_file_with_a_3_mb_field_is_read(tmp_path, capsys):
    f = _write(tmp_path / "d.csv", b"time,event,note\n1,1," + b"x" * 3_000_000 + b"\n2,0,a\n3,1,b\n")
    code, out, err = run(["survival", f, "--time", "time", "--event", "event", "--format", "json"], capsys)
    assert code == 0, err
    assert json.loads(out)["n"] == 3


def test_analyze_removes_a_killed_runs_patients_temporary(reg, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    stale = out / f".patients.csv.{_dead_pid()}.0badf00d.tmp"
    stale.write_text("patient_id\nP001\n")
    code, _, err = run(["analyze", reg, "-o", out, "--no-report"], capsys)
    assert code == 0, err
    assert not stale.exists() and [p.name for p in out.iterdir() if p.name.startswith(".")] == []


SIGTERM_ANALYZE = """
import os, signal, sys
import cartreg.report as report
from cartreg.cli.main import main
def killed(*a, **k):
    os.kill(os.getpid(), signal.SIGTERM)
report.write_report = killed
sys.exit(main(["analyze", sys.argv[1], "-o", sys.argv[2]]))
"""


def test_sigterm_during_analyze_leaves_no_results(reg, tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-c", SIGTERM_ANALYZE, str(reg), str(out)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 143 and "terminated" in p.stderr and "Traceback" not in p.stderr
    assert not (out / "results.json").exists() and not (out / "patients.csv").exists()
    assert [q.name for q in out.iterdir() if q.name.startswith(".")] == []
