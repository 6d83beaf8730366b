"""Issue 11 target: a 10^5-patient wide workbook or Stata file maps and imports in < 30 s and < 2 GB.

Writes a synthetic registry of N patients in a shape (``cartreg synth --as``), then times
``cartreg import SOURCE --mapping mapping.toml -o out.duckdb`` in a fresh child process and reports
its wall time and peak memory (the child's ``ru_maxrss`` from ``os.wait4``), plus ``map check``.
Writing the source is not timed (it is the user's file).

    .venv/bin/python benchmarks/bench_mapping.py                       # 10^5, wide-xlsx and stata
    .venv/bin/python benchmarks/bench_mapping.py --patients 20000 --shapes stata,spss,redcap
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

CARTREG = str(Path(sys.executable).with_name("cartreg"))


def run(args: list[str]) -> tuple[float, float, int, float]:
    """(wall s, peak RSS MiB, exit code, CPU s) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        print(err[-2000:], file=sys.stderr)
    return wall, usage.ru_maxrss / 1024, code, usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shapes", default="wide-xlsx,stata")
    ap.add_argument("--out", type=Path, default=None, help="work directory (default: a temp dir, removed)")
    ap.add_argument("--reuse", action="store_true", help="keep sources already written in --out (time the import only)")
    a = ap.parse_args()
    work = a.out or Path(tempfile.mkdtemp(prefix="bench-mapping-"))
    work.mkdir(parents=True, exist_ok=True)
    from cartreg.synth import generate
    from cartreg.synth.shapes import write_shape

    t0 = time.perf_counter()
    reg = generate(a.patients, seed=a.seed)
    print(f"generated {a.patients} patients in {time.perf_counter() - t0:.1f} s "
          f"({', '.join(f'{k} {t.num_rows}' for k, t in reg.tables.items())})")
    print(f"{'shape':<10} {'source MB':>9} {'write s':>8} {'import s':>9} {'CPU s':>6} {'peak MB':>8} {'check s':>8}"
          f"  target (wall; on a shared machine compare CPU s too)")
    ok = True
    for shape in a.shapes.split(","):
        d = work / shape
        t0 = time.perf_counter()
        if a.reuse and (d / "mapping.toml").exists():
            src = next(p for p in d.iterdir() if p.name.startswith(("registre", "export", "xpt")))
        else:
            shutil.rmtree(d, ignore_errors=True)
            src = write_shape(reg, shape, d)
        t_write = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in ([src] if src.is_file() else src.iterdir())) / 1e6
        out = d / "registry.duckdb"
        out.unlink(missing_ok=True)
        wall, peak, code, cpu = run([CARTREG, "import", str(src), "--mapping", str(d / "mapping.toml"), "-o", str(out)])
        cwall, _, _, _ = run([CARTREG, "map", "check", str(d / "mapping.toml")])
        met = wall < 30 and peak < 2048 and code == 0
        ok &= met
        print(f"{shape:<10} {size:>9.1f} {t_write:>8.1f} {wall:>9.1f} {cpu:>6.1f} {peak:>8.0f} {cwall:>8.1f}  "
              f"{'met' if met else 'MISSED'} (< 30 s, < 2048 MB{', exit ' + str(code) if code else ''})")
    if a.out is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
