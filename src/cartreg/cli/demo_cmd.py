"""``cartreg demo``: synthetic registry -> validate/import -> late-failure study -> HTML report."""

from __future__ import annotations

import time
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        out: Path = typer.Option(Path("demo-output"), "-o", "--out", help="Output directory."),
        patients: int = typer.Option(977, "--patients", help="Registered patients (977 as in DESCAR-T)."),
        seed: int = typer.Option(1, "--seed", help="Random seed of the synthetic registry."),
        no_report: bool = typer.Option(False, "--no-report", help="Stop after results.json."),
        png: bool = typer.Option(False, "--png", help="Also write each report figure as a 300-dpi PNG (figures/*.png)."),
    ) -> None:
        """Run the whole pipeline on a synthetic registry calibrated to the DESCAR-T abstract."""
        from cartreg.cli.analyze_cmd import summary_lines
        from cartreg.registry import import_registry, read_registry
        from cartreg.study import run_study, write_results
        from cartreg.synth.generate import generate
        from cartreg.synth.write import write_csv_dir

        start = time.perf_counter()

        def step(i: int, text: str) -> None:
            typer.secho(f"[{i}/4] {text}  ({time.perf_counter() - start:.1f} s)", err=True, fg=typer.colors.CYAN)

        out.mkdir(parents=True, exist_ok=True)
        csv_dir = out / "registry"
        step(1, f"synthesising a registry of {patients} patients (seed {seed}) -> {csv_dir}/")
        synth = generate(patients, seed=seed)
        write_csv_dir(synth, csv_dir)
        db = out / "registry.duckdb"
        step(2, f"validating and importing -> {db}")
        imported = import_registry(csv_dir, db, cutoff=synth.cutoff, replace=True)
        summary = imported.report.summary()
        typer.echo(f"validation: {summary['errors']} error(s), {summary['warnings']} warning(s), {summary['notes']} note(s)")
        step(3, "analysing: late-failure study")
        analysis = run_study(read_registry(db), "late-failure")
        paths = write_results(analysis, out)
        for line in summary_lines(analysis.results):
            typer.echo(line)
        report = None
        if not no_report:
            from cartreg.report import write_report

            step(4, "writing the report")
            report = write_report(analysis.results, out, png=png)
        typer.secho(f"done in {time.perf_counter() - start:.1f} s", err=True, fg=typer.colors.GREEN)
        typer.echo(f"results: {paths['results']}")
        if report is not None:
            typer.echo(f"open the report: {Path(report).resolve().as_uri()}")
