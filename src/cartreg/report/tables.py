"""Report tables built as plain data from results.json (no statistics are computed here).

Each builder returns a :class:`Table`: a title, column headers, rows of already formatted strings,
an indentation level per row and footnotes. The HTML template renders it; :meth:`Table.to_csv`
writes it. Conventions (gtsummary-like, see :mod:`cartreg.report.format`):

* ``n (%)`` with denominators that exclude missing values, and a ``Missing`` row (a count) under
  any variable that has missing values in either column;
* ``median (range)`` for continuous variables, or ``median (IQR)`` with ``stat="iqr"`` when the
  results carry quartiles (``q1``/``q3``); the table falls back to the range and says so otherwise;
* percentages whole when >= 10% and one decimal below; P values as ``<.001``, ``.002``, ``.04``.

Example::

    >>> from cartreg.report.tables import build_tables
    >>> tables = build_tables(results)        # doctest: +SKIP
    >>> tables[1].rows[0]                     # doctest: +SKIP
    ['Age, years', '62 (19-77)', '61 (18-80)']
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from cartreg.report.format import (
    DASH,
    count_rank,
    is_suppressed,
    fmt_cutoff_days,
    fmt_days,
    fmt_hr,
    fmt_landmark,
    fmt_median_iqr,
    fmt_median_range,
    fmt_n_N_pct,
    fmt_n_pct,
    fmt_num,
    fmt_p,
    is_missing,
)

MONTH_DAYS = 30.4375  # display only: days -> months, as in the endpoint conventions

CLASS_LABELS = {
    "chemotherapy": "Chemotherapy",
    "IMiD": "IMiD",
    "bispecific": "Bispecific antibody",
    "targeted": "Targeted therapy",
    "anti-PD1": "Anti-PD-1",
    "radiotherapy": "Radiotherapy",
    "adc": "ADC",  # antibody-drug conjugate (short: the figures and tables label rows with it)
    "cellular": "Cellular therapy",
    "other": "Other",
}

HISTOLOGY_LABELS = {
    "DLBCL": "DLBCL",
    "PMBL": "PMBL",
    "HGBCL": "HGBCL",
    "tFL": "Transformed FL",
    "t-FL": "Transformed FL",
    "tMZL": "Transformed MZL",
    "t-MZL": "Transformed MZL",
    "PCNSL": "PCNSL",
    "GZL": "Grey-zone lymphoma",
    "RICHTER": "Richter syndrome",
    "OTHER": "Other",
    "other": "Other",
}

RESPONSE_LABELS = {
    "CR": "Complete response (CR/CMR)",
    "PR": "Partial response (PR/PMR)",
    "SD": "Stable disease (SD/NMR)",
    "NE": "Not evaluable (NE)",
    "none": "No assessment before failure",
}

_DEFAULT_PRECEDENCE = ["bispecific", "cellular", "adc", "IMiD", "targeted", "anti-PD1", "chemotherapy", "radiotherapy"]

#: Units of the continuous Table 1 variables when results.json does not give one (``unit`` beside each).
DEFAULT_UNITS = {"ferritin": "\u00b5g/l", "crp": "mg/dl"}


@dataclass(frozen=True)
class Table:
    """One report table, already formatted.

    ``rows[i][0]`` is the row label; ``indent[i]`` is 0 for a variable and 1 for its levels or its
    ``Missing`` row; ``footnotes`` are printed under the table (not in the CSV).
    """

    id: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    indent: list[int] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)
    align: list[str] = field(default_factory=list)  # per column "l" or "c"; default: first l, others c

    def alignment(self, j: int) -> str:
        if self.align:
            return self.align[j]
        return "l" if j == 0 else "c"

    def cell(self, row_label: str, column: str) -> str:
        """The cell of the first row labelled ``row_label`` in ``column`` (for tests and readers)."""
        j = self.columns.index(column)
        for row in self.rows:
            if row[0] == row_label:
                return row[j]
        raise KeyError(row_label)

    def to_csv(self) -> str:
        """The table as CSV text: a header row, then one line per row (labels indented with two spaces)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.columns)
        indent = self.indent or [0] * len(self.rows)
        for level, row in zip(indent, self.rows, strict=True):
            w.writerow(["  " * level + row[0], *row[1:]])
        return buf.getvalue()

    def write_csv(self, path: Path) -> Path:
        path.write_text(self.to_csv(), encoding="utf-8")
        return path


