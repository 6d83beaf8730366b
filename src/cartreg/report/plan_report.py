"""One report for every plan: results.json of a plan -> tables, figures, report.html and report.docx.

Formatting only (docs/report.md, *Plan reports*): every number comes from the blocks of results.json;
tables are :class:`cartreg.report.tables.Table` (the same type the late-failure report uses), figures
come from :mod:`cartreg.report.plots`, and every word from the language's message catalogue
(:mod:`cartreg.report.i18n`). Outputs: ``report.html`` (self-contained: inline CSS and SVG, no
scripts), ``report.docx`` (Word tables), ``figures/<id>.{svg,pdf,png,tiff}``, ``tables/<id>.csv``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from cartreg.report.i18n import Lang
from cartreg.report.tables import Table


# --- tables -----------------------------------------------------------------------------------------


def _footnote_excluded(L: Lang, blk: dict[str, Any]) -> list[str]:
    ex = blk.get("excluded") or {}
    out = []
    if ex.get("missing_by"):
        out.append(L.t("excluded_note", n=ex["missing_by"], what=L.column(blk["by"])))
    return out


def survival_tables(L: Lang, blk: dict[str, Any], i: int, params: dict[str, Any]) -> list[Table]:
    """Median and landmark table, and the hazard-ratio table (with adjusted HRs when given)."""
    ep = L.endpoint(blk["endpoint"])
    lms = blk.get("landmarks_months") or []
    cols = [L.t("group"), L.t("n"), L.t("events"), L.t("median_months")] + \
        [L.t("at_months", months=L.num(m, 0) if float(m).is_integer() else L.num(m, 1)) for m in lms]
    rows = []
    for lv, g in blk["groups"].items():
        row = [L.level(lv), str(g["n"]), str(g["events"]), L.median(g["median"], g["ci"])]
        row += [L.pct_ci(lm["est"], lm["ci"]) for lm in g["landmarks"]]
        rows.append(row)
    notes = [L.t("km_note", conf_type=params.get("conf_type", "log-log"))]
    lr = blk.get("logrank")
    if lr:
        notes.append(L.t("logrank_note_small", chi2=L.num(lr["chi2"], 2), df=lr["df"], p=L.p_eq(lr["p"])))
    if blk.get("where"):
        notes.append(L.t("where_note", rule=blk["where"], n=blk.get("n_population")))
    notes += _footnote_excluded(L, blk)
    title = blk.get("title") or L.t("landmark_table", endpoint=ep[:1].upper() + ep[1:])
    out = [Table(id=f"block{i + 1}_survival", title=title, columns=cols, rows=rows, indent=[0] * len(rows),
                 footnotes=notes)]
    if blk.get("cox") is not None:
        ref = blk.get("reference")
        cols = [L.column(blk["by"]), L.t("hr_ci"), L.t("p")]
        adjusted = blk.get("adjusted")
        if adjusted is not None:
            cols += [L.t("adjusted_hr_ci"), L.t("p")]
        rows = []
        for lv in sorted(blk["groups"], key=lambda x: x != ref):  # the reference row first
            if lv == ref:
                row = [L.level(lv), L.m["format"]["reference"], ""]
                if adjusted is not None:
                    row += [L.m["format"]["reference"], ""]
            else:
                c = blk["cox"].get(lv) or {}
                row = [L.level(lv), L.hr(c.get("hr"), c.get("ci")), L.p(c.get("p"))]
                if adjusted is not None:
                    a = adjusted.get(lv) or {}
                    row += [L.hr(a.get("hr"), a.get("ci")), L.p(a.get("p"))]
            rows.append(row)
        notes = [L.t("cox_note", ref=L.level(ref))]
        am = blk.get("adjusted_model")
        if am:
            notes.append(L.t("adjusted_note", covariates=", ".join(L.column(c) for c in blk.get("adjust", [])),
                             n=am["n"], events=am["events"]))
        out.append(Table(id=f"block{i + 1}_hr", title=L.t("hr_table", endpoint=ep[:1].upper() + ep[1:],
                                                              by=L.column(blk["by"]).lower()),
                         columns=cols, rows=rows, indent=[0] * len(rows), footnotes=notes))
    return out


def cuminc_tables(L: Lang, blk: dict[str, Any], i: int, params: dict[str, Any]) -> list[Table]:
    """Cumulative incidence at the requested months per group and cause, with Gray's test."""
    ep = L.endpoint(blk["endpoint"])
    times = blk.get("times_months") or []
    cols = [L.t("cause"), L.t("n")] + [L.t("at_months", months=L.num(m, 0) if float(m).is_integer() else L.num(m, 1))
                                       for m in times]
    rows, indent = [], []
    for lv, causes in blk["groups"].items():
        if len(blk["groups"]) > 1 or lv != "overall":
            rows.append([L.level(lv), str((blk.get("n") or {}).get(lv, ""))] + [""] * len(times))
            indent.append(0)
        for cause, pts in causes.items():
            rows.append([L.cause(cause), ""] + [L.pct_ci(p["est"], p["ci"]) for p in pts])
            indent.append(1 if (len(blk["groups"]) > 1 or lv != "overall") else 0)
    notes = [L.t("cuminc_note", competing=L.t("competing"))]
    for cause, g in (blk.get("gray") or {}).items():
        notes.append(L.t("gray_note", cause=L.cause(cause).lower(), chi2=L.num(g["chi2"], 2), df=g["df"], p=L.p_eq(g["p"])))
    if blk.get("where"):
        notes.append(L.t("where_note", rule=blk["where"], n=blk.get("n_population")))
    notes += _footnote_excluded(L, blk)
    title = blk.get("title") or L.t("cuminc_table", endpoint=ep[:1].upper() + ep[1:])
    out = [Table(id=f"block{i + 1}_cuminc", title=title, columns=cols, rows=rows, indent=indent, footnotes=notes)]
    fg = blk.get("finegray")
    if fg:
        out.append(_finegray_table(L, blk, i, fg))
    return out


