"""Benchmark of the whole pipeline at registry scale (issue 7): ``make bench``.

Runs synth -> validate -> import -> analyze -> report at 10^4, 10^5 and 10^6 patients, each stage as a
fresh subprocess of the real ``cartreg`` CLI, and prints one table: wall time, CPU time, peak memory
(the child's own ``ru_maxrss`` from ``os.wait4``), throughput, the time ratio per 10x patients, and a
DuckDB lower bound per stage (read the stage's input columns once, write its output once, sort the
largest table once), with a flag when a stage is more than 10x its lower bound.

The same late-failure study done with pandas + lifelines (``baseline_pandas_lifelines.py``) runs on
the same registry; its headline numbers are printed beside cartreg's, and the headline of the run is
the speed ratio baseline / ``cartreg analyze``.

    .venv/bin/python benchmarks/run.py                         # 10^4, 10^5, 10^6 + baseline
    .venv/bin/python benchmarks/run.py --sizes 10000,100000    # smaller
    .venv/bin/python benchmarks/run.py --skip-baseline --repeat 2 --out bench-output

Every run writes ``OUT/bench.json`` (all measurements) and ``OUT/table.md`` (the table as Markdown).
Registries, stores and analysis outputs are kept under ``OUT/n<N>/`` (bench-output/ is git-ignored).
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
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BASELINE = HERE / "baseline_pandas_lifelines.py"
STAGES = ("synth", "validate", "import", "analyze", "report", "re-analyze")
TABLES = ("patients", "infusions", "responses", "treatments")

# Targets of issue 7 at 10^6 patients (2 cores, 24 GB).
TARGET_ANALYZE_S = 20.0
TARGET_PEAK_MB = 4096.0
TARGET_PIPELINE_S = 120.0
TARGET_SPEEDUP = 5.0


@dataclass
class Run:
    """One child process: wall and CPU seconds, peak resident memory (MiB), exit code."""

    wall: float
    cpu: float
    peak_mb: float
    rc: int
    log: str = ""


@dataclass
class Row:
    stage: str
    n: int
    runs: list[Run] = field(default_factory=list)
    lower_bound: float | None = None
    lb_detail: str = ""

    @property
    def best(self) -> Run | None:
        ok = [r for r in self.runs if r.rc == 0]
        return min(ok, key=lambda r: r.wall) if ok else None


def cartreg_cmd() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m cartreg.cli.main``."""
    script = Path(sys.executable).parent / "cartreg"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cartreg.cli.main"]


