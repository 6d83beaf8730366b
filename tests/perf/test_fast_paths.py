"""The fast paths of issue 7 give the answers of the plain rules (docs/endpoints.md), worked by hand.

The derivation keys patients by an integer (``ep_infused.rowid``), takes a shortcut for first
treatments of a single regimen text, counts ignored records in one pass, and the study converts
columns once (dictionary-encoded text) and counts categories by hashing. Each is checked here on a
few patients, or against the obvious NumPy implementation it replaces.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from cartreg.endpoints import EndpointRules, derive_endpoints
from cartreg.study import blocks as b
from cartreg.study.late_failure import Columns, _value_counts

from tiny_registry import build, infusion, patient, resp, tx


def rows(ep) -> dict[str, dict]:
    return {r["patient_id"]: r for r in ep.patients.to_pylist()}


def test_first_treatment_text_and_count_for_single_and_combined_regimens():
    con = build(
        patients=[patient(p, 400) for p in ("twice", "spelling", "three", "one")],
        infusions=[infusion(p) for p in ("twice", "spelling", "three", "one")],
        responses=[resp(p, 100, "PMD") for p in ("twice", "spelling", "three", "one")],
        treatments=[
            # the same text twice on the first day: one regimen
            tx("twice", 110, "R-GemOx"), tx("twice", 110, "R-GemOx"),
            # two spellings of one regimen (same normalised key): both texts listed, one regimen
            tx("spelling", 110, "R-GemOx"), tx("spelling", 110, "R - GEMOX"),
            # three rows, two regimens, listed sorted and once each
            tx("three", 120, "radiotherapy"), tx("three", 120, "glofitamab"), tx("three", 120, "radiotherapy"),
            tx("three", 130, "R-ICE"),
            tx("one", 105, "lenalidomide + rituximab"), tx("one", 300, "glofitamab"),
        ],
    )
    # same-day lines (line_window_days=0): R-ICE on day 130 is then the next treatment (issue 10 rule 5
    # would put it, 10 days after the first start, in the first line)
    r = rows(derive_endpoints(con, EndpointRules(line_window_days=0)))
    assert (r["twice"]["tx_regimen"], r["twice"]["tx_n_regimens"], r["twice"]["tx_class"]) == ("R-GemOx", 1, "chemotherapy")
    assert (r["spelling"]["tx_regimen"], r["spelling"]["tx_n_regimens"]) == ("R - GEMOX + R-GemOx", 1)
    assert (r["three"]["tx_regimen"], r["three"]["tx_n_regimens"], r["three"]["tx_class"]) == (
        "glofitamab + radiotherapy", 2, "bispecific")
    assert r["three"]["tx_gap_days"] == 20 and r["three"]["next_tx_date"].isoformat() == "2020-05-10"
    assert (r["one"]["tx_regimen"], r["one"]["tx_n_regimens"], r["one"]["tx_class"]) == (
        "lenalidomide + rituximab", 1, "IMiD")


def test_rows_come_out_in_patient_id_order_whatever_the_input_order():
    ids = ["p10", "p02", "p1", "P3", "p01"]
    con = build(
        patients=[patient(p, 400) for p in ids],
        infusions=[infusion(p) for p in reversed(ids)],
        responses=[resp(p, 50 + i, "PMD") for i, p in enumerate(ids)],
    )
    ep = derive_endpoints(con)
    assert ep.patients.column("patient_id").to_pylist() == sorted(ids)
    assert rows(ep)["p1"]["ttf_days"] == 52  # each patient keeps their own records


def test_ignored_records_counted_in_one_pass_including_undated_infusions_and_unknown_patients():
    con = build(
        patients=[patient("a", 400), patient("undated", 400), patient("none", 400)],
        infusions=[infusion("a"), {"patient_id": "undated", "infusion_date": None, "product": "axi-cel"}],
        responses=[resp("a", -1, "PR"), resp("a", 0, "CR"), resp("a", 10, "PR"), resp("undated", 10, "PD"),
                   resp("none", 10, "PD"), resp("ghost", 10, "PD"), {"patient_id": "a", "assessment_date": None,
                                                                      "response": "PD"}],
        treatments=[tx("a", 0, "R-ICE"), tx("a", 20, "R-ICE"), tx("ghost", 5, "R-ICE"), tx("undated", 5, "RT")],
    )
    ep = derive_endpoints(con)
    assert ep.ignored == {
        "responses_on_or_before_infusion": 2,       # day -1 and day 0 (an undated assessment is neither)
        "treatments_on_or_before_infusion": 1,
        "responses_of_patients_not_infused": 3,     # undated infusion, no infusion, unknown patient
        "treatments_of_patients_not_infused": 2,
    }
    assert ep.patients.column("patient_id").to_pylist() == ["a"]


def test_columns_convert_once_read_only_and_keep_missing_text():
    t = pa.table({
        "s": pa.chunked_array([["b", None, "a"], ["b", ""]]),
        "x": pa.array([1, None, 3, 4, 5], pa.int64()),
        "f": pa.array([True, None, False, True, None]),
    })
    c = Columns(t)
    s = c.text("s")
    assert s.dtype == object and s.tolist() == ["b", None, "a", "b", ""]
    assert c.text("s") is s
    with pytest.raises(ValueError):
        s[0] = "z"
    x = c.num("x")
    assert np.isnan(x[1]) and x[[0, 2, 3, 4]].tolist() == [1.0, 3.0, 4.0, 5.0]
    value, valid = c.flag("f")
    assert value.tolist() == [True, False, False, True, False] and valid.tolist() == [True, False, True, True, False]
    assert c.text("absent").tolist() == [None] * 5 and np.isnan(c.num("absent")).all()
    assert Columns(t.slice(0, 0)).text("s").tolist() == []


def _categories_reference(values, levels):
    """The implementation the hashing version replaced (np.unique, one comparison per level)."""
    from cartreg.stats._data import is_missing

    v = np.asarray(values, dtype=object)
    valid = ~is_missing(v)
    present = {str(x) for x in np.unique(v[valid].astype(str))}
    all_levels = list(levels) + sorted(present - set(levels))
    return {lv: b.count(v == lv, valid) for lv in all_levels}


def _value_counts_reference(values):
    v = np.asarray(values, dtype=object)
    v = v[v != None].astype(str)  # noqa: E711
    if v.size == 0:
        return {}
    levels, counts = np.unique(v, return_counts=True)
    order = np.lexsort((levels, -counts))
    return {str(levels[i]): int(counts[i]) for i in order}


def test_category_and_value_counts_match_the_sorting_implementations():
    rng = np.random.default_rng(7)
    pool = np.array(["DLBCL", "PMBL", "tFL", "zeta", "Alpha", "", None, "HGBCL", "tFL "], dtype=object)
    for size in (0, 1, 50, 5000):
        v = pool[rng.integers(0, len(pool), size)]
        assert b.categories(v, ("DLBCL", "PMBL", "HGBCL", "tFL")) == _categories_reference(v, ("DLBCL", "PMBL", "HGBCL", "tFL"))
        got, want = _value_counts(v), _value_counts_reference(v)
        assert got == want and list(got) == list(want)


def test_parallel_csv_is_byte_identical_to_one_write(tmp_path):
    import datetime as dt

    import pyarrow.csv as pacsv

    from cartreg.study import write_csv

    n = 1001
    t = pa.table({
        "patient_id": [f"P{i:05d}" for i in range(n)],
        "text": [None if i % 7 == 0 else ('say "hi", ok' if i % 5 == 0 else f"v{i % 3}") for i in range(n)],
        "day": [dt.date(2020, 1, 1) + dt.timedelta(days=i) if i % 4 else None for i in range(n)],
        "x": [i / 3 if i % 6 else None for i in range(n)],
        "flag": [bool(i % 2) if i % 9 else None for i in range(n)],
    })
    one = tmp_path / "one.csv"
    pacsv.write_csv(t, one)
    for parts in (2, 3, 4, 7):
        many = tmp_path / f"many{parts}.csv"
        write_csv(t, many, parts=parts)
        assert many.read_bytes() == one.read_bytes()
    small = tmp_path / "small.csv"
    write_csv(t.slice(0, 1), small, parts=4)
    assert small.read_bytes().count(b"\n") == 2


def test_prefetched_csv_bytes_are_written_once_and_identical(tmp_path, monkeypatch):
    import pyarrow.csv as pacsv

    from cartreg.study import output

    monkeypatch.setattr(output, "PARALLEL_MIN_ROWS", 10)
    t = pa.table({"patient_id": [f"P{i}" for i in range(50)], "x": [i / 7 if i % 3 else None for i in range(50)]})
    one = tmp_path / "one.csv"
    pacsv.write_csv(t, one)
    output.prefetch_csv(t)
    assert output._pending is not None and output._pending[0] is t
    output.write_csv(t, tmp_path / "pre.csv")
    assert output._pending is None  # claimed
    assert (tmp_path / "pre.csv").read_bytes() == one.read_bytes()
    # another table never picks up bytes prepared for this one
    other = t.slice(0, 20)
    output.prefetch_csv(t)
    output.write_csv(other, tmp_path / "other.csv")
    pacsv.write_csv(other, one)
    assert (tmp_path / "other.csv").read_bytes() == one.read_bytes()
    token = output.prefetch_enabled.set(False)
    try:
        output._pending = None
        output.prefetch_csv(t)
        assert output._pending is None
    finally:
        output.prefetch_enabled.reset(token)


def test_columns_eq_and_isin_match_object_comparisons():
    rng = np.random.default_rng(3)
    pool = np.array(["treated", "untreated", "unknown", None, ""], dtype=object)
    v = pool[rng.integers(0, len(pool), 2000)]
    t = pa.table({"s": pa.chunked_array([v[:700].tolist(), v[700:].tolist()], pa.string()),
                  "n": pa.array(rng.integers(0, 3, 2000))})
    c = Columns(t)
    for value in ("treated", "unknown", "", "absent"):
        assert np.array_equal(c.eq("s", value), v == value)
    assert np.array_equal(c.eq("s", None), np.equal(v, None))
    assert np.array_equal(c.isin("s", ("treated", "untreated")), np.isin(v, ["treated", "untreated"]))
    assert c.text("s").tolist() == v.tolist()
    assert not c.eq("missing_column", "x").any() and c.eq("missing_column", None).all()
    assert np.array_equal(c.eq("n", 1), t.column("n").to_numpy() == 1)  # not text: compared as objects


def test_columns_read_arrow_buffers_like_to_numpy_including_offsets_and_nulls():
    rng = np.random.default_rng(11)
    n = 1000
    ints = [None if i % 7 == 0 else int(v) for i, v in enumerate(rng.integers(-50, 50, n))]
    floats = [None if i % 5 == 0 else float(v) for i, v in enumerate(rng.normal(size=n))]
    bools = [None if i % 3 == 0 else bool(v) for i, v in enumerate(rng.integers(0, 2, n))]
    full = pa.table({"i": pa.array(ints, pa.int32()), "f": pa.array(floats), "b": pa.array(bools),
                     "nb": pa.array([bool(i % 2) for i in range(n)]), "s": pa.array([None if i % 4 else "x" for i in range(n)])})
    for t in (full, full.slice(3, 517), full.slice(9, 0), pa.concat_tables([full.slice(0, 10), full.slice(13, 50)])):
        c = Columns(t)
        for name in ("i", "f"):
            want = t.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
            assert np.array_equal(c.num(name), want, equal_nan=True)
        for name in ("b", "nb"):
            col = t.column(name)
            value, valid = c.flag(name)
            assert value.tolist() == [bool(v) for v in col.fill_null(False).to_pylist()]
            assert valid.tolist() == [v is not None for v in col.to_pylist()]
        assert c.text("s").tolist() == t.column("s").to_pylist()


def test_cuminc_special_functions_equal_the_scipy_stats_ones():
    """stats/cuminc.py uses scipy.special (cheap to import) where it used scipy.stats: same numbers."""
    from scipy.special import chdtr, ndtri
    from scipy.stats import chi2, norm

    for level in (0.5, 0.8, 0.9, 0.95, 0.99, 0.999):
        assert ndtri((1 - level) / 2) == norm.ppf((1 - level) / 2)
    for df in (1, 2, 3, 6):
        for stat in (0.0, 1e-12, 0.3, 2.5, 17.0, 250.0, np.inf):
            assert 1.0 - chdtr(df, stat) == 1.0 - chi2.cdf(stat, df)
    assert 1.0 - chi2.cdf(-1e-15, 1) == 1.0  # the guard in cuminc: a negative statistic gives p = 1
