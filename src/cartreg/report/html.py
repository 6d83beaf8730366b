"""Render the self-contained HTML report (jinja2, autoescaped).

One file: inline CSS, figures as inline SVG (ids prefixed per figure so several SVGs can share a
page), no scripts, no fonts, no external resources, so it opens offline and can be e-mailed.
"""

from __future__ import annotations

import re
from importlib import resources

import jinja2
from markupsafe import Markup

from cartreg.report.format import fmt_cutoff_days, fmt_days, fmt_n_N_pct, fmt_num, is_suppressed
from cartreg.report.tables import MONTH_DAYS, Table, class_label, class_precedence, late_after_days, reference_class

_IDENTIFIER_KEYS = {"patient_id", "patient_ids", "patients", "ids"}


def inline_svg(svg_text: str, prefix: str, title: str) -> str:
    """Make a matplotlib SVG embeddable: drop the XML prolog and RDF metadata, prefix every id, add a
    title for screen readers, and let CSS size it (the viewBox is kept)."""
    svg = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", svg_text)
    svg = re.sub(r"<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.S)  # RDF block: not needed inline
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    if ids:
        pat = "|".join(sorted((re.escape(i) for i in ids), key=len, reverse=True))
        svg = re.sub(rf'\bid="({pat})"', lambda m: f'id="{prefix}-{m.group(1)}"', svg)
        svg = re.sub(rf"url\(#({pat})\)", lambda m: f"url(#{prefix}-{m.group(1)})", svg)
        svg = re.sub(rf'href="#({pat})"', lambda m: f'href="#{prefix}-{m.group(1)}"', svg)
    svg = re.sub(r"<svg\b", f'<svg role="img" aria-labelledby="{prefix}-title" class="fig-svg"', svg, count=1)
    svg = re.sub(r"(<svg\b[^>]*>)", lambda m: m.group(1) + f'<title id="{prefix}-title">{_esc(title)}</title>', svg, count=1)
    return svg


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _warning_text(w, identifiers: bool) -> str:
    """A warning of results.json (``{kind, message, ...}`` or text) as one line; patient identifiers
    are withheld unless ``identifiers``."""
    if isinstance(w, str):
        return w
    if isinstance(w, dict):
        shown = {k: v for k, v in w.items() if identifiers or k not in _IDENTIFIER_KEYS}
        msg = shown.pop("message", None) or shown.pop("text", None) or ""
        shown.pop("kind", None)
        rest = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in shown.items() if str(v) not in str(msg))
        text = " (".join(x for x in (str(msg), rest) if x) + (")" if msg and rest else "")
        if not identifiers and any(k in _IDENTIFIER_KEYS for k in w):
            text += " (patient identifiers withheld)"
        return text
    return str(w)


def parameter_rows(results: dict) -> list[tuple[str, str]]:
    """(label, value) rows of the parameters section, all from results.json."""
    p = results.get("parameters") or {}
    meta = results.get("meta") or {}
    days = late_after_days(results)
    origin = p.get("treated_origin", "treatment_start")
    origin_txt = "start of first treatment after failure" if origin == "treatment_start" else str(origin)
    rows = [
        ("Study", str(results.get("study", "late-failure"))),
        ("Late-failure cut-off", f"failure more than {fmt_cutoff_days(days)} days "
                                 f"({fmt_num(days / MONTH_DAYS, 1)} months) after infusion"),
        ("Confidence intervals", f"{int(round(100 * float(p.get('conf_level', 0.95))))}%, "
                                 f"{p.get('conf_type', 'log-log')} (Kaplan-Meier and landmark estimates, follow-up)"),
        ("Landmark", f"{fmt_days(p.get('landmark_months', 6))} months"),
        ("Time origins", f"OS-2: failure; PFS-2 and comparisons by class: {origin_txt}; "
                         "cumulative incidence of failure: infusion"),
        ("Treatment-class precedence", " > ".join(class_label(c) for c in class_precedence(results))),
        ("Reference class", class_label(reference_class(results))),
        ("Untreated after failure", f"no treatment and died or followed at least "
                                    f"{p.get('min_untreated_followup_days', 30)} days after failure"),
        ("Data cut-off date", str(p.get("data_cutoff") or "not given")
         + (" (inferred from the data)" if p.get("data_cutoff_inferred") else "")),
        ("Treatment-class map", str(p.get("class_map_source") or p.get("class_map") or "built-in")),
        ("Class comparisons", "every class with patients compared, Other included" if p.get("min_class_size", 5) == 1
         else f"classes with at least {p.get('min_class_size', 5)} treated patients, Other excluded "
              "(the others are described only)"),
        ("Registry file hash (SHA-256)", str(meta.get("registry_sha256", "not given"))),
        ("cartreg version", str(meta.get("cartreg_version", "not given"))),
        ("Results generated", str(meta.get("generated_at", "not given"))),
    ]
    cut = after_cutoff_text(results)
    if cut is not None:
        rows.insert(rows.index(next(r for r in rows if r[0] == "Data cut-off date")) + 1,
                    ("Records after the cut-off", cut))
    return rows


#: Parameter rows whose value is text to translate (not a hash, version, date or file name).
_TRANSLATED_VALUES = {"Late-failure cut-off", "Confidence intervals", "Landmark", "Time origins",
                      "Treatment-class precedence", "Reference class", "Untreated after failure",
                      "Class comparisons", "Data cut-off date"}


