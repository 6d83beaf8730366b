"""Benchmark: ``cartreg synth --patients N`` (default 10^6) in a child process: wall time and peak RSS.

Target (issue 5): 10^6 patients in < 60 s with < 4 GB peak memory on a 2-core machine.

    python benchmarks/bench_synth.py                       # 10^6 patients, CSV directory in a temp dir
    python benchmarks/bench_synth.py -n 200000 --repeat 3
    python benchmarks/bench_synth.py --format duckdb       # includes the import into DuckDB
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(n: int, seed: int, out: Path) -> tuple[float, float]:
    """Run the CLI in a child; return (wall seconds, child peak RSS in GB)."""
    cmd = [sys.executable, "-m", "cartreg.cli.main", "synth", "--patients", str(n), "--seed", str(seed), "-o", str(out)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"synth failed:\n{err}")
    return wall, usage.ru_maxrss / 1024 / 1024  # ru_maxrss is in KiB on Linux


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--patients", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--format", choices=("csv", "duckdb"), default="csv")
    ap.add_argument("--dir", type=Path, default=None, help="Where to write (default: a temp dir, removed).")
    args = ap.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="bench-synth-"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        for i in range(args.repeat):
            out = base / (f"reg{i}.duckdb" if args.format == "duckdb" else f"reg{i}")
            wall, rss = run_once(args.patients, args.seed, out)
            size = sum(p.stat().st_size for p in ([out] if out.is_file() else out.iterdir()))
            ok = "OK" if wall < 60 and rss < 4 else "OVER TARGET"
            print(f"synth n={args.patients} format={args.format}: wall {wall:.1f} s, peak RSS {rss:.2f} GB, "
                  f"output {size / 1e6:.0f} MB  [{ok}: < 60 s, < 4 GB]")
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
