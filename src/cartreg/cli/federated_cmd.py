"""``cartreg federated simulate``: several registries, one analysis, no patient data moved."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cartreg.errors import CartregError


def register(app: typer.Typer) -> None:
    fed = typer.Typer(help="Exact federated analysis over several registries (vantage6).", no_args_is_help=True)
    app.add_typer(fed, name="federated")

    @fed.command("simulate")
    def simulate_cmd(
        registry: list[str] = typer.Option(..., "--registry",
                                           help="A registry (one per node); give it 3+ times. SOURCE::MAPPING.toml: "
                                                "a source in any layout read through its mapping (docs/mapping.md)."),
        out: Path = typer.Option(..., "-o", "--out", help="Output directory (results.json, report.html)."),
        study: str = typer.Option("late-failure", "--study", help="The study plan."),
        grid: str = typer.Option("month", "--grid", help="Time grid of the count tables: day, week or month."),
        pooled_risk_sets: bool = typer.Option(False, "--pooled-risk-sets",
                                              help="Cox on pooled risk sets (default: stratified by registry)."),
        suppress_small_cells: Optional[int] = typer.Option(None, "--suppress-small-cells",
                                                           help="Show released counts 1..N-1 as <N."),
        no_report: bool = typer.Option(False, "--no-report", help="Stop after results.json."),
    ) -> None:
        """Run the federated study in-process, one vantage6 mock node per registry."""
        from cartreg.federated.grid import GRIDS
        from cartreg.v6algorithm.simulate import simulate, write_json

        if grid not in GRIDS:
            raise CartregError(f"--grid must be one of {', '.join(GRIDS)}, not {grid!r}", 2)
        if study != "late-failure":
            raise CartregError(f"--study: the federated analysis runs late-failure; {study!r} is not available", 2)
        if suppress_small_cells is not None and suppress_small_cells < 1:
            raise CartregError("--suppress-small-cells must be >= 1", 2)
        paths, mappings = zip(*(_split_registry(r) for r in registry))
        results = simulate(list(paths), out, study=study, grid=grid, pooled_risk_sets=pooled_risk_sets,
                           mappings=list(mappings))
        if suppress_small_cells:
            from cartreg.federated.suppress import suppress_small_cells as suppress

            results = suppress(results, suppress_small_cells)
            results["federated"]["suppress_small_cells"] = suppress_small_cells
        path = write_json(results, out / "results.json")
        fed_info = results["federated"]
        typer.echo(f"federated analysis of {fed_info['registries']} registries "
                   f"(infused: {', '.join(str(x['infused']) for x in fed_info['n'])}); "
                   f"{fed_info['rounds']} rounds; grid {fed_info['grid']}; Cox {fed_info['cox']}")
        typer.echo(f"results: {path}")
        if no_report:
            return
        from cartreg.report import write_report

        report = write_report(results, out)
        typer.echo(f"open the report: {Path(report).resolve().as_uri()}")


def _split_registry(arg: str) -> tuple[Path, Path | None]:
    """``--registry PATH`` or ``--registry SOURCE::MAPPING.toml`` (issue 14: a node reads a mapped source)."""
    path, sep, mapping = arg.partition("::")
    if not path or (sep and not mapping) or "::" in mapping:
        raise CartregError(f"--registry {arg!r}: give PATH or SOURCE::MAPPING.toml", 2)
    return Path(path), (Path(mapping) if sep else None)
