"""Report figures (matplotlib, Agg canvas, object-oriented API; nothing global is left behind).

Every figure draws arrays that are in results.json; nothing is estimated here. Conventions:

* **Kaplan-Meier curves** are step functions (right-continuous) in months from time 0, with
  censor marks (``|``), optional pointwise CI bands, and median lines at survival 0.5 drawn at the
  medians given in the results.
* **Curtailing.** A curve is drawn only over the times at which at least :data:`MIN_AT_RISK` (5)
  patients are at risk (Pocock et al., Lancet 2002; Morris et al., KMunicate, BMJ Open 2019). With
  survfit-style arrays (``n_risk[i]`` = at risk at ``time[i]``) the drawn part is the rows with
  ``n_risk >= 5``: the curve ends at the last such time, after its drop there. A group with fewer
  than 5 patients is not drawn at all; the legend says so. The risk table still shows every count.
* **Risk tables** (KMunicate style) sit under the time axis, one column per tick, with the ticks at
  the ``risk_table.months`` of the results: "at risk (cumulative events)" per class, or separate
  *At risk / Censored / Events* rows for a single curve.
* **Colours** are the Okabe-Ito colour-blind-safe palette; each class also has its own line style
  and marker, so the figures read in greyscale.
* **Headless.** Figures are drawn on their own Agg canvas through the object-oriented API: no
  pyplot state, no global backend switch, nothing left open.
* **Determinism.** SVGs are byte-identical across runs: ``svg.hashsalt`` is fixed, the ``Date``
  metadata is removed and text is drawn as paths (no font needed by the reader).
* **Thinning** (issue 15). A large registry gives curves of thousands of steps, each a fraction of a
  pixel. Before a step curve, its CI band or its censor marks are drawn, the points that cannot move
  the drawn path by more than :data:`THIN_TOL_PX` pixels at :data:`THIN_DPI` dpi (the PNG's
  resolution, finer than a screen shows the report) are left out (:func:`thin_steps`,
  :func:`thin_marks`); every step stays in results.json. ``build_figures(..., thin_tol_px=0)`` draws
  every point (the old figures).
* **PNG on request.** :func:`save_figure` writes the SVG always (report.html inlines it) and the
  300-dpi PNG only with ``png=True`` (``cartreg analyze --png``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

from cartreg.report.format import count_rank, fmt_cutoff_days, fmt_hr, fmt_median_ci, fmt_num, fmt_p, fmt_pct
from cartreg.report.tables import (
    MONTH_DAYS,
    class_label,
    late_after_days,
    ordered_classes,
    reference_class,
)

MIN_AT_RISK = 5

# Thinning of step curves: the largest distance, in pixels at THIN_DPI, by which leaving points out may
# move a drawn curve, band edge or censor mark (0 = draw every point).
THIN_DPI = 300
THIN_TOL_PX = 0.5
_thin_tol_px = [THIN_TOL_PX]  # the tolerance of the figures being built (set by build_figures)

# Okabe & Ito (2008) colour-blind-safe palette (yellow left out: too light on white).
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}

# class -> (colour, line style, marker); the reference class is black and solid.
CLASS_STYLE = {
    "chemotherapy": (OKABE_ITO["black"], "-", "o"),
    "bispecific": (OKABE_ITO["blue"], (0, (6, 2)), "s"),
    "IMiD": (OKABE_ITO["orange"], (0, (1.5, 1.5)), "^"),
    "targeted": (OKABE_ITO["green"], (0, (6, 2, 1.5, 2)), "D"),
    "anti-PD1": (OKABE_ITO["purple"], (0, (3, 1.5)), "v"),
    "radiotherapy": (OKABE_ITO["vermillion"], (0, (6, 1.5, 1.5, 1.5, 1.5, 1.5)), "P"),
    "adc": (OKABE_ITO["green"], (0, (1, 1)), "h"),
    "cellular": (OKABE_ITO["orange"], (0, (8, 2, 1, 2)), "*"),
    "other": (OKABE_ITO["sky"], (0, (1, 3)), "X"),
}
_SPARE_STYLES = [(OKABE_ITO["sky"], (0, (4, 4)), "*"), (OKABE_ITO["purple"], (0, (2, 4)), "h")]

RC = {
    "svg.hashsalt": "cartreg-report",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.6,
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "path.simplify": False,
}


@dataclass
class ReportFigure:
    """A built figure: file stem, caption for the report, and the matplotlib figure."""

    id: str
    title: str
    caption: str
    figure: Figure


def _figure(figsize) -> Figure:
    """A figure on its own Agg canvas: headless, no pyplot state, no global backend switch."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def class_style(cls: str, i: int = 0):
    return CLASS_STYLE.get(cls, _SPARE_STYLES[i % len(_SPARE_STYLES)])