# ---------------------------------------------------------------------------------------------
# helpers


def class_label(name: str) -> str:
    return CLASS_LABELS.get(name, name)


def reference_class(results: dict) -> str:
    return (results.get("parameters") or {}).get("reference_class") or "chemotherapy"


def class_precedence(results: dict) -> list[str]:
    p = results.get("parameters") or {}
    for key in ("class_precedence", "precedence", "class_order"):
        if p.get(key):
            return list(p[key])
    return list(_DEFAULT_PRECEDENCE)


def ordered_classes(results: dict, present: list[str] | None = None) -> list[str]:
    """Class order used everywhere in the report: the reference, then the precedence order, then
    any other class present, with ``other`` last. Only classes in ``present`` (default: the classes
    of ``late.by_class``) are returned."""
    if present is None:
        present = list(((results.get("late") or {}).get("by_class") or {}).keys())
    ref = reference_class(results)
    order = [ref] + [c for c in class_precedence(results) if c != ref]
    order += [c for c in present if c not in order and c != "other"] + ["other"]
    return [c for c in order if c in present]


def late_after_days(results: dict) -> float:
    return float((results.get("parameters") or {}).get("late_after_days", 91.3125))


def cutoff_text(days: float) -> str:
    """``"91.3125 days (3.0 months)"`` - a unit conversion for display."""
    return f"{fmt_cutoff_days(days)} days ({fmt_num(days / MONTH_DAYS, 1)} months)"


