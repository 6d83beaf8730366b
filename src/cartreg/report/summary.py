"""The abstract-style results paragraph, every number taken from results.json.

The order and wording follow the founding DESCAR-T abstract (``shared/seed``): failures and the
early/late split; histology; baseline at eligibility and at infusion; response to CAR T; time to
failure; treatments after failure; response after failure; follow-up, PFS-2 and OS-2; comparisons
by class against the reference. Counts are ``n/N (x%)``, medians carry their 95% CI or read
"not reached", HRs carry their CI and P. Each sentence is a list of plain-text strings so tests can
check them; the template joins them into paragraphs.
"""

from __future__ import annotations

import dataclasses

from cartreg.report.format import (
    count_rank,
    fmt_cutoff_days,
    fmt_est_ci_pct,
    fmt_hr,
    fmt_landmark,
    fmt_median_ci,
    fmt_median_range,
    fmt_n_N_pct,
    fmt_num,
    fmt_p,
)
from cartreg.report.tables import (
    CLASS_LABELS,
    HISTOLOGY_LABELS,
    late_after_days,
    ordered_classes,
    reference_class,
)

_CLASS_NOUN = {
    "IMiD": "IMiDs",
    "chemotherapy": "chemotherapy",
    "bispecific": "bispecific antibodies",
    "targeted": "targeted therapy",
    "anti-PD1": "anti-PD-1",
    "radiotherapy": "radiotherapy",
    "adc": "antibody-drug conjugates",
    "cellular": "cellular therapy",
    "other": "other treatments",
}

_CLASS_PHRASE = {
    "IMiD": "IMiD-based",
    "chemotherapy": "chemotherapy-based",
    "bispecific": "bispecific antibodies",
    "targeted": "targeted therapy",
    "anti-PD1": "anti-PD-1",
    "radiotherapy": "radiotherapy",
    "adc": "antibody-drug conjugates",
    "cellular": "cellular therapy",
    "other": "other treatments",
}


def _param_text(v) -> str:
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return "none" if v is None else str(v)


def non_default_parameters(results: dict) -> list[tuple[str, object, object]]:
    """``(name, value, default)`` of every study parameter in results.json that differs from its default.

    Compared generically against the fields of :class:`cartreg.study.params.LateFailureParams`, so a
    parameter added there is covered without a change here. Values are compared as JSON gives them
    (tuples as lists, numbers by value).
    """
    from cartreg.study.params import LateFailureParams

    given = results.get("parameters") or {}
    out = []
    for f in dataclasses.fields(LateFailureParams):
        if f.name not in given:
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)  # type: ignore[misc]
        d = list(default) if isinstance(default, tuple) else default
        v = given[f.name]
        same = v == d or (isinstance(v, (int, float)) and isinstance(d, (int, float)) and not isinstance(v, bool)
                          and float(v) == float(d))
        if not same:
            out.append((f.name, v, d))
    return out


def parameters_sentence(results: dict) -> str:
    """"Parameters that differ from their defaults: min_class_size = 1 (default 5); ..." (or "all at defaults")."""
    diff = non_default_parameters(results)
    if not diff:
        return "Every study parameter is at its default (see Parameters)."
    items = [f"{k} = {_param_text(v)} (default {_param_text(d)})" for k, v, d in diff]
    return "Study parameters that differ from their defaults: " + "; ".join(items) + "."


def _nNp(v: dict | None) -> str:
    if not v:
        return "\u2014"
    return fmt_n_N_pct(v["n"], v["N"], v.get("pct"))


def _median_months(v: dict | None) -> str:
    if not v:
        return "not available"
    return fmt_median_ci(v.get("median"), v.get("ci"), unit=" months")