def _finegray_table(L: Lang, blk: dict[str, Any], i: int, fg: dict[str, Any]) -> Table:
    """Fine-Gray subdistribution HRs per cause (rows of each cause's ``terms``)."""
    ep = L.endpoint(blk["endpoint"])
    rows, indent = [], []
    for cause, fit in fg.items():
        rows.append([L.cause(cause), "", ""])
        indent.append(0)
        for t in (fit or {}).get("terms", []):
            name = str(t.get("term", ""))
            var, _, lv = name.partition("=")
            label = f"{L.column(var)}: {L.level(lv)}" if lv else L.column(var)
            rows.append([label, L.hr(t.get("hr", t.get("shr")), t.get("ci")), L.p(t.get("p"))])
            indent.append(1)
    return Table(id=f"block{i + 1}_finegray", title=L.t("finegray_table", endpoint=ep[:1].upper() + ep[1:]),
                 columns=[L.t("characteristic"), L.t("hr_ci"), L.t("p")], rows=rows, indent=indent)


def model_table(L: Lang, blk: dict[str, Any], i: int, params: dict[str, Any]) -> list[Table]:
    """A regression table like ``gtsummary::tbl_regression(exponentiate = TRUE)`` + ``add_global_p``:
    one header row per variable (with its global P), its reference level, then each level."""
    is_cox = blk.get("model") == "cox"
    ratio = L.t("hr_ci") if is_cox else L.t("or_ci")
    rows, indent = [], []
    if is_cox:
        for t in blk["terms"]:
            g = t.get("global") or {}
            if t["type"] == "factor":
                rows.append([L.column(t["variable"]), "", L.p(g.get("p"))])
                indent.append(0)
                for r in t["rows"]:
                    if r.get("reference"):
                        rows.append([L.level(r["level"]), L.m["format"]["reference"], ""])
                    else:
                        rows.append([L.level(r["level"]), L.hr(r.get("hr"), r.get("ci")), L.p(r.get("p"))])
                    indent.append(1)
            else:
                r = t["rows"][0]
                rows.append([L.column(t["variable"]), L.hr(r.get("hr"), r.get("ci")), L.p(r.get("p"))])
                indent.append(0)
        outcome = L.endpoint(blk["outcome"])
        notes = [L.t("model_note", n=blk["n"], events=blk["events"])]
    else:
        by_term = {str(t.get("term", "")): t for t in blk.get("terms", [])}
        for v in blk.get("variables") or []:
            g = (v.get("global") or {}).get("p")
            if v["type"] == "factor":
                rows.append([L.column(v["variable"]), "", L.p(g)])
                indent.append(0)
                for lv in v["levels"]:
                    if lv == v.get("reference"):
                        rows.append([L.level(lv), L.m["format"]["reference"], ""])
                    else:
                        t = by_term.get(f"{v['variable']}={lv}") or {}
                        rows.append([L.level(lv), L.hr(t.get("or"), t.get("ci")), L.p(t.get("p"))])
                    indent.append(1)
            else:
                t = by_term.get(v["variable"]) or {}
                rows.append([L.column(v["variable"]), L.hr(t.get("or"), t.get("ci")), L.p(t.get("p"))])
                indent.append(0)
        if not blk.get("variables"):  # a model JSON without the variable list: one row per term
            for name, t in by_term.items():
                if name == "(Intercept)":
                    continue
                var, _, lv = name.partition("=")
                label = f"{L.column(var)}: {L.level(lv)}" if lv else L.column(var)
                rows.append([label, L.hr(t.get("or"), t.get("ci")), L.p(t.get("p"))])
                indent.append(0)
        outcome = L.column(blk["outcome"]).lower()
        notes = [L.t("logistic_note", n=blk.get("n"), events=blk.get("events"))]
    if blk.get("where"):
        notes.append(L.t("where_note", rule=blk["where"], n=blk.get("n_population")))
    model = L.t("model_cox") if is_cox else L.t("model_logistic")
    title = blk.get("title") or L.t("model_table", model=model, outcome=outcome)
    return [Table(id=f"block{i + 1}_model", title=title, columns=[L.t("characteristic"), ratio, L.t("p")],
                  rows=rows, indent=indent, footnotes=notes)]


