"""cartreg.io.datafile: CSV (comma, semicolon, BOM), Parquet and XLSX read the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cartreg.errors import CartregError
from cartreg.io.datafile import read_table

CSV = "time,event,arm,age\n1.5,1,A,50\n2,0,B,\n3,yes,NA,61.25\n"


def test_csv_text_and_numbers(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text(CSV)
    t = read_table(p)
    assert t.columns == ("time", "event", "arm", "age") and t.n_rows == 3
    np.testing.assert_array_equal(t.numeric("time"), [1.5, 2.0, 3.0])
    np.testing.assert_array_equal(t.numeric("age"), [50.0, np.nan, 61.25])
    assert t.text("arm").tolist() == ["A", "B", None]
    assert t.text("event").tolist() == ["1", "0", "yes"]


def test_unparseable_number_names_row_and_value(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text(CSV)
    with pytest.raises(CartregError, match=r"'yes' as a number \(row 4"):
        read_table(p).numeric("event")


def test_semicolon_bom_and_decimal_comma(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_bytes(b"\xef\xbb\xbftime;event;arm\r\n1,5;1;\"x;y\"\r\n2;0;B\r\n")
    t = read_table(p)
    assert t.columns == ("time", "event", "arm")
    np.testing.assert_array_equal(t.numeric("time"), [1.5, 2.0])
    assert t.text("arm").tolist() == ["x;y", "B"]


def test_windows_1252_text(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_bytes("time,arm\n1,Müller\n".encode("cp1252"))
    assert read_table(p).text("arm").tolist() == ["Müller"]


def test_parquet_keeps_types(tmp_path: Path) -> None:
    p = tmp_path / "d.parquet"
    pq.write_table(pa.table({"time": [1.0, None, 3.5], "grp": pa.array([1, 2, None], pa.int64()),
                             "lab": ["a", None, "c"]}), p)
    t = read_table(p)
    np.testing.assert_array_equal(t.numeric("time"), [1.0, np.nan, 3.5])
    assert t.text("grp").tolist() == ["1", "2", None]
    assert t.text("time").tolist() == ["1", None, "3.5"]
    assert t.text("lab").tolist() == ["a", None, "c"]


def test_xlsx(tmp_path: Path) -> None:
    import openpyxl

    p = tmp_path / "d.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["time", "event", "arm"])
    ws.append([1.5, 1, "A"])
    ws.append([2, None, "B"])
    ws.append([None, None, None])
    wb.save(p)
    t = read_table(p)
    assert t.n_rows == 2
    np.testing.assert_array_equal(t.numeric("time"), [1.5, 2.0])
    np.testing.assert_array_equal(t.numeric("event"), [1.0, np.nan])
    assert t.text("arm").tolist() == ["A", "B"]


def test_unknown_column_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text(CSV)
    with pytest.raises(CartregError, match="did you mean 'time'"):
        read_table(p).numeric("tim")
    assert read_table(p).column("TIME") == "time"
    with pytest.raises(CartregError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(CartregError, match="unsupported"):
        (tmp_path / "d.ods").write_text("x")  # issue 11: .sav is now read (SPSS); .ods is not
        read_table(tmp_path / "d.ods")