def summary_paragraphs(results: dict) -> list[str | list[str]]:
    """The results summary as paragraphs of plain text (HTML-escaped by the template); a list item
    is a bulleted list (one line per treatment class)."""
    c, f, late = results["cohort"], results["failures"], results["late"]
    b = late.get("baseline") or {}
    lm = (results.get("parameters") or {}).get("landmark_months", 6)
    lm_s = fmt_num(lm, 0) if float(lm).is_integer() else str(lm)
    paras: list[str] = []
    fed = results.get("federated")
    if fed:  # a federated analysis (cartreg.federated): say so, with each registry's n
        ns = ", ".join(str(x.get("infused")) for x in fed.get("n", []))
        paras.append(f"Federated analysis of {fed.get('registries')} registries (infused patients per registry: "
                     f"{ns}); no patient-level data left any registry: the figures come from securely "
                     f"pooled counts on a {fed.get('grid')} grid and a Cox model {fed.get('cox')}.")

    # 1. failures, early/late
    s = (
        f"Overall, {fmt_n_N_pct(f['n'], c['infused'], f.get('pct'))} infused patients failed (progressive "
        f"disease or relapse) after CAR T-cell infusion "
        f"({f['relapse']['n']} relapses and {f['progression']['n']} progressions), of whom "
        f"{fmt_n_N_pct(f['late']['n'], f['n'], f['late'].get('pct'))} were late failures (LF; failure more than "
        f"{fmt_cutoff_days(late_after_days(results))} days after infusion) and "
        f"{fmt_n_N_pct(f['early']['n'], f['n'], f['early'].get('pct'))} early failures (EF)."
    )
    cif = [x for x in (f.get("cif") or []) if x.get("est") is not None]
    if cif:
        items = [f"{fmt_est_ci_pct(x['est'], x.get('ci'))} at {fmt_num(x['months'], 0)} months" for x in cif]
        s += (" The cumulative incidence of failure, with death without failure as a competing risk, was "
              + (", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]) + ".")
    if c.get("registered") is not None and c["registered"] != c["infused"]:
        s = f"Of {c['registered']} registered patients, {c['infused']} were infused. " + s
    paras.append(s)

    # 2. LF baseline
    parts = []
    hist = b.get("histology") or {}
    if hist:
        items = [f"{HISTOLOGY_LABELS.get(k, k)} {_nNp(v)}" for k, v in hist.items() if v.get("n")]
        parts.append("For LF patients, histological subtypes were " + ", ".join(items) + ".")
    sent = []
    if b.get("age"):
        a = b["age"]
        sent.append(f"median age was {fmt_median_range(a['median'], a['min'], a['max']).replace(' (', ' years (range ')}")
    if b.get("age_gt_65"):
        sent.append(f"{_nNp(b['age_gt_65'])} were aged >65 years")
    if b.get("male"):
        sent.append(f"{_nNp(b['male'])} were male")
    if sent:
        parts.append("At time of CAR T-cell eligibility, " + ", ".join(sent[:-1])
                     + (", and " if len(sent) > 1 else "") + sent[-1] + ";")
    sent = []
    if b.get("stage_3_4"):
        sent.append(f"{_nNp(b['stage_3_4'])} had advanced disease (stage III/IV)")
    if b.get("aaipi_2_3"):
        sent.append(f"{_nNp(b['aaipi_2_3'])} had an age-adjusted International Prognostic Index (aaIPI) of 2-3")
    if sent:
        parts.append(" and ".join(sent) + ".")
    if b.get("prior_lines"):
        p = b["prior_lines"]
        parts.append("The median number of treatment lines prior to eligibility was "
                     f"{fmt_median_range(p['median'], p['min'], p['max']).replace(' (', ' (range ')}.")
    if b.get("prior_hsct"):
        s = f"{_nNp(b['prior_hsct'])} patients were transplant recipients"
        if b.get("prior_auto_hsct") and b.get("prior_allo_hsct"):
            s += f" ({b['prior_auto_hsct']['n']} auto-HSCT and {b['prior_allo_hsct']['n']} allo-HSCT)"
        parts.append(s + ".")
    sent = []
    if b.get("ecog_gt_2"):
        sent.append(f"{_nNp(b['ecog_gt_2'])} had ECOG PS >2")
    if b.get("ldh_elevated"):
        sent.append(f"{_nNp(b['ldh_elevated'])} an elevated LDH level")
    if b.get("bulky"):
        sent.append(f"{_nNp(b['bulky'])} bulky disease")
    if sent:
        parts.append("At time of CAR T-cell infusion, " + ", ".join(sent[:-1]) + (" and " if len(sent) > 1 else "") + sent[-1] + ".")
    if b.get("ferritin") and b.get("crp"):
        fe, cr = b["ferritin"], b["crp"]
        parts.append(
            f"Median ferritin and C-reactive protein levels were {fmt_median_range(fe['median'], fe['min'], fe['max']).replace(' (', ' (range ')} "
            f"and {fmt_median_range(cr['median'], cr['min'], cr['max']).replace(' (', ' (range ')}, respectively."
        )
    if b.get("bridging"):
        s = f"Bridging therapy was administered to {_nNp(b['bridging'])} patients"
        if b.get("bridging_chemo"):
            s += f", chemotherapy-based for {_nNp(b['bridging_chemo'])} of them"
        parts.append(s + ".")
    if parts:
        paras.append(" ".join(parts))

    # 3. response to CAR T, time to failure
    parts = []
    br = late.get("best_response") or {}
    if br.get("orr"):
        s = f"The overall response rate (ORR) to CAR T-cell therapy among LF patients was {_nNp(br['orr'])}"
        if br.get("cmr"):
            s += f", with {_nNp(br['cmr'])} in complete metabolic response (CMR)"
        parts.append(s + ".")
    ttf = late.get("time_to_failure") or {}
    if ttf:
        s = (f"Median time from infusion to failure was {fmt_num(ttf['median'], 1)} months "
             f"(range {fmt_num(ttf.get('min'), 1)}-{fmt_num(ttf.get('max'), 1)}")
        if ttf.get("q1") is not None and ttf.get("q3") is not None:
            s += f"; IQR {fmt_num(ttf['q1'], 1)}-{fmt_num(ttf['q3'], 1)}"
        parts.append(s + ").")
    if parts:
        paras.append(" ".join(parts))

    # 4. treatments after failure, response after failure
    ft = late.get("first_treatment") or {}
    parts = []
    if ft.get("treated"):
        s = f"After failure, {_nNp(ft['treated'])} LF patients received a first treatment"
        classes = ft.get("classes") or {}
        if classes:
            order = ordered_classes(results, list(classes.keys()))
            order = sorted(order, key=lambda k: (-count_rank(classes[k]["n"]), order.index(k)))
            s += ": " + ", ".join(f"{_nNp(classes[k])} {_CLASS_PHRASE.get(k, CLASS_LABELS.get(k, k))}" for k in order)
        tail = []
        if ft.get("untreated"):
            tail.append(f"{_nNp(ft['untreated'])} were not treated")
        if ft.get("unknown") and ft["unknown"]["n"]:
            tail.append(f"the treatment status of {_nNp(ft['unknown'])} was unknown")
        if tail:
            s += "; " + " and ".join(tail)
        parts.append(s + ".")
    pf = late.get("post_failure_response") or {}
    if pf.get("orr"):
        s = f"The ORR after treatment for CAR T failure was {_nNp(pf['orr'])}"
        if pf.get("cmr"):
            s += f", with {_nNp(pf['cmr'])} CMR"
        parts.append(s + ".")
    if parts:
        paras.append(" ".join(parts))

    # 5. follow-up, PFS-2, OS-2
    fu = late.get("followup")
    s = ""
    if fu:
        s = f"At a median follow-up from failure of {_median_months(fu)}, "
    s += (f"LF patients had a median PFS-2 after treatment for CAR T failure of "
          f"{_median_months(late.get('pfs2'))}, with {late['pfs2']['events']} events among "
          f"{late['pfs2']['n']} treated patients, and a median OS-2 of {_median_months(late.get('os2'))}, "
          f"with {late['os2']['events']} deaths among {late['os2']['n']} patients.")
    paras.append(s[0].upper() + s[1:])

    # 6. by class against the reference
    by = late.get("by_class") or {}
    ref = reference_class(results)
    if by.get(ref):
        r = by[ref]
        s = (f"Between treatment classes, patients treated with {_CLASS_NOUN.get(ref, ref)}, the reference "
             f"(n={r['n']}), had a {lm_s}-month PFS-2 of "
             f"{fmt_landmark(_g(r, 'pfs2_6mo', 'est'), _g(r, 'pfs2_6mo', 'ci'), lm_s)} and a {lm_s}-month OS-2 of "
             f"{fmt_landmark(_g(r, 'os2_6mo', 'est'), _g(r, 'os2_6mo', 'ci'), lm_s)}. "
             f"Compared with {_CLASS_NOUN.get(ref, ref)}:")
        items = []
        for cls in ordered_classes(results):
            if cls == ref or (v := by[cls]).get("n") == 0 and v.get("compared") is not None:
                continue
            noun = _CLASS_NOUN.get(cls, cls)
            items.append(
                f"{noun[0].upper() + noun[1:]} (n={v['n']}): {lm_s}-month PFS-2 "
                f"{fmt_landmark(_g(v, 'pfs2_6mo', 'est'), _g(v, 'pfs2_6mo', 'ci'), lm_s)}, "
                f"{_hr_text(v.get('pfs2_hr'), v)}; {lm_s}-month OS-2 "
                f"{fmt_landmark(_g(v, 'os2_6mo', 'est'), _g(v, 'os2_6mo', 'ci'), lm_s)}, {_hr_text(v.get('os2_hr'), v)}."
            )
        origin = (results.get("parameters") or {}).get("treated_origin", "treatment_start")
        tail = ("These are descriptive, unadjusted comparisons, measured from the start of treatment to avoid "
                "immortal-time bias (Table 4; Figures 1 and 4)." if origin == "treatment_start" else
                "These are descriptive, unadjusted comparisons, measured from failure (Table 4; Figures 1 and 4).")
        ph = (late.get("ph_test") or {})
        ph_items = [f"{name} {fmt_p(v.get('p'), prefix=True)}" for ep, name in (("pfs2", "PFS-2"), ("os2", "OS-2"))
                    if (v := ph.get(ep)) and v.get("p") is not None]
        if ph_items:
            tail += (" Proportional hazards were checked for each class model (global test of scaled Schoenfeld "
                     "residuals): " + ", ".join(ph_items) + ".")
        paras.append(s)
        paras.append(items)
        paras.append(tail)
    paras.append(parameters_sentence(results))
    return paras


def _g(d, *keys):
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _hr_text(hr: dict | None, by: dict | None = None) -> str:
    if by is not None and by.get("compared") is False:
        return "not compared (too few patients, or class Other)"
    if not hr or hr.get("hr") is None:
        return "HR not estimable"
    text = "HR " + fmt_hr(hr["hr"], hr.get("ci"), hr.get("p"), sep=", ")
    return text + " (imprecise: fewer than 5 events)" if hr.get("imprecise") else text
