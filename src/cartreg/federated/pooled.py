"""Pooled aggregates -> the late-failure results dictionary (what ``late_failure.run`` computes).

The aggregator expands each pooled count table into the (time, group, status) rows it counts and
hands them to the same summary blocks (:mod:`cartreg.study.blocks`) and estimators
(:mod:`cartreg.stats`) ``cartreg analyze`` uses: Kaplan-Meier, log-rank, Aalen-Johansen and Gray
depend on the rows only through these counts, so the results are those of the union of the
registries on the grid. :func:`assemble` mirrors ``late_failure.run`` key by key
(``tests/federated/test_exactness.py`` compares every key).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from cartreg.endpoints import CLASSES, DAYS_PER_MONTH, load_class_map
from cartreg.endpoints.derive import AFTER_CUTOFF_KEYS
from cartreg.errors import CartregError
from cartreg.federated.grid import Axis, gap_axis, time_axis, value_axis
from cartreg.federated.options import FederatedOptions
from cartreg.stats.cox import CoxResult
from cartreg.stats.design import design_matrix
from cartreg.study import blocks as b
from cartreg.study import late_failure as lf

__all__ = ["assemble", "comparison", "hazard_ratios", "table_rows", "unflatten"]


# --- expanding pooled tables into the rows they count ----------------------------------------------


def _axis_values(ax: Axis, counts: np.ndarray, what: str) -> np.ndarray:
    """The values a pooled 1-D table counts (NaN for the missing bin); out-of-range is an error."""
    counts = np.asarray(counts, np.int64)
    if counts[ax.out_of_range]:
        raise CartregError(f"{what}: {int(counts[ax.out_of_range])} value(s) outside the agreed range", 2)
    vals = np.concatenate([ax.values(), [np.nan]])
    return np.repeat(vals, counts[: ax.n + 1])


def table_rows(table: np.ndarray, ax: Axis, what: str, labels: Sequence[Any] | None = None):
    """(time, status[, group]) rows of a pooled (status, time) or (group, status, time) table."""
    t = table if labels is not None else table[None]
    times, status, group = [], [], []
    for gi in range(t.shape[0]):
        for s in range(t.shape[1]):
            v = _axis_values(ax, t[gi, s], what)
            times.append(v)
            status.append(np.full(v.size, s, np.int64))
            group.append(np.full(v.size, labels[gi] if labels is not None else None, dtype=object))
    return np.concatenate(times), np.concatenate(status), np.concatenate(group)


def _distribution(ax: Axis, counts: np.ndarray, what: str, scale: float = 1.0,
                  warnings: list | None = None) -> dict[str, Any]:
    counts = np.asarray(counts, np.int64)
    if counts[ax.out_of_range]:
        if warnings is not None:
            warnings.append({"kind": "federated", "message": f"{what}: values outside the agreed range; "
                             "median, quartiles and range not given"})
        n = int(counts[: ax.n].sum() + counts[ax.out_of_range])
        return {"n": n, "n_missing": int(counts[ax.missing]), "median": None, "min": None, "max": None,
                "q1": None, "q3": None}
    return b.distribution(_axis_values(ax, counts, what) / scale)


def _tally(texts: list[str], counts: np.ndarray) -> dict[str, int]:
    """``{text: n}`` without zeros, most frequent first, then alphabetical (as ``late_failure._value_counts``)."""
    pairs = [(t, int(n)) for t, n in zip(texts, np.asarray(counts).tolist()) if n]
    return dict(sorted(pairs, key=lambda kv: (-kv[1], kv[0])))


def _with_pct(d: Any) -> Any:
    """Add ``pct`` to every ``{n, N, ...}`` count (as :func:`cartreg.study.blocks.count` does)."""
    if not isinstance(d, dict):
        return d
    d = {k: _with_pct(v) for k, v in d.items()}
    if "n" in d and "N" in d and not isinstance(d["n"], dict):
        rest = {k: v for k, v in d.items() if k not in ("n", "N")}
        return {"n": d["n"], "N": d["N"], "pct": b.pct(d["n"], d["N"])} | rest
    return d


def unflatten(keys: list[str], values: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in zip(keys, values.tolist()):
        parts = k.split("/")
        cur = out
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = int(v)
    return out


def comparison(counts: dict[str, Any], params) -> tuple[tuple[str, ...], list[str], dict[str, str]]:
    """(classes of the study, classes compared, {class not compared: why}) from the pooled counts, by
    the rules of ``late_failure.run`` (:func:`cartreg.study.late_failure.compared_classes`)."""
    study = lf.classes_of_study(load_class_map(None), params.reference_class)
    compared, left_out = lf.compared_classes({c: counts["by_class"][c]["n"] for c in study}, params.min_class_size)
    return study, compared, left_out


def reference_not_compared(reference: str, left_out: dict[str, str]) -> str | None:
    """The note of ``late_failure.run`` when the reference class is not compared (else None)."""
    if reference not in left_out:
        return None
    return f"reference class {reference!r} is not compared ({left_out[reference]}): no hazard ratios"


def hazard_ratios(fit_for: Callable[[list[str], list[str]], CoxResult], group_events: dict[str, int],
                  group_present: set[str], reference: str, flag_imprecise: bool = True,
                  ph_for: Callable[[CoxResult, list[str], list[str]], dict[str, Any] | None] | None = None,
                  ) -> tuple[dict[str, Any], list[str], dict[str, Any] | None]:
    """The ``(hrs, notes, ph)`` of :func:`cartreg.study.blocks.cox_with_ph`, same rules, for a fit made
    elsewhere: ``fit_for(levels, terms)`` fits the model, ``ph_for(fit, levels, terms)`` gives its
    proportional-hazards test (None: not asked)."""
    levels = sorted(group_present)
    hrs: dict[str, Any] = {g: None for g in levels if g != reference}
    notes: list[str] = []
    if reference not in group_present:
        notes.append(f"reference class {reference!r} has no patients: no hazard ratios")
        return hrs, notes, None
    if group_events[reference] == 0:
        notes.append(f"reference class {reference!r} has no events: no hazard ratios")
        return hrs, notes, None
    for g in levels:
        if group_events[g] == 0:
            notes.append(f"class {g!r} has no events: left out of the Cox model, HR not estimable")
    keep = [g for g in levels if group_events[g] > 0]
    if len(keep) < 2:
        return hrs, notes, None
    _, names = design_matrix(np.array(keep, dtype=object), reference, numeric={}, group_name="class")
    terms = [nm.split("=", 1)[1] for nm in names]
    fit = fit_for(keep, terms)
    for i, name in enumerate(fit.names):
        g = name.split("=", 1)[1]
        if bool(np.asarray(fit.infinite)[i]):
            notes.append(f"class {g!r}: coefficient is infinite, HR not estimable")
            continue
        hrs[g] = {"hr": b.num(fit.hr[i]), "ci": [b.num(fit.ci_lower[i]), b.num(fit.ci_upper[i])],
                  "p": b.num(fit.p[i])}
        if flag_imprecise:
            hrs[g]["imprecise"] = bool(min(group_events[g], group_events[reference]) < b.IMPRECISE_EVENTS)
    notes.extend(str(w) for w in fit.warnings)
    ph = None
    if ph_for is not None:
        try:
            ph = ph_for(fit, keep, terms)
        except (np.linalg.LinAlgError, CartregError) as exc:  # as blocks.cox_with_ph
            notes.append(f"proportional-hazards test not computable: {exc}")
    return hrs, notes, ph


def _grades(d: dict[str, Any]) -> dict[str, Any]:
    """:func:`cartreg.study.blocks.grades` of the pooled grade counts (the values they count, rebuilt)."""
    top = len(d["grades"]) - 1
    n = [int(d["grades"][str(g)]["n"]) for g in range(top + 1)]
    above = int(d["ge_3"]["n"]) - sum(n[3:])  # grades above ``top`` (counted in ge_3 only)
    values = np.concatenate([np.repeat(np.arange(top + 1, dtype=float), n), np.full(above, float(top + 1)),
                             np.full(int(d["n_missing"]), np.nan)])
    return b.grades(values, top=top)


def assemble(counts: dict[str, Any], tables: dict[str, np.ndarray], params, options: FederatedOptions,
             stratified: dict[str, Any] | None, texts: dict[str, list[str]] | None = None,
             data_cutoff: str | None = None) -> dict[str, Any]:
    """The late-failure results dict from pooled counts and tables (mirrors ``late_failure.run``).

    ``stratified``: ``{endpoint: (hrs, notes, ph)}`` of the Cox model stratified by registry (None with
    pooled risk sets: the model is then fitted here on the pooled rows, as ``run`` fits it).
    ``data_cutoff``: the registries' common data cut-off (ISO date), None when they differ.
    """
    T = time_axis(options.grid)
    G = gap_axis(options.grid, params.failure_treatment_window_days)
    ct, cl = params.conf_type, params.conf_level
    step = params.risk_table_step_months
    warnings: list[dict[str, Any]] = []
    vt = options.value_tables
    fa = counts["failures"]
    infused = counts["cohort"]["infused"]
    n_failed = fa["n"]
    study_classes, compared, left_out = comparison(counts, params)

    def no_dist(n: int, n_missing: int, quartiles: bool = True) -> dict[str, Any]:
        d = {"n": n, "n_missing": n_missing, "median": None, "min": None, "max": None}
        return d | ({"q1": None, "q3": None} if quartiles else {})

    # failures and the cumulative incidence
    cif_days, cif_status, _ = table_rows(tables["cif"], T, "cif_days")
    cif_fit = b.cif_fit(cif_days, cif_status) if infused else None
    failures = {
        "n": n_failed,
        "pct": b.pct(n_failed, infused),
        "relapse": {"n": fa["relapse"]},
        "progression": {"n": fa["progression"]},
        "lymphoma_death": {"n": fa["lymphoma_death"]},
        "early": {"n": fa["early"], "pct": b.pct(fa["early"], n_failed)},
        "late": {"n": fa["late"], "pct": b.pct(fa["late"], n_failed)},
        "cif": b.cif_at(cif_days, cif_status, params.cif_months, fit=cif_fit) if infused else [],
        "cif_curve": b.cif_curve(cif_days, cif_status, fit=cif_fit) if infused else None,
        "sensitivity": [{"late_after_days": float(d), "late_n": fa["sensitivity"][str(i)],
                         "late_pct": b.pct(fa["sensitivity"][str(i)], n_failed)}
                        for i, d in enumerate(params.sensitivity_days)],
        "time_to_failure": (_distribution(T, tables["ttf_failed"], "time to failure", DAYS_PER_MONTH, warnings)
                            if vt else no_dist(fa["ttf_n"], fa["ttf_missing"])),
    }
    if failures["cif_curve"] is not None:
        failures["cif_curve"]["risk_table"] = b.cif_risk_table(cif_days, cif_status, step)

    # treated late failures, by class
    pf_t, pf_e, pf_g = table_rows(tables["pfs2"], T, "pfs2_days", CLASSES)
    os_t, os_e, os_g = table_rows(tables["os2t"], T, "os2_treated_days", CLASSES)
    o2_t, o2_e, _ = table_rows(tables["os2"], T, "os2_days")
    n_late = fa["late"]
    n_treated = int(tables["pfs2"].sum())
    landmark_days = params.landmark_months * DAYS_PER_MONTH
    bc = counts["by_class"]
    pcmp, ocmp = np.isin(pf_g, compared), np.isin(os_g, compared)
    note = reference_not_compared(params.reference_class, left_out)
    if note is not None:
        (pfs2_hr, pfs2_notes, pfs2_ph), (os2_hr, os2_notes, os2_ph) = ({}, [note], None), ({}, [note], None)
    elif options.pooled_risk_sets:
        pfs2_hr, pfs2_notes, pfs2_ph = b.cox_with_ph(pf_t[pcmp], pf_e[pcmp], pf_g[pcmp], params.reference_class,
                                                     cl, flag_imprecise=True)
        os2_hr, os2_notes, os2_ph = b.cox_with_ph(os_t[ocmp], os_e[ocmp], os_g[ocmp], params.reference_class,
                                                  cl, flag_imprecise=True)
    else:
        (pfs2_hr, pfs2_notes, pfs2_ph), (os2_hr, os2_notes, os2_ph) = stratified["pfs2"], stratified["os2"]
    by_class: dict[str, Any] = {}
    curves_pfs2: dict[str, Any] = {}
    curves_os2: dict[str, Any] = {}
    gap_all = tables.get("gap_by_class")
    for cls in study_classes:
        i = CLASSES.index(cls)
        mp, mo = pf_g == cls, os_g == cls
        is_ref = cls == params.reference_class
        gap_med = None
        if bc[cls]["n"] and gap_all is not None:
            gap_med = _distribution(G, gap_all[i], f"gap ({cls})", 1.0, warnings)["median"]
        by_class[cls] = {
            "n": bc[cls]["n"],
            "events_pfs2": bc[cls]["events_pfs2"],
            "events_os2": bc[cls]["events_os2"],
            "gap_days_median": gap_med,
            "pfs2_6mo": b.landmark(pf_t[mp], pf_e[mp], landmark_days, ct, cl),
            "os2_6mo": b.landmark(os_t[mo], os_e[mo], landmark_days, ct, cl),
            "pfs2_hr": None if is_ref else pfs2_hr.get(cls),
            "os2_hr": None if is_ref else os2_hr.get(cls),
            "reference": is_ref,
            "compared": cls in compared,
            "pfs2": b.km_summary(pf_t[mp], pf_e[mp], ct, cl),
            "os2": b.km_summary(os_t[mo], os_e[mo], ct, cl),
            "regimens": _tally(texts["regimens"], tables["regimens"][i]) if texts is not None else {},
        }
        if bc[cls]["n"]:
            curves_pfs2[cls] = b.km_curve(pf_t[mp], pf_e[mp], ct, cl, step)
            curves_os2[cls] = b.km_curve(os_t[mo], os_e[mo], ct, cl, step)

    base = counts["baseline"]

    def baseline(s: str) -> dict[str, Any]:
        d = _with_pct(base[s])
        for var, key in (("age", "age"), ("prior_lines", "prior_lines"), ("ferritin_ug_l", "ferritin"),
                         ("crp_mg_dl", "crp")):
            if vt:
                d[key] = _distribution(value_axis(var), tables[f"{s}.{var}"], f"{s} {key}", 1.0, warnings)
            else:
                d[key] = no_dist(d[key]["n"], d[key]["n_missing"])
            d[key] = d[key] | {"unit": lf.UNITS[key]}
        return d

    ft = counts["first_treatment"]
    pre = _with_pct(counts["pre_failure_treatment"])
    late_out = {
        "n": n_late,
        "baseline": baseline("late"),
        "best_response": _with_pct(counts["best_response"]),
        "time_to_failure": (_distribution(T, tables["ttf_late"], "time to failure (late)", DAYS_PER_MONTH, warnings)
                            if vt else no_dist(base["late"]["n"], 0)),
        "first_treatment": {
            "treated": _with_pct(ft["treated"]),
            "untreated": _with_pct(ft["untreated"]),
            "unknown": _with_pct(ft["unknown"]),
            "classes": _with_pct({cls: ft["classes"][cls] for cls in study_classes}),
            "regimens": {cls: by_class[cls]["regimens"] for cls in study_classes},
            "gap_days": (_distribution(G, tables["gap_treated"], "gap", 1.0, warnings) if vt
                         else no_dist(n_treated, 0)),
        },
        "pre_failure_treatment": pre | {"regimens": _tally(texts["pre_failure"], tables["pre_failure_regimens"])
                                        if texts is not None else {}},
        "post_failure_response": _with_pct(counts["post_failure_response"]),
        "followup": b.followup(o2_t, o2_e, ct, cl),
        "os2": b.km_summary(o2_t, o2_e, ct, cl),
        "pfs2": b.km_summary(pf_t, pf_e, ct, cl),
        "by_class": by_class,
        "curves": {
            "pfs2": {"overall": b.km_curve(pf_t, pf_e, ct, cl, step), "by_class": curves_pfs2},
            "os2": {"overall": b.km_curve(o2_t, o2_e, ct, cl, step), "by_class": curves_os2},
        },
        "logrank": {
            "pfs2": b.logrank(pf_t[pcmp], pf_e[pcmp], pf_g[pcmp]) if pcmp.any() else None,
            "os2": b.logrank(os_t[ocmp], os_e[ocmp], os_g[ocmp]) if ocmp.any() else None,
        },
        "hr_notes": {"pfs2": pfs2_notes, "os2": os2_notes},
        "comparisons": {"min_class_size": params.min_class_size, "compared": compared, "not_compared": left_out,
                        "imprecise_events": b.IMPRECISE_EVENTS},
        "ph_test": {"pfs2": pfs2_ph, "os2": os2_ph},
    }

    # warnings, in the order of late_failure.run
    if texts is not None:
        for text, n in zip(texts["unmapped"], tables["unmapped_rows"].tolist()):
            if n:
                warnings.append({"kind": "unmapped_regimen", "regimen": text, "n_rows": n,
                                 "message": f"regimen {text!r} matched no treatment class: counted as 'other'"})
        for text, n in zip(texts["not_treatment"], tables["not_treatment_rows"].tolist()):
            if n:
                warnings.append({"kind": "not_treatment", "regimen": text, "n_rows": n,
                                 "message": f"regimen {text!r} is not an anticancer treatment (class none): "
                                            "ignored; a patient with only such entries after failure is untreated"})
    else:
        if counts["unmapped_regimen_rows"]:
            warnings.append({"kind": "unmapped_regimen", "regimen": None, "n_rows": counts["unmapped_regimen_rows"],
                             "message": f"{counts['unmapped_regimen_rows']} regimen row(s) across the registries "
                                        "matched no treatment class: counted as 'other' (regimen texts are not released)"})
        if counts["not_treatment_rows"]:
            warnings.append({"kind": "not_treatment", "regimen": None, "n_rows": counts["not_treatment_rows"],
                             "message": f"{counts['not_treatment_rows']} regimen row(s) across the registries are not "
                                        "anticancer treatments (class none): ignored (regimen texts are not released)"})
    for cls, why in left_out.items():
        warnings.append({"kind": "class_not_compared", "class": cls, "message": f"class {cls!r}: {why}"})
    for key, n in counts["ignored"].items():
        if n:
            warnings.append({"kind": "ignored_records", "what": key, "n": n,
                             "message": f"{n} record(s) ignored: {key.replace('_', ' ')}"})
    after_cutoff = counts["after_cutoff"] if counts["has_cutoff"] else None
    if after_cutoff is not None:
        at = f"data cut-off {data_cutoff}" if data_cutoff else "data cut-off of each registry (federated.n)"
        for key in AFTER_CUTOFF_KEYS:
            if after_cutoff[key]:
                warnings.append({"kind": "after_cutoff", "what": key, "n": after_cutoff[key],
                                 "message": f"{at}: {after_cutoff[key]} {lf.AFTER_CUTOFF_WHAT[key]}"})
    n_lymph = fa["lymphoma_death"]
    if n_lymph:
        warnings.append({"kind": "lymphoma_death_as_failure", "n": n_lymph,
                         "message": f"{n_lymph} death(s) from lymphoma without a recorded progression counted as "
                                    "failure (progression) on the death date"})
    if infused and not n_failed:
        warnings.append({"kind": "no_failures", "n": 0,
                         "message": "no failure recorded (no PD/PMD after infusion): the study has zero failures"})
    for endpoint, notes in (("pfs2", pfs2_notes), ("os2", os2_notes)):
        for note_ in notes:
            warnings.append({"kind": "hazard_ratio", "endpoint": endpoint, "message": note_})

    products = {k: v for k, v in counts["cohort"]["products"].items() if v}
    products = dict(sorted(products.items(), key=lambda kv: (-kv[1], kv[0])))
    from cartreg.study import jsonable

    tox = counts["toxicity"]
    results = {
        "study": "late-failure",
        "parameters": params.to_dict() | {"class_map_source": load_class_map(None).source,
                                          "data_cutoff": None, "data_cutoff_inferred": None},
        "cohort": {"registered": counts["cohort"]["registered"], "infused": infused, "products": products},
        "failures": failures,
        "early": {"n": fa["early"], "baseline": baseline("early")},
        "late": late_out,
        "toxicity": {key: {g: _grades(tox[key][g]) for g in ("late", "early", "infused")}
                     for key in ("crs_grade", "icans_grade")},
        "ignored_records": counts["ignored"] if after_cutoff is None else counts["ignored"] | {"after_cutoff": after_cutoff},
        "warnings": warnings,
    }
    return jsonable(results)
