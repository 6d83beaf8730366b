"""``cartreg synth`` and ``cartreg calibrate``: the synthetic registry and its calibration check."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer


def _progress(prefix: str = "synth"):
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        typer.echo(f"[{prefix} {time.perf_counter() - t0:6.1f}s] {msg}", err=True)

    return say


#: The largest registry ``synth`` writes (about 20 s and a few GB per 10^6 patients).
MAX_PATIENTS = 10_000_000
#: Seeds are non-negative integers below 2**63 (numpy's generators take any non-negative integer).
MAX_SEED = 2**63 - 1


def check_synth_args(patients: int, seed: int, out: Path, replace: bool) -> None:
    """Unusable input (exit 2) before any work: a size or seed out of range, or an existing registry
    at ``out`` without ``--replace`` (a directory holding registry CSVs, or an existing file)."""
    from cartreg.errors import CartregError
    from cartreg.io.registry_files import TABLE_NAMES

    if not 1 <= patients <= MAX_PATIENTS:
        raise CartregError(f"--patients must be between 1 and {MAX_PATIENTS:,}, got {patients}", 2)
    if not 0 <= seed <= MAX_SEED:
        raise CartregError(f"--seed must be a whole number between 0 and 2**63-1, got {seed}", 2)
    suffix = out.suffix.lower()
    if suffix in (".xlsx", ".duckdb"):
        if out.is_dir():
            raise CartregError(f"{out}: is a directory", 2)
        if out.exists() and not replace:
            raise CartregError(f"{out} already exists; use --replace to overwrite it", 2)
        if not out.parent.is_dir():
            raise CartregError(f"{out.parent}: no such directory", 2)
        return
    if out.exists() and not out.is_dir():
        raise CartregError(f"{out} exists and is not a directory", 2)
    if out.is_dir() and not replace:
        existing = [p.name for p in sorted(out.iterdir())
                    if p.suffix.lower() == ".csv" and p.stem.strip().lower() in TABLE_NAMES]
        if existing:
            raise CartregError(f"{out} already holds a registry ({', '.join(existing)}); use --replace to "
                               "overwrite it", 2)


def register(app: typer.Typer) -> None:
    """Add ``synth`` and ``calibrate`` to the cartreg app."""

    @app.command("synth")
    def synth(
        patients: int = typer.Option(977, "--patients", "-n", help="Registered patients to generate."),
        seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives byte-identical output."),
        out: Path | None = typer.Option(None, "-o", "--output", help="A directory (CSV files), FILE.xlsx or FILE.duckdb."),
        config: Path | None = typer.Option(None, "--config", help="Generator parameters (TOML) merged over the defaults."),
        replace: bool = typer.Option(False, "--replace", help="Replace an existing registry (directory, .xlsx or .duckdb)."),
        print_config: bool = typer.Option(False, "--print-default-config",
                                          help="Print the default config (to edit a copy) and exit."),
        shape: str | None = typer.Option(None, "--as",
                                         help="Write as a source with its mapping: wide-xlsx, redcap, stata, sas-xpt "
                                              "or spss; -o DIR (source + DIR/mapping.toml) or -o FILE.xlsx|.csv|.dta|.sav "
                                              "(FILE + FILE.mapping.toml)."),
    ) -> None:
        """Generate a synthetic registry calibrated to the DESCAR-T late-failure abstract."""
        from cartreg.synth.config import default_text, load_config
        from cartreg.synth.generate import generate
        from cartreg.synth.write import write_registry

        from cartreg.errors import CartregError

        if print_config:
            sys.stdout.write(default_text())
            raise typer.Exit(0)
        if out is None:
            raise CartregError("give the output with -o DIR, -o FILE.xlsx or -o FILE.duckdb")
        check_synth_args(patients, seed, out, replace)
        say = _progress()
        cfg = load_config(config)
        say(f"generating {patients} patients, seed {seed}")
        reg = generate(patients, seed=seed, config=cfg, progress=lambda m: say(f"  {m}"))
        rows = ", ".join(f"{k} {t.num_rows}" for k, t in reg.tables.items())
        say(f"rows: {rows}")
        if shape is not None:
            from cartreg.synth.shapes import write_shape

            src = write_shape(reg, shape, out)
            mapping = src.parent / f"{src.stem}.mapping.toml" if src == out else out / "mapping.toml"
            say(f"wrote {src} and {mapping}; import with: "
                f"cartreg import {src} --mapping {mapping} -o registry.duckdb")
            return
        write_registry(reg, out, replace=replace, progress=say)
        say(f"wrote {out}")

    @app.command("calibrate")
    def calibrate(
        patients: int = typer.Option(200_000, "--patients", "-n", help="Size of the large-sample check."),
        seed: int = typer.Option(20220429, "--seed", help="Seed of the large-sample registry."),
        seeds: int = typer.Option(20, "--seeds", help="Registries of 977 patients for the seed-to-seed spread (0: none)."),
        spread_n: int = typer.Option(977, "--spread-patients", help="Size of the spread registries."),
        config: Path | None = typer.Option(None, "--config", help="Generator parameters (TOML)."),
        out: Path | None = typer.Option(None, "-o", "--output", help="Directory for calibration.csv and calibration.json."),
    ) -> None:
        """Synthesise, analyse with the real pipeline and compare every abstract figure (exit 1 on a failure)."""
        from cartreg.synth.calibrate import format_table, run_calibration, write_outputs
        from cartreg.synth.config import load_config

        say = _progress("calibrate")
        cfg = load_config(config)
        result = run_calibration(patients=patients, seed=seed, seeds=seeds, spread_n=spread_n, config=cfg, progress=say)
        typer.echo(format_table(result))
        if out is not None:
            paths = write_outputs(result, out)
            say("wrote " + ", ".join(str(p) for p in paths))
        raise typer.Exit(0 if result.all_pass else 1)
