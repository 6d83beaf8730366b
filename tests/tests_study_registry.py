"""The 10-patient registry of tests/study, every figure of it worked out by hand in test_late_failure.py."""

from __future__ import annotations

from types import SimpleNamespace

from tiny_registry import build, infusion, patient, resp, tx


def registry():
    P = [
        # late failures
        patient("P1", 400, sex="M", age=60, prior_auto_hsct=True),
        patient("P2", 300, death=300, sex="M", age=70, prior_auto_hsct=False, prior_allo_hsct=False),
        patient("P3", 500, sex="F", age=50, prior_auto_hsct=False),
        patient("P4", 450),
        patient("P5", 110, death=110, sex="M", age=66, prior_auto_hsct=False, prior_allo_hsct=True),
        # early failures, a non-failure, a registered-only patient, an early death
        patient("P6", 300, sex="F", age=55),
        patient("P7", 300, sex="M", age=45),
        patient("P8", 600, sex="F", age=61),
        patient("P9", 100, sex="M", age=70),
        patient("P10", 20, death=20, sex="F", age=77),
    ]
    I = [
        infusion("P1", ecog=1, bridging="chemotherapy"),
        infusion("P2", ecog=2, bridging="none"),
        infusion("P3", ecog=3, bridging="combined", product="tisa-cel"),
        infusion("P4", bridging="radiotherapy", product="tisa-cel"),
        infusion("P5", ecog=0),
        infusion("P6"), infusion("P7"), infusion("P8"),
        infusion("P10", product=None),
    ]
    R = [
        resp("P1", 30, "CMR"), resp("P1", 120, "PMD"), resp("P1", 200, "PMD"),
        resp("P2", 30, "PR"), resp("P2", 100, "PD"), resp("P2", 200, "PR"),
        resp("P3", 90, "CR"), resp("P3", 150, "PMD"), resp("P3", 250, "CMR"),
        resp("P4", 30, "PMR"), resp("P4", 200, "PMD"), resp("P4", 400, "PMD"),
        resp("P5", 95, "PD"),
        resp("P6", 60, "PMD"),
        resp("P7", 30, "SD"), resp("P7", 91, "PD"),
        resp("P8", 30, "CMR"),
    ]
    T = [tx("P1", 125, "R-GemOx"), tx("P2", 110, "R-ICE"), tx("P3", 150, "glofitamab"), tx("P4", 210, "Glofitamab")]
    return SimpleNamespace(con=build(P, I, R, T))
