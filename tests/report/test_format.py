"""Exact-string tests of every formatting rule of the report."""

from __future__ import annotations

import math

import pytest

from cartreg.report.format import (
    DASH,
    fmt_ci,
    fmt_cutoff_days,
    fmt_est_ci_pct,
    fmt_hr,
    fmt_landmark,
    fmt_median_ci,
    fmt_median_iqr,
    fmt_median_range,
    fmt_n_N_pct,
    fmt_n_pct,
    fmt_num,
    fmt_p,
    fmt_pct,
)


@pytest.mark.parametrize(
    "pct, text",
    [
        (8.4, "8.4%"),
        (8.45, "8.5%"),  # half up, not banker's
        (8.449, "8.4%"),
        (9.94, "9.9%"),
        (9.95, "10%"),  # rounds to 10.0 -> whole
        (9.96, "10%"),
        (10.0, "10%"),
        (10.5, "11%"),  # half up
        (33.6, "34%"),
        (58.6, "59%"),
        (0, "0%"),
        (0.04, "<0.1%"),
        (0.05, "0.1%"),
        (99.4, "99%"),
        (99.6, ">99%"),  # never 100% unless all
        (100, "100%"),
        (None, DASH),
        (math.nan, DASH),
    ],
)
def test_fmt_pct_whole_from_10_one_decimal_below(pct, text):
    assert fmt_pct(pct) == text


def test_fmt_n_pct():
    assert fmt_n_pct(12, 8.4) == "12 (8.4%)"
    assert fmt_n_pct(76, 52.41) == "76 (52%)"
    assert fmt_n_pct(0, 0.0) == "0 (0%)"
    assert fmt_n_pct(None, None) == DASH


def test_fmt_n_N_pct():
    assert fmt_n_N_pct(12, 141) == "12/141 (8.5%)"
    assert fmt_n_N_pct(431, 976) == "431/976 (44%)"
    assert fmt_n_N_pct(145, 431, 33.6426914153) == "145/431 (34%)"
    assert fmt_n_N_pct(1, 145) == "1/145 (0.7%)"
    assert fmt_n_N_pct(0, 0, None) == f"0/0 ({DASH})"  # a percentage with N = 0 is null


@pytest.mark.parametrize(
    "p, bare, text",
    [
        (0.0004, "<.001", "P<.001"),
        (0.00098, "<.001", "P<.001"),
        (0.001, ".001", "P=.001"),
        (0.0024, ".002", "P=.002"),
        (0.0044, ".004", "P=.004"),
        (0.00996, ".01", "P=.01"),  # 3 decimals would give .010: choose on the rounded value
        (0.0106, ".01", "P=.01"),
        (0.04, ".04", "P=.04"),
        (0.0449, ".04", "P=.04"),
        (0.0496, ".049", "P=.049"),  # a significant P never reads as .05
        (0.05, ".05", "P=.05"),
        (0.31, ".31", "P=.31"),
        (0.305, ".31", "P=.31"),
        (0.994, ".99", "P=.99"),
        (0.996, ">.99", "P>.99"),
        (1.0, ">.99", "P>.99"),
        (None, DASH, DASH),
    ],
)
def test_fmt_p(p, bare, text):
    assert fmt_p(p) == bare
    assert fmt_p(p, prefix=True) == text


def test_fmt_p_never_zero():
    for p in (0.0, 1e-300, 0.0001, 0.0009999):
        assert fmt_p(p) == "<.001"
        assert "0.000" not in fmt_p(p, prefix=True)


def test_fmt_p_rejects_non_probability():
    with pytest.raises(ValueError):
        fmt_p(1.2)


