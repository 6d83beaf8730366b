"""The late-failure study done the way users do it today: pandas for the derivations, lifelines for
Kaplan-Meier, log-rank and Cox. The baseline that ``benchmarks/run.py`` times cartreg against.

It follows the rules of docs/endpoints.md, written idiomatically in pandas (merge, groupby, boolean
masks), and imports nothing from cartreg: it reads the registry CSV files and the regimen-to-class
table (``src/cartreg/data/treatment_classes.csv``, read as a data file) with pandas. It computes the
same study: cohort, failures (relapse/progression, early/late, sensitivity cut-offs), cumulative
incidence of failure (Aalen-Johansen), baseline characteristics of early and late failures, best
response to CAR T, first treatment after failure (status, class), response after failure, follow-up
(reverse KM), OS-2 and PFS-2 (KM medians with log-log CIs), and by class of the first treatment:
6-month landmarks, log-rank tests and Cox models (class factor vs chemotherapy, Efron ties).

    .venv/bin/python benchmarks/baseline_pandas_lifelines.py REGISTRY_DIR --json out.json

The JSON holds ``seconds`` (imports, read_csv, derive, stats) and ``headline`` numbers, which the
harness prints beside cartreg's results.json.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import unicodedata  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from lifelines import AalenJohansenFitter, CoxPHFitter, KaplanMeierFitter  # noqa: E402
from lifelines.statistics import multivariate_logrank_test  # noqa: E402

T_IMPORTS = time.perf_counter()

CLASS_MAP_CSV = Path(__file__).resolve().parent.parent / "src" / "cartreg" / "data" / "treatment_classes.csv"
MONTH = 30.4375
LATE_AFTER_DAYS = 91.3125
MIN_UNTREATED_FU = 30
LANDMARK_DAYS = 6 * MONTH
MIN_CLASS_SIZE = 5  # classes with fewer treated patients, and `other`, are described but not compared
PRECEDENCE = ["bispecific", "IMiD", "targeted", "anti-PD1", "chemotherapy", "radiotherapy"]
CLASSES = ["chemotherapy", "IMiD", "bispecific", "targeted", "anti-PD1", "radiotherapy", "other"]
RANK = {"CR": 5, "CMR": 5, "PR": 4, "PMR": 4, "SD": 3, "NMR": 3, "PD": 2, "PMD": 2, "NE": 1}
LABEL = {5: "CR", 4: "PR", 3: "SD", 2: "PD", 1: "NE"}
SEP = re.compile(r"[\s+/\-,;&()\[\]._:]+")


# ------------------------------------------------------------------------------------------ read


def read_registry(d: Path) -> dict[str, pd.DataFrame]:
    yes_no = {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False}
    pat = pd.read_csv(d / "patients.csv", dtype={"patient_id": str, "center": str},
                      parse_dates=["eligibility_date", "last_contact_date", "death_date"])
    for c in ("prior_auto_hsct", "prior_allo_hsct"):
        pat[c] = pat[c].astype("string").str.lower().map(yes_no)
    inf = pd.read_csv(d / "infusions.csv", dtype={"patient_id": str}, parse_dates=["infusion_date"])
    for c in ("ldh_elevated", "bulky"):
        inf[c] = inf[c].astype("string").str.lower().map(yes_no)
    resp = pd.read_csv(d / "responses.csv", dtype={"patient_id": str, "response": str},
                       parse_dates=["assessment_date"])
    tx = pd.read_csv(d / "treatments.csv", dtype={"patient_id": str, "regimen": str}, parse_dates=["start_date"])
    return {"patients": pat, "infusions": inf, "responses": resp, "treatments": tx}


# ------------------------------------------------------------------------------- treatment class


def fold(text: str) -> str:
    s = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(ch for ch in s if not unicodedata.combining(ch))


def key(text: str) -> str:
    return SEP.sub("", fold(text))


def load_class_map() -> tuple[dict[str, str], dict[str, str]]:
    m = pd.read_csv(CLASS_MAP_CSV, dtype=str, comment="#", skip_blank_lines=True).fillna("")
    m = m[(m["name"].str.strip() != "") & ~m["name"].str.startswith("#")]
    regimens, drugs = {}, {}
    for name, kind, cls in zip(m["name"], m["kind"].str.strip().str.lower(), m["class"].str.strip()):
        if kind == "regimen":
            regimens[key(name)] = cls
        elif kind == "drug":
            drugs[key(name)] = cls
            regimens.setdefault(key(name), cls)
    return regimens, drugs


def classify(text: str, regimens: dict[str, str], drugs: dict[str, str]) -> str:
    k = key(text)
    if k in regimens:
        return regimens[k]
    words = [w for w in SEP.split(fold(text)) if w]
    toks = words + [a + b for a, b in zip(words, words[1:])]
    found = {drugs[t] for t in toks if t in drugs}
    return next((c for c in PRECEDENCE if c in found), "other")


# ---------------------------------------------------------------------------------- derivations


def derive(reg: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per infused patient, with the endpoint columns of docs/endpoints.md."""
    pat, inf, resp, tx = reg["patients"], reg["infusions"], reg["responses"], reg["treatments"]
    df = pat.merge(inf[inf["infusion_date"].notna()], on="patient_id", how="inner").set_index("patient_id")

    # responses and treatments strictly after the infusion date
    r = resp[resp["response"].notna()].merge(df[["infusion_date"]], left_on="patient_id", right_index=True)
    r = r[r["assessment_date"] > r["infusion_date"]].copy()
    r["rnk"] = r["response"].map(RANK)
    r["is_pd"] = r["response"].isin(["PD", "PMD"])

    regimens, drugs = load_class_map()
    prec = {c: i for i, c in enumerate(PRECEDENCE)}
    t = tx[tx["regimen"].notna()].merge(df[["infusion_date"]], left_on="patient_id", right_index=True)
    t = t[t["start_date"] > t["infusion_date"]].copy()
    uniq = pd.Series(t["regimen"].unique())
    t["cls"] = t["regimen"].map(dict(zip(uniq, uniq.map(lambda s: classify(s, regimens, drugs)))))
    t["prec"] = t["cls"].map(prec).fillna(len(PRECEDENCE))
    t["key"] = t["regimen"].map(dict(zip(uniq, uniq.map(key))))

    # failure, relapse vs progression, CAR T response window
    df["failure_date"] = r[r["is_pd"]].groupby("patient_id")["assessment_date"].min()
    df["first_tx"] = t.groupby("patient_id")["start_date"].min()
    far = pd.Timestamp("2262-01-01")
    df["window_end"] = np.minimum(df["failure_date"].fillna(far), df["first_tx"].fillna(far))
    rr = r.join(df[["failure_date", "window_end"]], on="patient_id")
    df["best_rnk"] = rr[rr["assessment_date"] < rr["window_end"]].groupby("patient_id")["rnk"].max()
    cr_before = rr[(rr["rnk"] == 5) & (rr["assessment_date"] < rr["failure_date"])].groupby("patient_id").size()
    df["failed"] = df["failure_date"].notna()
    df["dead"] = df["death_date"].notna()
    df["ttf_days"] = (df["failure_date"] - df["infusion_date"]).dt.days
    df["failure_type"] = np.where(df["failed"], np.where(df.index.isin(cr_before.index), "relapse", "progression"),
                                  None)
    df["late"] = df["failed"] & (df["ttf_days"] > LATE_AFTER_DAYS)
    df["best_response"] = df["best_rnk"].map(LABEL)

    # first treatment after failure: earliest start >= failure; same-day regimens form one treatment
    c = t.join(df["failure_date"], on="patient_id")
    c = c[c["start_date"] >= c["failure_date"]]
    c = c[c["start_date"] == c.groupby("patient_id")["start_date"].transform("min")]
    first = c.sort_values(["patient_id", "prec"]).groupby("patient_id").agg(
        tx_date=("start_date", "first"), tx_class=("cls", "first"))
    df = df.join(first)
    df["tx_status"] = np.select(
        [~df["failed"], df["tx_date"].notna(),
         df["dead"] | ((df["last_contact_date"] - df["failure_date"]).dt.days >= MIN_UNTREATED_FU)],
        [None, "treated", "untreated"], "unknown")
    df["tx_gap_days"] = (df["tx_date"] - df["failure_date"]).dt.days

    # second progression, next different treatment, response after failure
    rt = r.join(df["tx_date"], on="patient_id")
    rt = rt[rt["tx_date"].notna() & (rt["assessment_date"] > rt["tx_date"])]
    df["pd2_date"] = rt[rt["is_pd"]].groupby("patient_id")["assessment_date"].min()
    first_keys = c[["patient_id", "key"]].drop_duplicates()
    later = t.join(df["tx_date"], on="patient_id")
    later = later[later["tx_date"].notna() & (later["start_date"] > later["tx_date"])]
    later = later.merge(first_keys, on=["patient_id", "key"], how="left", indicator=True)
    df["next_tx_date"] = later[later["_merge"] == "left_only"].groupby("patient_id")["start_date"].min()
    rt = rt.join(df[["pd2_date", "next_tx_date"]], on="patient_id")
    win = (rt["assessment_date"] <= rt["pd2_date"].fillna(far)) & (rt["assessment_date"] < rt["next_tx_date"].fillna(far))
    df["post_best_response"] = rt[win].groupby("patient_id")["rnk"].max().map(LABEL)

    # time-to-event endpoints (days), censored at last contact
    end = df["death_date"].fillna(df["last_contact_date"])
    df["os2_days"] = (end - df["failure_date"]).dt.days
    df["os2_event"] = df["dead"]
    treated = df["tx_date"].notna()
    progressed_or_dead = df["pd2_date"].notna() | df["dead"]
    pfs_end = df[["pd2_date", "death_date"]].min(axis=1).where(progressed_or_dead, df["last_contact_date"])
    df["pfs2_days"] = (pfs_end - df["tx_date"]).dt.days.where(treated)
    df["pfs2_event"] = df["pd2_date"].notna() | df["dead"]
    df["os2_treated_days"] = (end - df["tx_date"]).dt.days
    df["cif_days"] = np.where(df["failed"], df["ttf_days"], (end - df["infusion_date"]).dt.days)
    df["cif_status"] = np.select([df["failed"], df["dead"]], [1, 2], 0)
    return df.sort_index()


