"""Write ``tests/fixtures/results_example.json``: a realistic late-failure results dict.

The report is developed and tested against this file. It follows the keys of the late-failure issue
(results.json), the report extras of ``docs/architecture.md`` and ``docs/results.md``. Counts follow the founding
DESCAR-T abstract; the curves are Kaplan-Meier step arrays (months, starting at 0) of simulated times,
so they are plausible, not real. Run it again only to change the fixture on purpose::

    .venv/bin/python tests/report/make_results_example.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

MONTH = 30.4375
OUT = Path(__file__).resolve().parents[1] / "fixtures" / "results_example.json"
CLASSES = ["chemotherapy", "IMiD", "bispecific", "targeted", "anti-PD1", "radiotherapy", "other"]


def _pct(n: int, N: int):
    return None if N == 0 else round(100.0 * n / N, 10)


def nNp(n: int, N: int, n_missing: int | None = None) -> dict:
    d = {"n": n, "N": N, "pct": _pct(n, N)}
    if n_missing is not None:
        d["n_missing"] = n_missing
    return d


def km_curve(time: np.ndarray, event: np.ndarray) -> dict:
    """A tiny Kaplan-Meier (log-log Greenwood CI) used only to make plausible fixture arrays."""
    order = np.argsort(time, kind="stable")
    time, event = time[order], event[order]
    ut = np.unique(time)
    t_out, s_out, lo_out, hi_out = [0.0], [1.0], [1.0], [1.0]
    nr_out, ne_out, nc_out = [len(time)], [0], [0]
    s, gw = 1.0, 0.0
    for t in ut:
        at = time >= t
        n_risk = int(at.sum())
        d = int(((time == t) & (event == 1)).sum())
        c = int(((time == t) & (event == 0)).sum())
        if d:
            s *= 1 - d / n_risk
            if n_risk > d:
                gw += d / (n_risk * (n_risk - d))
        if 0 < s < 1 and gw > 0:
            se = math.sqrt(gw) / abs(math.log(s))
            lo = s ** math.exp(1.96 * se)
            hi = s ** math.exp(-1.96 * se)
        else:
            lo, hi = None, None  # not estimable at S = 1 or S = 0, as the study writes it
        t_out.append(round(float(t), 6))
        s_out.append(s)
        lo_out.append(lo)
        hi_out.append(hi)
        nr_out.append(n_risk)
        ne_out.append(d)
        nc_out.append(c)
    surv = np.array(s_out)

    def qtime(arr):
        a = np.array([np.nan if v is None else v for v in arr], dtype=float)
        below = np.nonzero(a <= 0.5)[0]
        return None if len(below) == 0 else t_out[int(below[0])]

    median = qtime(s_out)
    ci = [qtime(lo_out), qtime(hi_out)]
    rt_n, rt_e, rt_c = [], [], []
    grid = [m for m in range(0, 100, 3) if m <= float(time.max())]  # every 3 months up to the last time
    for m in grid:
        rt_n.append(int((time >= m).sum()))
        rt_e.append(int(((time < m) & (event == 1)).sum()))
        rt_c.append(int(((time < m) & (event == 0)).sum()))
    return {
        "time": t_out,
        "surv": [float(x) for x in surv],
        "lower": [None if x is None else float(x) for x in lo_out],
        "upper": [None if x is None else float(x) for x in hi_out],
        "n_risk": nr_out,
        "n_event": ne_out,
        "n_censor": nc_out,
        "n": int(len(time)),
        "events": int(event.sum()),
        "median": median,
        "ci": ci,
        "risk_table": {"months": [float(m) for m in grid], "n_risk": rt_n, "cum_events": rt_e, "cum_censored": rt_c},
    }


def simulate(rng, n: int, median_months: float, follow: float = 30.0):
    t = rng.exponential(median_months / math.log(2), n)
    c = rng.uniform(2.0, follow, n)
    time = np.round(np.minimum(t, c) * MONTH) / MONTH  # whole days, in months
    return np.maximum(time, 1 / MONTH), (t <= c).astype(int)


def at6(curve: dict) -> dict:
    t = np.array(curve["time"])
    i = int(np.searchsorted(t, 6.0, side="right") - 1)
    rt = curve["risk_table"]
    n_risk = int(rt["n_risk"][rt["months"].index(6.0)]) if 6.0 in rt["months"] else 0
    return {"est": curve["surv"][i], "ci": [curve["lower"][i], curve["upper"][i]], "n_risk": n_risk}


def summ(curve: dict) -> dict:
    return {k: curve[k] for k in ("n", "events", "median", "ci")}


def baseline(n: int) -> dict:
    """Baseline characteristics of the late (n=145) or early (n=286) failures."""
    def part(k, N):
        return nNp(k, N)

    if n == 145:
        return {
            "age": {"median": 62.0, "min": 19.0, "max": 77.0, "q1": 55.0, "q3": 68.0, "n_missing": 0},
            "male": part(85, 145),
            "histology": {
                "DLBCL": part(109, 145), "PMBL": part(6, 145), "HGBCL": part(6, 145),
                "tFL": part(15, 145), "tMZL": part(5, 145), "PCNSL": part(1, 145), "GZL": part(2, 145),
                "RICHTER": part(1, 145), "OTHER": part(0, 145),
            },
            "stage_3_4": part(120, 141),
            "aaipi_2_3": part(78, 135),
            "prior_lines": {"median": 3.0, "min": 2.0, "max": 10.0, "q1": 2.0, "q3": 4.0, "n_missing": 0},
            "prior_hsct": part(36, 145),
            "ecog_ge_2": part(21, 143),
            "ecog_gt_2": part(12, 143),
            "ldh_elevated": part(72, 142),
            "bulky": part(34, 145),
            "ferritin": {"median": 474.5, "min": 12.0, "max": 8950.0, "q1": 210.0, "q3": 1010.0, "n_missing": 17},
            "crp": {"median": 8.0, "min": 0.1, "max": 245.0, "q1": 3.0, "q3": 28.0, "n_missing": 11},
            "bridging": part(120, 145),
            "bridging_chemo": part(92, 120),
            "crs_ge_3": part(9, 145),
            "icans_ge_3": part(11, 145),
            "products": {"axi-cel": part(88, 145), "tisa-cel": part(57, 145), "liso-cel": part(0, 145)},
        }
    return {
        "age": {"median": 61.0, "min": 18.0, "max": 80.0, "q1": 52.0, "q3": 68.0, "n_missing": 1},
        "male": part(181, 285),
        "histology": {
            "DLBCL": part(205, 286), "PMBL": part(14, 286), "HGBCL": part(31, 286),
            "tFL": part(24, 286), "tMZL": part(6, 286), "PCNSL": part(3, 286), "GZL": part(2, 286),
            "RICHTER": part(1, 286), "OTHER": part(0, 286),
        },
        "stage_3_4": part(248, 279),
        "aaipi_2_3": part(196, 270),
        "prior_lines": {"median": 3.0, "min": 2.0, "max": 9.0, "q1": 2.0, "q3": 4.0, "n_missing": 2},
        "prior_hsct": part(61, 286),
        "ecog_ge_2": part(49, 281),
        "ecog_gt_2": part(17, 281),
        "ldh_elevated": part(198, 280),
        "bulky": part(97, 283),
        "ferritin": {"median": 702.0, "min": 9.0, "max": 15230.0, "q1": 320.0, "q3": 1500.0, "n_missing": 40},
        "crp": {"median": 21.0, "min": 0.2, "max": 310.0, "q1": 6.0, "q3": 62.0, "n_missing": 29},
        "bridging": part(251, 286),
        "bridging_chemo": part(203, 251),
        "crs_ge_3": part(22, 286),
        "icans_ge_3": part(34, 286),
        "products": {"axi-cel": part(180, 286), "tisa-cel": part(106, 286), "liso-cel": part(0, 286)},
    }


def complete_baseline(b: dict, n: int, extra: dict) -> dict:
    """Add what results.json carries beyond the issue's keys: n_missing on counts, n on distributions,
    age > 65, and auto/allo HSCT (docs/results.md)."""
    out = {"n": n}
    for k, v in {**b, **extra}.items():
        if "median" in v:
            out[k] = {**v, "n": n - v["n_missing"]}
        elif "N" in v:
            out[k] = {**v, "n_missing": n - v["N"]}
        else:  # categorical
            out[k] = {lv: {**c, "n_missing": n - c["N"]} for lv, c in v.items()}
    return out


def main() -> None:
    rng = np.random.default_rng(20220429)
    class_n = {"chemotherapy": 22, "IMiD": 41, "bispecific": 18, "targeted": 16, "anti-PD1": 7,
               "radiotherapy": 18, "other": 2}
    pfs_med = {"chemotherapy": 3.0, "IMiD": 3.6, "bispecific": 14.0, "targeted": 5.5, "anti-PD1": 2.8,
               "radiotherapy": 9.0, "other": 2.0}
    os_med = {"chemotherapy": 5.0, "IMiD": 11.0, "bispecific": 40.0, "targeted": 22.0, "anti-PD1": 7.0,
              "radiotherapy": 36.0, "other": 3.0}
    hr = {
        "IMiD": ({"hr": 0.812, "ci": [0.452, 1.459], "p": 0.486}, {"hr": 0.701, "ci": [0.367, 1.339], "p": 0.282}),
        "bispecific": ({"hr": 0.188, "ci": [0.069, 0.509], "p": 0.00098}, {"hr": 0.167, "ci": [0.049, 0.572], "p": 0.0044}),
        "targeted": ({"hr": 0.571, "ci": [0.271, 1.203], "p": 0.141}, {"hr": 0.278, "ci": [0.093, 0.83], "p": 0.0217}),
        "anti-PD1": ({"hr": 1.214, "ci": [0.487, 3.026], "p": 0.677}, {"hr": 0.884, "ci": [0.311, 2.512], "p": 0.817}),
        "radiotherapy": ({"hr": 0.344, "ci": [0.152, 0.779], "p": 0.0106}, {"hr": 0.0841, "ci": [0.0109, 0.648], "p": 0.0173}),
        "other": ({"hr": 2.91, "ci": [0.64, 13.2], "p": 0.166}, None),
    }
    gap = {"chemotherapy": 12.0, "IMiD": 16.0, "bispecific": 27.5, "targeted": 14.0, "anti-PD1": 19.0,
           "radiotherapy": 9.0, "other": 21.0}
    pfs_all_t, pfs_all_e = [], []
    curves_pfs, curves_os, by_class = {}, {}, {}
    for cls in CLASSES:
        n = class_n[cls]
        tp, ep = simulate(rng, n, pfs_med[cls])
        to, eo = simulate(rng, n, os_med[cls])
        to = np.maximum(to, tp)
        if cls == "other":
            eo[:] = 0  # a class with no OS-2 events: HR null with a note
        pfs_all_t.append(tp)
        pfs_all_e.append(ep)
        curves_pfs[cls] = km_curve(tp, ep)
        curves_os[cls] = km_curve(to, eo)
        pfs_hr, os_hr = (None, None) if cls == "chemotherapy" else hr[cls]
        by_class[cls] = {
            "n": n,
            "events_pfs2": int(ep.sum()),
            "events_os2": int(eo.sum()),
            "gap_days_median": gap[cls],
            "pfs2_6mo": at6(curves_pfs[cls]),
            "os2_6mo": at6(curves_os[cls]),
            "pfs2_hr": pfs_hr,
            "os2_hr": os_hr,
            "reference": cls == "chemotherapy",
            "pfs2": summ(curves_pfs[cls]),
            "os2": summ(curves_os[cls]),
        }
    pfs_overall = km_curve(np.concatenate(pfs_all_t), np.concatenate(pfs_all_e))
    t_os, e_os = simulate(rng, 145, 12.1)
    os_overall = km_curve(t_os, e_os)

    # cumulative incidence of failure from infusion (Aalen-Johansen on simulated data, no ties handling needed)
    n_inf = 976
    tf = np.where(rng.uniform(size=n_inf) < 0.442,
                  np.where(rng.uniform(size=n_inf) < 0.664, rng.uniform(0.3, 3.0, n_inf), 3.0 + rng.exponential(4.0, n_inf)),
                  np.inf)
    td = np.where(rng.uniform(size=n_inf) < 0.06, rng.uniform(0.2, 20, n_inf), np.inf)
    tc = rng.uniform(6, 40, n_inf)
    t = np.round(np.minimum(np.minimum(tf, td), tc) * MONTH) / MONTH
    status = np.where(tf <= np.minimum(td, tc), 1, np.where(td <= tc, 2, 0))
    order = np.argsort(t, kind="stable")
    t, status = t[order], status[order]
    surv, f1, f2 = 1.0, 0.0, 0.0
    cif_t, c1, c2 = [0.0], [0.0], [0.0]
    for ut in np.unique(t):
        n_r = int((t >= ut).sum())
        d1 = int(((t == ut) & (status == 1)).sum())
        d2 = int(((t == ut) & (status == 2)).sum())
        if d1 + d2 == 0:
            continue
        f1 += surv * d1 / n_r
        f2 += surv * d2 / n_r
        surv *= 1 - (d1 + d2) / n_r
        cif_t.append(round(float(ut), 6))
        c1.append(f1)
        c2.append(f2)

    def band(est, n_eff=700):
        est = np.array(est)
        se = np.sqrt(est * (1 - est) / n_eff)
        lo = [None if e == 0 else float(x) for e, x in zip(est, np.clip(est - 1.96 * se, 0, 1))]
        hi = [None if e == 0 else float(x) for e, x in zip(est, np.clip(est + 1.96 * se, 0, 1))]
        return {"time": cif_t, "est": est.tolist(), "lower": lo, "upper": hi}

    # per cause, as docs/results.md: cif_curve{failure{time, est, lower, upper}, death_without_failure{...}}
    cif_curve = {"failure": band(c1), "death_without_failure": band(c2)}

    def cif_at(m):
        i = int(np.searchsorted(np.array(cif_t), m, side="right") - 1)
        e = c1[i]
        se = math.sqrt(e * (1 - e) / 700)
        return {"months": float(m), "est": e, "ci": [e - 1.96 * se, e + 1.96 * se], "pct": 100 * e}

    results = {
        "study": "late-failure",
        "parameters": {
            "late_after_days": 91.3125,
            "conf_type": "log-log",
            "conf_level": 0.95,
            "landmark_months": 6,
            "treated_origin": "treatment_start",
            "min_untreated_followup_days": 30,
            "class_precedence": ["bispecific", "IMiD", "targeted", "anti-PD1", "chemotherapy", "radiotherapy"],
            "reference_class": "chemotherapy",
            "class_map": None,
            "cif_months": [3.0, 6.0, 12.0],
            "sensitivity_days": [60.0, 90.0, 91.3125, 120.0],
            "risk_table_step_months": 3.0,
            "class_map_source": "cartreg/data/treatment_classes.csv",
            "data_cutoff": "2022-04-29",
            "data_cutoff_inferred": False,
        },
        "cohort": {"registered": 977, "infused": 976, "products": {"axi-cel": 611, "tisa-cel": 365}},
        "failures": {
            "n": 431,
            "pct": _pct(431, 976),
            "relapse": {"n": 162},
            "progression": {"n": 269},
            "early": {"n": 286, "pct": _pct(286, 431)},
            "late": {"n": 145, "pct": _pct(145, 431)},
            "cif": [cif_at(3), cif_at(6), cif_at(12)],
            "sensitivity": [
                {"late_after_days": 60.0, "late_n": 181, "late_pct": _pct(181, 431)},
                {"late_after_days": 90.0, "late_n": 147, "late_pct": _pct(147, 431)},
                {"late_after_days": 91.3125, "late_n": 145, "late_pct": _pct(145, 431)},
                {"late_after_days": 120.0, "late_n": 118, "late_pct": _pct(118, 431)},
            ],
            "time_to_failure": {"median": 2.3, "min": 0.26, "max": 21.5, "q1": 1.3, "q3": 4.0, "n": 431,
                                "n_missing": 0},
            "cif_curve": cif_curve,
        },
        "early": {"n": 286, "baseline": complete_baseline(baseline(286), 286, {
            "age_gt_65": nNp(112, 285), "prior_auto_hsct": nNp(57, 286), "prior_allo_hsct": nNp(4, 286)})},
        "late": {
            "n": 145,
            "baseline": complete_baseline(baseline(145), 145, {
                "age_gt_65": nNp(58, 145), "prior_auto_hsct": nNp(34, 145), "prior_allo_hsct": nNp(2, 145)}),
            "best_response": {"orr": nNp(131, 145), "cmr": nNp(76, 145), "categories": {
                "CR": nNp(76, 145), "PR": nNp(55, 145), "SD": nNp(5, 145), "NE": nNp(7, 145), "none": nNp(2, 145)}},
            "time_to_failure": {"median": 4.11, "min": 3.02, "max": 21.5, "q1": 3.38, "q3": 6.48, "n": 145,
                                "n_missing": 0},
            "first_treatment": {
                "treated": nNp(124, 145),
                "untreated": nNp(20, 145),
                "unknown": nNp(1, 145),
                "classes": {c: nNp(class_n[c], 124) for c in CLASSES},
                "gap_days": {"median": 15.0, "min": 0.0, "max": 88.0, "q1": 8.0, "q3": 27.0, "n": 124, "n_missing": 0},
                "regimens": {
                    "chemotherapy": {"R-GemOx": 9, "R-ICE": 5, "R-DHAOx": 3, "Pola-BR": 3, "GDP": 2},
                    "IMiD": {"lenalidomide": 17, "R2": 14, "tafasitamab + lenalidomide": 10},
                    "bispecific": {"glofitamab": 11, "epcoritamab": 5, "mosunetuzumab": 2},
                    "targeted": {"ibrutinib": 9, "acalabrutinib": 3, "MALT1 inhibitor (trial)": 4},
                    "anti-PD1": {"pembrolizumab": 4, "nivolumab": 3},
                    "radiotherapy": {"ISRT": 14, "radiotherapy": 4},
                    "other": {"investigational agent XY-101": 2},
                },
            },
            "post_failure_response": {"orr": nNp(19, 124), "cmr": nNp(13, 124)},
            "followup": {"median": 15.0, "ci": [12.0, 17.0]},
            "os2": {k: os_overall[k] for k in ("n", "events", "median", "ci")},
            "pfs2": {k: pfs_overall[k] for k in ("n", "events", "median", "ci")},
            "by_class": by_class,
            "curves": {
                "pfs2": {"overall": pfs_overall, "by_class": curves_pfs},
                "os2": {"overall": os_overall, "by_class": curves_os},
            },
            "logrank": {
                "pfs2": {"chi2": 24.71, "df": 6, "p": 0.000386, "groups": sorted(CLASSES)},
                "os2": {"chi2": 21.02, "df": 6, "p": 0.00182, "groups": sorted(CLASSES)},
            },
            "hr_notes": {"pfs2": [], "os2": ["other: no OS-2 events; left out of the OS-2 Cox model"]},
        },
        "ignored_records": {"responses_on_or_before_infusion": 3, "treatments_on_or_before_infusion": 1,
                            "responses_of_patients_not_infused": 0, "treatments_of_patients_not_infused": 0},
        "warnings": [
            {"kind": "unmapped_regimen", "regimen": "investigational agent XY-101", "n_rows": 2,
             "message": "regimen 'investigational agent XY-101' matched no treatment class: counted as 'other'"},
            {"kind": "hazard_ratio", "endpoint": "os2", "class": "other",
             "message": "class 'other' has no OS-2 events: left out of the OS-2 Cox model (HR null)"},
        ],
        "meta": {
            "cartreg_version": "0.1.0",
            "registry_sha256": "3f1c9a7be2d04c5a8e6b1f0d9c2e7a4b5d6c8e9f0a1b2c3d4e5f60718293a4b5",
            "generated_at": "2026-11-23T19:00:00+00:00",
            "files": {"patients.csv": "IDENTIFYING: one row per infused patient, with patient_id"},
        },
    }
    for cls in CLASSES:
        results["late"]["by_class"][cls]["regimens"] = results["late"]["first_treatment"]["regimens"][cls]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
