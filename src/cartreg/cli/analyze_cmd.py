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
    if co["infused"] and fa["n"] == 0:
        lines.insert(1, "no failure recorded (no PD/PMD after infusion): the study has zero failures")
    return lines


def check_output_dir(out: Path, registry: Path) -> None:
    """Unusable (exit 2) before any work: an output directory that is, contains or is inside the input
    registry (``analyze REG -o REG`` would overwrite its patients.csv), an existing file, or not writable."""
    import os

    reg, dst = Path(registry).resolve(), Path(out).resolve()
    if dst == reg or reg.is_relative_to(dst) or dst.is_relative_to(reg):
        raise CartregError(f"{out}: the output directory is, contains or is inside the input registry {registry}; "
                           "choose another output directory", 2)
    if dst.exists() and not dst.is_dir():
        raise CartregError(f"{out}: exists and is not a directory", 2)
    parent = next((p for p in (dst, *dst.parents) if p.exists()), None)
    if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise CartregError(f"{out}: cannot be written ({parent} is not a writable directory)", 2)


#: The files analyze writes at the top of OUTDIR; removed again when writing fails part-way, so that
#: no results.json is left without its report (or beside tables of an earlier run).
OUTPUT_FILES = ("results.json", "results.json.tmp", "patients.csv", "report.html", "report.docx", "IDENTIFYING-DATA.txt")


