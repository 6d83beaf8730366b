"""Analysis plans. A plan turns a registry into a JSON-ready results dictionary.

>>> from cartreg.study import STUDIES
>>> sorted(STUDIES)
['late-failure', 'product-outcomes']
"""

from __future__ import annotations

import datetime as dt
import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cartreg import __version__
from cartreg.endpoints import Endpoints
from cartreg.errors import CartregError
from cartreg.study import late_failure, product_outcomes
from cartreg.study.output import prefetch_enabled, write_csv
from cartreg.study.params import LateFailureParams, resolve_params


@dataclass(frozen=True)
class StudyPlan:
    """A named analysis: how to resolve its parameters and how to run it on a registry connection.

    ``run(con, params, data_cutoff=None)``: ``data_cutoff`` is the registry's data freeze (records after
    it are ignored and follow-up ends at it; docs/endpoints.md, *Data freeze*).
    """

    name: str
    description: str
    params_type: type
    run: Callable[..., tuple[dict[str, Any], Endpoints]]


STUDIES: dict[str, StudyPlan] = {
    "late-failure": StudyPlan(
        name="late-failure",
        description="Failures after CAR T, early vs late, and the outcomes of late failures (DESCAR-T abstract).",
        params_type=LateFailureParams,
        run=late_failure.run,
    ),
    "product-outcomes": StudyPlan(
        name="product-outcomes",
        description="Overall and progression-free survival from infusion, by CAR T product.",
        params_type=product_outcomes.ProductOutcomesParams,
        run=product_outcomes.run,
    ),
}


def get_plan(study: str) -> StudyPlan:
    if study not in STUDIES:
        raise CartregError(f"unknown study {study!r}; available: {', '.join(sorted(STUDIES))}")
    return STUDIES[study]


@dataclass(frozen=True)
class Analysis:
    """What :func:`run_study` returns: the results dict and the per-patient endpoint table behind it."""

    results: dict[str, Any]
    endpoints: Endpoints


def run_study(reg: Any, study: str = "late-failure", params: Any | None = None) -> Analysis:
    """Run ``study`` on a registry (anything with a DuckDB ``con``; a :class:`cartreg.registry.Registry`)."""
    plan = get_plan(study)
    params = params if params is not None else resolve_params(study=study, params_type=plan.params_type)
    meta = getattr(reg, "metadata", None)
    cutoff = getattr(meta, "data_cutoff", None)
    # the data freeze: records after it are ignored and follow-up ends at it (docs/endpoints.md)
    results, ep = plan.run(reg.con, params, data_cutoff=cutoff if isinstance(cutoff, dt.date) else None)
    results["parameters"]["data_cutoff"] = cutoff.isoformat() if isinstance(cutoff, dt.date) else cutoff
    results["parameters"]["data_cutoff_inferred"] = getattr(meta, "data_cutoff_inferred", None)
    results["meta"] = {
        "cartreg_version": __version__,
        "registry_sha256": getattr(reg, "fingerprint", None),
        "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "files": {"patients.csv": "IDENTIFYING: one row per infused patient, with patient_id"},
    }
    ordered = {k: results[k] for k in ("study", "parameters", "meta") if k in results}
    ordered.update({k: v for k, v in results.items() if k not in ordered})
    return Analysis(results=jsonable(ordered), endpoints=ep)


def analyze(reg: Any, study: str = "late-failure", params: Any | None = None) -> dict[str, Any]:
    """The results dictionary of ``study`` on ``reg`` (what ``cartreg analyze`` writes as results.json)."""
    token = prefetch_enabled.set(False)  # patients.csv is not written: do not prepare it
    try:
        return run_study(reg, study, params).results
    finally:
        prefetch_enabled.reset(token)