# ---------------------------------------------------------------------------------------------
# step-curve helpers (lookups in the given arrays; no estimation)


def curtail(curve: dict, min_at_risk: int = MIN_AT_RISK) -> int:
    """Number of leading rows of the curve arrays to draw: rows with ``n_risk >= min_at_risk``."""
    # a suppressed "<N" (federated --suppress-small-cells) ranks just below N
    n_risk = np.asarray([count_rank(x) for x in curve["n_risk"]], dtype=float)
    keep = n_risk >= min_at_risk
    if keep.all():
        return len(n_risk)
    return int(np.argmin(keep))  # n_risk is non-increasing: the kept rows are a prefix


def step_value(times, values, t: float) -> float:
    """Value of a right-continuous step function at ``t`` (the last row with time <= t)."""
    i = int(np.searchsorted(np.asarray(times, dtype=float), t, side="right") - 1)
    return float(values[max(i, 0)])


# ---------------------------------------------------------------------------------------------
# thinning (display only: what a figure can show at THIN_DPI)


def _monotone(y: np.ndarray) -> bool:
    d = np.diff(y)
    return bool((d >= 0).all() or (d <= 0).all())


def thin_steps(x: np.ndarray, ys: list[np.ndarray], tol: float) -> np.ndarray:
    """Indices of the points of right-continuous step curves ``(x, y)`` (``where="post"``, one shared
    ``x``, in pixels) to draw so that the drawn paths move by at most ``tol`` pixels (Hausdorff distance).

    Leaving out points ``i+1 .. j-1`` between kept points ``i`` and ``j`` replaces the staircase from
    ``(x[i+1], y[i])`` to ``(x[j], y[j-1])`` by a horizontal line at ``y[i]`` and one drop at ``x[j]``.
    For a monotone ``y`` every point of either path then lies within ``x[j] - x[i+1]`` horizontally
    and within ``|y[i] - y[j-1]|`` vertically of the other, so a run is dropped when either is at most
    ``tol`` (for every curve of ``ys``). The first and last points are always kept. A curve that is not
    monotone, or ``tol <= 0``, keeps every point.

    >>> thin_steps(np.array([0., 10, 10.1, 10.2, 20]), [np.array([100., 90, 89, 88, 50])], 0.5).tolist()
    [0, 3, 4]
    """
    n = len(x)
    if tol <= 0 or n <= 2 or not all(_monotone(y) for y in ys) or np.any(np.diff(x) < 0):
        return np.arange(n)
    # each curve as non-decreasing (searchsorted needs ascending values)
    ups = [y if y[-1] >= y[0] else -y for y in ys]
    keep = [0]
    i = 0
    while i < n - 1:
        jx = int(np.searchsorted(x, x[i + 1] + tol, side="right")) - 1
        # y-criterion: k = the last index with y[k] - y[i] <= tol in every curve; then j = k + 1
        k = min(int(np.searchsorted(u, u[i] + tol, side="right")) - 1 for u in ups) if ups else i
        j = min(max(jx, k + 1, i + 1), n - 1)
        keep.append(j)
        i = j
    return np.asarray(keep, dtype=np.intp)


def thin_marks(x: np.ndarray, y: np.ndarray, tol: float) -> np.ndarray:
    """Indices of marks at ``(x, y)`` (pixels, in drawing order along a curve) to draw: a mark within
    ``tol`` pixels of the last mark kept is left out (it is drawn over that mark, shifted by at most
    ``tol``). ``tol <= 0`` keeps every mark.

    >>> thin_marks(np.array([0., .1, .2, 3]), np.array([0., 0, 0, 0]), 0.5).tolist()
    [0, 3]
    """
    n = len(x)
    if tol <= 0 or n <= 1:
        return np.arange(n)
    keep = [0]
    lx, ly = x[0], y[0]
    close = np.hypot(np.diff(x), np.diff(y)) <= tol
    if not close.any():
        return np.arange(n)
    for i in range(1, n):  # loops over marks, not patients: at most one per distinct time
        if (x[i] - lx) ** 2 + (y[i] - ly) ** 2 > tol * tol:
            keep.append(i)
            lx, ly = x[i], y[i]
    return np.asarray(keep, dtype=np.intp)


def _px_per_unit(ax) -> tuple[float, float]:
    """Pixels per data unit at THIN_DPI along x and y of a linear axes whose limits are set."""
    fig = ax.figure
    pos = ax.get_position()
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    return (fig.get_figwidth() * pos.width * THIN_DPI / abs(x1 - x0),
            fig.get_figheight() * pos.height * THIN_DPI / abs(y1 - y0))


def _thin_idx(ax, t: np.ndarray, *ys: np.ndarray) -> np.ndarray:
    kx, ky = _px_per_unit(ax)
    return thin_steps(t * kx, [y * ky for y in ys], _thin_tol_px[0])