def all_parameters(results: dict) -> list[tuple[str, str]]:
    """Every resolved parameter exactly as in results.json (key, value)."""
    out = []
    for k, v in (results.get("parameters") or {}).items():
        if isinstance(v, list):
            v = ", ".join(map(str, v))
        elif isinstance(v, dict):
            v = f"{len(v)} entries"
        out.append((k, "none" if v is None else str(v)))
    return out


IGNORED_LABELS = {
    "responses_on_or_before_infusion": "responses dated on or before the infusion date",
    "treatments_on_or_before_infusion": "treatments dated on or before the infusion date",
    "responses_of_patients_not_infused": "responses of patients not infused",
    "treatments_of_patients_not_infused": "treatments of patients not infused",
}


def ignored_lines(results: dict) -> list[str]:
    """The records the derivations ignored, as counted in results.json (``ignored_records``; the
    ``after_cutoff`` counts are shown by :func:`after_cutoff_text`)."""
    return [f"{n} {IGNORED_LABELS.get(k, k.replace('_', ' '))}"
            for k, n in (results.get("ignored_records") or {}).items() if not isinstance(n, dict)]


#: results.json ``ignored_records.after_cutoff`` keys, in reading order, with their wording.
AFTER_CUTOFF_LABELS = {
    "responses": ("response assessment", "response assessments"),
    "treatments": ("treatment", "treatments"),
    "deaths": ("death", "deaths"),
    "last_contacts_truncated": ("last contact moved back to the cut-off", "last contacts moved back to the cut-off"),
    "registered_after_cutoff": ("patient registered after the cut-off (not in the cohort)",
                                "patients registered after the cut-off (not in the cohort)"),
    "infused_after_cutoff": ("patient infused after the cut-off (not in the cohort)",
                             "patients infused after the cut-off (not in the cohort)"),
}


def after_cutoff_text(results: dict) -> str | None:
    """``"Data cut-off 2022-04-29: ignored 12 response assessments, 3 treatments, ..."`` from
    ``parameters.data_cutoff`` and ``ignored_records.after_cutoff``; None when there are no such counts."""
    counts = (results.get("ignored_records") or {}).get("after_cutoff")
    if not isinstance(counts, dict):
        return None
    cutoff = (results.get("parameters") or {}).get("data_cutoff") or "not given"
    keys = list(AFTER_CUTOFF_LABELS) + [k for k in counts if k not in AFTER_CUTOFF_LABELS]
    parts = []
    for k in keys:
        if k not in counts or counts[k] is None:
            continue
        one, many = AFTER_CUTOFF_LABELS.get(k, (k.replace("_", " "), k.replace("_", " ")))
        if is_suppressed(counts[k]):  # "<5": shown as it is
            parts.append(f"{counts[k]} {many}")
            continue
        n = int(counts[k])
        parts.append(f"{n} {one if n == 1 else many}")
    if not parts:
        return f"Data cut-off {cutoff}: no record dated after it."
    return (f"Data cut-off {cutoff}: records dated after it are ignored and follow-up ends at it "
            f"({'; '.join(parts)}).")


def _env() -> jinja2.Environment:
    loader = jinja2.FunctionLoader(
        lambda name: resources.files("cartreg.report").joinpath("templates", name).read_text(encoding="utf-8")
    )
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    return env


def render_html(results: dict, tables: list[Table], figures: list[dict], summary: list[str],
                identifiers: bool = False, report_version: str = "", lang: str = "en") -> str:
    """The report as one HTML string. ``figures`` are dicts with id, title, caption and svg (inline).
    ``lang``: headings, flow boxes and parameter labels through the message catalogue (issue 13)."""
    from cartreg.report.study_i18n import StudyTranslator

    tr = StudyTranslator(lang)
    meta = results.get("meta") or {}
    p = results.get("parameters") or {}
    c = results["cohort"]
    f = results["failures"]
    late = results["late"]
    ft = late.get("first_treatment") or {}
    days = late_after_days(results)
    def nn(v, N):
        return None if not v else fmt_n_N_pct(v["n"], N if N is not None else v.get("N"), v.get("pct"))

    flow = {
        "registered": c.get("registered"),
        "infused": c.get("infused") if c.get("registered") is None else fmt_n_N_pct(c["infused"], c["registered"]),
        "failed": fmt_n_N_pct(f["n"], c["infused"], f.get("pct")),
        "relapse": nn(f.get("relapse"), f["n"]),
        "progression": nn(f.get("progression"), f["n"]),
        "early": nn(f["early"], f["n"]),
        "late": nn(f["late"], f["n"]),
        "treated": nn(ft.get("treated"), None),
        "untreated": nn(ft.get("untreated"), None),
        "unknown": nn(ft.get("unknown"), None),
        "cut": fmt_cutoff_days(days),
    }
    warnings = [_warning_text(w, identifiers) for w in results.get("warnings") or []]
    env = _env()
    env.filters["tr"] = tr
    tmpl = env.get_template("report.html.j2")
    return tmpl.render(
        title=tr("Late failure after CAR T-cell therapy"),
        results=results,
        meta=meta,
        params=p,
        parameter_rows=[(tr(k), tr(v) if k in _TRANSLATED_VALUES else v) for k, v in parameter_rows(results)],
        lang=lang,
        all_parameters=all_parameters(results),
        summary=summary,
        tables=tables,
        figures=[dict(fig, svg=Markup(fig["svg"])) for fig in figures],
        flow=flow,
        flow_table=tables[0],
        warnings=warnings,
        ignored=ignored_lines(results),
        after_cutoff=after_cutoff_text(results),
        identifiers=identifiers,
        report_version=report_version,
    )
