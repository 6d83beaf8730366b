"""The performance benchmark of issue 15, in one run: ``make bench``.

Every measurement is a fresh child process (interpreter start-up and imports charged to every side),
timed by ``perf_counter`` around it, with its CPU time and peak resident memory from its own rusage
(``os.wait4``). Each is run ``--repeat`` times and the fastest kept (all runs are in bench.json), and
the load average is recorded beside each one. The same input files go to both sides of every ratio:

1. At N (10^6; ``--quick``: 10^5) patients, from one synthetic registry (four CSV files):
   DuckDB's own typed read of the CSVs, and its read + write into a DuckDB file
   (``duckdb_reference.py``), against ``cartreg validate CSVDIR``, ``cartreg import CSVDIR``,
   ``cartreg analyze STORE --no-report`` and ``cartreg analyze CSVDIR --no-report``.
2. A 1,000-patient registry: ``cartreg analyze`` with its report (of the CSV directory and of its
   store), and ``cartreg --help``.
3. At M (2x10^5; ``--quick``: 2x10^4) patients: the same study done by pandas + lifelines from the
   same CSVs (``baseline_pandas_lifelines.py``, in its own virtual environment) against ``cartreg
   analyze CSVDIR`` writing its report; and R (``scripts/r-reference/late_failure_study.R``: survival
   and cmprsk) doing the study's statistics on cartreg's derived table (patients.csv), start-up
   included, against ``cartreg analyze STORE --no-report`` (which derives that table as well).

    .venv/bin/python benchmarks/run.py --baseline-python .venv-baseline/bin/python
    .venv/bin/python benchmarks/run.py --quick            # 10^5 / 2x10^4: a few minutes less
    .venv/bin/python benchmarks/run.py --repeat 3 --out /tmp/bench

Writes ``OUT/bench.json`` (every run) and ``OUT/table.md`` (the ratios and targets as Markdown).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BASELINE = HERE / "baseline_pandas_lifelines.py"
DUCKDB_REF = HERE / "duckdb_reference.py"
R_STUDY = REPO / "scripts" / "r-reference" / "late_failure_study.R"


@dataclass
class Run:
    """One child process: wall and CPU seconds, peak resident memory (MiB), exit code, load average."""

    wall: float
    cpu: float
    peak_mb: float
    rc: int
    load: str = ""
    log: str = ""


@dataclass
class Measure:
    key: str
    what: str
    cmd: list[str]
    runs: list[Run] = field(default_factory=list)

    @property
    def best(self) -> Run | None:
        ok = [r for r in self.runs if r.rc == 0]
        return min(ok, key=lambda r: r.wall) if ok else None


def cartreg_cmd() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m cartreg.cli.main``."""
    script = Path(sys.executable).parent / "cartreg"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cartreg.cli.main"]


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(cmd: list[str], log: Path) -> Run:
    """Run ``cmd`` as a fresh child; its own rusage comes from ``os.wait4`` (not RUSAGE_CHILDREN)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    load = loadavg()
    with log.open("w") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    return Run(wall=wall, cpu=usage.ru_utime + usage.ru_stime, peak_mb=usage.ru_maxrss / 1024,
               rc=os.waitstatus_to_exitcode(status), load=load, log=str(log))


def setup(cmd: list[str], log: Path) -> None:
    """An untimed preparation step (synth, import of the store the measurements read)."""
    run = measure(cmd, log)
    if run.rc != 0:
        raise SystemExit(f"setup failed (exit {run.rc}): {' '.join(cmd)}; see {log}")


# -------------------------------------------------------------------------------- headline numbers


def compare_headlines(cartreg_results: Path, baseline_json: Path) -> list[tuple[str, object, object, bool]]:
    """(what, cartreg, baseline, agree) for the headline numbers (counts exact, estimates 1e-4)."""
    r = json.loads(cartreg_results.read_text())
    b = json.loads(baseline_json.read_text())["headline"]
    la = r["late"]
    c = {
        "infused": r["cohort"]["infused"],
        "failures n": r["failures"]["n"],
        "relapse n": r["failures"]["relapse"]["n"],
        "late n": la["n"],
        "late treated n": la["first_treatment"]["treated"]["n"],
        "late untreated n": la["first_treatment"]["untreated"]["n"],
        "ORR to CAR T, late (%)": la["best_response"]["orr"]["pct"],
        "median OS-2 (months)": la["os2"]["median"],
        "median PFS-2 (months)": la["pfs2"]["median"],
        "PFS-2 at 6 mo, chemotherapy": la["by_class"]["chemotherapy"]["pfs2_6mo"]["est"],
        "OS-2 at 6 mo, bispecific": la["by_class"]["bispecific"]["os2_6mo"]["est"],
        "log-rank PFS-2 chi2": (la["logrank"]["pfs2"] or {}).get("chi2"),
        "HR PFS-2 bispecific vs chemo": (la["by_class"]["bispecific"]["pfs2_hr"] or {}).get("hr"),
        "HR OS-2 IMiD vs chemo": (la["by_class"]["IMiD"]["os2_hr"] or {}).get("hr"),
    }
    rows = []
    for key, cv in c.items():
        bv = b.get(key)
        if isinstance(cv, int) and isinstance(bv, int):
            agree = cv == bv
        elif cv is None or bv is None:
            agree = cv is None and bv is None
        else:
            agree = math.isclose(float(cv), float(bv), rel_tol=1e-4, abs_tol=1e-6)
        rows.append((key, cv, bv, agree))
    return rows


def compare_r(cartreg_results: Path, r_json: Path) -> list[tuple[str, object, object, bool]]:
    """(what, cartreg, R, agree to 1e-6 relative) for a few numbers R computed from patients.csv."""
    r = json.loads(cartreg_results.read_text())
    x = json.loads(r_json.read_text())
    la = r["late"]
    pairs = {
        "median OS-2 (months)": (la["os2"]["median"], x["os2"]["median"]),
        "median PFS-2 (months)": (la["pfs2"]["median"], x["pfs2"]["median"]),
        "log-rank PFS-2 chi2": ((la["logrank"]["pfs2"] or {}).get("chi2"), x["pfs2_logrank"]["chi2"]),
        "HR PFS-2 bispecific vs chemo": ((la["by_class"]["bispecific"]["pfs2_hr"] or {}).get("hr"),
                                         x["pfs2_cox"]["terms"]["bispecific"]["hr"]),
    }
    out = []
    for key, (cv, rv) in pairs.items():
        ok = cv is not None and rv is not None and math.isclose(float(cv), float(rv), rel_tol=1e-6)
        out.append((key, cv, rv, ok))
    return out


# ------------------------------------------------------------------------------------------ output


def machine() -> dict[str, str]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 ** 2:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import duckdb

    return {"cpus": str(os.cpu_count()), "cpu_model": cpu, "memory": mem, "python": platform.python_version(),
            "duckdb": duckdb.__version__, "platform": platform.platform(), "load_avg_at_start": loadavg()}


def fmt_n(n: int) -> str:
    e = int(round(math.log10(n))) if n > 0 else 0
    if n == 10 ** e and e >= 4:
        return f"10^{e}"
    if n % 10 ** (e - 1) == 0 and e >= 4 and n // 10 ** (e - 1) < 10:
        return f"{n // 10 ** (e - 1)}x10^{e - 1}"
    return f"{n:,}"


# -------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 10^5, M = 2x10^4 (default 10^6 and 2x10^5)")
    ap.add_argument("--big", type=int, help="N: patients of the DuckDB comparison (default 10^6)")
    ap.add_argument("--mid", type=int, help="M: patients of the pandas + lifelines and R comparisons (default 2x10^5)")
    ap.add_argument("--small", type=int, default=1000, help="patients of the report run (default 1,000)")
    ap.add_argument("--out", type=Path, default=REPO / "bench-output", help="working and output directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2, help="run each measurement this many times; keep the fastest")
    ap.add_argument("--baseline-python", default=str(REPO / ".venv-baseline" / "bin" / "python"),
                    help="interpreter with pandas + lifelines (make bench creates .venv-baseline)")
    ap.add_argument("--rscript", default=shutil.which("Rscript") or "Rscript")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--skip-r", action="store_true")
    args = ap.parse_args(argv)
    big = args.big or (100_000 if args.quick else 1_000_000)
    mid = args.mid or (20_000 if args.quick else 200_000)
    small = args.small
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    info = machine()
    print(f"machine: {info['cpus']} CPUs, {info['cpu_model']}, {info['memory']}; python {info['python']}, "
          f"duckdb {info['duckdb']}; load average {info['load_avg_at_start']}", flush=True)
    cli = cartreg_cmd()
    py = sys.executable

    # ---- inputs (not timed): one registry per size, and the stores the analyses read
    regs = {}
    for n in sorted({big, mid, small}):
        base = out / f"n{n}"
        reg, db = base / "registry", base / "registry.duckdb"
        regs[n] = (base, reg, db)
        seed_file = base / ".seed"
        if not (reg / "patients.csv").exists() or not seed_file.exists() or seed_file.read_text() != str(args.seed):
            shutil.rmtree(reg, ignore_errors=True)
            print(f"  preparing: synth {n:,} patients", flush=True)
            setup([*cli, "synth", "--patients", str(n), "--seed", str(args.seed), "-o", str(reg)],
                  logs / f"setup-synth-{n}.log")
            seed_file.write_text(str(args.seed))
            db.unlink(missing_ok=True)
        if not db.exists():
            print(f"  preparing: import {n:,} patients", flush=True)
            setup([*cli, "import", str(reg), "-o", str(db), "--replace"], logs / f"setup-import-{n}.log")

    bb, breg, bdb = regs[big]
    mb, mreg, mdb = regs[mid]
    sb, sreg, sdb = regs[small]
    m: dict[str, Measure] = {}

    def add(key: str, what: str, cmd: list[str], before=None) -> Measure:
        mm = Measure(key, what, cmd)
        for i in range(args.repeat):
            if before:
                before()
            run = measure(cmd, logs / f"{key}-{i}.log")
            mm.runs.append(run)
            status = "ok" if run.rc == 0 else f"FAILED (exit {run.rc}, log {run.log})"
            print(f"  {key:<26} {run.wall:8.2f} s  cpu {run.cpu:7.2f} s  {run.peak_mb:7.0f} MB  "
                  f"load {run.load}  {status}", flush=True)
        m[key] = mm
        return mm

    def fresh(*paths: Path):
        def go():
            for p in paths:
                if p.is_dir():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
        return go

    # ---- 1. DuckDB reference and cartreg at N
    ref_db = bb / "reference.duckdb"
    imp_db = bb / "imported.duckdb"
    add("duckdb_read", f"DuckDB typed read of the 4 CSVs, {fmt_n(big)}",
        [py, str(DUCKDB_REF), str(breg), "--mode", "read"])
    add("duckdb_read_write", f"DuckDB typed read + write of a store, {fmt_n(big)}",
        [py, str(DUCKDB_REF), str(breg), "--mode", "write", "--db", str(ref_db)], before=fresh(ref_db))
    add("validate", f"cartreg validate CSVDIR, {fmt_n(big)}", [*cli, "validate", str(breg)])
    add("import", f"cartreg import CSVDIR, {fmt_n(big)}", [*cli, "import", str(breg), "-o", str(imp_db), "--replace"],
        before=fresh(imp_db))
    add("analyze_store", f"cartreg analyze STORE --no-report, {fmt_n(big)}",
        [*cli, "analyze", str(bdb), "-o", str(bb / "a-store"), "--no-report"], before=fresh(bb / "a-store"))
    add("analyze_csv", f"cartreg analyze CSVDIR --no-report, {fmt_n(big)}",
        [*cli, "analyze", str(breg), "-o", str(bb / "a-csv"), "--no-report"], before=fresh(bb / "a-csv"))
    for p in (ref_db, imp_db):
        p.unlink(missing_ok=True)

    # ---- 2. a small registry with its report; start-up
    add("help", "cartreg --help", [*cli, "--help"])
    add("small_report_csv", f"cartreg analyze CSVDIR (report), {small:,}",
        [*cli, "analyze", str(sreg), "-o", str(sb / "a-csv")], before=fresh(sb / "a-csv"))
    add("small_report_store", f"cartreg analyze STORE (report), {small:,}",
        [*cli, "analyze", str(sdb), "-o", str(sb / "a-store")], before=fresh(sb / "a-store"))

    # ---- 3. pandas + lifelines, and R, at M
    add("mid_report_csv", f"cartreg analyze CSVDIR (report), {fmt_n(mid)}",
        [*cli, "analyze", str(mreg), "-o", str(mb / "a-csv")], before=fresh(mb / "a-csv"))
    add("mid_store", f"cartreg analyze STORE --no-report, {fmt_n(mid)}",
        [*cli, "analyze", str(mdb), "-o", str(mb / "a-store"), "--no-report"], before=fresh(mb / "a-store"))
    bjson = mb / "baseline.json"
    headlines = []
    if not args.skip_baseline:
        if not Path(args.baseline_python).exists():
            print(f"  baseline skipped: {args.baseline_python} not found (make bench creates it)", flush=True)
        else:
            add("baseline", f"pandas + lifelines, CSVDIR, {fmt_n(mid)}",
                [args.baseline_python, str(BASELINE), str(mreg), "--json", str(bjson)], before=fresh(bjson))
            if bjson.exists() and (mb / "a-csv" / "results.json").exists():
                headlines = compare_headlines(mb / "a-csv" / "results.json", bjson)
    r_json = mb / "r_study.json"
    r_rows = []
    if not args.skip_r:
        derived = mb / "a-store" / "patients.csv"
        add("r_study", f"R survival + cmprsk on patients.csv, {fmt_n(mid)}",
            [args.rscript, str(R_STUDY), str(derived), str(r_json)], before=fresh(r_json))
        if r_json.exists():
            r_rows = compare_r(mb / "a-store" / "results.json", r_json)

    # ---- results: ratios and targets
    def w(key: str) -> float | None:
        b = m[key].best if key in m else None
        return None if b is None else b.wall

    def pk(key: str) -> float | None:
        b = m[key].best if key in m else None
        return None if b is None else b.peak_mb

    lines = []

    def ratio_line(label: str, num: str, den: str, target: str, ok) -> None:
        a, b = w(num), w(den)
        if a is None or b is None:
            lines.append(f"| {label} | n/a | {target} | not measured |")
            return
        r = a / b
        lines.append(f"| {label} | {r:.2f} ({a:.2f} s / {b:.2f} s) | {target} | {'met' if ok(r) else 'MISSED'} |")

    lines.append("| measure | ratio (wall) | target | |")
    lines.append("|---|---|---|---|")
    ratio_line(f"`validate` / DuckDB typed read ({fmt_n(big)})", "validate", "duckdb_read", "<= 2", lambda r: r <= 2)
    ratio_line(f"`import` / DuckDB read + write ({fmt_n(big)})", "import", "duckdb_read_write", "<= 2", lambda r: r <= 2)
    ratio_line(f"`analyze STORE --no-report` / DuckDB read + write ({fmt_n(big)})", "analyze_store",
               "duckdb_read_write", "<= 1", lambda r: r <= 1)
    ratio_line(f"`analyze CSVDIR --no-report` / DuckDB read + write ({fmt_n(big)})", "analyze_csv",
               "duckdb_read_write", "<= 3", lambda r: r <= 3)
    ratio_line(f"pandas + lifelines / `analyze CSVDIR` with report ({fmt_n(mid)})", "baseline", "mid_report_csv",
               ">= 3", lambda r: r >= 3)
    ratio_line(f"R on patients.csv / `analyze STORE --no-report` ({fmt_n(mid)})", "r_study", "mid_store",
               ">= 2", lambda r: r >= 2)
    ratio_line(f"R on patients.csv / `analyze CSVDIR` with report ({fmt_n(mid)})", "r_study", "mid_report_csv",
               "(for information)", lambda r: True)
    abs_lines = ["| measure | wall s | cpu s | peak MB | target | |", "|---|---|---|---|---|---|"]

    def abs_line(key: str, target: str = "", ok=None) -> None:
        b = m[key].best if key in m else None
        if b is None:
            abs_lines.append(f"| {m[key].what if key in m else key} | FAILED | | | {target} | |")
            return
        verdict = "" if ok is None else ("met" if ok(b) else "MISSED")
        abs_lines.append(f"| {m[key].what} | {b.wall:.2f} | {b.cpu:.2f} | {b.peak_mb:,.0f} | {target} | {verdict} |")

    abs_line("duckdb_read")
    abs_line("duckdb_read_write")
    abs_line("validate")
    abs_line("import", "peak < 1 GB", lambda b: b.peak_mb < 1024)
    abs_line("analyze_store", "peak < 1 GB", lambda b: b.peak_mb < 1024)
    abs_line("analyze_csv")
    abs_line("help", "< 0.3 s", lambda b: b.wall < 0.3)
    abs_line("small_report_csv", "< 1 s", lambda b: b.wall < 1.0)
    abs_line("small_report_store", "< 1 s", lambda b: b.wall < 1.0)
    abs_line("mid_report_csv")
    abs_line("mid_store")
    for key in ("baseline", "r_study"):
        if key in m:
            abs_line(key)
    if bjson.exists():
        ph = json.loads(bjson.read_text())["seconds"]
        abs_lines.append("")
        abs_lines.append(f"Baseline phases (in process): imports {ph['imports']:.2f} s, read CSV {ph['read_csv']:.2f} s, "
                         f"derive {ph['derive']:.2f} s, statistics {ph['stats']:.2f} s (of which lifelines' "
                         f"Aalen-Johansen {ph.get('stats_cif', 0.0):.2f} s).")
        bw, cw = w("baseline"), w("mid_report_csv")
        if bw and cw:
            abs_lines.append(f"Without the Aalen-Johansen estimate on the baseline side only: "
                             f"{(bw - ph.get('stats_cif', 0.0)) / cw:.2f}x.")
    text = "\n".join(lines) + "\n\n" + "\n".join(abs_lines) + "\n"
    for title, rows in (("pandas + lifelines", headlines), ("R", r_rows)):
        if rows:
            text += f"\nHeadline numbers, cartreg vs {title} ({fmt_n(mid)}):\n\n| number | cartreg | {title} | agree |\n|---|---|---|---|\n"
            for key, cv, bv, agree in rows:
                def show(v):
                    return "null" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:.6g}")
                text += f"| {key} | {show(cv)} | {show(bv)} | {'yes' if agree else 'NO'} |\n"
    text += (f"\nMachine: {info['cpus']} CPUs ({info['cpu_model']}), {info['memory']}, Python {info['python']}, "
             f"DuckDB {info['duckdb']}; load average at start {info['load_avg_at_start']}, at end {loadavg()}; "
             f"best of {args.repeat} runs each (the load average before each run is in bench.json).\n")
    print()
    print(text)
    (out / "table.md").write_text(text)
    (out / "bench.json").write_text(json.dumps({
        "machine": info, "sizes": {"big": big, "mid": mid, "small": small}, "repeat": args.repeat,
        "measures": {k: {"what": v.what, "cmd": v.cmd, "runs": [asdict(r) for r in v.runs]} for k, v in m.items()},
        "headlines_baseline": [list(h) for h in headlines], "headlines_r": [list(h) for h in r_rows],
        "load_avg_at_end": loadavg(),
    }, indent=2, default=str) + "\n")
    print(f"wrote {out / 'bench.json'} and {out / 'table.md'}")
    return 1 if any(v.best is None for v in m.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