# ------------------------------------------------------------------------------------ statistics


def km(days, event):
    f = KaplanMeierFitter()
    f.fit(np.asarray(days, float), np.asarray(event, bool))
    return f


def km_summary(days, event) -> dict:
    f = km(days, event)
    med = f.median_survival_time_
    return {"n": int(len(days)), "events": int(np.sum(event)), "median_months": None if np.isinf(med) else med / MONTH}


def landmark(days, event) -> dict:
    if len(days) == 0:
        return {"est": None}
    f = km(days, event)
    return {"est": float(f.predict(LANDMARK_DAYS, interpolate=False))}


def baseline_table(df: pd.DataFrame) -> dict:
    """Baseline characteristics (median/range and n (%) with N excluding missing), as users tabulate them."""
    out = {"n": int(len(df))}
    for col in ("age", "prior_lines", "ferritin_ug_l", "crp_mg_dl"):
        s = df[col]
        out[col] = {"median": s.median(), "min": s.min(), "max": s.max(), "n_missing": int(s.isna().sum())}
    flags = {
        "male": (df["sex"] == "M", df["sex"].notna()),
        "stage_3_4": (df["stage"] >= 3, df["stage"].notna()),
        "aaipi_2_3": (df["aaipi"] >= 2, df["aaipi"].notna()),
        "ecog_ge_2": (df["ecog"] >= 2, df["ecog"].notna()),
        "ldh_elevated": (df["ldh_elevated"].eq(True), df["ldh_elevated"].notna()),
        "bulky": (df["bulky"].eq(True), df["bulky"].notna()),
        "bridging": (df["bridging"].notna() & (df["bridging"] != "none"), df["bridging"].notna()),
        "crs_ge_3": (df["crs_grade"] >= 3, df["crs_grade"].notna()),
        "icans_ge_3": (df["icans_grade"] >= 3, df["icans_grade"].notna()),
    }
    for name, (m, ok) in flags.items():
        out[name] = {"n": int((m & ok).sum()), "N": int(ok.sum())}
    out["histology"] = df["histology"].value_counts().to_dict()
    out["products"] = df["product"].value_counts().to_dict()
    return out


