"""Tiny registries for the endpoint rules of issue 10 (docs/endpoints.md), one group of patients per rule.

Every answer is worked out by hand in tests/endpoints/test_issue10_rules.py. ``all_rules()`` is the union
of the groups: the same registry gives today's answers with the old-behaviour parameters
(tests/endpoints/test_issue10_old_rules.py, against the output of the code before issue 10).
"""

from __future__ import annotations

from tiny_registry import build, day, infusion, patient, resp, tx

#: The data freeze of the rule-1 group: day 200 after infusion.
CUTOFF = day(200)


def freeze_rows():
    """Rule 1: records after CUTOFF do not exist; follow-up ends at it."""
    P = [patient("F_alive", 400),
         patient("F_dies", 300, death=300, death_cause="lymphoma"),
         patient("F_late_reg", 400, eligibility_date=day(210)),
         patient("F_late_inf", 400, eligibility_date=day(150))]
    I = [infusion("F_alive"), infusion("F_dies"), infusion("F_late_reg", 250), infusion("F_late_inf", 220)]
    R = [resp("F_alive", 30, "PMR"), resp("F_alive", 91, "CMR"), resp("F_alive", 250, "PMD"),
         resp("F_dies", 30, "CR"), resp("F_dies", 150, "PD"),
         resp("F_late_reg", 300, "PD"), resp("F_late_inf", 260, "PMR")]
    T = [tx("F_dies", 160, "R-GemOx"), tx("F_dies", 250, "glofitamab")]
    return P, I, R, T


def window_rows():
    """Rule 2: a treatment shortly before the recorded failure; pre-failure treatments."""
    P = [patient("W_salvage", 400), patient("W_consol", 400), patient("W_assessed", 400)]
    I = [infusion(p) for p in ("W_salvage", "W_consol", "W_assessed")]
    R = [resp("W_salvage", 30, "CMR"), resp("W_salvage", 91, "CMR"), resp("W_salvage", 150, "PMD"),
         resp("W_salvage", 240, "PMR"), resp("W_salvage", 300, "PMD"),
         resp("W_consol", 30, "CMR"), resp("W_consol", 91, "CMR"), resp("W_consol", 200, "PMD"),
         resp("W_assessed", 30, "PR"), resp("W_assessed", 120, "SD"), resp("W_assessed", 125, "PD")]
    T = [tx("W_salvage", 147, "R-GemOx"),
         tx("W_consol", 60, "ISRT"), tx("W_consol", 210, "R-ICE"),
         tx("W_assessed", 100, "lenalidomide")]
    return P, I, R, T


def censoring_rows():
    """Rule 3: PFS-2 and the incidence of failure censored at the last adequate assessment."""
    P = [patient("C_cens", 900), patient("C_death", 500, death=500, death_cause="infection"),
         patient("C_noscan", 400), patient("C_nofail", 700),
         patient("C_nofail_dead", 400, death=400, death_cause="infection"), patient("C_nofail_noscan", 300)]
    I = [infusion(p) for p in ("C_cens", "C_death", "C_noscan", "C_nofail", "C_nofail_dead", "C_nofail_noscan")]
    R = [resp("C_cens", 150, "PMD"), resp("C_cens", 200, "PMR"), resp("C_cens", 250, "CMR"),
         resp("C_death", 150, "PMD"), resp("C_death", 200, "PMR"),
         resp("C_noscan", 150, "PMD"),
         resp("C_nofail", 30, "CMR"), resp("C_nofail", 180, "CMR"), resp("C_nofail", 300, "NE"),
         resp("C_nofail_dead", 30, "CMR")]
    T = [tx("C_cens", 160, "R-ICE"), tx("C_death", 160, "R-ICE"), tx("C_noscan", 160, "R-ICE")]
    return P, I, R, T


