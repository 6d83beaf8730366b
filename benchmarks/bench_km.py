"""Benchmark: Kaplan-Meier with CIs (by group) plus the log-rank test on 10^6 rows.

Times cartreg (``kaplan_meier_by`` with log CIs, median and CI per group, plus ``logrank_test``)
against lifelines (``KaplanMeierFitter`` per group + ``multivariate_logrank_test``) and, with
``--with-r``, R (``survfit(Surv(t, e) ~ g)`` + ``summary(fit)$table`` + ``survdiff``, timed inside R
with ``system.time`` so file reading is not counted). Day-level tied times and continuous times.

    .venv/bin/python benchmarks/bench_km.py              # cartreg + lifelines, 10^6 rows
    .venv/bin/python benchmarks/bench_km.py --with-r     # add R
    .venv/bin/python benchmarks/bench_km.py --n 100000 --repeat 5

Each timing is the best of ``--repeat`` runs (wall clock, and CPU time, which is steadier on a
shared machine), including sorting and validation; R's is measured inside R by ``system.time``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np


def make_data(n: int, tied: bool, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 3, size=n)
    t_event = rng.exponential(scale=365.0 * np.array([1.0, 1.2, 1.5])[g])
    t_cens = rng.uniform(0, 3 * 365.0, size=n)
    t = np.minimum(t_event, t_cens)
    e = (t_event <= t_cens).astype(int)
    if tied:
        t = np.ceil(t)
    labels = np.array(["arm A", "arm B", "arm C"], dtype=object)[g]
    return t, e, labels


def best_of(fn, repeat: int) -> tuple[tuple[float, float], object]:
    """Best wall-clock and best CPU time (process_time) over ``repeat`` runs, and the result."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return (wall, cpu), out


def run_cartreg(t, e, g, repeat):
    from cartreg.stats import kaplan_meier_by, logrank_test

    def go():
        fits = kaplan_meier_by(t, e, g, conf_type="log")
        lr = logrank_test(t, e, g)
        return {k: (v.median, v.median_ci) for k, v in fits.items()}, lr.chi2

    return best_of(go, repeat)


def run_lifelines(t, e, g, repeat):
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    def go():
        out = {}
        for level in ("arm A", "arm B", "arm C"):
            m = g == level
            kmf = KaplanMeierFitter().fit(t[m], e[m])
            _ = kmf.confidence_interval_
            out[level] = kmf.median_survival_time_
        lr = multivariate_logrank_test(t, g, e)
        return out, lr.test_statistic

    return best_of(go, repeat)


R_CODE = r"""
suppressMessages(library(survival))
d <- read.csv("{path}")
best <- Inf
for (i in 1:{repeat}) {{
  st <- system.time({{
    fit <- survfit(Surv(t, e) ~ g, data = d)
    tab <- summary(fit)$table
    sd <- survdiff(Surv(t, e) ~ g, data = d)
  }})
  best <- min(best, st[["elapsed"]])
  bcpu <- min(if (i == 1) Inf else bcpu, st[["user.self"]] + st[["sys.self"]])
}}
cat(best, bcpu, sprintf("%.10f", sd$chisq), "\n")
"""


def run_r(t, e, g, repeat):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "d.csv")
        with open(path, "w") as fh:
            fh.write("t,e,g\n")
            np.savetxt(fh, np.column_stack([t, e, np.searchsorted(["arm A", "arm B", "arm C"], g)]),
                       delimiter=",", fmt=["%.17g", "%d", "%d"])
        code = R_CODE.format(path=path, repeat=repeat)
        out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=True).stdout.split()
        return (float(out[0]), float(out[1])), float(out[2])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--with-r", action="store_true")
    ap.add_argument("--no-lifelines", action="store_true")
    args = ap.parse_args()
    print(f"KM (log CIs, median + CI per group, 3 groups) + log-rank, n = {args.n:,}, best of {args.repeat}")
    for tied in (True, False):
        t, e, g = make_data(args.n, tied)
        label = "day-level tied times" if tied else "continuous times"
        ct, (meds, chi2) = run_cartreg(t, e, g, args.repeat)
        print(f"  {label}: {np.unique(t).size:,} distinct times")
        print(f"    cartreg   wall {ct[0]:7.3f} s  cpu {ct[1]:7.3f} s   (chi2 {chi2:.6f})")
        if not args.no_lifelines:
            lt, (lmeds, lchi2) = run_lifelines(t, e, g, args.repeat)
            print(f"    lifelines wall {lt[0]:7.3f} s  cpu {lt[1]:7.3f} s   (chi2 {lchi2:.6f})   "
                  f"lifelines / cartreg = {lt[0] / ct[0]:.1f}x wall, {lt[1] / ct[1]:.1f}x cpu")
        if args.with_r:
            if shutil.which("Rscript"):
                rt, rchi2 = run_r(t, e, g, args.repeat)
                print(f"    R         wall {rt[0]:7.3f} s  cpu {rt[1]:7.3f} s   (chi2 {rchi2:.6f})   "
                      f"R / cartreg = {rt[0] / ct[0]:.1f}x wall, {rt[1] / ct[1]:.1f}x cpu")
            else:
                print("    R         skipped: Rscript not found")


if __name__ == "__main__":
    main()