def compare_table(L: Lang, blk: dict[str, Any], i: int, params: dict[str, Any]) -> list[Table]:
    """Table 1 from the ``cartreg compare`` JSON: n (%) per level, or median (IQR), per group; the
    test's P and the SMD (one row per variable)."""
    groups = [g["level"] for g in blk.get("groups", [])]
    cols = [L.t("characteristic")] + [f"{L.level(g['level'])} (N={g['n']})" for g in blk.get("groups", [])] + \
        [L.t("p"), "SMD"]
    pct_sp = L.m["format"]["percent_space"]
    rows, indent = [], []
    for v in blk.get("variables", []):
        p = L.p(v.get("p"))
        smd = "" if v.get("smd") is None else L.num(v["smd"], 2)
        if v.get("type") == "categorical":
            rows.append([L.column(v["name"])] + [""] * len(groups) + [p, smd])
            indent.append(0)
            for lv in v.get("levels", []):
                by_group = {c.get("group"): c for c in lv.get("groups", [])}
                cells = []
                for g in groups:
                    c = by_group.get(g) or {}
                    cells.append("" if not c else f"{c.get('n')} ({L.num(c.get('pct'), 0 if (c.get('pct') or 0) >= 10 else 1)}{pct_sp}%)")
                rows.append([L.level(lv.get("level"))] + cells + ["", ""])
                indent.append(1)
        else:
            by_group = {s.get("group"): s for s in v.get("summary", [])}
            cells = []
            for g in groups:
                s = by_group.get(g) or {}
                cells.append(f"{L.num(s.get('median'), 1)} ({L.num(s.get('q1'), 1)}-{L.num(s.get('q3'), 1)})" if s else "")
            rows.append([L.column(v["name"])] + cells + [p, smd])
            indent.append(0)
    title = blk.get("title") or L.t("table_title", by=L.column(blk.get("by", "")).lower())
    notes = [L.t("table_note")]
    notes += [f"{L.column(v['name'])}: {n}" for v in blk.get("variables", []) for n in v.get("notes") or []]
    notes += [str(n) for n in blk.get("notes") or []]
    return [Table(id=f"block{i + 1}_table", title=title, columns=cols, rows=rows, indent=indent, footnotes=notes)]


