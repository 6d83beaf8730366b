"""Benchmark: validate and import a registry of N patients (default 10^6, about 10^7 rows).

The registry is generated with vectorised numpy and written with pyarrow (a few seconds), then
``cartreg validate`` and ``cartreg import`` each run in a child process, timed, with the child's
peak RSS from ``os.wait4``. Target (issue 2): validate 10^6 patients in < 60 s on 2 cores.

    python benchmarks/bench_validate.py                   # 10^6 patients in a temp dir
    python benchmarks/bench_validate.py -n 100000 --dir /tmp/reg
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

EPOCH = np.datetime64("2018-07-01", "D")


def _ids(n: int) -> pa.Array:
    return pc.binary_join_element_wise("P", pc.utf8_lpad(pa.array(np.arange(1, n + 1)).cast(pa.string()), 7, "0"), "")


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(EPOCH + days.astype("timedelta64[D]"))


def _pick(rng: np.random.Generator, values: list[str], p: list[float], n: int) -> pa.Array:
    return pa.array(np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p)], pa.string())


def generate(n: int, out: Path, seed: int = 1) -> dict[str, int]:
    """Write a valid registry of ``n`` patients into ``out``; return row counts."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    ids = _ids(n)
    elig = rng.integers(0, 1200, n)
    inf = elig + rng.integers(20, 60, n)
    follow = rng.integers(60, 1400, n)
    lcd = inf + follow
    dead = rng.random(n) < 0.35
    yes_no = np.array(["yes", "no"], dtype=object)
    patients = pa.table({
        "patient_id": ids,
        "center": _pick(rng, ["Lyon", "Paris-SLS", "Lille", "Toulouse", "Bordeaux", "Nantes"], [1 / 6] * 6, n),
        "sex": _pick(rng, ["M", "F"], [0.59, 0.41], n),
        "age": pa.array(rng.integers(19, 80, n)),
        "histology": _pick(rng, ["DLBCL", "PMBL", "HGBCL", "tFL", "tMZL", "GZL"], [0.75, 0.05, 0.05, 0.1, 0.03, 0.02], n),
        "eligibility_date": _dates(elig),
        "stage": pa.array(rng.integers(1, 5, n)),
        "aaipi": pa.array(rng.integers(0, 4, n)),
        "prior_lines": pa.array(rng.integers(2, 8, n)),
        "prior_auto_hsct": pa.array(yes_no[(rng.random(n) < 0.75).astype(int)]),
        "prior_allo_hsct": pa.array(yes_no[(rng.random(n) < 0.98).astype(int)]),
        "last_contact_date": _dates(lcd),
        "death_date": pa.array(np.where(dead, (EPOCH + lcd.astype("timedelta64[D]")).astype(str), "")),
        "death_cause": pa.array(np.where(dead, "other", "")),
    })
    infusions = pa.table({
        "patient_id": ids,
        "infusion_date": _dates(inf),
        "product": _pick(rng, ["axi-cel", "tisa-cel", "liso-cel"], [0.6, 0.35, 0.05], n),
        "ecog": pa.array(rng.integers(0, 3, n)),
        "ldh_elevated": pa.array(yes_no[rng.integers(0, 2, n)]),
        "bulky": pa.array(yes_no[(rng.random(n) < 0.75).astype(int)]),
        "ferritin_ug_l": pa.array(np.round(rng.lognormal(6.2, 0.8, n), 1)),
        "crp_mg_dl": pa.array(np.round(rng.lognormal(2.0, 0.9, n), 1)),
        "bridging": _pick(rng, ["none", "chemotherapy", "radiotherapy", "combined"], [0.17, 0.6, 0.1, 0.13], n),
        "crs_grade": pa.array(rng.integers(0, 4, n)),
        "icans_grade": pa.array(rng.integers(0, 4, n)),
    })
    # ~6 assessments per patient, strictly between infusion and last contact.
    k = rng.poisson(5, n) + 1
    pid_r = np.repeat(np.arange(n), k)
    a_date = inf[pid_r] + 1 + (rng.random(len(pid_r)) * (follow[pid_r] - 1)).astype(np.int64)
    a_date = a_date[np.lexsort((a_date, pid_r))]  # chronological within each patient
    responses = pa.table({
        "patient_id": ids.take(pa.array(pid_r)),
        "assessment_date": _dates(a_date),
        "response": _pick(rng, ["CMR", "PMR", "PMD", "CR", "SD", "PD", "NE"], [0.45, 0.15, 0.2, 0.08, 0.04, 0.06, 0.02], len(pid_r)),
    })
    m = rng.poisson(2, n)
    pid_t = np.repeat(np.arange(n), m)
    t_date = inf[pid_t] + 1 + (rng.random(len(pid_t)) * (follow[pid_t] - 1)).astype(np.int64)
    treatments = pa.table({
        "patient_id": ids.take(pa.array(pid_t)),
        "start_date": _dates(t_date),
        "regimen": _pick(rng, ["R-GemOx", "glofitamab", "lenalidomide + rituximab", "radiotherapy"], [0.3, 0.3, 0.3, 0.1], len(pid_t)),
    })
    counts = {}
    for name, t in (("patients", patients), ("infusions", infusions), ("responses", responses), ("treatments", treatments)):
        pacsv.write_csv(t, out / f"{name}.csv", pacsv.WriteOptions(quoting_style="none"))
        counts[name] = t.num_rows
    return counts


def run(cmd: list[str]) -> tuple[float, float, int]:
    """Run a command; return (wall seconds, peak RSS MiB of the child, exit code)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--patients", type=int, default=1_000_000)
    ap.add_argument("--dir", type=Path, default=None, help="write the registry here (default: a temp dir)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="cartreg-bench-") if args.dir is None else None
    base = Path(tmp.name) if tmp else args.dir
    reg = base / "registry"
    t0 = time.perf_counter()
    counts = generate(args.patients, reg)
    print(f"generated {sum(counts.values()):,} rows {counts} in {time.perf_counter() - t0:.1f} s")
    cli = [sys.executable, "-m", "cartreg.cli.main"]
    wall, rss, code = run([*cli, "validate", str(reg), "--format", "json"])
    print(f"validate: {wall:.1f} s wall, peak RSS {rss:.0f} MiB, exit {code}")
    out = base / "registry.duckdb"
    wall, rss, code = run([*cli, "import", str(reg), "-o", str(out), "--replace"])
    print(f"import:   {wall:.1f} s wall, peak RSS {rss:.0f} MiB, exit {code}, {out.stat().st_size / 2**20:.0f} MiB file")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
