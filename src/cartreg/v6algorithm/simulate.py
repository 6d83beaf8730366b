"""``cartreg federated simulate``: the vantage6 algorithm in-process, one mock node per registry."""

from __future__ import annotations

import contextlib
import io
import json
import secrets
from pathlib import Path
from typing import Any

from cartreg.errors import CartregError
from cartreg.federated.privacy import MIN_ORGANIZATIONS


def simulate(registries: list[Path], outdir: Path, study: str = "late-failure", grid: str = "month",
             pooled_risk_sets: bool = False, params: dict[str, Any] | None = None,
             mappings: list[Path | None] | None = None) -> dict[str, Any]:
    """Run the federated study through vantage6's ``MockAlgorithmClient``; returns results.json content.

    Each mock node gets the default privacy settings, loosened only as far as the researcher's
    request needs (day grid, pooled risk sets): in a real collaboration each node's administrator
    decides. Each node's request log is written to ``outdir/node-logs/``. ``mappings`` (one per
    registry, None for a registry in the exchange format): the mapping TOML through which that node
    reads its source (``--registry SOURCE::MAPPING.toml``, docs/federated.md).
    """
    try:
        from vantage6.algorithm.tools.mock_client import MockAlgorithmClient

        from cartreg.v6algorithm import mock_dataset
    except ImportError:
        raise CartregError("cartreg federated needs vantage6's algorithm tools: "
                           "pip install 'cartreg[federated]' (make does it)", 2) from None

    if len(registries) < MIN_ORGANIZATIONS:
        raise CartregError(f"a federated analysis needs at least {MIN_ORGANIZATIONS} registries; "
                           f"{len(registries)} given: nothing computed", 2)
    mappings = list(mappings) if mappings is not None else [None] * len(registries)
    if len(mappings) != len(registries):
        raise CartregError("one mapping (or none) per registry", 2)
    for r in registries:
        if not Path(r).exists():
            raise CartregError(f"{r}: no such registry", 2)
    for m in mappings:
        if m is not None and not Path(m).is_file():
            raise CartregError(f"{m}: no such mapping file", 2)
    logs = outdir / "node-logs"
    orgs = list(range(1, len(registries) + 1))
    datasets = [mock_dataset(Path(r).resolve(), secret=secrets.token_hex(32), log_path=str(logs / f"node-{o}.log"),
                             allow_day_grid=grid == "day", allow_pooled_risk_sets=pooled_risk_sets,
                             mapping=None if m is None else str(Path(m).resolve()))
                for o, r, m in zip(orgs, registries, mappings)]
    chatter = io.StringIO()  # vantage6's "info > ..." lines (one per mocked wait), kept off the terminal
    with contextlib.redirect_stdout(chatter):
        client = MockAlgorithmClient(datasets=datasets, module="cartreg.v6algorithm", organization_ids=orgs)
        task = client.task.create(input_={"method": "central", "kwargs": {
            "study": study, "grid": grid, "pooled_risk_sets": pooled_risk_sets, "params": params or {},
            "organizations": orgs}}, organizations=[orgs[0]])
        results = client.wait_for_results(task["id"])[0]
    if "error" in results:
        raise CartregError(results["error"], int(results.get("exit_code", 2)))
    results["federated"]["registry_files"] = [Path(r).name for r in registries]
    return results


def write_json(results: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
