"""Issue 15: thinning the report's step curves never moves the drawn path by more than the tolerance,
the rasterised figure is unchanged at the rendered resolution, and results.json keeps every step."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cartreg.report import figures
from cartreg.report.figures import THIN_DPI, THIN_TOL_PX, build_figures, thin_marks, thin_steps
from cartreg.study.blocks import km_curve

EXAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "results_example.json"


def step_path(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vertices of the drawn right-continuous step path (matplotlib ``steps-post``)."""
    v = np.empty((2 * len(x) - 1, 2))
    v[0::2, 0], v[0::2, 1] = x, y
    v[1::2, 0], v[1::2, 1] = x[1:], y[:-1]
    return v


def dist_to_polyline(p: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Exact distance of each point of ``p`` to the polyline ``poly`` (point-to-segment)."""
    a, b = poly[:-1], poly[1:]
    ab = b - a
    den = np.maximum((ab ** 2).sum(1), 1e-300)
    t = np.clip(((p[:, None, :] - a[None]) * ab[None]).sum(2) / den[None], 0, 1)
    q = a[None] + t[..., None] * ab[None]
    return np.sqrt(((p[:, None, :] - q) ** 2).sum(2)).min(1)


def sample(poly: np.ndarray, h: float) -> np.ndarray:
    pts = [poly[:1]]
    for a, b in zip(poly[:-1], poly[1:]):
        k = max(int(np.ceil(np.hypot(*(b - a)) / h)), 1)
        pts.append(a + (b - a) * (np.arange(1, k + 1) / k)[:, None])
    return np.concatenate(pts)


def hausdorff(p1: np.ndarray, p2: np.ndarray, h: float) -> float:
    """Hausdorff distance of two polylines, from points every ``h`` along each (exact to ``h / 2``)."""
    return float(max(dist_to_polyline(sample(p1, h), p2).max(), dist_to_polyline(sample(p2, h), p1).max()))


def test_thin_steps_by_hand():
    x = np.array([0.0, 10, 10.1, 10.2, 20, 30, 30.2])
    y = np.array([100.0, 90, 89, 88, 50, 20, 10])
    # the drops at 10 and 10.1 are within 0.2 px (horizontally) of one drop at 10.2, and the drop at 30 of
    # the one at 30.2 (the last point, always kept)
    assert thin_steps(x, [y], 0.5).tolist() == [0, 3, 4, 6]
    assert thin_steps(x, [y], 0.05).tolist() == list(range(7))
    assert thin_steps(x, [y], 0.0).tolist() == list(range(7))
    # tiny drops far apart in x: the y-criterion merges them while their total stays <= tol
    x2 = np.arange(6.0) * 10
    y2 = np.array([1.0, 0.9, 0.8, 0.7, 0.6, 0.0])
    assert thin_steps(x2, [y2], 0.25).tolist() == [0, 3, 5]
    # a curve that is not monotone is never thinned
    assert thin_steps(x2, [np.array([1.0, 0.9, 0.95, 0.7, 0.6, 0.0])], 10.0).tolist() == list(range(6))
    assert thin_marks(np.array([0.0, 0.3, 0.6, 0.7, 5.0]), np.zeros(5), 0.5).tolist() == [0, 2, 4]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 3.0), st.floats(0.0, 0.4)), min_size=2, max_size=60),
    st.floats(0.05, 2.0),
    st.booleans(),
)
def test_thinning_moves_the_path_by_at_most_tol(steps, tol, increasing):
    dx = np.array([s[0] for s in steps])
    dy = np.array([s[1] for s in steps])
    x = np.cumsum(dx)
    y = np.cumsum(dy)
    y = y if increasing else 50.0 - y
    keep = thin_steps(x, [y], tol)
    assert keep[0] == 0 and keep[-1] == len(x) - 1 and np.all(np.diff(keep) > 0)
    d = hausdorff(step_path(x, y), step_path(x[keep], y[keep]), h=tol / 50)
    assert d <= tol * (1 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)), min_size=1, max_size=80), st.floats(0.05, 2.0))
def test_every_mark_left_out_is_within_tol_of_one_drawn(points, tol):
    x = np.cumsum([p[0] for p in points])
    y = -np.cumsum([p[1] for p in points])
    keep = thin_marks(x, y, tol)
    kept = np.stack([x[keep], y[keep]], 1)
    d = np.sqrt(((np.stack([x, y], 1)[:, None] - kept[None]) ** 2).sum(2)).min(1)
    assert d.max() <= tol * (1 + 1e-12)


def dense_results() -> dict:
    """The example results with large KM and CIF curves (every day a step; 20,000 patients)."""
    r = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    rng = np.random.default_rng(15)
    n = 20_000
    t = np.minimum(rng.exponential(400.0, n), rng.uniform(30, 1300, n))
    e = (t < 1200) & (rng.uniform(size=n) < 0.7)
    days = np.ceil(t)
    for ep in ("os2", "pfs2"):
        r["late"]["curves"][ep]["overall"] = km_curve(days, e, "log-log", 0.95, 3.0)
        for i, cls in enumerate(r["late"]["curves"][ep]["by_class"]):
            sel = rng.uniform(size=n) < 0.15 + 0.02 * i
            r["late"]["curves"][ep]["by_class"][cls] = km_curve(days[sel], e[sel], "log-log", 0.95, 3.0)
    return r


def test_results_keep_every_step_and_the_figure_draws_a_subset():
    r = dense_results()
    before = copy.deepcopy(r)
    figs = {f.id: f for f in build_figures(r)}
    assert r == before  # the report never edits the results it draws
    curve = r["late"]["curves"]["os2"]["overall"]
    ax = figs["figure2_overall_pfs2_os2"].figure.axes[2]  # OS-2 panel (PFS-2 panel, its risk table, OS-2)
    steps = [ln for ln in ax.get_lines() if ln.get_drawstyle() == "steps-post"]
    assert len(steps) == 1
    xd, yd = (np.asarray(a, float) for a in steps[0].get_data())
    k = figures.curtail(curve)
    t, s = np.asarray(curve["time"][:k], float), np.asarray(curve["surv"][:k], float)
    assert 10 < len(xd) < len(t)  # thinned, yet a curve
    idx = np.searchsorted(t, xd)
    assert np.array_equal(t[idx], xd) and np.array_equal(s[idx], yd)  # drawn points are results points
    assert (xd[0], yd[0], xd[-1], yd[-1]) == (t[0], s[0], t[-1], s[-1])


def _raster(fig, dpi: int) -> np.ndarray:
    fig.figure.set_dpi(dpi)
    fig.figure.canvas.draw()
    return np.asarray(fig.figure.canvas.buffer_rgba())[..., :3].astype(int)


@pytest.mark.parametrize("dpi", [96, 192])
def test_rasterised_figures_unchanged(dpi):
    """At screen resolutions (1x and 2x) the thinned figures equal the full ones (within 2 of 255 levels)
    in more than 99.9% of pixels; elsewhere a pixel changes by at most the antialiasing coverage of the
    edges moved by the tolerance (THIN_TOL_PX at THIN_DPI is ``tol * dpi / THIN_DPI`` pixels here; two
    edges, e.g. a dash end and a band edge, can meet in one pixel)."""
    r = dense_results()
    full = {f.id: f for f in build_figures(r, thin_tol_px=0)}
    thin = {f.id: f for f in build_figures(r)}
    assert THIN_TOL_PX <= 0.5 and THIN_DPI == 300
    for fid in ("figure1b_os2_by_class", "figure2_overall_pfs2_os2", "figure3_cif_failure"):
        a, b = _raster(full[fid], dpi), _raster(thin[fid], dpi)
        assert a.shape == b.shape
        diff = np.abs(a - b).max(axis=2)
        assert (diff > 2).mean() < 1e-3, (fid, dpi, (diff > 2).mean())
        assert diff.max() <= 255 * min(1.0, 2 * THIN_TOL_PX * dpi / THIN_DPI), (fid, dpi, diff.max())