_TABLES = {"survival": survival_tables, "cuminc": cuminc_tables, "model": model_table, "table": compare_table}


def flow_table(L: Lang, results: dict[str, Any]) -> Table:
    co = results["cohort"]
    rows = [[L.t("registered"), str(co["registered"])], [L.t("infused"), str(co["infused"])]]
    indent = [0, 0]
    not_inf = co.get("not_infused") or {}
    if not_inf:
        rows.append([L.t("not_infused"), str(sum(not_inf.values()))])
        indent.append(0)
        for reason, n in not_inf.items():
            rows.append([L.level(reason), str(n)])
            indent.append(1)
    rows.append([L.t("population"), str(co["n"])])
    indent.append(0)
    plan = results.get("plan") or {}
    rule = plan.get("where") or L.column(plan.get("population") or "")
    return Table(id="flow", title=L.t("flow"), columns=["", L.t("n")], rows=rows, indent=indent,
                 footnotes=[L.t("population_rule", rule=rule)])


def parameters_table(L: Lang, results: dict[str, Any]) -> Table:
    rows = []
    for k, v in (results.get("parameters") or {}).items():
        if isinstance(v, list):
            v = ", ".join(str(x) for x in v)
        elif isinstance(v, float):
            v = L.num(v, 4).rstrip("0").rstrip(",.")
        elif isinstance(v, bool):
            v = L.t("yes") if v else L.t("no")
        rows.append([L.parameter(k), "" if v is None else str(v)])
    return Table(id="parameters", title=L.t("parameters"), columns=[L.t("parameter"), L.t("value")], rows=rows,
                 indent=[0] * len(rows))


def build_plan_tables(results: dict[str, Any], lang: str = "en") -> list[list[Table]]:
    """Tables per block (in block order); the flow and parameter tables are :func:`flow_table` and
    :func:`parameters_table`."""
    L = Lang(lang)
    params = results.get("parameters") or {}
    return [[] if b.get("error") else _TABLES[b["kind"]](L, b, i, params) for i, b in enumerate(results["blocks"])]


# --- figures ------------------------------------------------------------------------------------------


def build_plan_figures(results: dict[str, Any], lang: str = "en", width: str = "double") -> list[list[tuple[str, str, Any]]]:
    """Figures per block: ``(id, caption, Figure)`` from :mod:`cartreg.report.plots`."""
    from cartreg.report.plots import plot_cuminc, plot_forest, plot_km

    L = Lang(lang)
    out: list[list[tuple[str, str, Any]]] = []
    for i, b in enumerate(results["blocks"]):
        figs: list[tuple[str, str, Any]] = []
        if b.get("error"):
            pass
        elif b["kind"] == "survival":
            ep = L.endpoint(b["endpoint"])
            figs.append((f"block{i + 1}_km", L.t("km_figure", endpoint=ep), plot_km(b, lang=lang, width=width)))
            if b.get("cox"):
                figs.append((f"block{i + 1}_forest", L.t("forest_figure", endpoint=ep, by=L.column(b["by"]).lower()),
                             plot_forest(b, lang=lang, width=width)))
        elif b["kind"] == "cuminc":
            figs.append((f"block{i + 1}_cif", L.t("cif_figure", endpoint=L.endpoint(b["endpoint"])),
                         plot_cuminc(b, lang=lang, width=width)))
        elif b["kind"] == "model" and b.get("model") == "cox":
            figs.append((f"block{i + 1}_forest", L.t("model_table", model=L.t("model_cox"),
                                                     outcome=L.endpoint(b["outcome"])),
                         plot_forest(b, lang=lang, width=width)))
        out.append(figs)
    return out


