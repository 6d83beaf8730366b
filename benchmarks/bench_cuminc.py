"""Benchmark: cumulative incidence + Gray's test, 10^6 rows, 3 groups, 2 causes + censoring.

Times cartreg's ``cuminc`` (every cause x group curve with cmprsk's variance and CIs, plus Gray's
test per cause) on day-level tied times and on continuous times, and compares with

* R ``cmprsk::cuminc`` on the same data (``--with-r``; needs ``Rscript`` and cmprsk), timed inside R
  with ``system.time`` around the ``cuminc`` call only (reading the CSV is not counted);
* lifelines ``AalenJohansenFitter`` (if installed), one fit per cause x group, which has no Gray's
  test and jitters tied times at random; ``--lifelines-n`` subsamples it.

    .venv/bin/python benchmarks/bench_cuminc.py                 # cartreg (+ lifelines) at 10^6 rows
    .venv/bin/python benchmarks/bench_cuminc.py --with-r        # and R cmprsk
    .venv/bin/python benchmarks/bench_cuminc.py -n 100000 --repeat 3

Each cartreg timing is the best of ``--repeat`` runs (wall clock, including sorting and coding).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
import warnings

import numpy as np


def make_data(n: int, tied: bool, seed: int = 1):
    rng = np.random.default_rng(seed)
    g = rng.choice(np.array(["A", "B", "C"], dtype=object), n)
    shift = np.where(g == "A", 1.0, np.where(g == "B", 1.1, 0.9))
    t1 = rng.exponential(900.0 * shift, n)  # cause 1
    t2 = rng.exponential(1200.0, n)  # cause 2
    c = rng.uniform(0, 3 * 365.0, n)  # censoring
    t = np.minimum(np.minimum(t1, t2), c)
    status = np.where(t == c, 0, np.where(t == t1, 1, 2))
    if tied:
        t = np.ceil(t)
    return t, status, g


def best_of(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_r(t, status, g) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        csv = os.path.join(d, "d.csv")
        np.savetxt(csv, np.column_stack((t, status, g)), fmt="%s", delimiter=",",
                   header="time,status,group", comments="")
        script = (
            "suppressPackageStartupMessages(library(cmprsk));"
            f"d <- read.csv('{csv}');"
            "s <- system.time(f <- cuminc(d$time, d$status, d$group));"
            "cat(s[['elapsed']], '\\n')"
        )
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print("R failed:", out.stderr.strip()[:300])
            return None
        return float(out.stdout.split()[-1])


def run_lifelines(t, status, g, n_sub: int) -> tuple[float, int] | None:
    try:
        from lifelines import AalenJohansenFitter
    except ImportError:
        return None
    idx = np.arange(min(n_sub, t.size))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cause in (1, 2):
            for level in ("A", "B", "C"):
                m = g[idx] == level
                AalenJohansenFitter(calculate_variance=True, seed=1).fit(t[idx][m], status[idx][m],
                                                                         event_of_interest=cause)
    return time.perf_counter() - t0, idx.size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--with-r", action="store_true")
    ap.add_argument("--lifelines-n", type=int, default=100_000)
    args = ap.parse_args()

    from cartreg.stats.cuminc import cuminc

    for tied in (True, False):
        label = "day-level ties" if tied else "continuous times"
        t, status, g = make_data(args.n, tied)
        sec, fit = best_of(lambda: cuminc(t, status, g), args.repeat)
        gray = ", ".join(f"cause {c}: chi2={x.stat:.2f}" for c, x in fit.gray.items())
        print(f"[{label}] n={args.n:,}: cartreg cuminc {sec:.2f} s ({gray})")
        if args.with_r:
            r = run_r(t, status, g)
            if r is not None:
                print(f"[{label}]   R cmprsk::cuminc {r:.2f} s  ->  ratio R/cartreg = {r / sec:.1f}x")
        ll = run_lifelines(t, status, g, args.lifelines_n)
        if ll is not None:
            lsec, nl = ll
            note = "" if nl == args.n else f" on {nl:,} rows (subsample; no Gray's test)"
            print(f"[{label}]   lifelines AalenJohansenFitter x6 {lsec:.2f} s{note}")


if __name__ == "__main__":
    main()
