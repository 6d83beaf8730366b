"""Benchmark: the issue-12 estimators at 10^6 rows x 10 covariates against today's Cox.

    .venv/bin/python benchmarks/bench_models.py              # n = 10^6 (profile/Firth CIs at --n-small)
    .venv/bin/python benchmarks/bench_models.py --n 200000 --repeat 1
    .venv/bin/python benchmarks/bench_models.py --with-r      # adds R's timings on the same data

Times (best of ``--repeat``, wall clock, including validation and missing-value handling):
``coxph`` (Efron, the reference), ``logistic_fit`` (glm IRLS + Wald; profile-likelihood CIs are
timed separately at ``--n-small`` because MASS's algorithm refits the model ~10 times per
coefficient and side), Firth (fit + SE at n; with profile penalised-likelihood CIs and P at
``--n-small``), ``compare`` (Table 1: 5 continuous + 5 categorical variables, 2 groups),
``rmst`` (2 groups, contrasts) and ``propensity`` (PS model + ATE weights + balance table).
The target of issue 12 is each estimator within 2x of Cox (Firth excepted: its figures are stated).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from bench_cox import best_of, make_data  # noqa: E402


def logistic_data(n: int, p: int, seed: int = 2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    beta = np.linspace(-0.4, 0.4, p)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(-0.5 + X @ beta)))).astype(float)
    return y, X


def table1_data(n: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    g = np.where(rng.uniform(size=n) < 0.45, "axi-cel", "tisa-cel").astype(object)
    cols: dict[str, np.ndarray] = {}
    for j in range(5):
        x = rng.normal(60, 10, size=n).round(1)
        x[rng.uniform(size=n) < 0.02] = np.nan
        cols[f"cont{j}"] = x
    for j in range(5):
        cols[f"cat{j}"] = rng.choice(np.array(["a", "b", "c", "d"], dtype=object), size=n)
    return g, cols


def run_r(code: str, files: dict[str, np.ndarray]) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        for name, arr in files.items():
            np.savetxt(os.path.join(tmp, name), arr, delimiter=",", fmt="%.17g")
        script = os.path.join(tmp, "b.R")
        with open(script, "w") as fh:
            fh.write(code.replace("DIR", tmp))
        out = subprocess.run(["Rscript", script], capture_output=True, text=True,
                             env={**os.environ, "R_LIBS_USER": "/work/rlib"})
        for line in out.stdout.splitlines():
            if line.startswith("ELAPSED"):
                return float(line.split()[1])
        print(out.stderr[-500:], file=sys.stderr)
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--p", type=int, default=10)
    ap.add_argument("--n-small", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--with-r", action="store_true")
    ap.add_argument("--no-firth", action="store_true", help="skip the (slow) Firth timings")
    a = ap.parse_args()

    from cartreg.stats.compare import compare_arrays
    from cartreg.stats.cox import coxph
    from cartreg.stats.logistic import logistic_fit
    from cartreg.stats.propensity import propensity
    from cartreg.stats.rmst import rmst

    print(f"load average {os.getloadavg()[0]:.2f}; n = {a.n:,}, p = {a.p}")
    rows: list[tuple[str, float, str]] = []
    t, e, X = make_data(a.n, a.p, tied=True)
    names = [f"x{j}" for j in range(a.p)]
    cox, _, _ = best_of(lambda: coxph(t, e, X, names, ties="efron"), a.repeat)
    rows.append(("coxph (Efron, tied days) — reference", cox, ""))

    y, Xl = logistic_data(a.n, a.p)
    tl, _, fit = best_of(lambda: logistic_fit(y, Xl, names, profile=False), a.repeat)
    rows.append(("logistic glm + Wald", tl, f"{fit.iterations} IRLS iterations"))

    ys, Xs = y[: a.n_small], Xl[: a.n_small]
    tp, _, _ = best_of(lambda: logistic_fit(ys, Xs, names), 1)
    rows.append((f"logistic + profile CIs (MASS), n={a.n_small:,}", tp, "not a 2x target: ~10 refits per coef and side"))

    if not a.no_firth:
        tf, _, _ = best_of(lambda: logistic_fit(y, Xl, names, firth=True, profile=False), 1)
        rows.append(("Firth fit + SE + PLR P values", tf, "Firth: figures stated (p+1 constrained refits for P)"))
        tfs, _, _ = best_of(lambda: logistic_fit(ys, Xs, names, firth=True), 1)
        rows.append((f"Firth + profile penalised CIs, n={a.n_small:,}", tfs, "Firth: figures stated"))

    g, cols = table1_data(a.n)
    tc, _, _ = best_of(lambda: compare_arrays(g, cols, by="product"), a.repeat)
    rows.append(("compare (Table 1, 10 variables, 2 groups)", tc, ""))

    grp = np.where(X[:, 0] > 0, "b", "a").astype(object)
    tr, _, _ = best_of(lambda: rmst(t, e, grp, tau=365.0), a.repeat)
    rows.append(("rmst (2 groups + contrasts)", tr, ""))

    cov = {f"x{j}": Xl[:, j] for j in range(a.p)}
    tps, _, _ = best_of(lambda: propensity(y.astype(int).astype(str).astype(object), cov), a.repeat)
    rows.append(("propensity (PS glm + ATE weights + balance)", tps, ""))

    r_times: dict[str, float | None] = {}
    if a.with_r:
        r_times["coxph"] = run_r(
            "library(survival); d <- as.matrix(read.csv('DIR/c.csv', header=FALSE));"
            "s <- Sys.time(); f <- coxph(Surv(d[,1], d[,2]) ~ d[,-(1:2)], ties='efron');"
            "cat('ELAPSED', as.numeric(difftime(Sys.time(), s, units='secs')), '\\n')",
            {"c.csv": np.column_stack([t, e, X])})
        r_times["glm"] = run_r(
            "d <- as.matrix(read.csv('DIR/l.csv', header=FALSE));"
            "s <- Sys.time(); f <- glm(d[,1] ~ d[,-1], family=binomial); x <- summary(f);"
            "cat('ELAPSED', as.numeric(difftime(Sys.time(), s, units='secs')), '\\n')",
            {"l.csv": np.column_stack([y, Xl])})
        r_times["logistf"] = run_r(
            "library(logistf); d <- as.data.frame(read.csv('DIR/l.csv', header=FALSE));"
            "s <- Sys.time(); f <- logistf(V1 ~ ., data=d, pl=FALSE);"
            "cat('ELAPSED', as.numeric(difftime(Sys.time(), s, units='secs')), '\\n')",
            {"l.csv": np.column_stack([y, Xl])})

    width = max(len(r[0]) for r in rows)
    print(f"{'estimator':<{width}}  {'seconds':>8}  {'x Cox':>6}")
    for name, sec, note in rows:
        print(f"{name:<{width}}  {sec:8.2f}  {sec / cox:6.2f}  {note}")
    for k, v in r_times.items():
        print(f"R {k}: {'n/a' if v is None else f'{v:.2f} s'}")


if __name__ == "__main__":
    main()
