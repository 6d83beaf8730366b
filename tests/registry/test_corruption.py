"""Property: random corruption of valid files never crashes the validator.

Whatever bytes a file holds, read_registry returns a report or raises CartregError (exit 1 or 2);
never another exception (a Python traceback for the user).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cartreg.errors import CartregError
from cartreg.registry import read_registry

from .conftest import BASE, write_registry

TOKENS = list(',;"\n\r\t 0123456789-.:/abcXYZé\u00a0\ufeff\x00') + ["yes", "2020-02-30", "Yescarta", "NaN", "1e400",
                                                                      "patient_id", "P1"]
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
