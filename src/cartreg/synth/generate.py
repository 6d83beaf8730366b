"""The generative model of the synthetic registry (docs/synthetic-registry.md).

Every patient is drawn at once with vectorised NumPy from ``numpy.random.Generator(PCG64(seed))``;
the draws happen in a fixed order, so one seed gives one registry. The model, in order:

1. accrual: infusion dates with a growing rate from ``accrual_start``; eligibility before them;
2. a latent course per patient: no failure, early failure (day <= 91) or late failure;
3. the baseline given the course (per-variable missingness);
4. the best response to CAR T given the course, written at scheduled visits with jitter;
5. the failure date; non-relapse mortality (NRM) competes with it;
6. after failure: treatment class (or none), regimen text with spelling variants, a gap, the
   response to it, second progression and death from class-specific piecewise-constant hazards,
   and sometimes a next line after the second progression;
7. observation: the cut-off minus a reporting lag, loss to follow-up; death ends every record.

Example::

    >>> from cartreg.synth import generate
    >>> reg = generate(500, seed=1)
    >>> reg.tables["patients"].num_rows
    500
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cartreg.errors import CartregError
from cartreg.synth._sampling import DAYS_PER_MONTH, categorical, months_to_days, piecewise_exponential, weighted_choice
from cartreg.synth.config import BRIDGING, CLASSES, COURSES, HISTOLOGIES, baseline_for, load_config

EPOCH = dt.date(1970, 1, 1)
#: Response codes, PET then CT; index 0..4 = complete, partial, no response, progression, not evaluable.
PET = ("CMR", "PMR", "NMR", "PMD", "NE")
CT = ("CR", "PR", "SD", "PD", "NE")
CMR, PMR, NMR, PMD, NE = range(5)
UNTREATED = len(CLASSES)  # class index 7


@dataclass(frozen=True)
class SynthRegistry:
    """A generated registry.

    Fields: ``tables`` (patients, infusions, responses, treatments as pyarrow Tables with the
    exchange-format columns), ``truth`` (per-patient latent arrays, in patient order: ``course``,
    ``failed`` (failure observed), ``failure_day`` (days from infusion, -1 if none), ``cls`` (class
    index into CLASSES, 7 = untreated, -1 = no failure), ...), ``n``, ``seed`` and ``cutoff``.
    """

    tables: dict[str, pa.Table]
    truth: dict[str, np.ndarray]
    n: int
    seed: int
    cutoff: dt.date
    config: dict[str, Any] = field(repr=False)


def _days(d: str | dt.date) -> int:
    d = d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d))
    return (d - EPOCH).days


def _date_array(days: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    arr = pa.array(np.asarray(days, dtype=np.int32), mask=mask)
    return arr.cast(pa.date32())


def _text_array(index: np.ndarray, names: list[str] | tuple[str, ...], mask: np.ndarray | None = None) -> pa.Array:
    dictionary = pa.array(list(names), type=pa.string())
    idx = pa.array(np.asarray(index, dtype=np.int32), mask=mask)
    return pc.take(dictionary, idx)


def _int_array(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64), mask=mask)


def _yes_no(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return _text_array(values.astype(np.int8), ("no", "yes"), mask)


def generate(
    n: int,
    seed: int = 0,
    config: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> SynthRegistry:
    """Generate a registry of ``n`` registered patients with the given seed and config dict.

    ``config`` is a loaded, validated config (:func:`cartreg.synth.config.load_config`); None uses
    the calibrated defaults. ``progress`` receives short stage messages.
    """
    if int(n) < 1:
        raise CartregError("--patients must be at least 1")
    n = int(n)
    cfg = load_config() if config is None else config
    say = progress or (lambda _msg: None)
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    reg = cfg["registry"]
    cutoff = _days(reg["cutoff"])
    start = _days(reg["accrual_start"])
    last_inf = cutoff - int(reg["accrual_end_lag_days"])

    # 1. accrual ---------------------------------------------------------------------------------
    say("baseline")
    span_years = (last_inf - start) / 365.25
    g = float(reg["accrual_growth_per_year"])
    u = rng.random(n)
    t_years = span_years * u if abs(g) < 1e-12 else np.log1p(u * np.expm1(g * span_years)) / g
    inf = np.minimum(start + np.floor(t_years * 365.25).astype(np.int64), last_inf)
    infused = rng.random(n) >= float(reg["p_not_infused"])
    gap_el = np.maximum(7, np.round(np.exp(np.log(reg["eligibility_to_infusion_median_days"])
                                           + reg["eligibility_to_infusion_sdlog"] * rng.standard_normal(n))))
    elig = inf - gap_el.astype(np.int64)

    # 2. latent course -------------------------------------------------------------------------
    course = categorical(rng.random(n), np.array([1 - cfg["course"]["p_early"] - cfg["course"]["p_late"],
                                                  cfg["course"]["p_early"], cfg["course"]["p_late"]]))
    course[~infused] = 0

    # 3. baseline given the course ---------------------------------------------------------------
    base = [baseline_for(cfg, c) for c in COURSES]
    miss = cfg["missing"]

    def per_course(key: str) -> np.ndarray:
        return np.array([float(b[key]) for b in base])[course]

    def missing(key: str) -> np.ndarray:
        return rng.random(n) < float(miss.get(key, 0.0))

    def dist_rows(key: str, names: tuple[str, ...] | list[str]) -> np.ndarray:
        return np.array([[float(b[key].get(k, 0.0)) for k in names] for b in base])

    sex = (rng.random(n) < per_course("male")).astype(np.int8)  # 1 = M
    sex_na = missing("sex")
    ua = rng.random(n)
    age = np.empty(n)
    for ci in range(3):
        m = course == ci
        q = np.array(base[ci]["age_quantiles"], dtype=float)
        age[m] = np.interp(ua[m], q[:, 0], q[:, 1])
    age = np.floor(age).astype(np.int64)
    age_na = missing("age")
    histo = categorical(rng.random(n), dist_rows("histology", HISTOLOGIES), course)
    histo_na = missing("histology")
    adv = rng.random(n) < per_course("stage_3_4")
    hi = rng.random(n)
    stage = np.where(adv, np.where(hi < per_course("p_stage_4_given_3_4"), 4, 3),
                     np.where(hi < per_course("p_stage_2_given_1_2"), 2, 1))
    stage_na = missing("stage")
    ipi_hi = rng.random(n) < per_course("aaipi_2_3")
    hi = rng.random(n)
    aaipi = np.where(ipi_hi, np.where(hi < per_course("p_aaipi_3_given_2_3"), 3, 2),
                     np.where(hi < per_course("p_aaipi_1_given_0_1"), 1, 0))
    aaipi_na = missing("aaipi")
    line_names = sorted({k for b in base for k in b["prior_lines"]}, key=int)
    lines = np.array([int(k) for k in line_names])[categorical(rng.random(n), dist_rows("prior_lines", line_names), course)]
    lines_na = missing("prior_lines")
    uh = rng.random(n)
    p_auto = per_course("prior_auto_hsct")
    auto = uh < p_auto
    allo = (uh >= p_auto) & (uh < p_auto + per_course("prior_allo_hsct"))
    hsct_na = missing("prior_hsct")
    ecog = categorical(rng.random(n), dist_rows("ecog", ("0", "1", "2", "3", "4")), course)
    ecog_na = missing("ecog")
    ldh = rng.random(n) < per_course("ldh_elevated")
    ldh_na = missing("ldh_elevated")
    bulky = rng.random(n) < per_course("bulky")
    bulky_na = missing("bulky")
    ferritin = np.round(np.exp(np.log(per_course("ferritin_median")) + per_course("ferritin_sdlog") * rng.standard_normal(n)))
    ferritin = np.clip(ferritin, 1, 50000)
    ferritin_na = missing("ferritin")
    crp = np.round(np.exp(np.log(per_course("crp_median")) + per_course("crp_sdlog") * rng.standard_normal(n)), 1)
    crp = np.clip(crp, 0.1, 60.0)
    crp_na = missing("crp")
    bridging = categorical(rng.random(n), dist_rows("bridging", BRIDGING), course)
    bridging_na = missing("bridging")
    prod_names = ("axi-cel", "tisa-cel")
    product = categorical(rng.random(n), np.array([cfg["products"]["axi-cel"], cfg["products"]["tisa-cel"],
                                                   cfg["products"]["missing"]]))
    product_na = product == 2
    tox_prod = np.where(product == 1, 1, 0)
    grades = ("0", "1", "2", "3", "4")
    crs = categorical(rng.random(n), np.array([[cfg["toxicity"][p]["crs"][k] for k in grades] for p in prod_names]), tox_prod)
    icans = categorical(rng.random(n), np.array([[cfg["toxicity"][p]["icans"][k] for k in grades] for p in prod_names]), tox_prod)
    crs_na = missing("crs_grade")
    icans_na = missing("icans_grade")
    n_centers = int(reg["n_centers"])
    w = 1.0 / np.arange(1, n_centers + 1) ** 0.8
    center = categorical(rng.random(n), w / w.sum())
    center_na = missing("center")

    # 4. response to CAR T -----------------------------------------------------------------------
    resp_names = ("cmr", "pmr", "nmr", "ne")
    best = categorical(rng.random(n), np.array([[cfg["car_t_response"][c][k] for k in resp_names] for c in COURSES]), course)
    ct_codes = rng.random(n) < float(cfg["visits"]["p_ct_codes"])

    # 5. failure and non-relapse mortality -------------------------------------------------------
    say("course")
    co = cfg["course"]
    early_day = np.round(co["early_min_days"] + (co["early_max_days"] - co["early_min_days"])
                         * rng.beta(co["early_beta_a"], co["early_beta_b"], n)).astype(np.int64)
    late_day = np.minimum(co["late_min_days"] + np.floor(np.exp(co["late_meanlog"] + co["late_sdlog"]
                                                                * rng.standard_normal(n))), co["late_max_days"]).astype(np.int64)
    fail_day = np.where(course == 1, early_day, np.where(course == 2, late_day, -1))
    nrm_cfg = cfg["nrm"]
    nrm_haz = np.broadcast_to(np.asarray(nrm_cfg["hazard"], dtype=float), (n, len(nrm_cfg["hazard"])))
    nrm_day = months_to_days(piecewise_exponential(rng.standard_exponential(n), nrm_cfg["breaks_months"], nrm_haz))
    fails = (course > 0) & (fail_day < nrm_day)

    # 6. after failure ---------------------------------------------------------------------------
    pf = cfg["post_failure"]
    cls_names = CLASSES + ("untreated",)
    cls = categorical(rng.random(n), np.array([[pf[c][k] for k in cls_names] for c in ("early", "late")]),
                      np.where(course == 2, 1, 0))
    gap = np.round(np.exp(np.log(pf["gap_median_days"]) + pf["gap_sdlog"] * rng.standard_normal(n)))
    gap = np.clip(gap, 1, pf["gap_max_days"]).astype(np.int64)
    gap[rng.random(n) < pf["p_gap_zero"]] = 0
    treated = fails & (cls != UNTREATED)
    gap[~treated] = 0
    hz = cfg["hazards"]
    mult = np.where(course == 1, float(pf["early_hazard_multiplier"]), 1.0)[:, None]
    death_rows = np.array([hz["death"][c] for c in cls_names], dtype=float)
    prog_rows = np.array([hz["progression"][c] for c in CLASSES] + [[0.0] * len(hz["breaks_months"])], dtype=float)
    t_death = piecewise_exponential(rng.standard_exponential(n), hz["breaks_months"], death_rows[cls] * mult)
    t_prog = piecewise_exponential(rng.standard_exponential(n), hz["breaks_months"], prog_rows[cls] * mult)
    fail_abs = inf + fail_day
    start_abs = fail_abs + gap
    death_pf = start_abs + months_to_days(t_death)
    prog_abs = start_abs + months_to_days(t_prog)
    progresses = treated & (t_prog < t_death) & (prog_abs < death_pf)
    pr = cfg["post_response"]
    p_resp = np.array([pr["p_response"][c] for c in CLASSES] + [0.0])[cls]
    responder = rng.random(n) < p_resp
    post_code = np.where(responder, np.where(rng.random(n) < pr["p_cmr_given_response"], CMR, PMR), NMR)
    second = treated & (rng.random(n) < pf["p_same_day_second_regimen"]) & (cls <= 4)
    next_line = progresses & (rng.random(n) < pf["p_next_line_after_progression"])
    nl_lo, nl_hi = pf["next_line_gap_days"]
    next_abs = prog_abs + rng.integers(nl_lo, nl_hi + 1, n)
    late_treated = np.array([pf["late"][c] for c in CLASSES])
    next_cls = categorical(rng.random(n), late_treated / late_treated.sum())

    # 7. observation -----------------------------------------------------------------------------
    say("follow-up")
    death_day = np.where(fails, death_pf, inf + nrm_day)
    lag = np.round(rng.standard_exponential(n) * float(reg["reporting_lag_mean_days"])).astype(np.int64)
    admin_end = np.clip(cutoff - lag, inf, cutoff)
    loss_rate = float(reg["loss_to_followup_per_year"])
    loss = inf + (np.floor(rng.standard_exponential(n) / loss_rate * 365.25).astype(np.int64) if loss_rate > 0
                  else np.full(n, 10**7))
    obs_end = np.minimum(admin_end, np.maximum(loss, inf))
    dead = infused & (death_day <= obs_end)
    last = np.where(dead, death_day, obs_end)
    # registered, never infused: eligibility only, followed a little
    ni = ~infused
    if ni.any():
        elig[ni] = np.minimum(elig[ni], cutoff - 1)
        last[ni] = np.minimum(elig[ni] + rng.integers(0, 61, n)[ni], cutoff)
    failed = fails & infused & (fail_abs <= last)
    tx_obs = treated & failed & (start_abs <= last)
    # Issue 10 (docs/endpoints.md): records the new rules are about. Their draws come from a second
    # stream, so every other record of a seed is unchanged.
    rng_fu = np.random.Generator(np.random.PCG64([int(seed), 10]))
    # - salvage started a few days before the recorded progression (the PMD dated by the scan or biopsy
    #   after the start): the failure record moves to start + 1-7 days, still before any later record
    #   (late failures only, so that no early failure is recorded as a late one);
    lag_rec = rng_fu.integers(1, 8, n)
    fail_rec = np.where(tx_obs & (fail_day > 91.3125) & (rng_fu.random(n) < float(pf["p_failure_recorded_after_start"]))
                        & (start_abs + lag_rec <= last) & (~progresses | (prog_abs > start_abs + lag_rec)),
                        start_abs + lag_rec, fail_abs)
    # - radiotherapy as bridging 3-10 days before a systemic line (not before the recorded failure)
    rt_before = rng_fu.integers(3, 11, n)
    bridging_rt = (tx_obs & (cls <= 4) & (rng_fu.random(n) < float(pf["p_radiotherapy_bridging_before"]))
                   & (start_abs - rt_before >= fail_rec))
    u_cause = rng.random(n)
    dc = cfg["death_cause_after_failure"]
    cause_names = ("lymphoma", "toxicity", "infection", "other")
    after = np.where(u_cause < dc["lymphoma"], 0, np.where(u_cause < dc["lymphoma"] + dc["infection"], 2, 3))
    nrm_cause = np.where(nrm_day <= nrm_cfg["toxicity_window_days"], 1,
                         np.where(rng.random(n) < nrm_cfg["p_infection_after_window"], 2, 3))
    cause = np.where(fails, after, nrm_cause)
    crs = np.where(dead & ~fails & (cause == 1) & (nrm_day <= 30) & (rng.random(n) < nrm_cfg["p_grade5_crs_if_toxic"]), 5, crs)

    # assessments --------------------------------------------------------------------------------
    say("assessments")
    vis = cfg["visits"]
    k_max = int(vis["max_visits"])
    offs = list(vis["days"]) + [vis["days"][-1] + vis["every_days_after"] * (i + 1) for i in range(max(0, k_max - len(vis["days"])))]
    jit = list(vis["jitter_days"]) + [vis["jitter_days_after"]] * max(0, k_max - len(vis["days"]))
    offs, jit = np.array(offs[:k_max]), np.array(jit[:k_max])
    segments: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (patient index, day, code)
    pid_all = np.arange(n, dtype=np.int64)
    pre_end = np.where(fails, fail_abs - 1, last)  # scheduled visits strictly before failure
    pre_end = np.minimum(pre_end, last)
    first_cmr = rng.random(n) < vis["p_first_cmr_late"]
    for k in range(k_max):
        day = inf + offs[k] + rng.integers(-jit[k], jit[k] + 1, n)
        keep = infused & (day <= pre_end) & (rng.random(n) >= vis["p_missed"])
        code = np.select([best == 0, best == 1, best == 2], [CMR, PMR, NMR], NE)
        if k == 0:
            code = np.where((best == 0) & ~first_cmr, PMR, code)
        segments.append((pid_all[keep], day[keep], code[keep]))
    segments.append((pid_all[failed], fail_rec[failed], np.full(int(failed.sum()), PMD)))
    lo, hi = pf["response_first_days"]
    r_day = start_abs + rng.integers(lo, hi + 1, n)
    prog_end = np.where(progresses, prog_abs - 1, last)
    max_post = int(pf["max_assessments"])
    for k in range(6):
        day = r_day + k * int(pf["response_every_days"]) + (rng.integers(-10, 11, n) if k else 0)
        keep = tx_obs & (day <= prog_end) & (day <= last) & (k < max_post)
        segments.append((pid_all[keep], day[keep], post_code[keep]))
    # Issue 10: PFS is censored at the last disease assessment, so assessments go on while the patient
    # is progression-free (up to max_assessments), and the status at the last contact is an assessment
    # for a share of patients (second stream, as above).
    for k in range(6, max_post):
        day = r_day + k * int(pf["response_every_days"]) + rng_fu.integers(-10, 11, n)
        keep = tx_obs & (day <= prog_end) & (day <= last)
        segments.append((pid_all[keep], day[keep], post_code[keep]))
    prog_obs = progresses & tx_obs & (prog_abs <= last)
    at_last = (tx_obs & ~dead & ~prog_obs & (last >= r_day)
               & (rng_fu.random(n) < float(pf["p_assessment_at_last_contact"])))
    segments.append((pid_all[at_last], last[at_last], post_code[at_last]))
    segments.append((pid_all[prog_obs], prog_abs[prog_obs], np.full(int(prog_obs.sum()), PMD)))
    r_pid = np.concatenate([s[0] for s in segments])
    r_day = np.concatenate([s[1] for s in segments])
    r_code = np.concatenate([s[2] for s in segments]).astype(np.int8)
    order = np.lexsort((r_code, r_day, r_pid))
    r_pid, r_day, r_code = r_pid[order], r_day[order], r_code[order]
    # a status at the last contact that falls on a scheduled visit is the same record: keep one
    first = np.ones(r_pid.size, bool)
    first[1:] = (r_pid[1:] != r_pid[:-1]) | (r_day[1:] != r_day[:-1]) | (r_code[1:] != r_code[:-1])
    r_pid, r_day, r_code = r_pid[first], r_day[first], r_code[first]
    r_code = np.where(ct_codes[r_pid], r_code + 5, r_code)

    # treatments ---------------------------------------------------------------------------------
    say("treatments")
    regs = cfg["regimens"]
    texts: list[str] = []
    t_segments: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # pid, day, seq, text index

    def pick(mask: np.ndarray, table: str) -> np.ndarray:
        idx, names = weighted_choice(rng.random(n), regs[table])
        base_i = len(texts)
        texts.extend(names)
        return (idx.astype(np.int64) + base_i)[mask]

    first_text = np.zeros(n, dtype=np.int64)
    next_text = np.zeros(n, dtype=np.int64)
    for ci, c in enumerate(CLASSES):
        m = tx_obs & (cls == ci)
        first_text[m] = pick(m, c)
        m2 = next_line & (next_cls == ci)
        next_text[m2] = pick(m2, c)
    t_segments.append((pid_all[tx_obs], start_abs[tx_obs], np.zeros(int(tx_obs.sum()), np.int8), first_text[tx_obs]))
    sec = second & tx_obs
    with_bs = sec & (cls == CLASSES.index("bispecific")) & (rng.random(n) < 0.5)
    with_rt = sec & ~with_bs
    sec_text = np.zeros(n, dtype=np.int64)
    sec_text[with_rt] = pick(with_rt, "with_radiotherapy")
    sec_text[with_bs] = pick(with_bs, "with_bispecific")
    t_segments.append((pid_all[sec], start_abs[sec], np.ones(int(sec.sum()), np.int8), sec_text[sec]))
    rt_idx, rt_names = weighted_choice(rng_fu.random(n), regs["with_radiotherapy"])  # second stream
    rt_text = rt_idx.astype(np.int64) + len(texts)
    texts.extend(rt_names)
    t_segments.append((pid_all[bridging_rt], (start_abs - rt_before)[bridging_rt],
                       np.full(int(bridging_rt.sum()), 3, np.int8), rt_text[bridging_rt]))
    nl_obs = next_line & prog_obs & (next_abs <= last)
    t_segments.append((pid_all[nl_obs], next_abs[nl_obs], np.full(int(nl_obs.sum()), 2, np.int8), next_text[nl_obs]))
    t_pid = np.concatenate([s[0] for s in t_segments])
    t_day = np.concatenate([s[1] for s in t_segments])
    t_seq = np.concatenate([s[2] for s in t_segments])
    t_text = np.concatenate([s[3] for s in t_segments])
    order = np.lexsort((t_seq, t_day, t_pid))
    t_pid, t_day, t_text = t_pid[order], t_day[order], t_text[order]

    # tables -------------------------------------------------------------------------------------
    say("tables")
    width = max(6, len(str(n)))
    ids = pc.binary_join_element_wise(
        "SYN", pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), width=width, padding="0"), "")
    center_names = [f"C{i:02d}" for i in range(1, n_centers + 1)]
    death_date = np.where(dead, death_day, 0)
    patients = pa.table({
        "patient_id": ids,
        "center": _text_array(center, center_names, center_na),
        "sex": _text_array(sex, ("F", "M"), sex_na),
        "age": _int_array(age, age_na),
        "histology": _text_array(histo, HISTOLOGIES, histo_na),
        "eligibility_date": _date_array(elig),
        "stage": _int_array(stage, stage_na),
        "aaipi": _int_array(aaipi, aaipi_na),
        "prior_lines": _int_array(lines, lines_na),
        "prior_auto_hsct": _yes_no(auto, hsct_na),
        "prior_allo_hsct": _yes_no(allo, hsct_na),
        "last_contact_date": _date_array(last),
        "death_date": _date_array(death_date, ~dead),
        "death_cause": _text_array(cause, cause_names, ~dead),
    })
    ii = np.flatnonzero(infused)
    infusions = pa.table({
        "patient_id": ids.take(pa.array(ii)),
        "infusion_date": _date_array(inf[ii]),
        "product": _text_array(product[ii], prod_names + ("",), product_na[ii]),
        "ecog": _int_array(ecog[ii], ecog_na[ii]),
        "ldh_elevated": _yes_no(ldh[ii], ldh_na[ii]),
        "bulky": _yes_no(bulky[ii], bulky_na[ii]),
        "ferritin_ug_l": _int_array(ferritin[ii], ferritin_na[ii]),
        "crp_mg_dl": pa.array(crp[ii], mask=crp_na[ii]),
        "bridging": _text_array(bridging[ii], BRIDGING, bridging_na[ii]),
        "crs_grade": _int_array(crs[ii], crs_na[ii]),
        "icans_grade": _int_array(icans[ii], icans_na[ii]),
    })
    responses = pa.table({
        "patient_id": ids.take(pa.array(r_pid)),
        "assessment_date": _date_array(r_day),
        "response": _text_array(r_code, PET + CT),
    })
    treatments = pa.table({
        "patient_id": ids.take(pa.array(t_pid)),
        "start_date": _date_array(t_day),
        "regimen": _text_array(t_text, texts if texts else [""]),
    })
    truth = {
        "infused": infused, "course": course, "fails": fails, "failed": failed,
        "failure_day": np.where(failed, fail_rec - inf, -1), "late": failed & (fail_rec - inf > 91.3125),
        "cls": np.where(failed, cls, -1), "treated_observed": tx_obs, "best_car_t": best,
        "responder_after_failure": responder & tx_obs, "progresses": progresses, "dead": dead,
        "infusion_day": inf, "last_contact_day": last, "death_day": np.where(dead, death_day, -1),
        "start_day": np.where(tx_obs, start_abs, -1), "prog_day": np.where(prog_obs, prog_abs, -1),
        "failure_abs_day": np.where(failed, fail_rec, -1),
        "bridging_radiotherapy": bridging_rt, "failure_recorded_after_start": failed & (fail_rec != fail_abs),
    }
    say("done")
    return SynthRegistry(
        tables={"patients": patients, "infusions": infusions, "responses": responses, "treatments": treatments},
        truth=truth, n=n, seed=int(seed), cutoff=EPOCH + dt.timedelta(days=cutoff), config=cfg,
    )


__all__ = ["SynthRegistry", "generate", "DAYS_PER_MONTH", "PET", "CT"]