# --- writing --------------------------------------------------------------------------------------------


def write_plan_report(results: dict[str, Any], outdir: str | Path, lang: str = "en", figure_width: str = "double",
                      dpi: int = 300, report: bool = True) -> Path | None:
    """Write ``tables/*.csv``, and with ``report``: ``figures/``, ``report.html`` and ``report.docx``.

    Returns the path of report.html (None without ``report``).
    """
    from cartreg.report import _atomic_write

    out = Path(outdir)
    block_tables = build_plan_tables(results, lang)
    L = Lang(lang)
    extra = [flow_table(L, results), parameters_table(L, results)]
    for t in extra + [t for ts in block_tables for t in ts]:
        _atomic_write(out / "tables" / f"{t.id}.csv", t.to_csv())
    if not report:
        return None
    from cartreg.report.plots import save

    block_figs = build_plan_figures(results, lang, figure_width)
    saved: dict[str, dict[str, Path]] = {}
    svgs: dict[str, str] = {}
    for figs in block_figs:
        for fid, _cap, fig in figs:
            saved[fid] = save(fig, out / "figures", fid, dpi=dpi)
            svgs[fid] = saved[fid]["svg"].read_text(encoding="utf-8")
    html = render_plan_html(results, extra, block_tables, block_figs, svgs, lang, figure_width)
    _atomic_write(out / "report.html", html)
    from cartreg.report.docx import write_docx

    write_docx(out / "report.docx", _doc_title(results), _doc_meta(results, L), extra, block_tables,
               [[(fid, cap, saved[fid]["png"]) for fid, cap, _ in figs] for figs in block_figs],
               [w.get("message", "") for w in results.get("warnings", [])], L,
               figure_width_mm=165.0 if figure_width == "double" else 85.0,
               block_errors=[L.t("block_error", message=b["error"]) if b.get("error") else None
                             for b in results["blocks"]])
    return out / "report.html"


def _doc_title(results: dict[str, Any]) -> str:
    return str(results.get("title") or results.get("study") or "cartreg")


def _doc_meta(results: dict[str, Any], L: Lang) -> str:
    meta = results.get("meta") or {}
    date = (meta.get("generated_at") or dt.datetime.now(dt.timezone.utc).isoformat())[:10]
    sha = (meta.get("registry_sha256") or "")[:12]
    return L.t("generated", version=meta.get("cartreg_version", ""), date=date, sha=sha)


def render_plan_html(results: dict[str, Any], extra: list[Table], block_tables: list[list[Table]],
                     block_figs: list[list[tuple[str, str, Any]]], svgs: dict[str, str], lang: str = "en",
                     figure_width: str = "double") -> str:
    """report.html of a plan (template ``templates/plan.html.j2``)."""
    import jinja2

    from cartreg.report.html import inline_svg

    L = Lang(lang)
    env = jinja2.Environment(loader=jinja2.PackageLoader("cartreg.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)
    blocks = []
    for i, b in enumerate(results["blocks"]):
        figs = [{"id": fid, "caption": cap, "svg": inline_svg(svgs[fid], fid, cap)} for fid, cap, _ in block_figs[i]]
        blocks.append({"kind": b["kind"], "title": b.get("title") or "", "tables": block_tables[i], "figures": figs,
                       "error": L.t("block_error", message=b["error"]) if b.get("error") else None})
    return env.get_template("plan.html.j2").render(
        L=L, title=_doc_title(results), figure_width=figure_width, meta=_doc_meta(results, L), flow=extra[0], parameters=extra[1],
        blocks=blocks, warnings=[w.get("message", "") for w in results.get("warnings", [])],
        cohort=results["cohort"], plan_toml=(results.get("plan") or {}).get("toml"),
        plan_source=(results.get("plan") or {}).get("source"),
    )


__all__ = ["build_plan_figures", "build_plan_tables", "flow_table", "parameters_table", "render_plan_html",
           "write_plan_report"]