def measure(cmd: list[str], log: Path) -> Run:
    """Run ``cmd`` as a fresh child; its own rusage comes from ``os.wait4`` (not RUSAGE_CHILDREN)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as fh:
        fh.write("$ " + " ".join(cmd) + "\n")
        fh.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(wall=wall, cpu=usage.ru_utime + usage.ru_stime, peak_mb=usage.ru_maxrss / 1024,
               rc=proc.returncode, log=str(log))


# ------------------------------------------------------------------------------------ lower bounds


def _timed(con, sql: str, params=None) -> float:
    t0 = time.perf_counter()
    con.execute(sql, params).fetchall()
    return time.perf_counter() - t0


def lower_bounds(reg_dir: Path, db: Path, work: Path) -> dict[str, dict[str, float]]:
    """DuckDB lower bounds per stage, in seconds (in-process, so no interpreter start-up).

    read_csv: parse the four CSV files once into typed columns; read_store: scan every stored column
    once (hash of each column, so no statistics shortcut); sort: sort responses by (patient, date);
    write_csv: write the four tables as CSV once; write_store: write the four tables into a new
    DuckDB file once; write_patients: write a one-row-per-patient CSV as wide as analyze's
    patients.csv (patients joined to infusions, 25 columns).
    """
    import duckdb

    con = duckdb.connect()
    out: dict[str, float] = {}
    t = 0.0
    for name in TABLES:
        t += _timed(con, f"CREATE OR REPLACE TEMP TABLE raw_{name} AS SELECT * FROM read_csv(?)",
                    [str(reg_dir / f"{name}.csv")])
    out["read_csv"] = t
    con.execute("ATTACH ? AS s (READ_ONLY)", [str(db)])
    t = 0.0
    for name in TABLES:
        cols = [r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = 's' AND table_name = ? "
            "AND column_name <> '_row'", [name]).fetchall()]
        t += _timed(con, "SELECT " + ", ".join(f"sum(hash({c}))" for c in cols) + f" FROM s.{name}")
    out["read_store"] = t
    out["sort"] = _timed(
        con, "CREATE OR REPLACE TEMP TABLE sorted AS SELECT patient_id, assessment_date, response "
             "FROM s.responses ORDER BY patient_id, assessment_date")
    tmp = Path(tempfile.mkdtemp(prefix="lb-", dir=work))

    def lit(path: Path) -> str:  # COPY ... TO takes a literal, not a parameter
        return "'" + str(path).replace("'", "''") + "'"

    try:
        t = 0.0
        for name in TABLES:
            t += _timed(con, f"COPY (SELECT * EXCLUDE (_row) FROM s.{name}) TO {lit(tmp / (name + '.csv'))} (HEADER)")
        out["write_csv"] = t
        con.execute("ATTACH ? AS w", [str(tmp / "w.duckdb")])
        t = 0.0
        for name in TABLES:
            t += _timed(con, f"CREATE TABLE w.{name} AS SELECT * FROM raw_{name}")
        con.execute("DETACH w")
        out["write_store"] = t
        out["write_patients"] = _timed(
            con, f"COPY (SELECT * FROM s.patients p JOIN s.infusions i USING (patient_id) ORDER BY patient_id) "
                 f"TO {lit(tmp / 'patients_wide.csv')} (HEADER)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    con.close()
    return out


def stage_bound(stage: str, lb: dict[str, float]) -> tuple[float | None, str]:
    """The lower bound of a stage from its unavoidable I/O and one sort."""
    parts = {
        "synth": ("write_csv",),
        "validate": ("read_csv", "sort"),
        "import": ("read_csv", "sort", "write_store"),
        "analyze": ("read_store", "sort", "write_patients"),
        "re-analyze": ("read_store", "sort", "write_patients"),
    }.get(stage)
    if not parts:
        return None, "n/a (input is results.json)"
    return sum(lb[p] for p in parts), " + ".join(parts)


# ---------------------------------------------------------------------------------------- stages


def stage_commands(n: int, seed: int, base: Path) -> dict[str, list[str]]:
    cli = cartreg_cmd()
    reg, db = base / "registry", base / "registry.duckdb"
    report_py = ("import json, sys; from pathlib import Path; from cartreg.report import write_report; "
                 "out = Path(sys.argv[1]); write_report(json.loads((out / 'results.json').read_text()), out)")
    return {
        "synth": [*cli, "synth", "--patients", str(n), "--seed", str(seed), "-o", str(reg)],
        "validate": [*cli, "validate", str(reg)],
        "import": [*cli, "import", str(reg), "-o", str(db), "--replace"],
        "analyze": [*cli, "analyze", str(db), "-o", str(base / "analysis"), "--no-report"],
        # the report stage on analyze's results.json, through the same function `cartreg analyze` calls
        "report": [sys.executable, "-c", report_py, str(base / "analysis")],
        # re-analysis with other study parameters reads the stored tables only (the re-analysis cache)
        "re-analyze": [*cli, "analyze", str(db), "-o", str(base / "analysis-90d"), "--no-report",
                       "--late-after-days", "90"],
    }


def before_stage(stage: str, base: Path) -> None:
    if stage == "synth":
        shutil.rmtree(base / "registry", ignore_errors=True)
    if stage == "report":
        for sub in ("figures", "tables"):
            shutil.rmtree(base / "analysis" / sub, ignore_errors=True)


def startup_time(repeat: int, logs: Path) -> Run:
    """Interpreter + CLI import time (every stage pays it once)."""
    runs = [measure([*cartreg_cmd(), "--help"], logs / f"startup-{i}.log") for i in range(max(repeat, 2))]
    return min(runs, key=lambda r: r.wall)


# -------------------------------------------------------------------------------------- baseline


def compare_headlines(cartreg_results: Path, baseline_json: Path) -> list[tuple[str, object, object, bool]]:
    """(what, cartreg, baseline, agree) for the headline numbers."""
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


# ----------------------------------------------------------------------------------------- output


def fmt(x: float | None, nd: int = 1) -> str:
    return "" if x is None else f"{x:,.{nd}f}"


def table(rows: list[Row], startup: Run) -> list[list[str]]:
    by = {(r.stage, r.n): r for r in rows}
    head = ["stage", "n", "wall s", "cpu s", "peak MB", "patients/s", "x per 10x n", "lower bound s", "x LB", "flag"]
    out = [head]
    for r in rows:
        b = r.best
        if b is None:
            out.append([r.stage, f"{r.n:,}", "FAILED", "", "", "", "", "", "", f"see {r.runs[-1].log}"])
            continue
        prev = by.get((r.stage, r.n // 10))
        ratio = b.wall / prev.best.wall if prev is not None and prev.best is not None else None
        x_lb = None
        flag = ""
        if r.lower_bound:
            # interpreter start-up is a constant every stage pays once; compare the rest with the bound
            x_lb = max(b.wall - startup.wall, 0.0) / r.lower_bound
            flag = ">10x LB" if x_lb > 10 else ""
        if ratio is not None and r.n >= 100_000 and ratio > 12.0:
            flag = (flag + " worse than n log n").strip()
        out.append([
            r.stage, f"{r.n:,}", fmt(b.wall, 2), fmt(b.cpu, 2), fmt(b.peak_mb, 0), fmt(r.n / b.wall, 0),
            "" if ratio is None else f"{ratio:.1f}", fmt(r.lower_bound, 2), "" if x_lb is None else f"{x_lb:.1f}",
            flag,
        ])
    return out


def print_table(t: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in t) for i in range(len(t[0]))]
    lines = []
    for k, row in enumerate(t):
        lines.append("  ".join(c.rjust(w) if i not in (0, 9) else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(t: list[list[str]]) -> str:
    lines = ["| " + " | ".join(t[0]) + " |", "|" + "|".join("---" for _ in t[0]) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in t[1:]]
    return "\n".join(lines)


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
            "duckdb": duckdb.__version__, "platform": platform.platform(),
            "load_avg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg())}


# ------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated patient counts")
    ap.add_argument("--out", type=Path, default=REPO / "bench-output", help="working and output directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="run each stage this many times; keep the fastest")
    ap.add_argument("--skip-baseline", action="store_true", help="do not run the pandas + lifelines baseline")
    ap.add_argument("--baseline-max-n", type=int, default=10**7, help="run the baseline only up to this n")
    args = ap.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(f"machine: {info['cpus']} CPUs, {info['cpu_model']}, {info['memory']}; python {info['python']}, "
          f"duckdb {info['duckdb']}; load average {info['load_avg_at_start']}", flush=True)
    startup = startup_time(args.repeat, out / "logs")
    print(f"start-up (cartreg --help): {startup.wall:.2f} s, {startup.peak_mb:.0f} MB", flush=True)

    rows: list[Row] = []
    baselines: dict[int, dict] = {}
    headlines: dict[int, list] = {}
    for n in sizes:
        base = out / f"n{n}"
        base.mkdir(parents=True, exist_ok=True)
        cmds = stage_commands(n, args.seed, base)
        for stage in STAGES:
            row = Row(stage, n)
            for i in range(args.repeat):
                before_stage(stage, base)
                run = measure(cmds[stage], base / "logs" / f"{stage}-{i}.log")
                row.runs.append(run)
                status = "ok" if run.rc == 0 else f"FAILED (exit {run.rc}, log {run.log})"
                print(f"  n={n:>9,}  {stage:<10} {run.wall:8.2f} s  {run.peak_mb:7.0f} MB  {status}", flush=True)
            rows.append(row)
        if (base / "registry.duckdb").exists() and (base / "registry").is_dir():
            lb = lower_bounds(base / "registry", base / "registry.duckdb", base)
            for row in rows:
                if row.n == n:
                    row.lower_bound, row.lb_detail = stage_bound(row.stage, lb)
            print("  lower bounds: " + ", ".join(f"{k} {v:.2f} s" for k, v in lb.items()), flush=True)
        if not args.skip_baseline and n <= args.baseline_max_n:
            bjson = base / "baseline.json"
            runs = []
            for i in range(args.repeat):
                bjson.unlink(missing_ok=True)
                runs.append(measure([sys.executable, str(BASELINE), str(base / "registry"), "--json", str(bjson)],
                                    base / "logs" / f"baseline-{i}.log"))
                print(f"  n={n:>9,}  {'baseline':<10} {runs[-1].wall:8.2f} s  {runs[-1].peak_mb:7.0f} MB  "
                      f"{'ok' if runs[-1].rc == 0 else 'FAILED, log ' + runs[-1].log}", flush=True)
            ok = [r for r in runs if r.rc == 0]
            if ok and bjson.exists():
                best = min(ok, key=lambda r: r.wall)
                phases = json.loads(bjson.read_text())["seconds"]
                baselines[n] = {"run": asdict(best), "phases": phases}
                res = base / "analysis" / "results.json"
                if res.exists():
                    headlines[n] = compare_headlines(res, bjson)

    # ---- the table
    t = table(rows, startup)
    print()
    print(print_table(t))
    md = [markdown(t)]

    # ---- pipeline totals and targets
    print()
    summary_lines = []
    for n in sizes:
        best = {r.stage: r.best for r in rows if r.n == n}
        if any(best.get(s) is None for s in ("synth", "validate", "import", "analyze", "report")):
            line = f"n={n:,}: pipeline incomplete (a stage failed)"
        else:
            total = sum(best[s].wall for s in ("synth", "validate", "import", "analyze", "report"))
            no_val = total - best["validate"].wall
            peak = max(best[s].peak_mb for s in ("synth", "validate", "import", "analyze", "report"))
            line = (f"n={n:,}: whole pipeline {total:.1f} s (synth+validate+import+analyze+report; "
                    f"{no_val:.1f} s without the separate validate, which import repeats), peak {peak:,.0f} MB")
        print(line)
        summary_lines.append(line)

    # ---- baseline
    ratios = {}
    for n, bl in baselines.items():
        an = next((r.best for r in rows if r.n == n and r.stage == "analyze"), None)
        imp = next((r.best for r in rows if r.n == n and r.stage == "import"), None)
        ph = bl["phases"]
        b_wall = bl["run"]["wall"]
        b_analysis = b_wall - ph["read_csv"]  # everything but parsing the CSV files
        print()
        cif = ph.get("stats_cif", 0.0)
        print(f"baseline pandas + lifelines, n={n:,}: {b_wall:.1f} s wall, peak {bl['run']['peak_mb']:,.0f} MB "
              f"(imports {ph['imports']:.1f} s, read CSV {ph['read_csv']:.1f} s, derive {ph['derive']:.1f} s, "
              f"statistics {ph['stats']:.1f} s, of which Aalen-Johansen {cif:.1f} s)")
        if an is not None:
            r1 = b_analysis / an.wall
            r2 = b_wall / (an.wall + (imp.wall if imp else 0.0))
            r3 = (b_analysis - cif) / an.wall
            ratios[n] = {"analyze": r1, "import_plus_analyze": r2, "analyze_without_baseline_cif": r3}
            line = (f"HEADLINE n={n:,}: baseline / cartreg analyze = {r1:.1f}x  "
                    f"(baseline without CSV parsing {b_analysis:.1f} s vs cartreg analyze {an.wall:.1f} s; "
                    f"with parsing vs cartreg import + analyze: {r2:.1f}x; "
                    f"leaving lifelines' Aalen-Johansen out of the baseline: {r3:.1f}x)")
            print(line)
            summary_lines.append(line)
        if n in headlines:
            print(f"  {'headline number':<32} {'cartreg':>14} {'baseline':>14}  agree")
            for key, cv, bv, agree in headlines[n]:
                def show(v):
                    return "null" if v is None else (f"{v:,}" if isinstance(v, int) else f"{v:.6g}")
                print(f"  {key:<32} {show(cv):>14} {show(bv):>14}  {'yes' if agree else 'NO'}")

    # ---- targets at the largest size
    n_max = max(sizes)
    if n_max >= 1_000_000:
        best = {r.stage: r.best for r in rows if r.n == n_max}
        an = best.get("analyze")
        print()
        print(f"targets at n={n_max:,}:")
        if an:
            print(f"  analyze {an.wall:.1f} s (< {TARGET_ANALYZE_S:.0f} s): {'met' if an.wall < TARGET_ANALYZE_S else 'MISSED'}")
        peaks = [b.peak_mb for b in best.values() if b]
        if peaks:
            print(f"  peak memory {max(peaks):,.0f} MB (< {TARGET_PEAK_MB:,.0f}): "
                  f"{'met' if max(peaks) < TARGET_PEAK_MB else 'MISSED'}")
        stages5 = ("synth", "validate", "import", "analyze", "report")
        if all(best.get(s) for s in stages5):
            total = sum(best[s].wall for s in stages5)
            print(f"  whole pipeline {total:.1f} s (< {TARGET_PIPELINE_S:.0f} s): "
                  f"{'met' if total < TARGET_PIPELINE_S else 'MISSED'}")
        if n_max in ratios:
            r1 = ratios[n_max]["analyze"]
            print(f"  speed-up over pandas + lifelines {r1:.1f}x (>= {TARGET_SPEEDUP:.0f}x): "
                  f"{'met' if r1 >= TARGET_SPEEDUP else 'MISSED'}")

    (out / "table.md").write_text("\n\n".join(md + summary_lines) + "\n")
    (out / "bench.json").write_text(json.dumps({
        "machine": info,
        "startup": asdict(startup),
        "rows": [{"stage": r.stage, "n": r.n, "runs": [asdict(x) for x in r.runs], "lower_bound": r.lower_bound,
                  "lower_bound_parts": r.lb_detail} for r in rows],
        "baseline": baselines,
        "ratios": ratios,
        "headlines": {n: [list(h) for h in hs] for n, hs in headlines.items()},
    }, indent=2) + "\n")
    print(f"\nwrote {out / 'bench.json'} and {out / 'table.md'}")
    failed = any(r.best is None for r in rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
