"""report.docx: the report as a Word document (python-docx), for manuscripts.

Real Word tables (not images) in journal style: three horizontal rules (above the header, under the
header, under the last row), no vertical lines, indented level rows, footnotes in small type under
each table; figures embedded as PNG at the chosen resolution, numbered with captions. Opens in Word
and LibreOffice. Formatting only: the tables are the :class:`cartreg.report.tables.Table` objects the
HTML report renders.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from cartreg.report.tables import Table

_FONT = "Arial"


def _border(cell: Any, edge: str, size: int) -> None:
    """Set one border of a cell (size in eighths of a point; 0 = none)."""
    tcPr = cell._tc.get_or_add_tcPr()
    borders = tcPr.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        tcPr.append(borders)
    el = borders.find(qn(f"w:{edge}"))
    if el is None:
        el = OxmlElement(f"w:{edge}")
        borders.append(el)
    el.set(qn("w:val"), "single" if size else "nil")
    if size:
        el.set(qn("w:sz"), str(size))
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), "000000")


def _no_table_borders(table: Any) -> None:
    tblPr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tblPr.append(borders)


def _text(cell: Any, text: str, bold: bool = False, size: float = 9, align: str = "c", indent_mm: float = 0) -> None:
    p = cell.paragraphs[0]
    p.paragraph_format.space_before = Pt(1)
    p.paragraph_format.space_after = Pt(1)
    if indent_mm:
        p.paragraph_format.left_indent = Mm(indent_mm)
    p.alignment = WD_ALIGN_PARAGRAPH.LEFT if align == "l" else WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(text)
    run.bold = bold
    run.font.size = Pt(size)
    run.font.name = _FONT


def add_table(doc: Any, t: Table, number: int, label: str) -> Any:
    """A three-line journal table with the title above and footnotes below."""
    cap = doc.add_paragraph()
    r = cap.add_run(f"{label} {number}. ")
    r.bold = True
    cap.add_run(t.title)
    cap.paragraph_format.keep_with_next = True
    table = doc.add_table(rows=1 + len(t.rows), cols=len(t.columns))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _no_table_borders(table)
    last = len(t.rows)
    for j, c in enumerate(t.columns):
        cell = table.cell(0, j)
        _text(cell, c, bold=True, align=t.alignment(j))
        _border(cell, "top", 12)
        _border(cell, "bottom", 6)
        if last == 0:
            _border(cell, "bottom", 12)
    for i, row in enumerate(t.rows, start=1):
        lvl = t.indent[i - 1] if t.indent else 0
        group = lvl == 0 and not any(row[1:]) and len(row) > 1
        for j, value in enumerate(row):
            cell = table.cell(i, j)
            _text(cell, value, bold=group and j == 0, align=t.alignment(j), indent_mm=4 * lvl if j == 0 else 0)
            if i == last:
                _border(cell, "bottom", 12)
    for note in t.footnotes:
        p = doc.add_paragraph()
        run = p.add_run(note)
        run.font.size = Pt(8)
        p.paragraph_format.space_after = Pt(0)
    doc.add_paragraph()
    return table


def write_docx(path: str | Path, title: str, meta: str, front: Sequence[Table], block_tables: Sequence[Sequence[Table]],
               block_figures: Sequence[Sequence[tuple[str, str, Path]]], warnings: Sequence[str], L: Any,
               figure_width_mm: float = 165.0, block_errors: Sequence[str | None] = ()) -> Path:
    """Write the Word report atomically; ``block_figures`` are ``(id, caption, png path)`` per block."""
    doc = _new_document()
    doc.add_heading(title, level=0)
    p = doc.add_paragraph(meta)
    p.runs[0].font.size = Pt(8)
    n_table, n_fig = 0, 0
    flow, params = front[0], front[1]
    doc.add_heading(L.t("flow"), level=1)
    n_table += 1
    add_table(doc, flow, n_table, L.t("table"))
    for k, (tables, figs) in enumerate(zip(block_tables, block_figures)):
        if block_errors and block_errors[k]:
            doc.add_paragraph(block_errors[k])
        for t in tables:
            n_table += 1
            add_table(doc, t, n_table, L.t("table"))
        for _fid, cap, png in figs:
            n_fig += 1
            doc.add_picture(str(png), width=Mm(figure_width_mm))
            doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            c = doc.add_paragraph()
            r = c.add_run(f"{L.t('figure')} {n_fig}. ")
            r.bold = True
            c.add_run(cap)
    doc.add_heading(L.t("parameters"), level=1)
    n_table += 1
    add_table(doc, params, n_table, L.t("table"))
    doc.add_heading(L.t("warnings"), level=1)
    for w in warnings or [L.t("no_warnings")]:
        doc.add_paragraph(w, style="List Bullet" if warnings else None)
    return _save(doc, Path(path))




def write_study_docx(results: dict, outdir: str | Path, dpi: int = 300, figure_width: str = "double",
                     lang: str = "en") -> Path:
    """report.docx and PDF figures for the built-in late-failure study (whose HTML is ``write_report``'s).

    The tables are the late-failure report's own (:func:`cartreg.report.tables.build_tables`), the
    figures its own (:func:`cartreg.report.figures.build_figures`), written again as
    ``figures/<id>.pdf`` with text as text and ``figures/<id>.tiff`` at ``dpi``, and embedded in the Word
    file as PNG at ``dpi`` (``figures/<id>.png`` stays write_report's 300-dpi file). ``lang``: the
    tables, figures and headings through :class:`cartreg.report.study_i18n.StudyTranslator` (issue 13).
    """
    from matplotlib import rc_context

    from cartreg import __version__
    from cartreg.report.figures import RC as FIG_RC
    from cartreg.report.figures import build_figures
    from cartreg.report.i18n import Lang
    from cartreg.report.plots import RC as PLOT_RC
    from cartreg.report.study_i18n import StudyTranslator
    from cartreg.report.tables import build_tables

    out = Path(outdir)
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    L = Lang(lang)
    tr = StudyTranslator(lang)
    doc = _new_document()
    doc.add_heading(tr("Late failure after CAR T-cell therapy"), level=0)
    meta = results.get("meta") or {}
    p = doc.add_paragraph(L.t("generated", version=meta.get("cartreg_version", __version__),
                              date=str(meta.get("generated_at", ""))[:10], sha=str(meta.get("registry_sha256") or "")[:12]))
    p.runs[0].font.size = Pt(8)
    for i, t in enumerate(build_tables(results), start=1):
        add_table(doc, tr.table(t), i, L.t("table"))
    width_mm = 165.0 if figure_width == "double" else 85.0
    for i, fig in enumerate(build_figures(results), start=1):
        fig = tr.figure(fig)
        with rc_context({**FIG_RC, **PLOT_RC}):
            fig.figure.savefig(figdir / f"{fig.id}.pdf", format="pdf", metadata={"CreationDate": None, "ModDate": None})
            fig.figure.savefig(figdir / f"{fig.id}.tiff", format="tiff", dpi=dpi,
                               pil_kwargs={"compression": "tiff_lzw"})
            png = figdir / f"{fig.id}.docx.png"
            fig.figure.savefig(png, format="png", dpi=dpi, metadata={"Software": None})
        doc.add_picture(str(png), width=Mm(width_mm))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        c = doc.add_paragraph()
        r = c.add_run(f"Figure {i}. ")
        r.bold = True
        c.add_run(f"{fig.title} {fig.caption}".strip())
        png.unlink()
    return _save(doc, out / "report.docx")


def _new_document() -> Any:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = _FONT
    style.font.size = Pt(10)
    for s in doc.sections:
        s.page_width, s.page_height = Mm(210), Mm(297)
        s.left_margin = s.right_margin = Mm(20)
        s.top_margin = s.bottom_margin = Mm(18)
    return doc


def _save(doc: Any, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        doc.save(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


__all__ = ["add_table", "write_docx", "write_study_docx"]
