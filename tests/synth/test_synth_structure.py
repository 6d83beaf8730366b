"""Structural properties of a generated registry: dates, death, cut-off, codes, regimen classes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from cartreg.endpoints import load_class_map
from cartreg.synth import generate, load_config
from cartreg.synth.config import CLASSES

EPOCH = dt.date(1970, 1, 1)


def _days(col: pa.ChunkedArray) -> np.ndarray:
    """Dates as day numbers; missing -> -1."""
    return col.cast(pa.int32()).fill_null(-1).to_numpy()


def _by_patient(reg, table: str, date_col: str):
    t = reg.tables[table]
    ids = reg.tables["patients"].column("patient_id").to_pylist()
    index = {pid: i for i, pid in enumerate(ids)}
    rows = np.array([index[p] for p in t.column("patient_id").to_pylist()], dtype=np.int64)
    return rows, _days(t.column(date_col))


def test_columns_are_the_exchange_format(small_reg):
    assert small_reg.tables["patients"].column_names == [
        "patient_id", "center", "sex", "age", "histology", "eligibility_date", "stage", "aaipi", "prior_lines",
        "prior_auto_hsct", "prior_allo_hsct", "last_contact_date", "death_date", "death_cause"]
    assert small_reg.tables["infusions"].column_names == [
        "patient_id", "infusion_date", "product", "ecog", "ldh_elevated", "bulky", "ferritin_ug_l", "crp_mg_dl",
        "bridging", "crs_grade", "icans_grade"]
    assert small_reg.tables["responses"].column_names == ["patient_id", "assessment_date", "response"]
    assert small_reg.tables["treatments"].column_names == ["patient_id", "start_date", "regimen"]


def test_death_ends_records_and_nothing_after_last_contact_or_cutoff(small_reg):
    reg = small_reg
    pts = reg.tables["patients"]
    last = _days(pts.column("last_contact_date"))
    death = _days(pts.column("death_date"))
    dead = death >= 0
    assert np.array_equal(death[dead], last[dead])  # a dead patient's last contact is the death date
    cutoff = (reg.cutoff - EPOCH).days
    assert last.max() <= cutoff
    inf_rows, inf_day = _by_patient(reg, "infusions", "infusion_date")
    elig = _days(pts.column("eligibility_date"))
    assert (inf_day >= elig[inf_rows]).all()
    assert (inf_day <= last[inf_rows]).all()
    infusion = np.full(len(last), -1)
    infusion[inf_rows] = inf_day
    for table, col in (("responses", "assessment_date"), ("treatments", "start_date")):
        rows, day = _by_patient(reg, table, col)
        assert (day <= last[rows]).all(), f"{table} after last contact"
        assert (day <= cutoff).all()
        assert (day > infusion[rows]).all(), f"{table} on or before infusion"
        d = death[rows]
        assert ((d < 0) | (day <= d)).all(), f"{table} after death"


def test_no_conflicting_same_day_assessments(small_reg):
    t = small_reg.tables["responses"]
    keys = list(zip(t.column("patient_id").to_pylist(), t.column("assessment_date").to_pylist()))
    assert len(keys) == len(set(keys))


def test_codes_are_canonical(small_reg):
    t = small_reg.tables
    assert set(t["responses"].column("response").to_pylist()) <= {"CMR", "PMR", "NMR", "PMD", "CR", "PR", "SD", "PD", "NE"}
    assert set(t["infusions"].column("product").drop_null().to_pylist()) <= {"axi-cel", "tisa-cel"}
    assert set(t["patients"].column("death_cause").drop_null().to_pylist()) <= {"lymphoma", "toxicity", "infection", "other"}
    assert set(t["infusions"].column("ldh_elevated").drop_null().to_pylist()) <= {"yes", "no"}


def test_failure_is_the_first_progression(small_reg):
    """Every observed failure in the truth is the registry's first PD/PMD after infusion."""
    reg = small_reg
    rows, day = _by_patient(reg, "responses", "assessment_date")
    code = np.array(reg.tables["responses"].column("response").to_pylist())
    pd_mask = np.isin(code, ["PD", "PMD"])
    first_pd = np.full(reg.n, np.iinfo(np.int64).max)
    np.minimum.at(first_pd, rows[pd_mask], day[pd_mask])
    failed = reg.truth["failed"]
    assert np.array_equal(first_pd[failed], reg.truth["failure_abs_day"][failed])
    assert (first_pd[~failed] == np.iinfo(np.int64).max).all()


def test_every_regimen_text_maps_to_its_class():
    """The config's regimen texts are classified as intended by the endpoints' class table."""
    cm = load_class_map()
    cfg = load_config()
    for cls in CLASSES:
        for text in cfg["regimens"][cls]:
            assert cm.classify(text) == cls, text
            if cls == "other":
                assert not cm.recognises(text), text
    for text in cfg["regimens"]["with_radiotherapy"]:
        assert cm.classify(text) == "radiotherapy"


def test_same_day_regimens_occur_at_scale():
    reg = generate(20_000, seed=3)
    t = reg.tables["treatments"]
    keys = list(zip(t.column("patient_id").to_pylist(), t.column("start_date").to_pylist()))
    assert len(keys) - len(set(keys)) > 10


@pytest.mark.parametrize("n", [1, 2, 5])
def test_tiny_registries(n):
    reg = generate(n, seed=0)
    assert reg.tables["patients"].num_rows == n