def lymphoma_rows():
    """Rule 4: a death from lymphoma without a recorded progression is a failure on the death date."""
    P = [patient("L_death", 200, death=200, death_cause="lymphoma"),
         patient("L_treated", 200, death=200, death_cause="lymphoma"),
         patient("L_pd", 200, death=200, death_cause="lymphoma"),
         patient("L_infection", 200, death=200, death_cause="infection")]
    I = [infusion(p) for p in ("L_death", "L_treated", "L_pd", "L_infection")]
    R = [resp("L_death", 30, "CMR"),
         resp("L_treated", 30, "PR"), resp("L_treated", 91, "SD"),
         resp("L_pd", 30, "PR"), resp("L_pd", 100, "PD"),
         resp("L_infection", 30, "CR")]
    T = [tx("L_treated", 180, "R-GemOx")]
    return P, I, R, T


def line_rows():
    """Rule 5: regimens started within line_window_days of the first post-failure treatment form its line."""
    P = [patient("N_rt_glofit", 400), patient("N_edge", 400), patient("N_out", 400)]
    I = [infusion(p) for p in ("N_rt_glofit", "N_edge", "N_out")]
    R = [resp("N_rt_glofit", 30, "PMR"), resp("N_rt_glofit", 93, "PMD"), resp("N_rt_glofit", 160, "CMR"),
         resp("N_edge", 100, "PMD"), resp("N_out", 100, "PMD")]
    T = [tx("N_rt_glofit", 95, "radiotherapy"), tx("N_rt_glofit", 102, "glofitamab"),
         tx("N_edge", 110, "R-ICE"), tx("N_edge", 124, "glofitamab"),
         tx("N_out", 110, "R-ICE"), tx("N_out", 125, "glofitamab")]
    return P, I, R, T


GROUPS = {"freeze": freeze_rows, "window": window_rows, "censoring": censoring_rows, "lymphoma": lymphoma_rows,
          "line": line_rows}


def registry(*groups: str):
    """A connection holding the union of the named groups (all of them by default)."""
    P, I, R, T = [], [], [], []
    for g in groups or tuple(GROUPS):
        p, i, r, t = GROUPS[g]()
        P += p
        I += i
        R += r
        T += t
    return build(P, I, R, T)


def random_registry(seed: int = 10, n: int = 150):
    """A random registry of ``n`` patients exercising every rule at once (assessments of every code,
    treatments before and after the failure, several regimens within days, lymphoma deaths with and
    without a recorded progression). Deterministic for a seed; used for the old-behaviour check."""
    import numpy as np

    rng = np.random.Generator(np.random.PCG64(seed))
    codes = ["CR", "CMR", "PR", "PMR", "SD", "NMR", "PD", "PMD", "NE"]
    regimens = ["R-GemOx", "R-ICE", "glofitamab", "lenalidomide + rituximab", "ibrutinib", "ISRT",
                "radiotherapy", "pembrolizumab", "clinical trial", "Pola-BR"]
    P, I, R, T = [], [], [], []
    for k in range(n):
        pid = f"R{k:03d}"
        last = int(rng.integers(20, 900))
        dead = rng.random() < 0.4
        cause = str(rng.choice(["lymphoma", "infection", "toxicity", "other"], p=[0.6, 0.2, 0.1, 0.1])) if dead else None
        P.append(patient(pid, last, death=last if dead else None, death_cause=cause))
        if rng.random() < 0.05:
            continue  # registered, never infused
        I.append(infusion(pid))
        for _ in range(int(rng.integers(0, 7))):
            R.append(resp(pid, int(rng.integers(1, last + 1)), str(rng.choice(codes, p=[.1, .15, .1, .15, .05, .05, .1, .2, .1]))))
        for _ in range(int(rng.integers(0, 4))):
            d = int(rng.integers(1, last + 1))
            T.append(tx(pid, d, str(rng.choice(regimens))))
            if rng.random() < 0.3:
                T.append(tx(pid, min(last, d + int(rng.integers(0, 20))), str(rng.choice(regimens))))
    return build(P, I, R, T)
