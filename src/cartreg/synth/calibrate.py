"""Calibration check: synthesise -> read (validate) -> analyze -> compare with the abstract.

Every figure of the DESCAR-T late-failure abstract is a row of ``cartreg/data/calibration_targets.csv``
(key = its path in results.json, or a ``derived.*`` figure computed from results.json here).
:func:`run_calibration` generates a large registry (default 200,000 patients), runs the *real*
pipeline on it (CSV files -> :func:`cartreg.registry.read_registry` -> :func:`cartreg.study.analyze`)
and compares each recovered value with the abstract within the row's tolerance:

* ``pct``: absolute, in percentage points (1.5);
* ``median``: relative (5%);
* ``rate6``: absolute on the 0-1 scale (0.02 = 2 points);
* ``hr``: relative (15%);
* ``info``: shown, never compared (sample extremes, confidence limits, p-values depend on N).

It also repeats the pipeline on ``seeds`` registries of 977 patients (the abstract's size) and shows
the 2.5th-97.5th percentiles of each figure: the sampling noise a real registry of that size carries.

Example::

    >>> from cartreg.synth.calibrate import run_calibration, format_table
    >>> res = run_calibration(patients=20000, seeds=0)        # doctest: +SKIP
    >>> print(format_table(res))                               # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cartreg.errors import CartregError

KINDS = ("pct", "median", "rate6", "hr", "info")
RELATIVE = ("median", "hr")
MAIN_HISTOLOGIES = ("DLBCL", "PMBL", "HGBCL", "tFL")


@dataclass(frozen=True)
class Target:
    """One figure of the abstract (a row of calibration_targets.csv)."""

    key: str
    kind: str
    value: float
    text: str
    n: int | None
    denominator: int | None
    tolerance: float | None
    definition_differs: bool
    note: str

    def check(self, recovered: float | None) -> bool | None:
        """Whether ``recovered`` is within tolerance (None for ``info`` rows)."""
        if self.kind == "info":
            return None
        if recovered is None or not math.isfinite(recovered):
            return False
        allowed = self.tolerance * abs(self.value) if self.kind in RELATIVE else self.tolerance
        return abs(recovered - self.value) <= allowed + 1e-12

    @property
    def tolerance_text(self) -> str:
        if self.kind == "info" or self.tolerance is None:
            return ""
        if self.kind in RELATIVE:
            return f"±{self.tolerance * 100:g}%"
        if self.kind == "rate6":
            return f"±{self.tolerance:g}"
        return f"±{self.tolerance:g} pt"


def load_targets(path: str | Path | None = None) -> list[Target]:
    """Read the targets file (default: the packaged ``calibration_targets.csv``)."""
    if path is None:
        text = resources.files("cartreg.data").joinpath("calibration_targets.csv").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    out = []
    for i, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        kind = row["kind"].strip()
        if kind not in KINDS:
            raise CartregError(f"calibration targets row {i}: unknown kind {kind!r}")
        tol = row["tolerance"].strip()
        out.append(Target(
            key=row["key"].strip(), kind=kind, value=float(row["abstract_value"]), text=row["abstract_text"],
            n=int(row["n"]) if row["n"].strip() else None,
            denominator=int(row["denominator"]) if row["denominator"].strip() else None,
            tolerance=float(tol) if tol else None,
            definition_differs=row["definition_differs"].strip().lower() == "yes", note=row["note"],
        ))
    return out


def _path(results: dict, key: str) -> Any:
    node: Any = results
    for part in key.split("."):
        if isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                return None
        elif isinstance(node, dict):
            if part not in node:
                return None
            node = node[part]
        else:
            return None
    return node


def _pct(n: float, d: float) -> float | None:
    return 100.0 * n / d if d else None


def lookup(results: dict, key: str) -> float | None:
    """The value of ``key`` in a results dict; ``derived.*`` keys are computed from results."""
    if key.startswith("derived."):
        late = results.get("late", {})
        if key.startswith("derived.cohort.products_pct."):
            prod = key.rsplit(".", 1)[1]
            return _pct(results["cohort"]["products"].get(prod, 0), results["cohort"]["infused"])
        if key == "derived.late.histology_other.pct":
            hist = late["baseline"]["histology"]
            n_other = sum(v["n"] for k, v in hist.items() if k not in MAIN_HISTOLOGIES)
            denom = next(iter(hist.values()))["N"] if hist else 0
            return _pct(n_other, denom)
        if key == "derived.late.systemic_treated.pct":
            ft = late["first_treatment"]
            # systemic = treated minus radiotherapy minus the unlisted class (the abstract's 104)
            n_sys = ft["treated"]["n"] - ft["classes"]["radiotherapy"]["n"] - ft["classes"]["other"]["n"]
            return _pct(n_sys, ft["treated"]["N"])
        if key == "derived.late.best_response.non_responders.pct":
            orr = late["best_response"]["orr"]
            return _pct(orr["N"] - orr["n"], orr["N"])
        if key == "derived.late.time_to_failure.iqr":
            ttf = late["time_to_failure"]
            return None if ttf.get("q1") is None else ttf["q3"] - ttf["q1"]
        raise CartregError(f"unknown derived calibration key {key!r}")
    value = _path(results, key)
    if isinstance(value, bool) or value is None:
        return None
    return float(value) if isinstance(value, (int, float)) else None


def analyze_synthetic(n: int, seed: int, config: dict | None = None, workdir: str | Path | None = None) -> dict:
    """Generate, write CSVs, read them back through validation, run the late-failure study."""
    from cartreg.registry import read_registry
    from cartreg.study import analyze
    from cartreg.synth.generate import generate
    from cartreg.synth.write import write_csv_dir

    reg = generate(n, seed=seed, config=config)
    tmp = Path(tempfile.mkdtemp(prefix="cartreg-calib-", dir=workdir))
    try:
        write_csv_dir(reg, tmp)
        registry = read_registry(tmp, cutoff=reg.cutoff)
        if registry.report.has_errors:
            raise CartregError(f"the synthetic registry (n={n}, seed={seed}) has validation errors:\n"
                               + registry.report.to_text())
        results = analyze(registry, study="late-failure")
        close = getattr(registry, "close", None)
        if callable(close):
            close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


@dataclass(frozen=True)
class CalibrationRow:
    """One target with its recovered value, the difference, pass/fail and the N=977 spread."""

    target: Target
    recovered: float | None
    passed: bool | None
    spread: tuple[float, float] | None = None
    spread_within: float | None = None  # share of small registries within tolerance


@dataclass(frozen=True)
class CalibrationResult:
    """Result of :func:`run_calibration`: rows in the targets' order and the run's settings."""

    rows: list[CalibrationRow]
    patients: int
    seed: int
    seeds: int
    spread_n: int
    late_n: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def all_pass(self) -> bool:
        return all(r.passed is not False for r in self.rows)

    @property
    def failed(self) -> list[CalibrationRow]:
        return [r for r in self.rows if r.passed is False]


def run_calibration(
    patients: int = 200_000,
    seed: int = 20220429,
    seeds: int = 20,
    spread_n: int = 977,
    config: dict | None = None,
    targets: list[Target] | None = None,
    progress: Callable[[str], None] | None = None,
) -> CalibrationResult:
    """Run the large-sample check and the seed-to-seed spread (see module docstring)."""
    say = progress or (lambda _m: None)
    targets = targets or load_targets()
    say(f"large-sample registry: {patients} patients, seed {seed}")
    big = analyze_synthetic(patients, seed, config)
    late_n = _path(big, "late.n")
    say(f"analysed: {late_n} late failures")
    spread_vals: list[list[float | None]] = []
    for i in range(seeds):
        s = seed + 1 + i
        res = analyze_synthetic(spread_n, s, config)
        spread_vals.append([lookup(res, t.key) for t in targets])
        say(f"spread registry {i + 1}/{seeds} (n={spread_n}, seed {s})")
    rows = []
    for j, t in enumerate(targets):
        rec = lookup(big, t.key)
        spread = within = None
        if seeds:
            vals = np.array([v[j] for v in spread_vals if v[j] is not None and math.isfinite(v[j])], dtype=float)
            if len(vals):
                lo, hi = np.percentile(vals, [2.5, 97.5])
                spread = (float(lo), float(hi))
                if t.kind != "info":
                    within = float(np.mean([bool(t.check(v)) for v in vals]))
        rows.append(CalibrationRow(t, rec, t.check(rec), spread, within))
    return CalibrationResult(rows=rows, patients=patients, seed=seed, seeds=seeds, spread_n=spread_n,
                             late_n=late_n, meta={"parameters": big.get("parameters")})


def _fmt(v: float | None, kind: str) -> str:
    if v is None or not math.isfinite(v):
        return "NA"
    if kind in ("rate6", "hr") or abs(v) < 0.1:
        return f"{v:.3f}"
    return f"{v:.2f}"


def format_table(result: CalibrationResult) -> str:
    """A plain-text table: abstract vs recovered vs tolerance vs pass, and the N=977 spread."""
    head = ["key", "kind", "abstract", "recovered", "tolerance", "pass",
            f"N={result.spread_n} 2.5-97.5%" if result.seeds else "", "def. differs"]
    lines = []
    for r in result.rows:
        t = r.target
        spread = "" if r.spread is None else f"{_fmt(r.spread[0], t.kind)} - {_fmt(r.spread[1], t.kind)}"
        status = "n/a" if r.passed is None else ("PASS" if r.passed else "FAIL")
        lines.append([t.key, t.kind, _fmt(t.value, t.kind), _fmt(r.recovered, t.kind), t.tolerance_text, status,
                      spread, "yes" if t.definition_differs else ""])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head), fmt.format(*["-" * w for w in widths])]
    out += [fmt.format(*row) for row in lines]
    n_cmp = sum(r.passed is not None for r in result.rows)
    n_pass = sum(r.passed is True for r in result.rows)
    out.append("")
    out.append(f"{n_pass}/{n_cmp} targets within tolerance at N = {result.patients} (seed {result.seed}, "
               f"{result.late_n} late failures)" + (f"; spread over {result.seeds} registries of {result.spread_n}"
                                                    if result.seeds else ""))
    if result.failed:
        out.append("FAILED: " + ", ".join(r.target.key for r in result.failed))
    return "\n".join(out)


def to_records(result: CalibrationResult) -> list[dict[str, Any]]:
    """One plain dict per target (for calibration.csv / calibration.json)."""
    recs = []
    for r in result.rows:
        t = r.target
        recs.append({
            "key": t.key, "kind": t.kind, "abstract_value": t.value, "recovered": r.recovered,
            "difference": None if r.recovered is None else r.recovered - t.value,
            "tolerance": t.tolerance, "pass": r.passed,
            "spread_lo": None if r.spread is None else r.spread[0],
            "spread_hi": None if r.spread is None else r.spread[1],
            "spread_share_within_tolerance": r.spread_within,
            "definition_differs": t.definition_differs, "abstract_text": t.text, "note": t.note,
        })
    return recs


def write_outputs(result: CalibrationResult, outdir: str | Path) -> list[Path]:
    """Write ``calibration.csv``, ``calibration.json`` and ``calibration.txt`` into ``outdir``."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    recs = to_records(result)
    p_csv, p_json, p_txt = out / "calibration.csv", out / "calibration.json", out / "calibration.txt"
    with p_csv.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(recs[0]))
        w.writeheader()
        w.writerows(recs)
    p_json.write_text(json.dumps({
        "patients": result.patients, "seed": result.seed, "seeds": result.seeds, "spread_patients": result.spread_n,
        "late_n": result.late_n, "all_pass": result.all_pass, "targets": recs,
    }, indent=2, default=str), encoding="utf-8")
    p_txt.write_text(format_table(result) + "\n", encoding="utf-8")
    return [p_csv, p_json, p_txt]
