"""A small calibration run through the real pipeline (synth -> CSV -> read_registry -> analyze).

At 20,000 patients (about 3,000 late failures) each figure is compared with the abstract within
max(the documented tolerance, 4 standard errors of sampling at this size), so a failure means a
calibration error rather than noise. The standard errors come from the run itself: binomial for
percentages, the reported 95% CI for Kaplan-Meier landmarks, medians and hazard ratios.
The full check (200,000 patients, documented tolerances only) is ``scripts/calibrate.py``.
"""

from __future__ import annotations

import math

import pytest

from cartreg.synth.calibrate import _path, analyze_synthetic, load_targets, lookup

N = 20_000
Z = 1.959963984540054


@pytest.fixture(scope="module")
def results():
    return analyze_synthetic(N, seed=424242)


def _scaled_denominator(results: dict, target) -> float:
    if target.key.startswith(("late.", "derived.late.")):
        return max(1.0, target.denominator * results["late"]["n"] / 145)
    return max(1.0, target.denominator * results["cohort"]["infused"] / 977)


def _ci_se(node) -> float | None:
    if not isinstance(node, dict) or not node.get("ci") or None in node["ci"]:
        return None
    lo, hi = node["ci"]
    return (hi - lo) / (2 * Z)


def _allowed(results: dict, target) -> tuple[float, bool]:
    """(allowed difference, on the log scale?) for one target at this run's size."""
    parent = target.key.rsplit(".", 1)[0]
    if target.kind == "pct":
        p = min(max(target.value / 100, 0.005), 0.995)
        se = 100 * math.sqrt(p * (1 - p) / _scaled_denominator(results, target))
        return max(target.tolerance, 4 * se), False
    if target.kind == "rate6":
        se = _ci_se(_path(results, parent)) or 0.0
        return max(target.tolerance, 4 * se), False
    if target.kind == "hr":
        node = _path(results, parent)
        lo, hi = node["ci"]
        se_log = (math.log(hi) - math.log(lo)) / (2 * Z)
        return max(math.log(1 + target.tolerance), 4 * se_log), True
    # medians: KM medians carry a CI; sample medians get 4 x 1.5 / sqrt(n) relative (lognormal-like)
    se = _ci_se(_path(results, parent))
    rel = 4 * 1.5 / math.sqrt(_scaled_denominator(results, target)) if target.denominator else 0.15
    allowed = max(target.tolerance * target.value, 4 * se if se is not None else rel * target.value)
    return allowed, False


def test_pipeline_recovers_every_figure_within_sampling_error(results):
    failures = []
    for t in load_targets():
        if t.kind == "info":
            continue
        rec = lookup(results, t.key)
        assert rec is not None, t.key
        allowed, log_scale = _allowed(results, t)
        diff = abs(math.log(rec) - math.log(t.value)) if log_scale else abs(rec - t.value)
        if diff > allowed:
            failures.append(f"{t.key}: abstract {t.value}, recovered {rec:.4g}, allowed ±{allowed:.3g}")
    assert not failures, "\n".join(failures)


def test_cohort_matches_products(results):
    assert results["cohort"]["registered"] == N
    assert results["cohort"]["infused"] == N
    assert set(results["cohort"]["products"]) <= {"axi-cel", "tisa-cel", "unknown"}


def test_targets_file_is_complete():
    keys = [t.key for t in load_targets()]
    assert len(keys) == len(set(keys))
    for needed in ("failures.pct", "failures.late.pct", "late.best_response.orr.pct", "late.pfs2.median",
                   "late.os2.median", "late.followup.median", "late.by_class.bispecific.os2_hr.hr",
                   "late.post_failure_response.orr.pct", "late.first_treatment.untreated.pct"):
        assert needed in keys
