"""The report stage: format a results dict (results.json) into tables, figures and one HTML file.

The report only formats results; it never recomputes statistics. Curtailing Kaplan-Meier curves
where fewer than 5 patients are at risk is done on the given arrays (a display rule).

Example::

    >>> import json
    >>> from pathlib import Path
    >>> from cartreg.report import write_report
    >>> results = json.loads(Path("out/results.json").read_text())   # doctest: +SKIP
    >>> write_report(results, Path("out"))                           # doctest: +SKIP
    PosixPath('out/report.html')

Outputs: ``outdir/report.html`` (self-contained), ``outdir/figures/<id>.svg`` (and ``.png`` at 300 dpi
when ``png=True``; ``cartreg analyze`` asks for them with ``--png``: report.html does not use them),
``outdir/tables/<id>.csv`` (one CSV per report table). See ``docs/report.md``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_report", "write_tables", "render_report"]


def _atomic_write(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_tables(results: dict, outdir: Path, table_stat: str = "range", tables: list | None = None) -> list[Path]:
    """Write every report table as ``outdir/tables/<id>.csv`` (also used by ``analyze --no-report``)."""
    from cartreg.report.tables import build_tables

    tdir = Path(outdir) / "tables"
    tdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for t in tables if tables is not None else build_tables(results, stat=table_stat):
        _atomic_write(tdir / f"{t.id}.csv", t.to_csv())
        paths.append(tdir / f"{t.id}.csv")
    return paths


def render_report(results: dict, outdir: Path | None = None, identifiers: bool = False,
                  table_stat: str = "range", ci_by_class: bool = False, png: bool = True) -> str:
    """Build tables, figures and the HTML text; write figures/tables under ``outdir`` when given
    (the 300-dpi PNG of each figure only with ``png``)."""
    from matplotlib import rc_context

    from cartreg import __version__
    from cartreg.report.figures import RC, build_figures, save_figure
    from cartreg.report.html import inline_svg, render_html
    from cartreg.report.summary import summary_paragraphs
    from cartreg.report.tables import build_tables

    tables = build_tables(results, stat=table_stat)
    figs = build_figures(results, ci_by_class=ci_by_class)
    embedded = []
    for i, fig in enumerate(figs):
        if outdir is not None:
            svg_path, _png = save_figure(fig, Path(outdir) / "figures", png=png)
            svg_text = svg_path.read_text(encoding="utf-8")
        else:
            import io

            buf = io.StringIO()
            with rc_context(RC):
                fig.figure.savefig(buf, format="svg", metadata={"Date": None})
            svg_text = buf.getvalue()
        embedded.append({"id": fig.id, "title": fig.title, "caption": fig.caption,
                         "svg": inline_svg(svg_text, f"f{i + 1}", fig.title)})
    if outdir is not None:
        write_tables(results, Path(outdir), tables=tables)
    return render_html(results, tables, embedded, summary_paragraphs(results),
                       identifiers=identifiers, report_version=__version__)


def write_report(results: dict, outdir: Path, identifiers: bool = False, png: bool = True) -> Path:
    """Write ``outdir/report.html``, ``outdir/figures/*.svg`` (and ``*.png`` with ``png``) and
    ``outdir/tables/*.csv``.

    ``results`` is the results.json dict of :func:`cartreg.study.analyze`. With ``identifiers=False``
    (default) no patient identifier appears in the report. ``png=False`` skips the 300-dpi PNGs (about
    half the report's time; report.html inlines the SVGs): ``cartreg analyze`` and ``cartreg demo``
    write them only with ``--png``. Returns the path of ``report.html``.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    html = render_report(results, outdir, identifiers=identifiers, png=png)
    path = outdir / "report.html"
    _atomic_write(path, html)
    return path
