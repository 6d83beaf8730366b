"""The plotting API: Matplotlib figures of result objects, for the report and for notebooks.

``plot_km``, ``plot_cuminc`` and ``plot_forest`` take either a :mod:`cartreg.stats` result
(:class:`~cartreg.stats.KaplanMeier`, a ``{group: KaplanMeier}`` dict as ``kaplan_meier_by`` returns,
:class:`~cartreg.stats.cuminc.CumIncResult`, :class:`~cartreg.stats.CoxResult`) or a plan block of
results.json (``kind = "survival"``, ``"cuminc"``, ``"model"``), and return a
:class:`matplotlib.figure.Figure` drawn on its own Agg canvas (no pyplot state). The report's figures
are these same functions. Nothing is estimated here: the curves are the arrays of the result.

Conventions: Kaplan-Meier curves are right-continuous steps with censor marks, curtailed where fewer
than 5 patients are at risk (Morris et al., KMunicate, BMJ Open 2019); the risk table under the axis
gives the number at risk at each tick; Okabe-Ito colours plus a line style per group (readable in
grey); times in months (stats results in days are divided by 30.4375, ``time_scale``). Text stays text
in SVG and PDF (``svg.fonttype = none``, ``pdf.fonttype = 42``), so figures are editable in Illustrator
or Inkscape. ``width`` is ``"single"`` (85 mm) or ``"double"`` (175 mm), the journal column widths.

>>> import numpy as np
>>> from cartreg.stats import kaplan_meier_by
>>> fits = kaplan_meier_by(np.array([30., 60, 90, 120, 200, 250]), np.array([1, 0, 1, 1, 0, 1]),
...                        np.array(["a", "a", "a", "b", "b", "b"]))
>>> fig = plot_km(fits, by="arm", risk_table=True)
>>> type(fig).__name__, len(fig.axes)
('Figure', 2)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, NullLocator

from cartreg.report.i18n import Lang

DAYS_PER_MONTH = 30.4375
MIN_AT_RISK = 5
WIDTH_MM = {"single": 85.0, "double": 175.0}
PALETTE = ("#000000", "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")
LINESTYLES = ("-", (0, (6, 2)), (0, (1.5, 1.5)), (0, (6, 2, 1.5, 2)), (0, (3, 1.5)), (0, (1, 3)), (0, (4, 4)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X")

#: Matplotlib settings of every figure: text as text in SVG and PDF (TrueType, editable).
RC = {
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.hashsalt": "cartreg-plots",
    "font.family": "DejaVu Sans",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.7,
    "path.simplify": False,
}


def _fontsize(width: str) -> float:
    return 7.0 if width == "single" else 8.0


def _new_figure(width: str, height_ratio: float) -> Figure:
    if width not in WIDTH_MM:
        raise ValueError(f"width must be single or double, got {width!r}")
    w = WIDTH_MM[width] / 25.4
    fig = Figure(figsize=(w, w * height_ratio))
    FigureCanvasAgg(fig)
    return fig


def style(i: int) -> tuple[str, Any, str]:
    """Colour, line style and marker of the i-th group (colour-blind safe, distinct in grey)."""
    return PALETTE[i % len(PALETTE)], LINESTYLES[i % len(LINESTYLES)], MARKERS[i % len(MARKERS)]


# --- normalising inputs -------------------------------------------------------------------------------


def _km_curves(result: Any, time_scale: float) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """[{label, time, surv, lower, upper, n_risk, n_censor, risk}] in months, the endpoint and the by name."""
    if isinstance(result, Mapping) and result.get("kind") == "survival":
        out = []
        for lv, c in result["curves"].items():
            rt = c.get("risk_table") or {}
            out.append({"label": lv, "time": c["time"], "surv": c["surv"], "lower": c["lower"], "upper": c["upper"],
                        "n_censor": c["n_censor"], "n_risk": c["n_risk"],
                        "risk": (rt.get("months") or [], rt.get("n_risk") or []),
                        "median": (result["groups"].get(lv) or {}).get("median")})
        ref = result.get("reference")
        out.sort(key=lambda c: c["label"] != ref)  # the reference group first (black, solid)
        return out, result.get("endpoint"), result.get("by")
    fits = result if isinstance(result, Mapping) else {None: result}
    out = []
    for lv, km in fits.items():
        t = np.concatenate([[0.0], np.asarray(km.time, float) * time_scale])
        out.append({"label": lv, "time": t.tolist(), "surv": [1.0, *np.asarray(km.surv, float).tolist()],
                    "lower": [1.0, *np.asarray(km.lower, float).tolist()],
                    "upper": [1.0, *np.asarray(km.upper, float).tolist()],
                    "n_censor": [0, *np.asarray(km.n_censor).tolist()],
                    "n_risk": [int(km.n), *np.asarray(km.n_risk).tolist()], "risk": None, "km": km,
                    "median": None if km.median is None or not np.isfinite(km.median) else km.median * time_scale})
    return out, None, None


def _ticks(tmax: float) -> list[float]:
    step = 3.0 if tmax <= 36 else 6.0 if tmax <= 72 else 12.0
    return [float(x) for x in np.arange(0.0, tmax + step * 0.999, step)]


def _curtail(n_risk: list[int]) -> int:
    keep = np.asarray(n_risk, float) >= MIN_AT_RISK
    return len(keep) if keep.all() else int(np.argmin(keep))


def _risk_row(c: dict[str, Any], ticks: list[float], time_scale: float) -> list[str]:
    if c.get("km") is not None:
        rt = c["km"].risk_table(np.asarray(ticks) / time_scale)
        return [str(int(v)) for v in rt.n_risk]
    months, nr = c["risk"]
    pos = {round(float(m), 6): n for m, n in zip(months, nr)}
    return [str(pos[round(t, 6)]) if round(t, 6) in pos else "" for t in ticks]


def _draw_risk_table(ax: Axes, ticks: list[float], rows: list[tuple[str, list[str], str]], header: str,
                     fs: float) -> None:
    ax.set_xlim(0, ticks[-1] * 1.02)
    ax.set_ylim(len(rows) - 0.5, -1.4)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.xaxis.set_major_locator(NullLocator())
    ax.yaxis.set_major_locator(NullLocator())
    ax.text(0, -1.15, header, transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=fs,
            fontweight="bold")
    for i, (label, cells, color) in enumerate(rows):
        for t, cell in zip(ticks, cells):
            ax.text(t, i, cell, ha="center", va="center", fontsize=fs * 0.92)
        ax.annotate(label, xy=(0, i), xycoords=ax.get_yaxis_transform(), xytext=(-14, 0),
                    textcoords="offset points", ha="right", va="center", fontsize=fs * 0.92, color=color)


# --- Kaplan-Meier -------------------------------------------------------------------------------------


def plot_km(result: Any, by: str | None = None, risk_table: bool = True, ax: Axes | None = None, *,
            lang: str = "en", width: str = "double", ci: bool | None = None, time_scale: float = 1 / DAYS_PER_MONTH,
            ylabel: str | None = None, xlabel: str | None = None, labels: Mapping[str, str] | None = None) -> Figure:
    """Kaplan-Meier curves of ``result`` with a number-at-risk table.

    result: a KaplanMeier, ``{group: KaplanMeier}``, or a survival block of results.json.
    by: the grouping variable's name (legend title; a block gives its own).
    risk_table: draw the number at risk under the axis (not when ``ax`` is given).
    ax: draw into this Axes (its figure is returned). ci: CI bands (default: only for one curve).
    """
    L = Lang(lang)
    curves, endpoint, block_by = _km_curves(result, time_scale)
    by = by or block_by
    fs = _fontsize(width)
    with rc_context(RC):
        if ax is None:
            extra = 0.045 * (len(curves) + 1) if risk_table else 0.0
            if len(curves) > 3:
                extra += 0.035 * (-(-len(curves) // (3 if width == "double" else 2)) + 1) * (2 if width == "single" else 1)
            fig = _new_figure(width, 0.62 + extra)
            if risk_table:
                gs = fig.add_gridspec(2, 1, height_ratios=[4.2, 0.55 + 0.32 * len(curves)],
                                      hspace=0.55 if width == "single" else 0.4)
                ax, rax = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
            else:
                ax, rax = fig.add_subplot(1, 1, 1), None
        else:
            fig, rax = ax.figure, None
        tmax = max((float(c["time"][max(_curtail(c["n_risk"]), 1) - 1]) for c in curves), default=0.0)
        tmax = max(tmax, max(float(c["time"][-1]) for c in curves) if curves else 0.0) if tmax == 0 else tmax
        ticks = _ticks(max(tmax, 1.0))
        show_ci = (len(curves) == 1) if ci is None else ci
        handles = []
        rows = []
        for i, c in enumerate(curves):
            color, ls, marker = style(i)
            name = (labels or {}).get(str(c["label"])) or (L.level(c["label"]) if c["label"] is not None else L.t("overall"))
            k = _curtail(c["n_risk"])
            t, s = np.asarray(c["time"], float)[:k], np.asarray(c["surv"], float)[:k]
            if k:
                ax.step(t, s, where="post", color=color, ls=ls, lw=1.4)
                if show_ci:
                    lo, hi = np.asarray(c["lower"], float)[:k], np.asarray(c["upper"], float)[:k]
                    ok = ~(np.isnan(lo) | np.isnan(hi))
                    ax.fill_between(t[ok], lo[ok], hi[ok], step="post", color=color, alpha=0.15, lw=0)
                cen = np.asarray(c["n_censor"], float)[:k] > 0
                if cen.any():
                    ax.plot(t[cen], s[cen], ls="none", marker="|", ms=5, mew=0.9, color=color)
            handles.append(Line2D([], [], color=color, ls=ls, lw=1.4, label=name))
            rows.append((name, _risk_row(c, ticks, time_scale), color))
        ax.set_xlim(0, ticks[-1] * 1.02)
        ax.set_ylim(0, 1.02)
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.set_xticklabels([f"{int(t)}" for t in ticks], fontsize=fs)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_yticklabels([L.num(v, 2) if v not in (0, 1) else str(int(v)) for v in (0, 0.25, 0.5, 0.75, 1.0)],
                           fontsize=fs)
        origin = None
        if endpoint:
            from cartreg.endpoints.catalogue import TIME_TO_EVENT

            origin = TIME_TO_EVENT[endpoint].origin if endpoint in TIME_TO_EVENT else None
        ax.set_xlabel(xlabel or L.t("months", origin=L.origin(origin or "infusion_date")), fontsize=fs)
        ax.set_ylabel(ylabel or L.t("survival_axis"), fontsize=fs)
        ax.grid(axis="y", color="0.9", lw=0.5)
        ax.set_axisbelow(True)
        top = 0.97
        if len(curves) > 1 or curves[0]["label"] is not None:
            if len(curves) <= 3:
                ax.legend(handles=handles, title=L.column(by) if by else None, fontsize=fs * 0.9,
                          title_fontsize=fs * 0.9, frameon=False, loc="best")
            else:  # many groups: above the plot, in columns, clear of the curves
                ncol = 3 if width == "double" else 2
                nrow = -(-len(curves) // ncol) + (1 if by else 0)
                height_pt = fig.get_figheight() * 72
                top = 1 - (nrow * fs * 1.35 + 6) / height_pt
                fig.legend(handles=handles, title=L.column(by) if by else None, fontsize=fs * 0.9,
                           title_fontsize=fs * 0.9, frameon=False, loc="upper left", ncol=ncol,
                           bbox_to_anchor=(0.01, 0.995))
        if rax is not None:
            _draw_risk_table(rax, ticks, rows, L.t("number_at_risk"), fs)
        longest = max((len(r[0]) for r in rows), default=8)
        left = min(0.42, max(0.12, (longest * 0.55 * fs * 0.92 + 18) / (WIDTH_MM[width] / 25.4 * 72)))
        fig.subplots_adjust(left=left if risk_table else 0.12, right=0.97, top=top,
                            bottom=0.02 if risk_table else 0.14)
    return fig


# --- cumulative incidence -----------------------------------------------------------------------------


def _cif_curves(result: Any, time_scale: float) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    if isinstance(result, Mapping) and result.get("kind") == "cuminc":
        out = []
        for lv, causes in result["curves"].items():
            for cause, c in causes.items():
                out.append({"group": lv, "cause": cause, "time": c["time"], "est": c["est"]})
        return out, result.get("risk_table")
    out = []
    for (cause, group), cur in result.curves.items():
        out.append({"group": group if result.grouped else None, "cause": cause,
                    "time": (np.asarray(cur.time, float) * time_scale).tolist(), "est": np.asarray(cur.est).tolist()})
    return out, None


def plot_cuminc(result: Any, by: str | None = None, risk_table: bool = True, ax: Axes | None = None, *,
                lang: str = "en", width: str = "double", time_scale: float = 1 / DAYS_PER_MONTH,
                causes: list[str] | None = None, ylabel: str | None = None, xlabel: str | None = None) -> Figure:
    """Cumulative incidence curves (Aalen-Johansen) of each cause by group, with a number-at-risk table.

    result: a :class:`~cartreg.stats.cuminc.CumIncResult` or a cuminc block of results.json. Colour =
    group, line style = cause (solid for the first cause, dashed for the competing one).
    """
    L = Lang(lang)
    curves, risk = _cif_curves(result, time_scale)
    if causes is not None:
        curves = [c for c in curves if c["cause"] in causes]
    by = by or (result.get("by") if isinstance(result, Mapping) else None)
    groups = list(dict.fromkeys(c["group"] for c in curves))
    cause_order = list(dict.fromkeys(c["cause"] for c in curves))
    fs = _fontsize(width)
    with rc_context(RC):
        show_rt = risk_table and ax is None and risk is not None
        if ax is None:
            fig = _new_figure(width, 0.62 + (0.045 * (len(groups) + 1) if show_rt else 0))
            if show_rt:
                gs = fig.add_gridspec(2, 1, height_ratios=[4.2, 0.55 + 0.32 * len(groups)],
                                      hspace=0.55 if width == "single" else 0.4)
                ax, rax = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
            else:
                ax, rax = fig.add_subplot(1, 1, 1), None
        else:
            fig, rax = ax.figure, None
        tmax = max((float(c["time"][-1]) for c in curves if c["time"]), default=1.0)
        ticks = _ticks(max(tmax, 1.0))
        handles = []
        for c in curves:
            gi, ci_ = groups.index(c["group"]), cause_order.index(c["cause"])
            color = style(gi)[0]
            ls = "-" if ci_ == 0 else (0, (5, 2)) if ci_ == 1 else (0, (1, 1.5))
            ax.step(np.asarray(c["time"], float), np.asarray(c["est"], float), where="post", color=color, ls=ls, lw=1.4)
            glabel = L.level(c["group"]) if c["group"] is not None else ""
            label = f"{glabel}: {L.cause(c['cause'])}" if glabel and len(groups) > 1 else L.cause(c["cause"])
            handles.append(Line2D([], [], color=color, ls=ls, lw=1.4, label=label))
        ax.set_xlim(0, ticks[-1] * 1.02)
        ax.set_ylim(0, 1.0)
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.set_xticklabels([f"{int(t)}" for t in ticks], fontsize=fs)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        ax.set_yticklabels([L.num(v, 2) if v not in (0, 1) else str(int(v)) for v in (0, 0.25, 0.5, 0.75, 1.0)],
                           fontsize=fs)
        ax.set_xlabel(xlabel or L.t("months", origin=L.origin("infusion_date")), fontsize=fs)
        ax.set_ylabel(ylabel or L.t("cuminc_axis"), fontsize=fs)
        ax.grid(axis="y", color="0.9", lw=0.5)
        ax.legend(handles=handles, fontsize=fs * 0.9, frameon=False, loc="upper left",
                  title=L.column(by) if by else None, title_fontsize=fs * 0.9)
        if rax is not None and risk is not None:
            rows = []
            for i, g in enumerate(groups):
                rt = risk.get(g) or {}
                pos = {round(float(m), 6): n for m, n in zip(rt.get("months") or [], rt.get("n_risk") or [])}
                rows.append((L.level(g), [str(pos.get(round(t, 6), "")) for t in ticks], style(i)[0]))
            _draw_risk_table(rax, ticks, rows, L.t("number_at_risk"), fs)
        longest = max((len(L.level(g)) for g in groups if g is not None), default=8)
        left = min(0.42, max(0.12, (longest * 0.55 * fs * 0.92 + 18) / (WIDTH_MM[width] / 25.4 * 72)))
        fig.subplots_adjust(left=left if show_rt else 0.12, right=0.97, top=0.97, bottom=0.02 if show_rt else 0.14)
    return fig


# --- forest plot --------------------------------------------------------------------------------------


def forest_rows(result: Any, lang: str = "en") -> list[dict[str, Any]]:
    """Rows ``{label, hr, ci, p, reference}`` of a survival block (unadjusted and adjusted HRs), a Cox
    model block, a :class:`~cartreg.stats.CoxResult`, or a list of such dicts (returned as is)."""
    L = Lang(lang)
    if isinstance(result, list):
        return result
    if isinstance(result, Mapping) and result.get("kind") == "survival":
        rows = [{"label": L.level(result.get("reference")), "hr": None, "ci": None, "p": None, "reference": True}]
        for lv, v in (result.get("cox") or {}).items():
            rows.append({"label": L.level(lv), "hr": (v or {}).get("hr"), "ci": (v or {}).get("ci"),
                         "p": (v or {}).get("p"), "reference": False})
        for lv, v in (result.get("adjusted") or {}).items():
            rows.append({"label": f"{L.level(lv)} ({L.t('adjusted')})",
                         "hr": (v or {}).get("hr"), "ci": (v or {}).get("ci"), "p": (v or {}).get("p"), "reference": False})
        return rows
    if isinstance(result, Mapping) and result.get("kind") == "model":
        rows = []
        for t in result.get("terms", []):
            if t.get("type") == "factor":
                rows.append({"label": L.column(t["variable"]), "hr": None, "ci": None, "p": None, "reference": False,
                             "header": True})
            for r in t.get("rows", []):
                label = L.column(t["variable"]) if r.get("level") is None else f"   {L.level(r['level'])}"
                rows.append({"label": label, "hr": r.get("hr", r.get("or")), "ci": r.get("ci"), "p": r.get("p"),
                             "reference": bool(r.get("reference"))})
        return rows
    return [{"label": n, "hr": float(result.hr[i]), "ci": [float(result.ci_lower[i]), float(result.ci_upper[i])],
             "p": float(result.p[i]), "reference": False} for i, n in enumerate(result.names)]


def plot_forest(result: Any, ax: Axes | None = None, *, lang: str = "en", width: str = "double",
                xlabel: str | None = None) -> Figure:
    """Forest plot of hazard (or odds) ratios with 95% CIs on a log axis, a line at 1, and the values
    written beside each row. ``result``: see :func:`forest_rows`."""
    L = Lang(lang)
    rows = forest_rows(result, lang)
    fs = _fontsize(width)
    with rc_context(RC):
        if ax is None:
            fig = _new_figure(width, 0.12 + 0.055 * max(len(rows), 2))
            ax = fig.add_subplot(1, 1, 1)
        else:
            fig = ax.figure
        ys = np.arange(len(rows))[::-1]
        vals = [v for r in rows for v in ([r["hr"]] + list(r["ci"] or [])) if v is not None and v > 0 and np.isfinite(v)]
        lo, hi = (min(vals + [1.0]) / 1.3, max(vals + [1.0]) * 1.3) if vals else (0.5, 2.0)
        for y, r in zip(ys, rows):
            if r.get("header"):
                continue
            if r["reference"]:
                ax.plot([1.0], [y], marker="D", ms=4, color="0.4", mfc="white")
                text = L.m["format"]["reference"]
            elif r["hr"] is None:
                text = L.t("not_estimable")
            else:
                ci = r["ci"] or [None, None]
                if ci[0] is not None and ci[1] is not None:
                    ax.plot([max(ci[0], lo), min(ci[1], hi)], [y, y], color="0.1", lw=1.1)
                ax.plot([r["hr"]], [y], marker="s", ms=4.5, color="#0072B2")
                show_p = r.get("p") is not None and width == "double"
                text = L.hr(r["hr"], ci) + (f"   {L.p(r['p'], prefix=True)}" if show_p else "")
            ax.annotate(text, xy=(1.0, y), xycoords=("axes fraction", "data"), xytext=(6, 0),
                        textcoords="offset points", va="center", fontsize=fs * 0.9)
        ax.axvline(1.0, color="0.5", lw=0.8, ls=(0, (2, 2)))
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_yticks(ys)
        ax.set_yticklabels([r["label"] for r in rows], fontsize=fs)
        for tl, r in zip(ax.get_yticklabels(), rows):
            if r.get("header"):
                tl.set_fontweight("bold")
        ax.tick_params(axis="x", labelsize=fs)
        cands = [0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0, 10.0, 20.0]
        ax.xaxis.set_major_locator(FixedLocator([c for c in cands if lo <= c <= hi] or [1.0]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(_LogFormatter(L))
        ax.xaxis.set_minor_formatter(_LogFormatter(L, minor=True))
        ax.set_xlabel(xlabel or L.t("hazard_ratio"), fontsize=fs)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        # margins from the text widths (about 0.55 em per character): labels left, values right
        width_pt = WIDTH_MM[width] / 25.4 * 72
        longest = max((len(r["label"]) for r in rows), default=10)
        left = min(0.45, (longest * 0.55 * fs + 10) / width_pt)
        right = 1 - min(0.42, ((26 if width == "double" else 17) * 0.55 * fs * 0.9 + 8) / width_pt)
        fig.subplots_adjust(left=left, right=right, top=0.95, bottom=0.5 / max(len(rows), 2) + 0.12)
    return fig


class _LogFormatter:
    """Tick labels of a log axis in the report's language (0.5, 1, 2; minor ticks unlabelled)."""

    def __init__(self, L: Lang, minor: bool = False) -> None:
        self.L, self.minor = L, minor

    def __call__(self, x: float, pos: Any = None) -> str:
        if self.minor:
            return ""
        return self.L.num(x, 2).rstrip("0").rstrip(",.") if x < 1 else self.L.loc(f"{x:g}")

    # matplotlib formatter protocol
    def set_axis(self, axis: Any) -> None: ...
    def set_locs(self, locs: Any) -> None: ...
    def format_ticks(self, values: Any) -> list[str]:
        return [self(v) for v in values]
    def get_offset(self) -> str:
        return ""
    def fix_minus(self, s: str) -> str:
        return s


def save(fig: Figure, directory: str | Path, stem: str, dpi: int = 300,
         formats: tuple[str, ...] = ("svg", "pdf", "png", "tiff")) -> dict[str, Path]:
    """Write ``stem.svg``/``.pdf`` (text as text, no timestamps) and ``.png``/``.tiff`` at ``dpi``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}, "png": {"Software": None},
            "tiff": None}
    with rc_context(RC):
        for fmt in formats:
            path = d / f"{stem}.{fmt}"
            kwargs: dict[str, Any] = {"format": fmt}  # no tight bbox: the width stays 85 or 175 mm
            if fmt in ("png", "tiff"):
                kwargs["dpi"] = dpi
            if meta.get(fmt) is not None:
                kwargs["metadata"] = meta[fmt]
            if fmt == "tiff":
                kwargs["pil_kwargs"] = {"compression": "tiff_lzw"}
            fig.savefig(path, **kwargs)
            out[fmt] = path
    return out


__all__ = ["RC", "WIDTH_MM", "forest_rows", "plot_cuminc", "plot_forest", "plot_km", "save", "style"]