def study(df: pd.DataFrame) -> dict:
    late = df[df["late"]]
    early = df[df["failed"] & ~df["late"]]
    tr = late[late["tx_status"] == "treated"].copy()
    res: dict = {
        "infused": int(len(df)),
        "failures": int(df["failed"].sum()),
        "relapse": int((df["failure_type"] == "relapse").sum()),
        "late": int(len(late)),
        "sensitivity": {d: int((df["failed"] & (df["ttf_days"] > d)).sum()) for d in (60, 90, 91.3125, 120)},
        "baseline_late": baseline_table(late),
        "baseline_early": baseline_table(early),
        "orr_late": 100.0 * late["best_response"].isin(["CR", "PR"]).mean(),
        "status": late["tx_status"].value_counts().to_dict(),
        "classes": tr["tx_class"].value_counts().to_dict(),
        "post_orr": 100.0 * tr["post_best_response"].isin(["CR", "PR"]).mean(),
    }
    # cumulative incidence of failure (death without failure competing); timed apart, see main()
    t0 = time.perf_counter()
    ajf = AalenJohansenFitter(calculate_variance=True, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines warns that it jitters tied times
        ajf.fit(df["cif_days"], df["cif_status"], event_of_interest=1)
    res["cif"] = {m: float(ajf.predict(m * MONTH)) for m in (3, 6, 12)}
    res["cif_seconds"] = time.perf_counter() - t0
    # follow-up (reverse KM), OS-2, PFS-2
    fu = km(late["os2_days"], ~late["os2_event"].astype(bool))
    res["followup_months"] = fu.median_survival_time_ / MONTH
    res["os2"] = km_summary(late["os2_days"], late["os2_event"])
    res["pfs2"] = km_summary(tr["pfs2_days"], tr["pfs2_event"])
    # by class of the first treatment, from the treatment start
    res["by_class"] = {}
    for cls in CLASSES:
        g = tr[tr["tx_class"] == cls]
        res["by_class"][cls] = {
            "n": int(len(g)),
            "pfs2_6mo": landmark(g["pfs2_days"], g["pfs2_event"]),
            "os2_6mo": landmark(g["os2_treated_days"], g["dead"]),
            "gap_days_median": None if g.empty else float(g["tx_gap_days"].median()),
        }
    # compared classes (issue 10, docs/endpoints.md rule 7): at least MIN_CLASS_SIZE treated patients and
    # not `other`; every class is described above
    sizes = tr["tx_class"].value_counts()
    cmp = tr[tr["tx_class"].isin([c for c, k in sizes.items() if k >= MIN_CLASS_SIZE and c != "other"])]
    for ep, days, ev in (("pfs2", "pfs2_days", "pfs2_event"), ("os2", "os2_treated_days", "dead")):
        lr = multivariate_logrank_test(cmp[days], cmp["tx_class"], cmp[ev])
        res[f"logrank_{ep}"] = {"chi2": float(lr.test_statistic), "p": float(lr.p_value)}
        with_events = cmp.groupby("tx_class")[ev].sum()
        keep = with_events[with_events > 0].index
        d = cmp[cmp["tx_class"].isin(keep)]
        X = pd.get_dummies(d["tx_class"]).drop(columns="chemotherapy").astype(float)
        X["T"], X["E"] = d[days].astype(float), d[ev].astype(float)
        cph = CoxPHFitter().fit(X, "T", "E")
        res[f"hr_{ep}"] = {k: float(v) for k, v in np.exp(cph.params_).items()}
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("registry", type=Path, help="directory of the registry CSV files")
    ap.add_argument("--json", type=Path, help="write timings and headline numbers here")
    args = ap.parse_args()
    t0 = time.perf_counter()
    reg = read_registry(args.registry)
    t1 = time.perf_counter()
    df = derive(reg)
    t2 = time.perf_counter()
    res = study(df)
    t3 = time.perf_counter()
    seconds = {"imports": T_IMPORTS - T_START, "read_csv": t1 - t0, "derive": t2 - t1, "stats": t3 - t2,
               "stats_cif": res["cif_seconds"], "total_in_process": t3 - T_START}
    status = res["status"]
    headline = {
        "infused": res["infused"],
        "failures n": res["failures"],
        "relapse n": res["relapse"],
        "late n": res["late"],
        "late treated n": int(status.get("treated", 0)),
        "late untreated n": int(status.get("untreated", 0)),
        "ORR to CAR T, late (%)": res["orr_late"],
        "median OS-2 (months)": res["os2"]["median_months"],
        "median PFS-2 (months)": res["pfs2"]["median_months"],
        "PFS-2 at 6 mo, chemotherapy": res["by_class"]["chemotherapy"]["pfs2_6mo"]["est"],
        "OS-2 at 6 mo, bispecific": res["by_class"]["bispecific"]["os2_6mo"]["est"],
        "log-rank PFS-2 chi2": res["logrank_pfs2"]["chi2"],
        "HR PFS-2 bispecific vs chemo": res["hr_pfs2"].get("bispecific"),
        "HR OS-2 IMiD vs chemo": res["hr_os2"].get("IMiD"),
    }
    for k, v in seconds.items():
        print(f"{k:>18}: {v:7.2f} s")
    for k, v in headline.items():
        print(f"{k:>32}: {v}")
    if args.json:
        args.json.write_text(json.dumps({"seconds": seconds, "headline": headline}, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