def _g(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


# ---------------------------------------------------------------------------------------------
# patient flow


def patient_flow(results: dict) -> Table:
    """Registered -> infused -> failed (relapse/progression) -> early/late -> treated after failure."""
    c, f, late = results["cohort"], results["failures"], results["late"]
    days = late_after_days(results)
    ft = late.get("first_treatment", {})
    rows = [
        ["Registered", str(c["registered"]), ""],
        ["Infused", str(c["infused"]), fmt_n_N_pct(c["infused"], c["registered"])],
        ["Failed after infusion (progression or relapse)", str(f["n"]), fmt_n_N_pct(f["n"], c["infused"], f.get("pct"))],
        ["Relapse (after CR/CMR)", str(_g(f, "relapse", "n")), fmt_n_N_pct(_g(f, "relapse", "n"), f["n"])],
        ["Progression", str(_g(f, "progression", "n")), fmt_n_N_pct(_g(f, "progression", "n"), f["n"])],
        [f"Early failure (\u2264 {fmt_cutoff_days(days)} days)", str(f["early"]["n"]),
         fmt_n_N_pct(f["early"]["n"], f["n"], f["early"].get("pct"))],
        [f"Late failure (> {fmt_cutoff_days(days)} days)", str(f["late"]["n"]),
         fmt_n_N_pct(f["late"]["n"], f["n"], f["late"].get("pct"))],
    ]
    indent = [0, 0, 0, 1, 1, 0, 0]
    for key, label in (("treated", "Treated after failure"), ("untreated", "Not treated"),
                       ("unknown", "Treatment status unknown")):
        v = ft.get(key)
        if v is not None:
            rows.append([label, str(v["n"]), fmt_n_N_pct(v["n"], v["N"], v.get("pct"))])
            indent.append(1)
    return Table(
        id="patient_flow",
        title="Patient flow",
        columns=["Step", "n", "n/N (%)"],
        rows=rows,
        indent=indent,
        footnotes=[
            "Percentages of the step above: infused of registered, failed of infused, relapse/progression "
            "and early/late of failures, treatment status of late failures.",
            f"Late failure: failure more than {cutoff_text(days)} after infusion.",
        ],
    )


# ---------------------------------------------------------------------------------------------
# Table 1


# (key, label, kind); kind: cont = median (range), bin = n (%), cat = levels n (%), cond = n (%) of a
# subgroup (no Missing row: its denominator is the subgroup), sub = an indented detail of the row above
TABLE1_VARIABLES = [
    ("age", "Age, years", "cont"),
    ("age_gt_65", "Age > 65 years", "bin"),
    ("male", "Male sex", "bin"),
    ("histology", "Histology", "cat"),
    ("stage_3_4", "Stage III-IV", "bin"),
    ("aaipi_2_3", "aaIPI 2-3", "bin"),
    ("prior_lines", "Prior lines of treatment", "cont"),
    ("prior_hsct", "Prior HSCT (auto or allo)", "bin"),
    ("prior_auto_hsct", "Autologous", "sub"),
    ("prior_allo_hsct", "Allogeneic", "sub"),
    ("ecog_ge_2", "ECOG PS \u2265 2", "bin"),
    ("ecog_gt_2", "ECOG PS > 2", "bin"),
    ("ldh_elevated", "Elevated LDH", "bin"),
    ("bulky", "Bulky disease", "bin"),
    ("ferritin", "Ferritin", "cont"),
    ("crp", "C-reactive protein", "cont"),
    ("bridging", "Bridging therapy", "bin"),
    ("bridging_chemo", "Chemotherapy-based, of bridged", "cond"),
    ("crs_ge_3", "CRS grade \u2265 3", "bin"),
    ("icans_ge_3", "ICANS grade \u2265 3", "bin"),
    ("products", "CAR T product", "cat"),
]


TOXICITY_KEYS = ("crs_ge_3", "icans_ge_3")


def _cont_cell(v: dict | None, stat: str) -> tuple[str, bool]:
    """(cell, used_iqr)"""
    if not v or is_missing(v.get("median")):
        return DASH, False
    if stat == "iqr" and not is_missing(v.get("q1")) and not is_missing(v.get("q3")):
        return fmt_median_iqr(v["median"], v["q1"], v["q3"]), True
    return fmt_median_range(v["median"], v.get("min"), v.get("max")), False


def _missing_of(kind: str, v, group_n: int) -> int | str:
    """Patients with no value: ``n_missing`` when the results give it, else n minus the denominator.

    A suppressed ``n_missing`` (``"<5"``) is returned as it is; a difference involving a suppressed
    count is unknown (a dash), never computed."""
    if v is None or kind in ("cond", "sub"):
        return 0  # cond: the denominator is a subgroup, not "non-missing"; sub: shown on the row above
    if kind == "cont":
        return _count_or_label(v.get("n_missing") or 0)
    if kind == "bin":
        return _count_or_label(v["n_missing"]) if v.get("n_missing") is not None else _diff(group_n, v["N"])
    levels = [lv for lv in v.values() if isinstance(lv, dict) and "N" in lv]
    if not levels:
        return 0
    if levels[0].get("n_missing") is not None:
        return _count_or_label(levels[0]["n_missing"])
    return _diff(group_n, levels[0]["N"])


def _count_or_label(x) -> int | str:
    return x if is_suppressed(x) else int(x)


def _diff(a, b) -> int | str:
    """``max(0, a - b)`` of two counts; a dash when either is suppressed (no number derived from it)."""
    if is_suppressed(a) or is_suppressed(b):
        return DASH
    return max(0, int(a) - int(b))


def table1(results: dict, stat: str = "range") -> Table:
    """Baseline characteristics of late failures, with early failures beside them.

    ``stat="range"`` (default) shows continuous variables as median (range), the abstract's form;
    ``stat="iqr"`` as median (IQR) when quartiles are present in the results.
    """
    groups = [("late", "Late failures")]
    if results.get("early") and results["early"].get("baseline"):
        groups.append(("early", "Early failures"))
    cols = ["Characteristic"] + [f"{label} (N={results[g]['n']})" for g, label in groups]
    rows: list[list[str]] = []
    indent: list[int] = []
    fell_back = False
    toxicity_elsewhere = bool(results.get("toxicity"))  # CRS/ICANS are in the toxicity table
    for key, label, kind in TABLE1_VARIABLES:
        if toxicity_elsewhere and key in TOXICITY_KEYS:
            continue
        vals = [results[g]["baseline"].get(key) for g, _ in groups]
        if all(v is None for v in vals):
            continue
        if kind == "cont" and key not in ("age",):
            unit = next((v.get("unit") for v in vals if isinstance(v, dict) and v.get("unit")), None)
            unit = unit or DEFAULT_UNITS.get(key)
            if unit and key != "prior_lines":
                label = f"{label}, {unit}"
        ns = [results[g]["n"] for g, _ in groups]
        if kind == "cont":
            cells, used = [], []
            for v in vals:
                cell, used_iqr = _cont_cell(v, stat)
                cells.append(cell)
                if v is not None:
                    used.append(used_iqr)
            iqr = stat == "iqr" and all(used)
            fell_back |= stat == "iqr" and not iqr
            if stat == "iqr" and not iqr:  # never mix IQR and range in one row
                cells = [_cont_cell(v, "range")[0] for v in vals]
            suffix = ", median (IQR)" if iqr else ", median (range)"
            rows.append([label + suffix, *cells])
            indent.append(0)
        elif kind in ("bin", "cond", "sub"):
            rows.append([label + ("" if kind == "sub" else ", n (%)"),
                         *[DASH if v is None else fmt_n_pct(v["n"], v.get("pct")) for v in vals]])
            indent.append(1 if kind in ("cond", "sub") else 0)
        else:  # cat
            rows.append([label + ", n (%)", *[""] * len(vals)])
            indent.append(0)
            levels: list[str] = []
            for v in vals:
                for lv in v or {}:
                    if lv not in levels:
                        levels.append(lv)
            # a level with no patient in any column is left out (e.g. products not used in this registry)
            levels = [lv for lv in levels if any(((v or {}).get(lv) or {}).get("n") for v in vals)]
            for lv in levels:
                cells = []
                for v in vals:
                    x = (v or {}).get(lv)
                    cells.append("0 (0%)" if x is None and v is not None else (DASH if x is None else fmt_n_pct(x["n"], x.get("pct"))))
                rows.append([HISTOLOGY_LABELS.get(lv, lv) if key == "histology" else lv, *cells])
                indent.append(1)
        missing = [_missing_of(kind, v, n) for v, n in zip(vals, ns, strict=True)]
        if any(missing):
            rows.append(["Missing", *[str(m) for m in missing]])
            indent.append(1 if kind != "cond" else 2)
    notes = [
        "n (%) with denominators excluding missing values; Missing rows give the number of patients "
        "with no value.",
        "Chemotherapy-based bridging is given as a percentage of bridged patients. Categories with no "
        "patient in either group are not shown.",
        "Early failure: failure at or before the late-failure cut-off "
        f"({cutoff_text(late_after_days(results))} after infusion); late failure: after it.",
    ]
    if fell_back:
        notes.append("Quartiles are not in the results: continuous variables shown as median (range).")
    return Table(
        id="table1_baseline",
        title="Table 1. Baseline characteristics of late failures, with early failures for comparison",
        columns=cols,
        rows=rows,
        indent=indent,
        footnotes=notes,
    )


# ---------------------------------------------------------------------------------------------
# response to CAR T


def response_table(results: dict) -> Table:
    """Best response to CAR T, time to failure, and response to the first treatment after failure."""
    late = results["late"]
    br, pf, ttf = late.get("best_response", {}), late.get("post_failure_response", {}), late.get("time_to_failure", {})
    col = f"Late failures (N={late['n']})"
    rows, indent = [], []

    def add(label, cell, level):
        rows.append([label, cell])
        indent.append(level)

    add("Best response to CAR T (before failure)", "", 0)
    if "orr" in br:
        add("Overall response (CR/CMR or PR/PMR)", fmt_n_N_pct(br["orr"]["n"], br["orr"]["N"], br["orr"].get("pct")), 1)
    cats = br.get("categories") or {}
    if "cmr" in br and "CR" not in cats:
        add("Complete (metabolic) response", fmt_n_N_pct(br["cmr"]["n"], br["cmr"]["N"], br["cmr"].get("pct")), 1)
    for key, v in cats.items():  # CR here is the CMR count (CR or CMR)
        add(RESPONSE_LABELS.get(key, key), fmt_n_N_pct(v["n"], v["N"], v.get("pct")), 1)
    if ttf:
        add("Time from infusion to failure, months", "", 0)
        if not is_missing(ttf.get("q1")):
            add("Median (IQR)", fmt_median_iqr(ttf.get("median"), ttf.get("q1"), ttf.get("q3"), trim=False), 1)
        else:
            add("Median", fmt_num(ttf.get("median"), 1), 1)
        add("Range", f"{fmt_num(ttf.get('min'), 1)}-{fmt_num(ttf.get('max'), 1)}", 1)
    add("Response to the first treatment after failure (treated patients)", "", 0)
    if "orr" in pf:
        add("Overall response", fmt_n_N_pct(pf["orr"]["n"], pf["orr"]["N"], pf["orr"].get("pct")), 1)
    if "cmr" in pf:
        add("Complete (metabolic) response", fmt_n_N_pct(pf["cmr"]["n"], pf["cmr"]["N"], pf["cmr"].get("pct")), 1)
    return Table(
        id="table2_response",
        title="Table 2. Response to CAR T-cell therapy and to treatment after failure (late failures)",
        columns=["Response", col],
        rows=rows,
        indent=indent,
        footnotes=[
            "Best response: best assessment after infusion and before the earlier of failure and any "
            "later treatment (CR/CMR > PR/PMR > SD/NMR > NE). Overall response = CR/CMR + PR/PMR; patients "
            "with no qualifying assessment count as non-responders; denominators are all late failures.",
            "Response after failure: denominators are treated patients.",
        ],
    )


# ---------------------------------------------------------------------------------------------
# treatments after failure


def treatments_table(results: dict) -> Table:
    """Treatment status after failure, and first-treatment class with the regimens seen in each class."""
    late = results["late"]
    ft = late.get("first_treatment", {})
    rows, indent = [], []
    for key, label in (("treated", "Treated"), ("untreated", "Not treated"), ("unknown", "Status unknown")):
        v = ft.get(key)
        if v is not None:
            rows.append([label, fmt_n_N_pct(v["n"], v["N"], v.get("pct")), ""])
            indent.append(0)
    gap = ft.get("gap_days")
    if gap and not is_missing(gap.get("median")):
        cell = (fmt_median_iqr(gap["median"], gap["q1"], gap["q3"]) if not is_missing(gap.get("q1"))
                else fmt_median_range(gap["median"], gap.get("min"), gap.get("max")))
        label = "Failure to first treatment, days, median (IQR)" if not is_missing(gap.get("q1")) \
            else "Failure to first treatment, days, median (range)"
        rows.append([label, cell, ""])
        indent.append(0)
    classes = ft.get("classes") or {}
    by_class = late.get("by_class") or {}
    regimens = ft.get("regimens") or {c: (by_class.get(c) or {}).get("regimens") or {} for c in classes}
    if classes:
        rows.append(["First treatment class (of treated)", "", ""])
        indent.append(0)
        order = ordered_classes(results, list(classes.keys()))
        for cls in sorted(order, key=lambda c: (-count_rank(classes[c]["n"]), order.index(c))):  # as the abstract: most used first
            v = classes[cls]
            regs = regimens.get(cls) or {}
            seen = "; ".join(f"{name} ({n})" for name, n in sorted(regs.items(), key=lambda kv: (-count_rank(kv[1]), kv[0])))
            rows.append([class_label(cls), fmt_n_N_pct(v["n"], v["N"], v.get("pct")), seen or DASH])
            indent.append(1)
    return Table(
        id="table3_treatments",
        title="Table 3. First treatment after failure (late failures), by class, with the regimens seen",
        columns=["Treatment after failure", "n/N (%)", "Regimens seen (n patients)"],
        rows=rows,
        indent=indent,
        align=["l", "c", "l"],
        footnotes=[
            "Treatment status is of all late failures. Untreated: no treatment and died or followed at "
            f"least {_g(results, 'parameters', 'min_untreated_followup_days', default=30)} days after "
            "failure; otherwise status unknown.",
            "Class percentages are of treated patients. A treatment combining regimens takes the class of "
            "highest precedence: " + " > ".join(class_label(c) for c in class_precedence(results)) + ".",
        ] + _not_treatment_note(results),
    )


def _not_treatment_note(results: dict) -> list[str]:
    """The entries recognised as no anticancer treatment (class none), from the warnings of results.json."""
    items = [f"{w['regimen']} ({w['n_rows']})" for w in results.get("warnings") or []
             if isinstance(w, dict) and w.get("kind") == "not_treatment" and "regimen" in w]
    if not items:
        return []
    return ["Not anticancer treatment, not counted as a treatment (a patient with only these entries after "
            "failure is untreated); entries (rows): " + "; ".join(items) + "."]


# ---------------------------------------------------------------------------------------------
# outcomes by class


IMPRECISE_MARK = "\u2020"  # dagger: the HR rests on fewer than 5 events


def _hr_cells(by: dict, endpoint: str, is_ref: bool) -> tuple[str, str]:
    hr = by.get(f"{endpoint}_hr")
    if by.get("compared") is False:
        return "not compared", DASH
    if is_ref:
        return "1 (reference)", DASH
    if hr is None or is_missing(hr.get("hr")):
        return "NE", DASH
    mark = IMPRECISE_MARK if hr.get("imprecise") else ""
    return fmt_hr(hr["hr"], hr.get("ci"), compact=True) + mark, fmt_p(hr.get("p"))


def ph_test_lines(results: dict) -> list[str]:
    """The proportional-hazards test of each class model (results.json ``late.ph_test``), as text."""
    ph = (results.get("late") or {}).get("ph_test") or {}
    out = []
    for ep, name in (("pfs2", "PFS-2"), ("os2", "OS-2")):
        v = ph.get(ep)
        if not v or is_missing(v.get("chisq")):
            continue
        out.append(f"{name}: chi-square {fmt_num(v['chisq'], 2)} on {v['df']} df, {fmt_p(v.get('p'), prefix=True)}")
    return out


def outcomes_table(results: dict) -> Table:
    """Outcomes of treated late failures by first-treatment class (descriptive, unadjusted)."""
    late = results["late"]
    by_class = late.get("by_class") or {}
    params = results.get("parameters") or {}
    lm = params.get("landmark_months", 6)
    lm_s = fmt_days(lm)
    ref = reference_class(results)
    cols = [
        "Class", "n", "PFS-2 events", "OS-2 events", "Failure to treatment, median days",
        f"{lm_s}-month PFS-2, % (95% CI)", "PFS-2 HR (95% CI)", "PFS-2 P",
        f"{lm_s}-month OS-2, % (95% CI)", "OS-2 HR (95% CI)", "OS-2 P",
    ]
    rows = []
    ne = False
    empty = []
    imprecise = not_compared = no_ci = False
    for cls in ordered_classes(results):
        b = by_class[cls]
        if not b.get("n"):
            empty.append(class_label(cls))
            continue
        is_ref = bool(b.get("reference")) or cls == ref
        pfs_hr, pfs_p = _hr_cells(b, "pfs2", is_ref)
        os_hr, os_p = _hr_cells(b, "os2", is_ref)
        ne |= "NE" in (pfs_hr, os_hr)
        imprecise |= any(c.endswith(IMPRECISE_MARK) for c in (pfs_hr, os_hr))
        not_compared |= b.get("compared") is False
        pfs_lm, os_lm = b.get("pfs2_6mo") or {}, b.get("os2_6mo") or {}
        rows.append([
            class_label(cls) + (" (reference)" if is_ref else ""),
            str(b["n"]),
            str(b.get("events_pfs2", DASH)),
            str(b.get("events_os2", DASH)),
            fmt_days(b.get("gap_days_median")),
            fmt_landmark(pfs_lm.get("est"), pfs_lm.get("ci"), lm_s, compact=True),
            pfs_hr, pfs_p,
            fmt_landmark(os_lm.get("est"), os_lm.get("ci"), lm_s, compact=True),
            os_hr, os_p,
        ])
        no_ci |= "no CI" in rows[-1][5] or "no CI" in rows[-1][8]
    origin = params.get("treated_origin", "treatment_start")
    if origin == "treatment_start":
        origin_note = (
            "Descriptive, unadjusted comparisons between groups that were not randomised. PFS-2 and OS-2 "
            "by class are measured from the start of the first treatment after failure, not from failure, "
            "to avoid immortal-time bias."
        )
    else:
        origin_note = (
            "Descriptive, unadjusted comparisons between groups that were not randomised. PFS-2 and OS-2 "
            f"by class are measured from {origin}; measured from failure, they include the time before "
            "treatment (immortal time) and favour classes started later."
        )
    notes = [
        origin_note,
        f"HR, hazard ratio against {class_label(ref).lower()}: one Cox model per endpoint with class as a "
        "factor (Efron ties; Wald CI and P). "
        f"{lm_s}-month estimates are Kaplan-Meier with {params.get('conf_type', 'log-log')} CIs.",
    ]
    if ne:
        notes.append("NE, not estimable: the class has no event for that endpoint and is left out of its model.")
    cmp = late.get("comparisons") or {}
    if not_compared:
        k = cmp.get("min_class_size", 5)
        notes.append(f"Not compared: classes with fewer than {k} treated patients, and the class Other (a mixture of "
                     "treatments), are described but left out of the Cox models, the log-rank tests and the forest "
                     "plot (min_class_size).")
    if imprecise:
        notes.append(f"{IMPRECISE_MARK} Imprecise: the hazard ratio rests on fewer than "
                     f"{cmp.get('imprecise_events', 5)} events in the class or in the reference.")
    if no_ci:
        notes.append(f"A {lm_s}-month rate of 100% or 0% has no Kaplan-Meier confidence interval.")
    ph = ph_test_lines(results)
    if ph:
        notes.append("Proportional hazards (scaled Schoenfeld residuals, global test of each class model as R "
                     "cox.zph with the Kaplan-Meier time transform): " + "; ".join(ph) + ".")
    for ep, name in (("pfs2", "PFS-2"), ("os2", "OS-2")):
        for note in ((late.get("hr_notes") or {}).get(ep) or []):
            notes.append(f"{name}: {note}")
    if empty:
        notes.append("No treated patient in: " + ", ".join(empty) + " (not shown).")
    return Table(
        id="table4_outcomes_by_class",
        title="Table 4. Outcomes of treated late failures by class of first treatment after failure",
        columns=cols,
        rows=rows,
        indent=[0] * len(rows),
        footnotes=notes,
    )


# ---------------------------------------------------------------------------------------------
# sensitivity


def sensitivity_table(results: dict) -> Table:
    """Late-failure counts at other cut-offs (60, 90, 91.3125, 120 days)."""
    f = results["failures"]
    used = late_after_days(results)
    rows = []
    for s in f.get("sensitivity") or []:
        d = float(s["late_after_days"])
        label = fmt_cutoff_days(d)
        if d == used:
            label += " (used)"
        n = s["late_n"]
        rows.append([label, fmt_num(d / MONTH_DAYS, 2), fmt_n_N_pct(n, f["n"], s.get("late_pct"))])
    return Table(
        id="table5_sensitivity_cutoff",
        title="Table 5. Sensitivity of the late-failure count to the cut-off",
        columns=["Cut-off, days", "Cut-off, months", "Late failures, n/N failures (%)"],
        rows=rows,
        indent=[0] * len(rows),
        footnotes=["Late: failure strictly more than the cut-off after infusion. N = all failures. "
                   "A month is 30.4375 days."],
    )


# ---------------------------------------------------------------------------------------------
# toxicity


def toxicity_table(results: dict) -> Table:
    """CRS and ICANS grades (0-5 and grade >= 3) after infusion: late failures, early failures, all
    infused (results.json ``toxicity{crs_grade, icans_grade}{late, early, infused}``)."""
    tox = results.get("toxicity") or {}
    groups = [("late", "Late failures"), ("early", "Early failures"), ("infused", "All infused")]
    groups = [(g, label) for g, label in groups if any(g in (tox.get(k) or {}) for k in ("crs_grade", "icans_grade"))]
    ns = {"late": _g(results, "late", "n"), "early": _g(results, "early", "n"), "infused": _g(results, "cohort", "infused")}
    cols = ["Toxicity"] + [f"{label} (N={ns[g]})" if ns.get(g) is not None else label for g, label in groups]
    rows: list[list[str]] = []
    indent: list[int] = []
    for key, label in (("crs_grade", "Cytokine release syndrome (CRS), grade"),
                       ("icans_grade", "Neurotoxicity (ICANS), grade")):
        data = tox.get(key) or {}
        if not data:
            continue
        vals = [data.get(g) or {} for g, _ in groups]
        rows.append([label + ", n (%)", *[""] * len(vals)])
        indent.append(0)
        for grade in ("0", "1", "2", "3", "4", "5"):
            rows.append([grade, *[DASH if not v else fmt_n_pct(v["grades"][grade]["n"], v["grades"][grade]["pct"])
                                  for v in vals]])
            indent.append(1)
        rows.append(["Grade \u2265 3", *[DASH if not v else fmt_n_pct(v["ge_3"]["n"], v["ge_3"]["pct"]) for v in vals]])
        indent.append(1)
        if any(v.get("n_missing") for v in vals):
            rows.append(["Missing", *[str(v.get("n_missing", 0)) for v in vals]])
            indent.append(1)
    return Table(
        id="table6_toxicity",
        title="Table 6. Toxicity of the CAR T-cell infusion: CRS and ICANS (ASTCT grades)",
        columns=cols,
        rows=rows,
        indent=indent,
        footnotes=["CRS and ICANS are outcomes of the infusion, not baseline characteristics. n (%) with "
                   "denominators excluding missing grades; grade 0 = no CRS/ICANS."],
    )


def build_tables(results: dict, stat: str = "range") -> list[Table]:
    """All report tables, in report order (the toxicity table when results.json has ``toxicity``)."""
    tables = [
        patient_flow(results),
        table1(results, stat=stat),
        response_table(results),
        treatments_table(results),
        outcomes_table(results),
        sensitivity_table(results),
    ]
    if results.get("toxicity"):
        tables.append(toxicity_table(results))
    return tables
