"""Counts released as "<5" (federated --suppress-small-cells): printed as they are, nothing derived."""

from cartreg.report.format import (
    DASH,
    count_rank,
    count_value,
    fmt_count,
    fmt_n_N_pct,
    fmt_n_pct,
    is_suppressed,
)
from cartreg.report.html import after_cutoff_text
from cartreg.report.tables import _missing_of


def test_format_helpers_print_a_suppressed_count_without_its_percentage():
    assert fmt_n_pct("<5", None) == "<5"
    assert fmt_n_N_pct("<5", 97, None) == "<5/97"
    assert fmt_n_N_pct(12, "<5") == "12/<5"
    assert fmt_n_N_pct(12, 141) == "12/141 (8.5%)"  # unchanged for plain counts
    assert fmt_n_pct(12, 8.4) == "12 (8.4%)"
    assert fmt_count("<5") == "<5" and fmt_count(7) == "7" and fmt_count(None) == DASH
    assert is_suppressed("<5") and not is_suppressed(3) and not is_suppressed("5")
    assert count_value("<5") is None and count_value(3) == 3
    assert sorted([7, "<5", 0, 12], key=lambda x: -count_rank(x)) == [12, 7, "<5", 0]


def test_missing_counts_are_never_derived_from_a_suppressed_count():
    assert _missing_of("bin", {"n": "<5", "N": 96, "n_missing": "<5"}, 97) == "<5"
    assert _missing_of("bin", {"n": 10, "N": "<5"}, 97) == DASH  # 97 - N would give N back
    assert _missing_of("bin", {"n": 10, "N": 90}, 97) == 7
    assert _missing_of("cont", {"n_missing": "<5"}, 97) == "<5"


def test_after_cutoff_text_shows_a_suppressed_count():
    res = {"parameters": {"data_cutoff": "2021-06-30"},
           "ignored_records": {"after_cutoff": {"responses": 12, "treatments": "<5", "deaths": 0}}}
    assert after_cutoff_text(res) == ("Data cut-off 2021-06-30: records dated after it are ignored and follow-up "
                                      "ends at it (12 response assessments; <5 treatments; 0 deaths).")
