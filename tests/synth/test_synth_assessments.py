"""Issue 10 in the generator (docs/synthetic-registry.md): PFS is censored at the last disease assessment,
so treated progression-free patients are assessed through their follow-up; some salvage treatments start
before the recorded progression; some systemic lines are bridged by radiotherapy days before."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cartreg.synth import generate, load_config


def _last_assessment(reg) -> np.ndarray:
    """Last assessment day per patient (patients order), -1 if none."""
    ids = reg.tables["patients"].column("patient_id").to_pylist()
    index = {pid: i for i, pid in enumerate(ids)}
    r = reg.tables["responses"]
    rows = np.array([index[p] for p in r.column("patient_id").to_pylist()], dtype=np.int64)
    days = r.column("assessment_date").cast(pa.int32()).to_numpy()
    out = np.full(len(ids), -1, dtype=np.int64)
    np.maximum.at(out, rows, days)
    return out


def test_progression_free_treated_patients_are_assessed_until_their_last_contact():
    reg = generate(20000, seed=5)
    t = reg.truth
    # treated, alive and progression-free at the end, followed past the first post-failure visit window
    alive_pf = (t["treated_observed"] & ~t["dead"] & (t["prog_day"] < 0)
                & (t["last_contact_day"] - t["start_day"] >= 60))
    last = _last_assessment(reg)
    gap = t["last_contact_day"][alive_pf] - last[alive_pf]
    assert alive_pf.sum() > 500 and (gap >= 0).all()
    # 80% have their status at the last contact recorded (p_assessment_at_last_contact = 0.8)
    share = float((gap == 0).mean())
    assert abs(share - 0.8) < 0.04
    # the others were assessed every ~91 days (+-10) until then: never more than 101 days before
    # (a patient followed past the 24 scheduled assessments is the exception)
    start = t["start_day"][alive_pf]
    within = t["last_contact_day"][alive_pf] - start < 28 + 23 * 91
    assert (gap[within] <= 60 + 91 + 10).all()


def test_no_assessment_recorded_twice_and_other_records_unchanged():
    reg = generate(3000, seed=2)
    r = reg.tables["responses"]
    keys = list(zip(r.column("patient_id").to_pylist(), r.column("assessment_date").to_pylist(),
                    r.column("response").to_pylist()))
    assert len(keys) == len(set(keys))
    # without the extra assessments (second random stream), the other tables are the same
    cfg = load_config()
    cfg["post_failure"]["max_assessments"] = 6
    cfg["post_failure"]["p_assessment_at_last_contact"] = 0.0
    cfg["post_failure"]["p_failure_recorded_after_start"] = 0.0
    cfg["post_failure"]["p_radiotherapy_bridging_before"] = 0.0
    base = generate(3000, seed=2, config=cfg)
    for name in ("patients", "infusions"):
        assert base.tables[name].equals(reg.tables[name]), name
    assert base.tables["responses"].num_rows < r.num_rows

    def rows(tab):
        return sorted(zip(tab.column("patient_id").to_pylist(), tab.column("start_date").to_pylist(),
                          tab.column("regimen").to_pylist()))

    # the treatments are the same plus one bridging radiotherapy per bridged patient
    extra = sorted(set(rows(reg.tables["treatments"])) - set(rows(base.tables["treatments"])))
    assert len(rows(reg.tables["treatments"])) - len(rows(base.tables["treatments"])) == len(extra)
    assert len(extra) == int(reg.truth["bridging_radiotherapy"].sum()) > 0
    assert {x[2] for x in extra} <= {"ISRT", "radiotherapy"}


def test_records_of_the_new_rules_are_read_as_intended():
    import duckdb

    from cartreg.endpoints import EndpointRules, derive_endpoints

    reg = generate(20000, seed=7)
    t = reg.truth
    con = duckdb.connect()
    for name, table in reg.tables.items():
        con.register(f"_{name}", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}")
    ids = reg.tables["patients"].column("patient_id").to_pylist()

    def by_id(rules):
        return {r["patient_id"]: r for r in derive_endpoints(con, rules).patients.to_pylist()}

    new, no_window, no_line = by_id(EndpointRules()), by_id(EndpointRules(failure_treatment_window_days=0)), \
        by_id(EndpointRules(line_window_days=0))
    early = np.flatnonzero(t["failure_recorded_after_start"])
    bridged = np.flatnonzero(t["bridging_radiotherapy"])
    assert len(early) > 30 and len(bridged) > 30
    from cartreg.synth.config import CLASSES
    for i in early:
        r = new[ids[i]]
        assert r["tx_status"] == "treated" and -7 <= r["tx_gap_days"] <= -1
        # without the window the salvage is a pre-failure treatment: untreated, or treated only by a later line
        old = no_window[ids[i]]
        assert old["pre_failure_treatment"] and (old["tx_date"] is None or old["tx_date"] > r["failure_date"])
    for i in bridged:
        r = new[ids[i]]
        assert r["tx_class"] == CLASSES[t["cls"][i]] and r["tx_n_regimens"] >= 2
        assert no_line[ids[i]]["tx_class"] == "radiotherapy"
