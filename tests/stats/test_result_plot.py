"""``.plot()`` on survival results draws the report's figure (issue 12 item 7): the curve drawn is the
estimate's steps, and the number-at-risk table is drawn when asked."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from cartreg.stats import cuminc, kaplan_meier  # noqa: E402


def _data():
    rng = np.random.default_rng(3)
    n = 80
    return (rng.exponential(10, n).round(1), rng.integers(0, 2, n), rng.choice(["a", "b"], n),
            rng.integers(0, 3, n))


def _step_ys(fig) -> set[float]:
    ys: set[float] = set()
    for ax in fig.axes:
        for line in ax.get_lines():
            ys |= {round(float(y), 10) for y in np.asarray(line.get_ydata(), dtype=float) if np.isfinite(y)}
    return ys


def test_km_plot_draws_the_estimate():
    t, e, _, _ = _data()
    km = kaplan_meier(t, e)
    fig = km.plot()
    drawn = _step_ys(fig)
    # every step value is on the drawn path, up to where the report curtails a curve (< 5 at risk)
    shown = km.surv[km.n_risk >= 5]
    assert len(shown) > 10 and {round(float(v), 10) for v in shown} <= drawn
    assert fig.axes[0].get_xlabel() == "Time"
    assert len(fig.axes) >= 2  # the number-at-risk table
    assert len(kaplan_meier(t, e).plot(risk_table=False).axes) == 1


def test_grouped_and_cuminc_plots():
    t, e, g, s = _data()
    data = {"t": t, "e": e, "g": g}
    fits = kaplan_meier("t", "e", data=data, by="g")
    fig = fits.plot()
    labels = [tx.get_text() for tx in fig.axes[0].get_legend().get_texts()]
    assert labels == ["a", "b"]
    ci = cuminc(t, s, g)
    fig2 = ci.plot()
    est = ci.curve(ci.causes[0], "a").est
    assert {round(float(v), 10) for v in est[: len(est) // 2]} <= _step_ys(fig2)
