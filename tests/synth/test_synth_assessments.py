"""Issue 10: PFS is censored at the last disease assessment, so the generator keeps assessing treated,
progression-free patients through their follow-up (docs/synthetic-registry.md)."""

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
    base = generate(3000, seed=2, config=cfg)
    for name in ("patients", "infusions", "treatments"):
        assert base.tables[name].equals(reg.tables[name]), name
    assert base.tables["responses"].num_rows < r.num_rows
