"""``cartreg analyze``: registry -> endpoints -> statistics -> results.json, tables, report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from cartreg.errors import CartregError


def _fmt_median(d: dict[str, Any]) -> str:
    if d.get("median") is None:
        return "not reached"
    lo, hi = d.get("ci", [None, None])
    lo_s = "NA" if lo is None else f"{lo:.1f}"
    hi_s = "NA" if hi is None else f"{hi:.1f}"
    return f"{d['median']:.1f} months (95% CI {lo_s}-{hi_s})"


def summary_lines(r: dict[str, Any]) -> list[str]:
    """A short plain-text summary of a late-failure results dict (printed by analyze and demo)."""
    co, fa, la = r["cohort"], r["failures"], r["late"]
    ft = la["first_treatment"]

    def p(x: Any) -> str:
        return "NA" if x is None else f"{x:.1f}%"

    lines = [
        f"registered {co['registered']}, infused {co['infused']}",
        f"failures {fa['n']}/{co['infused']} ({p(fa['pct'])}): early {fa['early']['n']}, "
        f"late {fa['late']['n']} ({p(fa['late']['pct'])} of failures)",
        f"late failures: ORR to CAR T {p(la['best_response']['orr']['pct'])}, "
        f"treated {ft['treated']['n']}/{la['n']}, untreated {ft['untreated']['n']}, unknown {ft['unknown']['n']}",
        f"median follow-up from failure {_fmt_median(la['followup'])}",
        f"median PFS-2 {_fmt_median(la['pfs2'])}; median OS-2 {_fmt_median(la['os2'])}",
    ]
    return lines


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze_cmd(
        registry: Path = typer.Argument(..., help="Registry: CSV directory, .xlsx workbook or cartreg .duckdb file."),
        out: Path = typer.Option(..., "-o", "--out", help="Output directory (created if needed)."),
        study: str = typer.Option("late-failure", "--study", help="Analysis plan."),
        config: Optional[Path] = typer.Option(None, "--config", help="TOML file of study parameters."),
        late_after_days: Optional[float] = typer.Option(None, "--late-after-days", help="Late when time to failure > this (default 91.3125)."),
        conf_type: Optional[str] = typer.Option(None, "--conf-type", help="log | log-log | plain (default log-log)."),
        conf_level: Optional[float] = typer.Option(None, "--conf-level", help="Confidence level (default 0.95)."),
        landmark_months: Optional[float] = typer.Option(None, "--landmark-months", help="Landmark of the *_6mo rates (default 6)."),
        treated_origin: Optional[str] = typer.Option(None, "--treated-origin", help="treatment_start | failure."),
        min_untreated_followup_days: Optional[int] = typer.Option(None, "--min-untreated-followup-days", help="Default 30."),
        class_precedence: Optional[str] = typer.Option(None, "--class-precedence", help="Comma-separated class order."),
        reference_class: Optional[str] = typer.Option(None, "--reference-class", help="Cox reference (default chemotherapy)."),
        class_map: Optional[Path] = typer.Option(None, "--class-map", help="CSV mapping regimens to classes."),
        min_class_size: Optional[int] = typer.Option(None, "--min-class-size", help="Classes with fewer treated patients (and 'other') are described, not compared (default 5; 1 = compare all)."),
        cutoff: Optional[str] = typer.Option(None, "--cutoff", help="Data cut-off YYYY-MM-DD (CSV/XLSX input)."),
        drop_invalid: bool = typer.Option(False, "--drop-invalid", help="Leave out patients with errors instead of stopping."),
        no_report: bool = typer.Option(False, "--no-report", help="Write results.json, tables/ and patients.csv, without the HTML report and figures."),
        identifiers: bool = typer.Option(False, "--identifiers", help="Allow patient identifiers in the report."),
        png: bool = typer.Option(False, "--png", help="Also write each report figure as a 300-dpi PNG (figures/*.png)."),
    ) -> None:
        """Derive every endpoint and compute the study; write results.json, tables/, patients.csv, report.html."""
        worker = None
        if not no_report and study == "late-failure":  # issue 15: matplotlib is imported on the other core
            from cartreg.report.worker import ReportWorker

            worker = ReportWorker.start()
        from cartreg.registry import read_registry
        from cartreg.study import get_plan, resolve_params, run_study, write_results

        overrides = {
            "late_after_days": late_after_days,
            "conf_type": conf_type,
            "conf_level": conf_level,
            "landmark_months": landmark_months,
            "treated_origin": treated_origin,
            "min_untreated_followup_days": min_untreated_followup_days,
            "class_precedence": class_precedence,
            "reference_class": reference_class,
            "class_map": None if class_map is None else str(class_map),
            "min_class_size": min_class_size,
        }
        plan = get_plan(study)
        params = resolve_params(config, overrides, study=study, params_type=plan.params_type)
        reg = read_registry(registry, cutoff=cutoff)
        if reg.report.has_errors:
            if not drop_invalid:
                typer.echo(reg.report.to_text(limit=20), err=True)
                raise CartregError(
                    f"{registry}: the registry has {len(reg.report.errors)} error(s); fix them, or rerun with "
                    "--drop-invalid to leave out the patients concerned (each is listed)", exit_code=1
                )
            before = reg.con.execute("SELECT count(*) FROM patients").fetchall()[0][0]
            reg = reg.without_invalid_patients()
            after = reg.con.execute("SELECT count(*) FROM patients").fetchall()[0][0]
            typer.secho(f"warning: left out {before - after} patient(s) with errors (see `cartreg validate`)",
                        err=True, fg=typer.colors.YELLOW)
        analysis = run_study(reg, study, params)
        paths = write_results(analysis, out)
        report_path = None
        if study != "late-failure":
            typer.echo(f"{study}: the HTML report covers the late-failure study only; results.json written")
        elif no_report:
            from cartreg.report import write_tables

            write_tables(analysis.results, out)
        else:
            from cartreg.report import write_report

            report_path = (worker.write_report(analysis.results, out, identifiers=identifiers, png=png)
                           or write_report(analysis.results, out, identifiers=identifiers, png=png))
        if study == "late-failure":
            for line in summary_lines(analysis.results):
                typer.echo(line)
        n_warn = len(analysis.results.get("warnings", []))
        if n_warn:
            typer.echo(f"{n_warn} analysis warning(s): see 'warnings' in results.json")
        typer.echo(f"results:  {paths['results']}")
        typer.echo(f"patients: {paths['patients']}  (identifying data)")
        if report_path is not None:
            typer.echo(f"report:   {report_path}")
