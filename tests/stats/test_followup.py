"""Median follow-up by reverse Kaplan-Meier against R (survfit(Surv(time, 1 - status) ~ 1))."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cartreg.io.datafile import read_table
from cartreg.stats import median_followup

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "r"
NAMES = sorted(p.stem[3:] for p in FIX.glob("km_*.json") if not p.stem.startswith("km_cli_"))


def load(name: str):
    ref = json.loads((FIX / f"km_{name}.json").read_text())
    tab = read_table(FIX / ref["csv"])
    raw = tab.numeric(ref["event"])
    code = 2.0 if name.startswith("lung") else 1.0
    e = np.where(np.isnan(raw), np.nan, (raw == code).astype(float))
    g = tab.text(ref["group"]) if ref["group"] else None
    return ref, tab.numeric(ref["time"]), e, g


def triple(fu) -> list[float]:
    return [np.nan if v is None else v for v in (fu.median, *fu.ci)]


def expected(r: dict) -> list[float]:
    return [np.nan if r[k] is None else r[k] for k in ("median", "lower", "upper")]


@pytest.mark.parametrize("conf", ["log", "log-log", "plain"])
@pytest.mark.parametrize("name", NAMES)
def test_followup_matches_r(name: str, conf: str) -> None:
    ref, t, e, g = load(name)
    fu = median_followup(t, e, conf_type=conf)
    np.testing.assert_allclose(triple(fu), expected(ref["followup"][conf]["overall"]), rtol=1e-12, atol=0)
    assert fu.excluded == ref["excluded_overall"]
    if g is not None:
        for level, r in ref["followup"][conf]["groups"].items():
            m = g == level
            fu = median_followup(t[m], e[m], conf_type=conf)
            np.testing.assert_allclose(triple(fu), expected(r), rtol=1e-12, atol=0)


def test_followup_by_hand() -> None:
    # reverse KM: censorings at 2, 4, 5 are the "events"; deaths at 1, 3 are "censored"
    fu = median_followup(np.array([1, 2, 3, 4, 5.0]), np.array([1, 0, 1, 0, 0]))
    np.testing.assert_allclose(fu.reverse.surv, [1, 0.75, 0.75, 0.375, 0.0], rtol=1e-15)
    assert fu.median == 4.0 and fu.n == 5


def test_followup_everyone_died_is_not_reached() -> None:
    fu = median_followup(np.array([1, 2, 3.0]), np.array([1, 1, 1]))
    assert fu.median is None and fu.ci == (None, None)


def test_followup_tie_death_and_censoring() -> None:
    # at time 2 a death and a censoring: for the reverse KM the death stays at risk (n = 3 at 2)
    fu = median_followup(np.array([1, 2, 2, 3.0]), np.array([0, 1, 0, 0]))
    np.testing.assert_array_equal(fu.reverse.n_risk, [4, 3, 1])
    np.testing.assert_allclose(fu.reverse.surv, [0.75, 0.5, 0.0], rtol=1e-15)
    assert fu.median == 2.5  # S flat at 0.5 from 2 to the last censoring "event" at 3
