"""Property: random corruption of valid files never crashes the validator.

Whatever bytes a file holds, read_registry returns a report or raises CartregError (exit 1 or 2);
never another exception (a Python traceback for the user).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cartreg.errors import CartregError
from cartreg.registry import read_registry

from .conftest import BASE, write_registry

TOKENS = list(',;"\n\r\t 0123456789-.:/abcXYZé\u00a0\ufeff\x00') + ["yes", "2020-02-30", "Yescarta", "NaN", "1e400",
                                                                      "patient_id", "P1",
                                                                      # issue 16's hostile values
                                                                      "\x1b[2J", "[/]", "\u200b", "=1+2", "1,450",
                                                                      "1_000", "2202-01-01", "\t"]
NOISE = st.lists(st.sampled_from(TOKENS), max_size=8).map("".join)
FILES = ["patients.csv", "infusions.csv", "responses.csv", "treatments.csv"]


@st.composite
def corruption(draw):
    name = draw(st.sampled_from(FILES))
    kind = draw(st.sampled_from(["replace", "delete", "insert", "truncate", "bytes", "remove"]))
    return name, kind, draw(st.integers(0, 400)), draw(st.integers(0, 30)), draw(NOISE), draw(st.binary(max_size=8))


def _apply(path: Path, kind: str, pos: int, length: int, noise: str, blob: bytes) -> None:
    if kind == "remove":
        path.unlink()
        return
    data = path.read_bytes()
    pos = pos % (len(data) + 1)
    if kind == "replace":
        data = data[:pos] + noise.encode() + data[pos + length:]
    elif kind == "delete":
        data = data[:pos] + data[pos + length:]
    elif kind == "insert":
        data = data[:pos] + noise.encode() + data[pos:]
    elif kind == "truncate":
        data = data[:pos]
    else:
        data = data[:pos] + blob + data[pos:]
    path.write_bytes(data)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(corruption(), min_size=1, max_size=3))
def test_corruption_never_crashes(tmp_path, capfd, edits):
    d = tmp_path / "reg"
    shutil.rmtree(d, ignore_errors=True)
    write_registry(d, BASE)
    for name, kind, pos, length, noise, blob in edits:
        if (d / name).exists():
            _apply(d / name, kind, pos, length, noise, blob)
    try:
        report = read_registry(d).report
    except CartregError as exc:
        assert exc.exit_code in (1, 2) and exc.message
        return
    finally:
        assert capfd.readouterr().err == ""  # nothing (e.g. "Exception ignored ...") leaks to stderr
    summary = report.summary()
    assert summary["errors"] + summary["warnings"] + summary["notes"] == len(report)
    report.to_json()
    report.to_text()


# ------------------------------------------------------------------ issue 16: workbooks, .duckdb, the CLI
import hashlib  # noqa: E402

import duckdb  # noqa: E402
import openpyxl  # noqa: E402

from cartreg.cli.main import main  # noqa: E402


def _write_workbook(path: Path, tables) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in tables.items():
        ws = wb.create_sheet(name)
        ws.append(list(rows[0]))
        for r in rows:
            ws.append(list(r.values()))
    wb.save(path)
    return path


CELL_TOKENS = st.one_of(NOISE, st.sampled_from(["=1+2", "=A1", "[/]", "\x1b[2J", "\u200b", "1,450", "2202-01-01",
                                                "", " P1\t", "p1"]), st.integers(-10, 10**6), st.floats())


@st.composite
def cell_edit(draw):
    name = draw(st.sampled_from(list(BASE)))
    return name, draw(st.integers(1, 6)), draw(st.integers(1, 14)), draw(CELL_TOKENS)


def _outputs_clean(out_dir: Path, code: int) -> None:
    """No temporary left; a failed import leaves no file at all."""
    names = sorted(p.name for p in out_dir.iterdir())
    assert [n for n in names if n.startswith(".")] == [], names
    if code != 0:
        assert names == [], names


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(cell_edit(), min_size=1, max_size=4), st.one_of(st.none(), corruption()))
def test_workbook_corruption_never_crashes_and_leaves_nothing(tmp_path, capfd, edits, byte_edit):
    book = tmp_path / "reg.xlsx"
    book.unlink(missing_ok=True)
    _write_workbook(book, BASE)
    wb = openpyxl.load_workbook(book)
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    for name, row, col, value in edits:
        if isinstance(value, str):  # openpyxl cannot write control characters into a cell
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        wb[name].cell(row=row, column=col, value=value)
    wb.save(book)
    if byte_edit is not None:
        _, kind, pos, length, noise, blob = byte_edit
        if kind != "remove":
            _apply(book, kind, pos, length, noise, blob)
    out_dir = tmp_path / "out"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir()
    code = main(["import", str(book), "-o", str(out_dir / "r.duckdb")])
    err = capfd.readouterr().err
    assert code in (0, 1, 2) and "Traceback" not in err and "\x1b" not in err
    _outputs_clean(out_dir, code)


def _table_digest(db: Path) -> str:
    con = duckdb.connect(str(db), read_only=True)
    h = hashlib.sha256()
    for t in ("patients", "infusions", "responses", "treatments", "metadata"):
        h.update(repr(con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()).encode())
    con.close()
    return h.hexdigest()


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> tuple[Path, str]:
    d = tmp_path_factory.mktemp("imp")
    write_registry(d / "reg", BASE)
    db = d / "r.duckdb"
    assert main(["import", str(d / "reg"), "-o", str(db)]) == 0
    return db, _table_digest(db)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["replace", "delete", "insert", "truncate", "bytes"]), pos=st.integers(0, 1 << 20),
       length=st.integers(0, 64), noise=NOISE, blob=st.binary(min_size=1, max_size=16))
def test_duckdb_corruption_is_detected_or_harmless(tmp_path, capfd, imported, kind, pos, length, noise, blob):
    db, digest = imported
    bad = tmp_path / "bad.duckdb"
    shutil.copyfile(db, bad)
    _apply(bad, kind, pos, length, noise, blob)
    out_dir = tmp_path / "out"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir()
    code = main(["validate", str(bad)])
    err = capfd.readouterr().err
    assert code in (0, 1, 2) and "Traceback" not in err
    if code == 0:  # accepted: then the data must be exactly the imported data
        assert _table_digest(bad) == digest
        code = main(["analyze", str(bad), "-o", str(out_dir / "a"), "--no-report"])
        err = capfd.readouterr().err
        assert code in (0, 1, 2) and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(corruption(), min_size=1, max_size=3))
def test_csv_corruption_through_import_leaves_nothing(tmp_path, capfd, edits):
    d = tmp_path / "reg"
    shutil.rmtree(d, ignore_errors=True)
    write_registry(d, BASE)
    for name, kind, pos, length, noise, blob in edits:
        if (d / name).exists():
            _apply(d / name, kind, pos, length, noise, blob)
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    out_dir = tmp_path / "out"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir()
    code = main(["import", str(d), "-o", str(out_dir / "r.duckdb")])
    err = capfd.readouterr().err
    assert code in (0, 1, 2) and "Traceback" not in err and "\x1b" not in err
    _outputs_clean(out_dir, code)
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before  # the input is never changed


# ------------------------------------------------------------------ issue 16: mapped sources (issue 11's --mapping)
SOURCES = Path(__file__).resolve().parents[2] / "examples" / "sources"
MAPPED = {"clinician-workbook": ["mapping.toml", "registre.xlsx"], "redcap": ["mapping.toml", "export.csv", "dict.csv"]}


@st.composite
def mapped_edit(draw, example: str):
    """A corruption of one file of a mapped source: the mapping TOML, the source itself, or a REDCap dictionary."""
    name = draw(st.sampled_from(MAPPED[example]))
    kind = draw(st.sampled_from(["replace", "delete", "insert", "truncate", "bytes", "remove"]))
    return name, kind, draw(st.integers(0, 4000)), draw(st.integers(0, 30)), draw(NOISE), draw(st.binary(max_size=8))


@st.composite
def mapped_case(draw):
    example = draw(st.sampled_from(sorted(MAPPED)))
    return example, draw(st.lists(mapped_edit(example), min_size=1, max_size=3))


def _data_digest(db: Path) -> str:
    """:func:`_table_digest` without the import time (two imports of one source differ only there)."""
    con = duckdb.connect(str(db), read_only=True)
    h = hashlib.sha256()
    for t in ("patients", "infusions", "responses", "treatments"):
        h.update(repr(con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()).encode())
    meta = [r for r in con.execute("SELECT * FROM metadata ORDER BY ALL").fetchall() if r[0] != "import_time"]
    h.update(repr(meta).encode())
    con.close()
    return h.hexdigest()


@pytest.fixture(scope="module")
def mapped_baseline(tmp_path_factory) -> dict[str, str]:
    """The digest of each intact example imported through its mapping."""
    d = tmp_path_factory.mktemp("mapped")
    out = {}
    for example in MAPPED:
        src = SOURCES / example
        source = src / MAPPED[example][1]
        assert main(["import", str(source), "--mapping", str(src / "mapping.toml"), "-o", str(d / f"{example}.duckdb")]) == 0
        out[example] = _data_digest(d / f"{example}.duckdb")
    return out


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mapped_case())
@example(("redcap", [("export.csv", "replace", 0, 0, "\r", b"")]))  # found by this test: a traceback
def test_mapped_source_corruption_never_crashes_and_leaves_nothing(tmp_path, capfd, mapped_baseline, case):
    example, edits = case
    d = tmp_path / example
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(SOURCES / example, d)
    intact = {p.name: p.read_bytes() for p in d.iterdir()}
    for name, kind, pos, length, noise, blob in edits:
        if (d / name).exists():
            _apply(d / name, kind, pos, length, noise, blob)
    _check_mapped(tmp_path, capfd, mapped_baseline, example, intact)


def _check_mapped(tmp_path: Path, capfd, mapped_baseline: dict[str, str], example: str, intact: dict) -> None:
    """validate and import the (corrupted) mapped source in ``tmp_path/example``: no traceback, nothing left."""
    d = tmp_path / example
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    source, mapping = d / MAPPED[example][1], d / "mapping.toml"
    validated = main(["validate", str(source), "--mapping", str(mapping)])
    err = capfd.readouterr().err
    assert validated in (0, 1, 2) and "Traceback" not in err and "\x1b" not in err
    out_dir = tmp_path / "out"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir()
    code = main(["import", str(source), "--mapping", str(mapping), "-o", str(out_dir / "r.duckdb")])
    err = capfd.readouterr().err
    assert code in (0, 1, 2) and "Traceback" not in err and "\x1b" not in err
    assert (code == 0) == (validated == 0), (validated, code)  # validate and import agree on acceptance
    _outputs_clean(out_dir, code)
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before  # the source and mapping are never changed
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    if code == 0:
        digest = _data_digest(out_dir / "r.duckdb")
        if before == intact:  # an edit that changed nothing must import exactly the intact data
            assert digest == mapped_baseline[example]
        assert main(["validate", str(out_dir / "r.duckdb")]) == 0  # what was accepted re-reads cleanly
        assert "Traceback" not in capfd.readouterr().err


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(1, 42), st.integers(1, 40), CELL_TOKENS), min_size=1, max_size=4),
       st.lists(st.tuples(st.integers(0, 4000), NOISE), max_size=2))
def test_mapped_workbook_cells_and_mapping_text_never_crash(tmp_path, capfd, mapped_baseline, cells, toml_edits):
    """Hostile cell values in the wide workbook (header row included) and hostile text in its mapping."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    example = "clinician-workbook"
    d = tmp_path / example
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(SOURCES / example, d)
    intact = {p.name: p.read_bytes() for p in d.iterdir()}
    wb = openpyxl.load_workbook(d / "registre.xlsx")
    ws = wb.worksheets[0]
    for row, col, value in cells:
        ws.cell(row=row, column=col, value=ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value)
    wb.save(d / "registre.xlsx")
    for pos, noise in toml_edits:
        _apply(d / "mapping.toml", "insert", pos, 0, noise, b"")
    _check_mapped(tmp_path, capfd, mapped_baseline, example, intact)