def _thin_marks_idx(ax, t: np.ndarray, y: np.ndarray) -> np.ndarray:
    kx, ky = _px_per_unit(ax)
    return thin_marks(t * kx, y * ky, _thin_tol_px[0])


def _risk_months(curves: list[dict], max_ticks: int = 13) -> list[float]:
    """The time axis ticks: the longest ``risk_table.months`` of the curves (each curve's table stops at
    its last time), cut at the first tick at or after the end of the longest drawn (curtailed) curve,
    and thinned to every k-th month when more than ``max_ticks`` would be needed."""
    months: list[float] = []
    for c in curves:
        m = [float(x) for x in ((c.get("risk_table") or {}).get("months") or [])]
        if len(m) > len(months):
            months = m
    if len(months) < 2:
        tmax = max([float(c["time"][-1]) for c in curves if c.get("time")] + [3.0])
        step = 3.0 if tmax <= 36 else 6.0
        months = [float(x) for x in np.arange(0, tmax + step, step)]
    ends = []
    for c in curves:
        k = curtail(c)
        if k:
            ends.append(float(c["time"][k - 1]))
    end = max(ends) if ends else months[-1]
    # ticks needed to reach the end of the drawn curves; thin the whole list to every k-th month when
    # that is more than max_ticks, then cut at the first tick at or after the end (even spacing kept)
    n_axis = next((i for i, m in enumerate(months) if m >= end), len(months) - 1) + 1
    thin = months[:: -(-n_axis // max_ticks)]
    cut = next((i for i, m in enumerate(thin) if m >= end), len(thin) - 1)
    return thin[: max(cut, 2) + 1]


def _fmt_month(m: float) -> str:
    return str(int(m)) if float(m).is_integer() else f"{m:g}"


def _draw_km(ax, curve: dict, color, ls, marker, label, ci: bool, months: list[float], zorder=2):
    """Draw one curtailed KM curve; return (handle, end_time or None)."""
    k = curtail(curve)
    t = np.asarray(curve["time"], dtype=float)[:k]
    s = np.asarray(curve["surv"], dtype=float)[:k]
    handle = Line2D([], [], color=color, ls=ls, marker=marker, markersize=4.5, label=label)
    if k == 0:
        return handle, None
    ax.set_xlim(0, months[-1] * 1.01)  # the limits _setup_km_axes sets: thinning needs them first
    ax.set_ylim(0, 1.02)
    keep = _thin_idx(ax, t, s)
    ax.step(t[keep], s[keep], where="post", color=color, ls=ls, lw=1.6, zorder=zorder, solid_capstyle="butt")
    if ci and curve.get("lower") is not None:
        lo = np.asarray(curve["lower"], dtype=float)[:k]
        hi = np.asarray(curve["upper"], dtype=float)[:k]
        ok = ~(np.isnan(lo) | np.isnan(hi))
        tb, lo, hi = t[ok], lo[ok], hi[ok]
        kb = _thin_idx(ax, tb, lo, hi)
        ax.fill_between(tb[kb], lo[kb], hi[kb], step="post", color=color, alpha=0.13, lw=0, zorder=1)
    nc = np.asarray([count_rank(x) for x in curve["n_censor"]], dtype=float)[:k]  # "<5" counts as some
    cen = nc > 0
    if cen.any():
        tc, sc = t[cen], s[cen]
        km = _thin_marks_idx(ax, tc, sc)
        ax.plot(tc[km], sc[km], ls="none", marker="|", ms=6, mew=1.1, color=color, zorder=zorder + 1)
    # class markers at the risk-table ticks (so curves can be told apart in greyscale)
    tm = [m for m in months if m <= t[-1]]
    if tm:
        ax.plot(tm, [step_value(t, s, m) for m in tm], ls="none", marker=marker, ms=4.5, color=color,
                mfc="white" if marker not in ("|", "+", "x") else color, mew=1.1, zorder=zorder + 2)
    return handle, float(t[-1])


def _median_lines(ax, medians_ends: list[tuple[float | None, float | None, str]]):
    """Dotted line at S=0.5 up to the largest median shown, with a drop at each median given."""
    shown = [(m, c) for m, end, c in medians_ends if m is not None and end is not None and m <= end]
    if not shown:
        return
    xmax = max(m for m, _ in shown)
    ax.plot([0, xmax], [0.5, 0.5], color="0.45", lw=0.8, ls=(0, (1, 1.5)), zorder=0)
    for m, c in shown:
        ax.plot([m, m], [0, 0.5], color=c, lw=0.8, ls=(0, (1, 1.5)), zorder=0)


def _setup_km_axes(ax, months: list[float], ylabel: str, xlabel: str):
    ax.set_xlim(0, months[-1] * 1.01)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_locator(FixedLocator(months))
    ax.set_xticklabels([_fmt_month(m) for m in months])
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_yticklabels(["0", "25", "50", "75", "100"])
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", color="0.9", lw=0.6)
    ax.set_axisbelow(True)


def _risk_table(ax, months, rows: list[tuple[str, list[str], str, str | None]], header: str, xlim=None):
    """Text table aligned to the ticks of the plot above: rows of (label, cells, colour, marker)."""
    if xlim is not None:
        ax.set_xlim(*xlim)
    ax.set_ylim(len(rows) - 0.5, -1.3)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.xaxis.set_major_locator(NullLocator())
    ax.yaxis.set_major_locator(NullLocator())
    ax.text(0, -1.1, header, transform=ax.get_yaxis_transform(), ha="left", va="center",
            fontsize=7.5, fontweight="bold", color="0.15")
    for i, (label, cells, color, marker) in enumerate(rows):
        for m, cell in zip(months, cells, strict=False):
            ax.text(m, i, cell, ha="center", va="center", fontsize=7.2, color="0.1")
        ax.annotate(label, xy=(0, i), xycoords=ax.get_yaxis_transform(), xytext=(-20, 0),
                    textcoords="offset points", ha="right", va="center", fontsize=7.2, color=color,
                    fontweight="bold" if color != "0.1" else "normal")


def _rt_cells(curve: dict, months: list[float], key: str | None = None) -> list[str]:
    """Risk-table cells at ``months``: "at risk (cumulative events)", or one column of the table
    (``key``). A month the curve's table does not reach (after its last time) is left blank."""
    rt = curve.get("risk_table") or {}
    pos = {float(m): j for j, m in enumerate(rt.get("months") or [])}
    nr, ev = rt.get("n_risk") or [], rt.get("cum_events") or []
    out = []
    for m in months:
        j = pos.get(float(m))
        if j is None:
            out.append("")
        elif key is not None:
            out.append(str(rt[key][j]))
        else:
            out.append(f"{nr[j]} ({ev[j]})")
    return out


# ---------------------------------------------------------------------------------------------
# Figure 1: KM by class


def km_by_class(results: dict, endpoint: str, ci: bool = False) -> ReportFigure:
    """Kaplan-Meier of ``endpoint`` ("pfs2" or "os2") by first-treatment class, with risk table."""
    late = results["late"]
    curves = late["curves"][endpoint]["by_class"]
    classes = [c for c in ordered_classes(results, list(curves.keys())) if curves[c].get("n", 1)]
    months = _risk_months([curves[c] for c in classes])
    name = {"pfs2": "PFS-2", "os2": "OS-2"}[endpoint]
    origin = (results.get("parameters") or {}).get("treated_origin", "treatment_start")
    xlabel = "Months from start of first treatment after failure" if origin == "treatment_start" \
        else "Months from failure"
    n_rows = len(classes)
    labels = [f"{class_label(c)} (n={curves[c].get('n', 0)}), not drawn" if curtail(curves[c]) == 0
              else f"{class_label(c)} (n={curves[c].get('n', 0)})" for c in classes]
    ncol = 3 if max((len(x) for x in labels), default=0) <= 28 else 2
    legend_h = 0.2 * (-(-(n_rows + 1) // ncol)) + 0.1  # classes + the log-rank entry
    height = 3.2 + 0.19 * n_rows + 0.45 + legend_h
    fig = _figure((7.0, height))
    gs = fig.add_gridspec(2, 1, height_ratios=[3.2, 0.19 * n_rows + 0.45], hspace=0.24,
                          left=0.21, right=0.97, top=1 - legend_h / height, bottom=0.02)
    ax = fig.add_subplot(gs[0])
    handles, med = [], []
    for i, cls in enumerate(classes):
        color, ls, marker = class_style(cls, i)
        c = curves[cls]
        label = f"{class_label(cls)} (n={c.get('n', c['n_risk'][0])})"
        h, end = _draw_km(ax, c, color, ls, marker, label, ci, months, zorder=2 + len(classes) - i)
        if end is None:
            h.set_label(label + ", not drawn")
        handles.append(h)
        med.append((c.get("median"), end, color))
    lr = (late.get("logrank") or {}).get(endpoint)
    if lr and lr.get("p") is not None:  # a legend entry of its own: never overlaps a curve
        df = f" ({lr['df']} df)" if lr.get("df") is not None else ""
        handles.append(Line2D([], [], ls="none", label=f"Log-rank {fmt_p(lr['p'], prefix=True)}{df}"))
    _median_lines(ax, med)
    _setup_km_axes(ax, months, f"{name}, %", xlabel)
    if not any(end is not None for _, end, _ in med):
        ax.text(0.5, 0.5, f"No class has {MIN_AT_RISK} or more patients at risk: no curve is drawn.",
                transform=ax.transAxes, ha="center", va="center", fontsize=8.5, color="0.3")
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=ncol, frameon=False,
              handlelength=3.2, borderaxespad=0.0, columnspacing=1.0)
    rax = fig.add_subplot(gs[1])
    rows = [(class_label(cls), _rt_cells(curves[cls], months), class_style(cls, i)[0], None)
            for i, cls in enumerate(classes)]
    _risk_table(rax, months, rows, "Number at risk (cumulative events)", xlim=ax.get_xlim())
    caption = (
        f"Kaplan-Meier estimates of {name} by class of first treatment after failure, among treated late "
        f"failures; time from the start of that treatment. Tick marks: censored patients; dotted lines: "
        f"medians. Curves stop where fewer than {MIN_AT_RISK} patients remain at risk (a class with fewer "
        f"than {MIN_AT_RISK} patients is not drawn). Under the axis: number at risk (cumulative number of events) at each time."
    )
    cmp = late.get("comparisons")
    if cmp and cmp.get("not_compared"):
        caption += (" The log-rank test compares " + ", ".join(class_label(c) for c in cmp.get("compared") or [])
                    + " only; " + ", ".join(class_label(c) for c in cmp["not_compared"])
                    + " (fewer patients than min_class_size, or the class Other) are shown but not compared.")
    return ReportFigure(f"figure1{'a' if endpoint == 'pfs2' else 'b'}_{endpoint}_by_class",
                        f"Figure 1{'A' if endpoint == 'pfs2' else 'B'}. {name} by treatment class", caption, fig)


# ---------------------------------------------------------------------------------------------
# overall PFS-2 and OS-2


def km_overall(results: dict, ci: bool = True) -> ReportFigure:
    """Overall PFS-2 (treated) and OS-2 (all late failures), each with a KMunicate risk table."""
    late = results["late"]
    fig = _figure((7.0, 4.3))
    gs = fig.add_gridspec(2, 2, height_ratios=[3.1, 0.75], hspace=0.3, wspace=0.5,
                          left=0.14, right=0.98, top=0.92, bottom=0.03)
    origin = (results.get("parameters") or {}).get("treated_origin", "treatment_start")
    specs = [
        ("pfs2", "PFS-2, treated patients",
         "Months from start of treatment" if origin == "treatment_start" else "Months from failure",
         OKABE_ITO["blue"], "-", "s"),
        ("os2", "OS-2, all late failures", "Months from failure", OKABE_ITO["vermillion"], "-", "o"),
    ]
    for col, (ep, title, xlabel, color, ls, marker) in enumerate(specs):
        c = late["curves"][ep]["overall"]
        months = _risk_months([c], max_ticks=8)  # half-width panels
        ax = fig.add_subplot(gs[0, col])
        _, end = _draw_km(ax, c, color, ls, marker, title, ci, months)
        _median_lines(ax, [(c.get("median"), end, color)])
        _setup_km_axes(ax, months, f"{'PFS-2' if ep == 'pfs2' else 'OS-2'}, %", xlabel)
        ax.set_title(title, loc="left", fontweight="bold")
        summ = late.get(ep) or {}
        med = summ.get("median", c.get("median"))
        mci = summ.get("ci", c.get("ci"))
        ax.text(0.03, 0.03, f"Median {fmt_median_ci(med, mci, unit=' months')}", transform=ax.transAxes,
                ha="left", va="bottom", fontsize=7)
        rax = fig.add_subplot(gs[1, col])
        rows = [
            ("At risk", _rt_cells(c, months, "n_risk"), "0.1", None),
            ("Censored", _rt_cells(c, months, "cum_censored"), "0.1", None),
            ("Events", _rt_cells(c, months, "cum_events"), "0.1", None),
        ]
        _risk_table(rax, months, rows, "", xlim=ax.get_xlim())
    caption = (
        "Kaplan-Meier estimates with 95% pointwise confidence bands of PFS-2 among treated late failures "
        "and of OS-2 among all late failures. Tick marks: censored patients; dotted lines: medians. "
        f"Curves stop where fewer than {MIN_AT_RISK} patients remain at risk. Under each axis (KMunicate): "
        "number at risk, and cumulative numbers censored and with an event."
    )
    return ReportFigure("figure2_overall_pfs2_os2", "Figure 2. Overall PFS-2 and OS-2 of late failures", caption, fig)


# ---------------------------------------------------------------------------------------------
# cumulative incidence of failure


def cif_failure(results: dict, ci: bool = True) -> ReportFigure:
    """Cumulative incidence of failure from infusion, death without failure competing (Aalen-Johansen)."""
    f = results["failures"]
    cc = f["cif_curve"]
    rt = cc.get("risk_table") or {}
    fig = _figure((7.0, 4.5) if rt else (7.0, 3.6))
    ax = fig.add_axes((0.2, 0.33, 0.76, 0.6) if rt else (0.1, 0.14, 0.86, 0.76))
    cut = late_after_days(results) / MONTH_DAYS
    specs = [("failure", "Failure (progression or relapse)", OKABE_ITO["vermillion"], "-"),
             ("death_without_failure", "Death without failure (competing risk)", OKABE_ITO["blue"], (0, (5, 2)))]
    ymax, tmax_all = 0.0, 0.0
    drawn = []
    for key, label, color, ls in specs:
        part = cc.get(key)
        if not part:
            continue
        t = np.asarray(part.get("time", cc.get("time")), dtype=float)  # per cause (docs/results.md)
        tmax_all = max(tmax_all, float(t[-1]) if len(t) else 0.0)
        est = np.asarray(part["est"], dtype=float)
        ymax = max(ymax, float(np.nanmax(est)))
        band = None
        if ci and part.get("lower") is not None:
            lo = np.asarray(part["lower"], dtype=float)
            hi = np.asarray(part["upper"], dtype=float)
            ok = ~(np.isnan(lo) | np.isnan(hi))
            band = (t[ok], lo[ok], hi[ok])
            ymax = max(ymax, float(np.nanmax(hi)))
        drawn.append((t, est, band, label, color, ls))
    xmax = max(min(tmax_all, 36.0), 13.0)  # the 3-month cut-off matters; long tails add nothing here
    top = min(1.0, max(0.1, np.ceil((ymax * 1.15) * 10) / 10))
    ax.set_xlim(0, xmax)  # limits first: thinning is in pixels
    ax.set_ylim(0, top)
    for t, est, band, label, color, ls in drawn:
        keep = _thin_idx(ax, t, est)
        ax.step(t[keep], est[keep], where="post", color=color, ls=ls, lw=1.6, label=label)
        if band is not None:
            tb, lo, hi = band
            kb = _thin_idx(ax, tb, lo, hi)
            ax.fill_between(tb[kb], lo[kb], hi[kb], step="post", color=color, alpha=0.13, lw=0)
    for pt in f.get("cif") or []:
        m, e = float(pt["months"]), pt.get("est")
        if e is None:
            continue
        ax.plot([m], [e], marker="o", ms=4, color=OKABE_ITO["vermillion"], mfc="white", mew=1.1, zorder=4)
        ax.annotate(f"{fmt_pct(100 * e)} at {_fmt_month(m)} mo", (m, e), xytext=(4, -11),
                    textcoords="offset points", fontsize=7.2, color="0.15")
    ax.axvline(cut, color="0.3", lw=0.9, ls=(0, (4, 2)))
    ax.text(cut, 1.0, f" {late_cut_label(results)} cut-off", transform=ax.get_xaxis_transform(),
            ha="left", va="top", fontsize=7.5, color="0.2")
    ax.text(cut / 2, 0.9, "early", transform=ax.get_xaxis_transform(), ha="center", fontsize=7.5, color="0.35")
    ax.text(cut + 2.0, 0.9, "late \u2192", transform=ax.get_xaxis_transform(), ha="left", fontsize=7.5, color="0.35")
    ticks = list(np.arange(0, xmax + 0.1, 3.0 if xmax <= 24 else 6.0))
    ax.set_xlim(0, xmax)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticklabels([_fmt_month(x) for x in ticks])
    yt = np.arange(0, top + 1e-9, 0.1 if top <= 0.6 else 0.2)
    ax.set_ylim(0, top)
    ax.set_yticks(yt)
    ax.set_yticklabels([f"{100 * y:.0f}" for y in yt])
    ax.set_ylabel("Cumulative incidence, %")
    ax.set_xlabel("Months from CAR T-cell infusion")
    ax.grid(axis="y", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    ax.legend(loc="center right", frameon=False, handlelength=3)
    ax.set_title("Cumulative incidence of failure after CAR T-cell infusion", loc="left", fontweight="bold")
    caption = (
        "Cumulative incidence of failure (progression or relapse) from infusion among infused patients, "
        "with death without failure as a competing risk (Aalen-Johansen), with 95% pointwise confidence "
        f"bands. The dashed vertical line marks the late-failure cut-off ({late_cut_label(results)})."
    )
    if rt:
        pos = {float(m): j for j, m in enumerate(rt.get("months") or [])}
        shown = [m for m in ticks if float(m) in pos]

        def cells(key: str) -> list[str]:
            return [str(rt[key][pos[float(m)]]) for m in shown]

        rax = fig.add_axes((0.2, 0.03, 0.76, 0.17))
        _risk_table(rax, shown, [("At risk", cells("n_risk"), "0.1", None),
                                 ("Failures", cells("cum_failures"), OKABE_ITO["vermillion"], None),
                                 ("Deaths w/o failure", cells("cum_deaths_without_failure"), OKABE_ITO["blue"], None),
                                 ("Censored", cells("cum_censored"), "0.1", None)],
                    "Number at risk and cumulative numbers of events", xlim=ax.get_xlim())
        caption += (" Under the axis: number at risk, and cumulative numbers of failures, of deaths without "
                    "failure and of patients censored.")
    return ReportFigure("figure3_cif_failure", "Figure 3. Cumulative incidence of failure", caption, fig)


def late_cut_label(results: dict) -> str:
    days = late_after_days(results)
    return f"{fmt_num(days / MONTH_DAYS, 1).rstrip('0').rstrip('.')}-month ({fmt_cutoff_days(days)} days)"


# ---------------------------------------------------------------------------------------------
# forest plot


def forest(results: dict) -> ReportFigure:
    """Hazard ratios of PFS-2 and OS-2 by class against the reference, on a log axis."""
    late = results["late"]
    by_class = late["by_class"]
    ref = reference_class(results)
    # classes described but not compared (min_class_size, `other`) are not in the forest plot
    classes = [c for c in ordered_classes(results) if by_class[c].get("n") and by_class[c].get("compared") is not False]
    left_out = [c for c in ordered_classes(results) if by_class[c].get("n") and by_class[c].get("compared") is False]
    entries = []  # (kind, endpoint label or class, data)
    for ep, name in (("pfs2", "PFS-2"), ("os2", "OS-2")):
        entries.append(("header", name, None))
        for cls in classes:
            entries.append(("row", cls, (ep, by_class[cls])))
    n = len(entries)
    fig = _figure((7.0, 0.24 * n + 0.95))
    top, bottom = 1 - 0.35 / (0.24 * n + 0.95), 0.6 / (0.24 * n + 0.95)
    ax = fig.add_axes((0.34, bottom, 0.32, top - bottom))
    ax.set_ylim(n - 0.5, -0.5)
    vals = []
    for kind, _, data in entries:
        if kind == "row":
            hr = data[1].get(f"{data[0]}_hr")
            if hr and hr.get("hr") is not None:
                vals += [hr["hr"], *[x for x in hr.get("ci") or [] if x is not None]]
    lo = min([0.1] + [v for v in vals if v > 0])
    hi = max([2.0] + vals)
    lo = max(lo / 1.3, 0.005)
    hi = min(hi * 1.3, 200)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    decades = np.log10(hi / lo)
    if decades > 2.3:
        cand = [0.001, 0.01, 0.1, 0.5, 1, 2, 10, 100]
    elif decades > 1.4:
        cand = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20, 50]
    else:
        cand = [0.1, 0.2, 0.5, 1, 2, 5, 10]
    ticks = [x for x in cand if lo <= x <= hi]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([f"{x:g}" for x in ticks])
    ax.axvline(1.0, color="0.2", lw=0.8)
    ax.spines["left"].set_visible(False)
    ax.yaxis.set_major_locator(NullLocator())
    ax.set_xlabel("Hazard ratio (log scale)")
    trans = ax.get_yaxis_transform()  # x in axes coords, y in data
    ax.text(-1.02, -1.25, "Class", transform=trans, ha="left", va="center", fontweight="bold", fontsize=7.8,
            clip_on=False)
    ax.text(-0.08, -1.25, "n", transform=trans, ha="right", va="center", fontweight="bold", fontsize=7.8)
    ax.text(1.04, -1.25, "HR (95% CI)", transform=trans, ha="left", va="center", fontweight="bold", fontsize=7.8)
    ax.text(1.98, -1.25, "P", transform=trans, ha="right", va="center", fontweight="bold", fontsize=7.8)
    for y, (kind, label, data) in enumerate(entries):
        if kind == "header":
            ax.text(-1.02, y, label, transform=trans, ha="left", va="center", fontweight="bold", fontsize=8)
            continue
        ep, b = data
        cls = label
        is_ref = bool(b.get("reference")) or cls == ref
        ax.text(-0.97, y, class_label(cls), transform=trans, ha="left", va="center", fontsize=7.8)
        ax.text(-0.08, y, str(b["n"]), transform=trans, ha="right", va="center", fontsize=7.8)
        hr = b.get(f"{ep}_hr")
        if is_ref:
            ax.plot([1.0], [y], marker="D", ms=4.5, color="0.2", mfc="white", clip_on=False)
            txt, ptxt = "1 (reference)", ""
        elif not hr or hr.get("hr") is None:
            txt, ptxt = "not estimable (no events)", ""
        else:
            ci = hr.get("ci") or [None, None]
            c_lo = ci[0] if ci[0] is not None else lo
            c_hi = ci[1] if ci[1] is not None else hi
            ax.plot([max(c_lo, lo), min(c_hi, hi)], [y, y], color="0.1", lw=1.1, solid_capstyle="butt")
            if c_lo < lo:
                ax.plot([lo], [y], marker="<", ms=4, color="0.1", clip_on=False)
            if c_hi > hi:
                ax.plot([hi], [y], marker=">", ms=4, color="0.1", clip_on=False)
            ax.plot([hr["hr"]], [y], marker="s", ms=5, color="0.1", clip_on=False)
            txt = fmt_hr(hr["hr"], hr.get("ci")).replace(" (95% CI, ", " (") + ("\u2020" if hr.get("imprecise") else "")
            ptxt = fmt_p(hr.get("p"))
        ax.text(1.04, y, txt, transform=trans, ha="left", va="center", fontsize=7.8)
        ax.text(1.98, y, ptxt, transform=trans, ha="right", va="center", fontsize=7.8)
    ax.annotate("\u2190 favours class", xy=(0.0, 0), xycoords=("axes fraction", "axes fraction"),
                xytext=(0, -27), textcoords="offset points", ha="left", va="top", fontsize=7, color="0.3")
    ax.annotate(f"favours {class_label(ref).lower()} \u2192", xy=(1.0, 0), xycoords=("axes fraction", "axes fraction"),
                xytext=(0, -27), textcoords="offset points", ha="right", va="top", fontsize=7, color="0.3")
    caption = (
        f"Hazard ratios (95% CI) of PFS-2 and OS-2 by class of first treatment after failure against "
        f"{class_label(ref).lower()}, from one Cox model per endpoint (Efron ties, Wald CI and P); descriptive, "
        "unadjusted comparisons, with time measured from the start of treatment. n: patients in the class."
    )
    if any((by_class[c].get(f"{ep}_hr") or {}).get("imprecise") for c in classes for ep in ("pfs2", "os2")):
        caption += " \u2020 Imprecise: fewer than 5 events in the class or in the reference."
    if left_out:
        caption += (" Described in Table 4 but not compared (fewer patients than min_class_size, or the class "
                    "Other): " + ", ".join(class_label(c) for c in left_out) + ".")
    return ReportFigure("figure4_forest_hr", "Figure 4. Hazard ratios by treatment class", caption, fig)


def build_figures(results: dict, ci_by_class: bool = False, thin_tol_px: float = THIN_TOL_PX,
                  only: set[int] | None = None) -> list[ReportFigure]:
    """All report figures, in report order, drawn under the report's rcParams.

    ``thin_tol_px``: step curves, bands and censor marks are thinned to what moves the drawing by at
    most this many pixels at :data:`THIN_DPI` dpi (0: every point is drawn). ``only``: the positions
    (0-based, in report order, of the :func:`n_figures` figures) to build; all by default."""
    out = []
    previous = _thin_tol_px[0]
    _thin_tol_px[0] = float(thin_tol_px)
    try:
        with rc_context(RC):
            for i, make in enumerate(_builders(results, ci_by_class)):
                if only is None or i in only:
                    out.append(make())
    finally:
        _thin_tol_px[0] = previous
    return out


def n_figures(results: dict) -> int:
    """How many figures :func:`build_figures` draws for these results."""
    return len(_builders(results, False))


def _builders(results: dict, ci_by_class: bool) -> list:
    late = results.get("late") or {}
    curves = late.get("curves") or {}
    out = []
    for ep in ("pfs2", "os2"):
        if curves.get(ep, {}).get("by_class"):
            out.append(lambda ep=ep: km_by_class(results, ep, ci=ci_by_class))
    if curves.get("pfs2", {}).get("overall") and curves.get("os2", {}).get("overall"):
        out.append(lambda: km_overall(results))
    if (results.get("failures") or {}).get("cif_curve"):
        out.append(lambda: cif_failure(results))
    if late.get("by_class"):
        out.append(lambda: forest(results))
    return out


def save_figure(fig: ReportFigure, directory, png: bool = True) -> tuple:
    """Write ``<id>.svg`` (deterministic) and, with ``png``, ``<id>.png`` (300 dpi); return both paths
    (the PNG path is None when it is not written)."""
    from pathlib import Path

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    svg, png_path = d / f"{fig.id}.svg", (d / f"{fig.id}.png" if png else None)
    with rc_context(RC):
        fig.figure.savefig(svg, format="svg", metadata={"Date": None})
        if png_path is not None:
            fig.figure.savefig(png_path, format="png", dpi=300, metadata={"Software": None})
    return svg, png_path