def test_fmt_median_ci():
    assert fmt_median_ci(4.2, [3.4, 6.0]) == "4.2 (95% CI, 3.4-6.0)"
    assert fmt_median_ci(12.1, [6.9, 15.7]) == "12.1 (95% CI, 6.9-15.7)"
    assert fmt_median_ci(4.2, [3.4, 6.0], unit=" months") == "4.2 months (95% CI, 3.4-6.0)"
    assert fmt_median_ci(None, [None, None]) == "not reached"
    assert fmt_median_ci(None, None) == "not reached"
    assert fmt_median_ci(None, [12.1, None]) == "not reached (95% CI, 12.1-not reached)"
    assert fmt_median_ci(9.0, [5.25, None]) == "9.0 (95% CI, 5.3-not reached)"
    assert fmt_median_ci(4.25, None) == "4.3"


def test_fmt_ci_and_num():
    assert fmt_ci([0.069, 0.509], digits=3) == "95% CI, 0.069-0.509"
    assert fmt_num(6, 1) == "6.0"
    assert fmt_num(-0.04, 1) == "0.0"  # never "-0.0"
    assert fmt_num(None) == DASH


def test_fmt_hr():
    assert fmt_hr(0.812, [0.452, 1.459]) == "0.81 (95% CI, 0.45-1.46)"
    # issue 10: two decimals throughout, CIs alike (0.08, 0.37, 1.95)
    assert fmt_hr(0.188, [0.069, 0.509], 0.00098) == "0.19 (95% CI, 0.07-0.51); P<.001"
    assert fmt_hr(0.278, [0.093, 0.83], 0.0217) == "0.28 (95% CI, 0.09-0.83); P=.02"
    assert fmt_hr(0.278, [0.093, 0.83], 0.0217, sep=", ") == "0.28 (95% CI, 0.09-0.83), P=.02"
    assert fmt_hr(0.0815, [0.3666, 1.9549]) == "0.08 (95% CI, 0.37-1.95)"
    assert fmt_hr(0.004, [0.0004, 0.0051], compact=True) == "<0.01 (<0.01-0.01)"  # never reads 0.00
    assert fmt_hr(0.005, [0.00499, 12.345]) == "0.01 (95% CI, <0.01-12.35)"
    assert fmt_hr(1.214, [0.487, 3.026], compact=True) == "1.21 (0.49-3.03)"
    assert fmt_hr(None, None) == DASH


def test_fmt_landmark_no_ci_at_100_and_0_percent():
    assert fmt_landmark(1.0, [None, None]) == "100% (no CI: no event before 6 months)"
    assert fmt_landmark(1.0, [1.0, 1.0], months="12") == "100% (no CI: no event before 12 months)"
    assert fmt_landmark(0.0, [None, None], compact=True) == "0 (no CI: no patient event-free at 6 months)"
    assert fmt_landmark(0.775, [0.51, 0.91], compact=True) == "78 (51-91)"
    assert fmt_landmark(None, None) == DASH


def test_fmt_est_ci_pct_landmark_proportions():
    assert fmt_est_ci_pct(0.22, [0.071, 0.42]) == "22% (95% CI, 7-42)"
    assert fmt_est_ci_pct(0.775, [0.51, 0.91], compact=True) == "78 (51-91)"
    assert fmt_est_ci_pct(0.084, [0.02, 0.2]) == "8.4% (95% CI, 2.0-20.0)"
    assert fmt_est_ci_pct(1.0, [1.0, 1.0]) == "100%"  # degenerate interval is not shown
    assert fmt_est_ci_pct(None, None) == DASH


def test_median_range_and_iqr():
    assert fmt_median_range(62.0, 19.0, 77.0) == "62 (19-77)"
    assert fmt_median_range(474.5, 12.0, 8950.0) == "474.5 (12-8950)"
    assert fmt_median_iqr(4.11, 3.38, 6.48, trim=False) == "4.1 (3.4-6.5)"
    assert fmt_median_range(4.11, 3.0, 21.5, trim=False) == "4.1 (3.0-21.5)"
    assert fmt_median_range(None, None, None) == DASH


def test_cutoff_days_exact():
    assert fmt_cutoff_days(91.3125) == "91.3125"
    assert fmt_cutoff_days(90) == "90"
    assert fmt_cutoff_days(120.0) == "120"
