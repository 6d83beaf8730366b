"""Figures: curtailing rule, axis/risk-table alignment, styles, deterministic SVG."""

from __future__ import annotations

import io

import pytest
from matplotlib import rc_context

from cartreg.report.figures import (
    CLASS_STYLE,
    MIN_AT_RISK,
    OKABE_ITO,
    RC,
    _risk_months,
    _rt_cells,
    build_figures,
    curtail,
    forest,
    step_value,
)


def _curve(n_risk, time=None):
    k = len(n_risk)
    return {"time": time or [float(i) for i in range(k)], "surv": [1.0] * k, "n_risk": n_risk,
            "n_event": [0] * k, "n_censor": [0] * k}


def test_curtail_keeps_rows_with_at_least_5_at_risk():
    assert MIN_AT_RISK == 5
    assert curtail(_curve([20, 12, 6, 5, 4, 2])) == 4  # rows with n_risk 20, 12, 6, 5
    assert curtail(_curve([10, 9, 8])) == 3
    assert curtail(_curve([4, 3])) == 0  # a class of fewer than 5 is not drawn
    assert curtail(_curve([3, 3]), min_at_risk=1) == 2


def test_step_value_is_right_continuous():
    t, s = [0.0, 1.0, 2.5], [1.0, 0.8, 0.5]
    assert step_value(t, s, 0.99) == 1.0
    assert step_value(t, s, 1.0) == 0.8
    assert step_value(t, s, 10) == 0.5


def test_axis_ticks_are_risk_table_months_cut_after_the_drawn_curve():
    c = _curve([30, 20, 10, 6, 4], time=[0.0, 2.0, 7.0, 11.0, 20.0])
    c["risk_table"] = {"months": [0.0, 3.0, 6.0, 9.0, 12.0, 15.0, 18.0],
                       "n_risk": [30, 19, 11, 6, 4, 4, 4], "cum_events": [0, 1, 2, 3, 4, 4, 4],
                       "cum_censored": [0] * 7}
    assert _risk_months([c]) == [0.0, 3.0, 6.0, 9.0, 12.0]  # curve drawn to month 11
    assert _rt_cells(c, [0.0, 3.0, 21.0]) == ["30 (0)", "19 (1)", ""]  # blank beyond the table
    assert _rt_cells(c, [3.0], "cum_censored") == ["0"]


def test_palette_is_okabe_ito_and_styles_distinct():
    colours = [v[0] for v in CLASS_STYLE.values()]
    assert set(colours) <= set(OKABE_ITO.values())
    assert len({str(v[1]) for v in CLASS_STYLE.values()}) == len(CLASS_STYLE)  # line styles
    assert len({v[2] for v in CLASS_STYLE.values()}) == len(CLASS_STYLE)  # markers


def test_build_figures_ids(results):
    ids = [f.id for f in build_figures(results)]
    assert ids == ["figure1a_pfs2_by_class", "figure1b_os2_by_class", "figure2_overall_pfs2_os2",
                   "figure3_cif_failure", "figure4_forest_hr"]


def _svg(fig) -> str:
    buf = io.StringIO()
    with rc_context(RC):
        fig.figure.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def test_svg_is_deterministic(results):
    with rc_context(RC):
        a, b = forest(results), forest(results)
    sa, sb = _svg(a), _svg(b)
    assert sa == sb
    assert "<dc:date>" not in sa


def test_forest_texts_come_from_results(results):
    with rc_context(RC):
        fig = forest(results).figure
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "0.19 (0.07-0.51)" in texts  # bispecific PFS-2 (two decimals, issue 10)
    assert "1 (reference)" in texts
    assert "not estimable (no events)" in texts  # other, OS-2 HR null
    assert "<.001" in texts and ".004" in texts
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert any(abs(line.get_xdata()[0] - 1.0) < 1e-12 for line in ax.get_lines())  # reference line at 1


def test_km_by_class_legend_and_logrank(results):
    fig = build_figures(results)[0].figure
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "Chemotherapy (n=22)" in legend
    assert "Other (n=2), not drawn" in legend  # fewer than 5 patients
    assert "Log-rank P<.001 (6 df)" in legend


@pytest.mark.parametrize("empty_class", ["targeted"])
def test_classes_without_patients_are_skipped(results, empty_class):
    late = results["late"]
    late["by_class"][empty_class].update(n=0, pfs2_hr=None, os2_hr=None)
    for ep in ("pfs2", "os2"):
        late["curves"][ep]["by_class"][empty_class] = {
            "n": 0, "events": 0, "median": None, "ci": [None, None], "time": [0.0], "surv": [1.0],
            "lower": [1.0], "upper": [1.0], "n_risk": [0], "n_event": [0], "n_censor": [0],
            "risk_table": {"months": [0.0], "n_risk": [0], "cum_events": [0], "cum_censored": [0]}}
    figs = build_figures(results)
    legend = [t.get_text() for t in figs[0].figure.axes[0].get_legend().get_texts()]
    assert not any(t.startswith("Targeted") for t in legend)
