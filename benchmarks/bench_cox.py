"""Benchmark: Cox proportional hazards (Efron ties), 10^6 rows x 10 numeric covariates.

Times cartreg's ``coxph`` on day-level tied times and on continuous (untied) times, and compares
with lifelines ``CoxPHFitter`` and, with ``--with-r``, R ``survival::coxph`` on the same data.

    .venv/bin/python benchmarks/bench_cox.py                      # cartreg + lifelines at full n
    .venv/bin/python benchmarks/bench_cox.py --lifelines-n 200000 # lifelines on a subsample
    .venv/bin/python benchmarks/bench_cox.py --quick --with-r     # skip lifelines untied, add R

Each cartreg timing is the best of ``--repeat`` runs (wall clock, including validation, sorting
and missing-value handling), with the CPU time of that run (all threads) as a check on how much a
busy machine inflated it. The load average is printed first.
lifelines untied at 10^6 rows takes ~90 s here; ``--quick`` skips it, ``--lifelines-n`` subsamples
(the ratio is then reported against the subsample time, which flatters lifelines).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_data(n: int, p: int, tied: bool, seed: int = 1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = np.linspace(-0.3, 0.3, p)
    t_event = rng.exponential(scale=365.0 * np.exp(-(X @ beta)))
    t_cens = rng.uniform(0, 3 * 365.0, size=n)
    t = np.minimum(t_event, t_cens)
    e = (t_event <= t_cens).astype(int)
    if tied:
        t = np.ceil(t)  # day-level integer times
    return t, e, X


def best_of(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall-clock time, the CPU time of that run (all threads), and the result."""
    best, cpu, out = float("inf"), float("nan"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = time.perf_counter() - t0
        if wall < best:
            best, cpu = wall, time.process_time() - c0
    return best, cpu, out


def run_cartreg(t, e, X, repeat):
    from cartreg.stats.cox import coxph

    names = [f"x{j}" for j in range(X.shape[1])]
    return best_of(lambda: coxph(t, e, X, names, ties="efron"), repeat)


def run_lifelines(t, e, X, n_sub):
    import pandas as pd
    from lifelines import CoxPHFitter

    m = min(n_sub, t.shape[0])
    df = pd.DataFrame(X[:m], columns=[f"x{j}" for j in range(X.shape[1])])
    df["T"], df["E"] = t[:m], e[:m]
    t0 = time.perf_counter()
    CoxPHFitter().fit(df, "T", "E")  # lifelines uses Efron ties
    return time.perf_counter() - t0, m


def run_r(t, e, X):
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "d.csv")
        np.savetxt(path, np.column_stack([t, e, X]), delimiter=",", fmt="%.17g",
                   header=",".join(["time", "event"] + [f"x{j}" for j in range(X.shape[1])]), comments="")
        code = (
            "suppressMessages(library(survival)); d <- read.csv(commandArgs(TRUE)[1]);"
            "x <- as.matrix(d[, -(1:2)]); t0 <- proc.time()[['elapsed']];"
            "f <- coxph(Surv(d$time, d$event) ~ x, ties='efron');"
            "cat(proc.time()[['elapsed']] - t0, '\\n'); cat(sprintf('%.17g', coef(f)), '\\n')"
        )
        out = subprocess.run(["Rscript", "-e", code, path], capture_output=True, text=True, check=True)
        lines = out.stdout.split("\n")
        return float(lines[0]), np.array([float(v) for v in lines[1].split()])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--p", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--lifelines-n", type=int, default=None, help="rows given to lifelines (default: n)")
    ap.add_argument("--quick", action="store_true", help="skip lifelines on untied times (~90 s)")
    ap.add_argument("--no-lifelines", action="store_true")
    ap.add_argument("--with-r", action="store_true", help="also time R survival::coxph (Rscript)")
    args = ap.parse_args(argv)
    n_ll = args.lifelines_n or args.n

    print(f"Cox PH (Efron), n={args.n:,} rows x p={args.p} numeric covariates; best of {args.repeat}; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for tied in (True, False):
        label = "tied (day-level integer times)" if tied else "untied (continuous times)"
        t, e, X = make_data(args.n, args.p, tied)
        sec, cpu, res = run_cartreg(t, e, X, args.repeat)
        print(f"\n[{label}] events={int(e.sum()):,} unique times={np.unique(t).size:,}")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  cartreg   : {sec:8.3f} s  (CPU {cpu:.3f} s; iterations {res.iterations}, "
              f"converged {res.converged}; process peak RSS so far {rss:.0f} MB)")
        if not args.no_lifelines and not (args.quick and not tied):
            ll, m = run_lifelines(t, e, X, n_ll)
            note = "" if m == args.n else f"  [on {m:,} rows]"
            print(f"  lifelines : {ll:8.3f} s  ratio lifelines/cartreg = {ll / sec:6.1f}x{note}")
        if args.with_r:
            r = run_r(t, e, X)
            if r is None:
                print("  R         : Rscript not found")
            else:
                rsec, rcoef = r
                rel = np.max(np.abs(res.coef - rcoef) / np.abs(rcoef))
                print(f"  R coxph   : {rsec:8.3f} s  ratio R/cartreg = {rsec / sec:6.1f}x  "
                      f"(max rel. coef difference {rel:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