def jsonable(obj: Any) -> Any:
    """Plain JSON types: NumPy scalars to Python, NaN/inf to None, dates to ISO text, tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    return obj


def write_results(analysis: Analysis, outdir: Path) -> dict[str, Path]:
    """Write ``results.json`` and the identifying per-patient ``patients.csv`` into ``outdir``.

    patients.csv is written by :func:`write_csv` (its bytes usually prepared while the statistics
    ran, see :mod:`cartreg.study.output`) while results.json is encoded.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    patients_path = outdir / "patients.csv"
    with ThreadPoolExecutor(max_workers=1) as pool:
        csv_done = pool.submit(write_csv, analysis.endpoints.patients, patients_path)
        results_path = outdir / "results.json"
        tmp = results_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(analysis.results, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        tmp.replace(results_path)
        csv_done.result()
    (outdir / "IDENTIFYING-DATA.txt").write_text(
        "patients.csv holds patient identifiers (patient_id) and dates: it is health data.\n"
        "Do not share it outside the registry's governance. results.json and report.html hold no identifiers.\n",
        encoding="utf-8",
    )
    return {"results": results_path, "patients": patients_path}


# --- plan files (issue 13) -----------------------------------------------------------------------

#: Studies that stay built-in Python under their name (`--study late-failure` keeps its results.json contract).
BUILTIN_STUDIES = ("late-failure",)


def shipped_plans() -> dict[str, str]:
    """``{name: TOML text}`` of the plans shipped in ``cartreg/data/plans`` (sorted by name)."""
    from importlib.resources import files

    folder = files("cartreg") / "data" / "plans"
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            out[entry.name[: -len(".toml")]] = entry.read_text(encoding="utf-8")
    return out


def load_plan(name: str | None = None, path: str | Path | None = None, overrides: dict[str, Any] | None = None):
    """A validated :class:`cartreg.study.plan.Plan` from a file ``path`` or a shipped plan ``name``."""
    from cartreg.study.plan import parse_plan, parse_plan_text

    if path is not None:
        return parse_plan(path, overrides=overrides)
    plans = shipped_plans()
    if name not in plans:
        raise CartregError(f"unknown plan {name!r}; shipped plans: {', '.join(plans)}", exit_code=2)
    return parse_plan_text(plans[name], source=f"{name}.toml", overrides=overrides)


def run_plan_study(reg: Any, plan: Any) -> Analysis:
    """Run a plan on a registry: results.json dict (with ``meta``) and the catalogue as the per-patient table."""
    import dataclasses

    from cartreg.study.plan_run import run_plan

    meta = getattr(reg, "metadata", None)
    cutoff = getattr(meta, "data_cutoff", None)
    results, ep, catalogue = run_plan(reg.con, plan, data_cutoff=cutoff if isinstance(cutoff, dt.date) else None)
    results["parameters"]["data_cutoff"] = cutoff.isoformat() if isinstance(cutoff, dt.date) else cutoff
    results["parameters"]["data_cutoff_inferred"] = getattr(meta, "data_cutoff_inferred", None)
    results["meta"] = {
        "cartreg_version": __version__,
        "registry_sha256": getattr(reg, "fingerprint", None),
        "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "files": {"patients.csv": "IDENTIFYING: the endpoint catalogue, one row per registered patient, with patient_id"},
    }
    return Analysis(results=jsonable(results), endpoints=dataclasses.replace(ep, patients=catalogue.table))


def analyze_plan(reg: Any, plan: Any) -> dict[str, Any]:
    """The results dictionary of a plan (a :class:`~cartreg.study.plan.Plan`, a shipped name, or a path)."""
    if isinstance(plan, (str, Path)):
        plan = load_plan(path=plan) if str(plan).endswith(".toml") else load_plan(name=str(plan))
    token = prefetch_enabled.set(False)
    try:
        return run_plan_study(reg, plan).results
    finally:
        prefetch_enabled.reset(token)


__all__ = ["BUILTIN_STUDIES", "analyze_plan", "load_plan", "run_plan_study", "shipped_plans", "STUDIES", "Analysis", "LateFailureParams", "StudyPlan", "analyze", "resolve_params", "run_study",
           "write_csv", "write_results"]