def _remove_outputs(out: Path) -> None:
    for name in OUTPUT_FILES:
        try:
            (out / name).unlink()
        except OSError:
            pass


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze_cmd(
        registry: Path = typer.Argument(..., help="Registry: CSV directory, .xlsx workbook or cartreg .duckdb file."),
        out: Path = typer.Option(..., "-o", "--out", help="Output directory (created if needed)."),
        study: str = typer.Option("late-failure", "--study", help="Study: late-failure or a shipped plan (`cartreg plans`)."),
        plan_file: Optional[Path] = typer.Option(None, "--plan", help="A plan file (TOML, docs/plans.md); replaces --study."),
        lang: str = typer.Option("en", "--lang", help="Language of the report, tables and figures: en | fr."),
        figure_width: str = typer.Option("double", "--figure-width", help="Figure width: single (85 mm) | double (175 mm)."),
        dpi: int = typer.Option(300, "--dpi", help="Resolution of PNG/TIFF figures."),
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
        failure_treatment_window_days: Optional[int] = typer.Option(
            None, "--failure-treatment-window-days",
            help="A treatment started up to this many days before the failure (after the last assessment) is post-failure (default 30; 0 = on or after the failure date)."),
        pfs_censoring: Optional[str] = typer.Option(
            None, "--pfs-censoring", help="last-assessment (default) | last-contact: censoring of PFS-2 and of the failure incidence."),
        lymphoma_death_as_failure: Optional[bool] = typer.Option(
            None, "--lymphoma-death-as-failure/--no-lymphoma-death-as-failure",
            help="A lymphoma death without a recorded progression is a failure on the death date (default on)."),
        line_window_days: Optional[int] = typer.Option(
            None, "--line-window-days",
            help="Regimens started within this many days of the first post-failure treatment form its line (default 14; 0 = same day)."),
        cutoff_rule: Optional[str] = typer.Option(
            None, "--cutoff-rule",
            help="censor (default: records after the cut-off ignored, follow-up ends at it) | drop-patients (leave out every patient with a later date, as before)."),
        cutoff: Optional[str] = typer.Option(None, "--cutoff", help="Data cut-off (freeze) YYYY-MM-DD: later records are ignored and counted, follow-up ends at it."),
        min_class_size: Optional[int] = typer.Option(None, "--min-class-size", help="Classes with fewer treated patients (and 'other') are described, not compared (default 5; 1 = compare all)."),
        drop_invalid: bool = typer.Option(False, "--drop-invalid", help="Leave out patients with errors instead of stopping."),
        no_report: bool = typer.Option(False, "--no-report", help="Write results.json, tables/ and patients.csv, without the HTML report and figures."),
        identifiers: bool = typer.Option(False, "--identifiers", help="Allow patient identifiers in the report."),
        mapping: Optional[Path] = typer.Option(None, "--mapping", help="Mapping TOML: REGISTRY is a source in any layout (docs/mapping.md)."),
        redcap_dictionary: Optional[Path] = typer.Option(None, "--redcap-dictionary", help="REGISTRY is an export of the template REDCap project."),
        png: bool = typer.Option(False, "--png", help="Also write each report figure as a 300-dpi PNG (figures/*.png)."),
    ) -> None:
        """Derive every endpoint and compute the study; write results.json, tables/, patients.csv, report.html."""
        worker = None
        if not no_report and study == "late-failure" and plan_file is None:  # issue 15: matplotlib is imported on the other core
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
            "failure_treatment_window_days": failure_treatment_window_days,
            "pfs_censoring": pfs_censoring,
            "lymphoma_death_as_failure": lymphoma_death_as_failure,
            "line_window_days": line_window_days,
            "cutoff_rule": cutoff_rule,
            "min_class_size": min_class_size,
        }
        from cartreg.study import BUILTIN_STUDIES, load_plan, run_plan_study, shipped_plans

        if lang not in ("en", "fr"):
            raise CartregError(f"--lang must be en or fr, got {lang!r}", exit_code=2)
        if figure_width not in ("single", "double"):
            raise CartregError(f"--figure-width must be single or double, got {figure_width!r}", exit_code=2)
        if not 50 <= dpi <= 2400:
            raise CartregError(f"--dpi must be between 50 and 2400, got {dpi}", exit_code=2)
        plan_obj = None
        if plan_file is not None or study not in BUILTIN_STUDIES:
            if plan_file is None and study not in shipped_plans():
                raise CartregError(f"unknown study {study!r}; available: "
                                   f"{', '.join(sorted({*BUILTIN_STUDIES, *shipped_plans()}))}", exit_code=2)
            if config is not None:
                raise CartregError("--config does not apply to a plan: put parameters in its [parameters] table", 2)
            plan_obj = load_plan(name=study, path=plan_file, overrides=overrides)
        else:
            plan = get_plan(study)
            params = resolve_params(config, overrides, study=study, params_type=plan.params_type)
        check_output_dir(out, registry)
        reg = read_registry(registry, cutoff=cutoff, mapping=mapping, redcap_dictionary=redcap_dictionary)
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
        if plan_obj is not None:
            analysis = run_plan_study(reg, plan_obj)
            reg.con.close()
            try:
                paths = write_results(analysis, out)
                from cartreg.report.plan_report import write_plan_report

                report_path = write_plan_report(analysis.results, out, lang=lang, figure_width=figure_width,
                                                 dpi=dpi, report=not no_report)
            except OSError as exc:
                _remove_outputs(out)
                raise CartregError(f"{out}: cannot write the outputs ({exc.strerror or exc}); the partial results "
                                   "were removed", 2) from exc
            except BaseException:
                _remove_outputs(out)
                raise
            typer.echo(f"{plan_obj.study.name}: {analysis.results['cohort']['n']} patients in the population, "
                       f"{len(analysis.results['blocks'])} block(s)")
            n_warn = len(analysis.results.get("warnings", []))
            if n_warn:
                typer.echo(f"{n_warn} analysis warning(s): see 'warnings' in results.json")
            typer.echo(f"results:  {paths['results']}")
            typer.echo(f"patients: {paths['patients']}  (identifying data)")
            if report_path is not None:
                typer.echo(f"report:   {report_path}")
            return
        if lang != "en" and study != "late-failure":
            typer.secho(f"warning: the built-in {study} report is in English only; --lang {lang} applies to plans "
                        "(e.g. --plan with a copy of `cartreg plans show late-failure`)", err=True, fg=typer.colors.YELLOW)
        elif lang != "en" and not no_report:
            typer.secho(f"warning: --lang {lang}: the late-failure report's tables, figures and headings are translated; "
                        "its summary paragraphs are in English only", err=True, fg=typer.colors.YELLOW)
        analysis = run_study(reg, study, params)
        reg.con.close()  # the results are plain data now; no DuckDB connection is left to the interpreter's exit
        from cartreg.registry.store import remove_stale_temporaries

        remove_stale_temporaries(out / "patients.csv")  # left by a killed run (they hold patient rows)
        try:
            paths = write_results(analysis, out)
            report_path = None
            if study != "late-failure":
                typer.echo(f"{study}: the HTML report covers the late-failure study only; results.json written")
            elif no_report:
                from cartreg.report import write_tables

                write_tables(analysis.results, out, lang=lang)
            else:
                from cartreg.report import write_report

                report_path = (worker.write_report(analysis.results, out, identifiers=identifiers, png=png, lang=lang)
                               or write_report(analysis.results, out, identifiers=identifiers, png=png, lang=lang))
                from cartreg.report.docx import write_study_docx

                write_study_docx(analysis.results, out, dpi=dpi, figure_width=figure_width, lang=lang)  # report.docx, figures/*.pdf
        except OSError as exc:
            _remove_outputs(out)
            raise CartregError(f"{out}: cannot write the outputs ({exc.strerror or exc}); the partial results were "
                               "removed", 2) from exc
        except BaseException:
            _remove_outputs(out)
            raise
        if study == "late-failure":
            for line in summary_lines(analysis.results):
                typer.echo(line)
        n_warn = len(analysis.results.get("warnings", []))
        if n_warn:
            typer.echo(f"{n_warn} analysis warning(s): see 'warnings' in results.json")
        from cartreg.textsafe import printable

        typer.echo(f"results:  {printable(paths['results'])}")
        typer.echo(f"patients: {printable(paths['patients'])}  (identifying data)")
        if report_path is not None:
            typer.echo(f"report:   {printable(report_path)}")
