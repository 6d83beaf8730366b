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
        federated: bool = typer.Option(False, "--federated",
                                       help="Three registries of different sizes and case mix, each analysed, "
                                            "then one federated analysis of the three (vantage6 mock nodes)."),
        png: bool = typer.Option(False, "--png", help="Also write each report figure as a 300-dpi PNG (figures/*.png)."),
    ) -> None:
        """Run the whole pipeline on a synthetic registry calibrated to the DESCAR-T abstract."""
        if federated:
            _federated_demo(out, no_report)
            return
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


#: The federated demo's registries: (name, patients, seed, synth parameters merged over the defaults).
FEDERATED_REGISTRIES = (
    ("registry-A", 977, 1, ""),
    ("registry-B", 420, 2, "[registry]\nn_centers = 12\naccrual_start = \"2019-01-01\"\n\n"
                          "[products]\n\"axi-cel\" = 0.35\n\"tisa-cel\" = 0.64\nmissing = 0.01\n\n"
                          "[course]\np_early = 0.28\np_late = 0.27\n"),
    ("registry-C", 180, 3, "[registry]\nn_centers = 5\naccrual_start = \"2019-06-01\"\n\n"
                          "[course]\np_early = 0.36\np_late = 0.18\n"),
)


def _federated_demo(out: Path, no_report: bool) -> None:
    """Synthesise three registries, analyse each, then run the federated study over the three."""
    from cartreg.registry import import_registry, read_registry
    from cartreg.study import run_study, write_results
    from cartreg.synth.config import load_config
    from cartreg.synth.generate import generate
    from cartreg.synth.write import write_csv_dir
    from cartreg.v6algorithm.simulate import simulate, write_json

    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    dbs = []
    for i, (name, n, seed, extra) in enumerate(FEDERATED_REGISTRIES, start=1):
        d = out / name
        d.mkdir(parents=True, exist_ok=True)
        cfg_path = d / "synth.toml"
        cfg_path.write_text(extra, encoding="utf-8")
        typer.secho(f"[{i}/4] {name}: {n} patients (seed {seed})  ({time.perf_counter() - start:.1f} s)",
                    err=True, fg=typer.colors.CYAN)
        synth = generate(n, seed=seed, config=load_config(cfg_path))
        write_csv_dir(synth, d / "registry")
        db = d / "registry.duckdb"
        import_registry(d / "registry", db, cutoff=synth.cutoff, replace=True)
        analysis = run_study(read_registry(db), "late-failure")
        write_results(analysis, d)
        if not no_report:
            from cartreg.report import write_report

            write_report(analysis.results, d)
        dbs.append(db)
    typer.secho(f"[4/4] federated analysis of the three registries  ({time.perf_counter() - start:.1f} s)",
                err=True, fg=typer.colors.CYAN)
    fed_dir = out / "federated"
    results = simulate(dbs, fed_dir)
    path = write_json(results, fed_dir / "results.json")
    info = results["federated"]
    typer.echo(f"federated analysis of {info['registries']} registries "
               f"(infused: {', '.join(str(x['infused']) for x in info['n'])}), {info['rounds']} rounds")
    typer.echo(f"results: {path}")
    if not no_report:
        from cartreg.report import write_report

        report = write_report(results, fed_dir)
        typer.echo(f"open the report: {Path(report).resolve().as_uri()}")
        for name, *_ in FEDERATED_REGISTRIES:
            typer.echo(f"  each registry's own: {(out / name / 'report.html').resolve().as_uri()}")
    typer.secho(f"done in {time.perf_counter() - start:.1f} s", err=True, fg=typer.colors.GREEN)
