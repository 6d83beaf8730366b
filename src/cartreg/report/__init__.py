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

__all__ = ["write_report", "write_tables", "render_report", "safe_csv"]


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


def safe_csv(text: str) -> str:
    """CSV text with every formula-like cell (``=``, ``+``, ``-``, ``@``, tab, CR first; not a plain
    number) prefixed by ``'`` (OWASP CSV injection), re-written with the same dialect."""
    import csv
    import io

    from cartreg.study.output import is_formula_like

    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not any(is_formula_like(c) for r in rows for c in r):
        return text
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow(["'" + c if is_formula_like(c) else c for c in r])
    return buf.getvalue()


def write_tables(results: dict, outdir: Path, table_stat: str = "range", tables: list | None = None,
                 lang: str = "en") -> list[Path]:
    """Write every report table as ``outdir/tables/<id>.csv`` (also used by ``analyze --no-report``).

    Each file is written atomically, its formula-like cells neutralised (:func:`safe_csv`).
    """
    from cartreg.report.tables import build_tables

    tdir = Path(outdir) / "tables"
    tdir.mkdir(parents=True, exist_ok=True)
    paths = []
    if tables is None:
        from cartreg.report.study_i18n import StudyTranslator

        tr = StudyTranslator(lang)
        tables = [tr.table(t) for t in build_tables(results, stat=table_stat)]
    for t in tables:
        _atomic_write(tdir / f"{t.id}.csv", safe_csv(t.to_csv()))
        paths.append(tdir / f"{t.id}.csv")
    return paths


def _save_figures(results: dict, directory: Path, ci_by_class: bool, png: bool, jobs: int,
                  lang: str = "en") -> list[tuple]:
    """Build and save every figure under ``directory``; return ``(id, title, caption)`` in report order.

    With ``jobs=2`` (and ``fork``), a forked child draws every second figure while this process draws
    the others; if the child fails in any way, its figures are drawn here (same files either way). Only
    fork from a process without other threads (the report worker of ``cartreg analyze``)."""
    from cartreg.report.figures import build_figures, n_figures, save_figure
    from cartreg.report.study_i18n import StudyTranslator

    tr = StudyTranslator(lang)

    def draw(only: set[int] | None) -> list[tuple]:
        meta = []
        for fig in build_figures(results, ci_by_class=ci_by_class, only=only):
            fig = tr.figure(fig)
            save_figure(fig, directory, png=png)
            meta.append((fig.id, fig.title, fig.caption))
        return meta

    n = n_figures(results)
    if jobs < 2 or n < 2 or not hasattr(os, "fork"):
        return draw(None)
    import pickle

    from cartreg.report.worker import _read_all

    theirs = {i for i in range(n) if i % 2 == 1}
    mine = {i for i in range(n) if i not in theirs}
    directory.mkdir(parents=True, exist_ok=True)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            os.close(r)
            data = pickle.dumps(draw(theirs))
            with os.fdopen(w, "wb") as fh:
                fh.write(data)
            code = 0
        except BaseException:  # noqa: BLE001 - the parent draws these figures itself
            pass
        finally:
            os._exit(code)
    os.close(w)
    try:
        meta_mine = draw(mine)
    finally:
        data = _read_all(r)
        os.close(r)
        _, status = os.waitpid(pid, 0)
    meta_theirs = pickle.loads(data) if status == 0 and data else draw(theirs)
    by_pos = dict(zip(sorted(mine), meta_mine)) | dict(zip(sorted(theirs), meta_theirs))
    return [by_pos[i] for i in range(n)]


def render_report(results: dict, outdir: Path | None = None, identifiers: bool = False,
                  table_stat: str = "range", ci_by_class: bool = False, png: bool = True, jobs: int = 1,
                  lang: str = "en") -> str:
    """Build tables, figures and the HTML text; write figures/tables under ``outdir`` when given
    (the 300-dpi PNG of each figure only with ``png``; with ``jobs=2`` the figures are drawn by two
    processes, see :func:`_save_figures`)."""
    from cartreg import __version__
    from cartreg.report.html import inline_svg, render_html
    from cartreg.report.summary import summary_paragraphs
    from cartreg.report.tables import build_tables

    from cartreg.report.study_i18n import StudyTranslator

    tr = StudyTranslator(lang)
    tables = [tr.table(t) for t in build_tables(results, stat=table_stat)]
    embedded = []
    if outdir is not None:
        fdir = Path(outdir) / "figures"
        for i, (fid, title, caption) in enumerate(_save_figures(results, fdir, ci_by_class, png, jobs, lang)):
            svg_text = (fdir / f"{fid}.svg").read_text(encoding="utf-8")
            embedded.append({"id": fid, "title": title, "caption": caption,
                             "svg": inline_svg(svg_text, f"f{i + 1}", title)})
    else:
        import io

        from matplotlib import rc_context

        from cartreg.report.figures import RC, build_figures

        for i, fig in enumerate(build_figures(results, ci_by_class=ci_by_class)):
            fig = tr.figure(fig)
            buf = io.StringIO()
            with rc_context(RC):
                fig.figure.savefig(buf, format="svg", metadata={"Date": None})
            embedded.append({"id": fig.id, "title": fig.title, "caption": fig.caption,
                             "svg": inline_svg(buf.getvalue(), f"f{i + 1}", fig.title)})
    if outdir is not None:
        write_tables(results, Path(outdir), tables=tables)
    return render_html(results, tables, embedded, summary_paragraphs(results),
                       identifiers=identifiers, report_version=__version__, lang=lang)


def write_report(results: dict, outdir: Path, identifiers: bool = False, png: bool = True, jobs: int = 1,
                 lang: str = "en") -> Path:
    """Write ``outdir/report.html``, ``outdir/figures/*.svg`` (and ``*.png`` with ``png``) and
    ``outdir/tables/*.csv``.

    ``results`` is the results.json dict of :func:`cartreg.study.analyze`. With ``identifiers=False``
    (default) no patient identifier appears in the report. ``png=False`` skips the 300-dpi PNGs (about
    half the report's time; report.html inlines the SVGs): ``cartreg analyze`` and ``cartreg demo``
    write them only with ``--png``. ``jobs=2`` draws the figures in two processes (forked: only from
    a process without other threads, as the report worker of ``cartreg analyze``). Returns the path of
    ``report.html``. ``lang="fr"`` gives the tables, figures and HTML headings in French
    (:mod:`cartreg.report.study_i18n`); the summary paragraphs stay English.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    html = render_report(results, outdir, identifiers=identifiers, png=png, jobs=jobs, lang=lang)
    path = outdir / "report.html"
    _atomic_write(path, html)
    return path
