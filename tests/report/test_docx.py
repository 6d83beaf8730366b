"""report.docx: real Word tables in three-line style, figures embedded; LibreOffice converts it to PDF."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from docx import Document
from docx.oxml.ns import qn

from cartreg.report.plan_report import build_plan_tables

from .test_plan_report import n_figures, out_en, out_fr, results  # noqa: F401  (fixtures)

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def test_docx_has_word_tables_and_figures(results, out_en):  # noqa: F811
    doc = Document(str(out_en / "report.docx"))
    n_tables = sum(len(ts) for ts in build_plan_tables(results, "en")) + 2  # + flow and parameters
    assert len(doc.tables) == n_tables
    assert len(doc.inline_shapes) == n_figures(results)
    flow = doc.tables[0]
    assert flow.cell(1, 0).text == "Registered (eligible)" and flow.cell(1, 1).text == str(results["cohort"]["registered"])
    surv = doc.tables[1]
    assert [c.text for c in surv.rows[0].cells][:3] == ["Group", "N", "Events"]
    assert surv.cell(1, 0).text == "axi-cel" and surv.cell(1, 1).text == str(results["blocks"][0]["groups"]["axi-cel"]["n"])
    # three rules: top and bottom of the header row, bottom of the last row; no vertical lines
    top = surv.cell(0, 0)._tc.tcPr.find(qn("w:tcBorders"))
    assert top.find(qn("w:top")).get(qn("w:val")) == "single" and top.find(qn("w:bottom")).get(qn("w:val")) == "single"
    last = surv.cell(len(surv.rows) - 1, 0)._tc.tcPr.find(qn("w:tcBorders"))
    assert last.find(qn("w:bottom")).get(qn("w:sz")) == "12"
    assert surv.cell(1, 0)._tc.tcPr.find(qn("w:tcBorders")) is None
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Table 2. " in text and "Figure 1. " in text


def test_docx_in_french(out_fr):  # noqa: F811
    doc = Document(str(out_fr / "report.docx"))
    assert [c.text for c in doc.tables[1].rows[0].cells][:3] == ["Groupe", "N", "Événements"]
    assert "Tableau 1. " in "\n".join(p.text for p in doc.paragraphs)


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice not installed (Debian 'libreoffice-writer-nogui'; .ci/run installs it)")
def test_libreoffice_converts_docx_to_pdf_with_the_tables(results, out_en, tmp_path):  # noqa: F811
    for target, name in (("pdf", "report.pdf"), ("html", "report.html")):
        proc = subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo-profile",
                               "--convert-to", target, "--outdir", str(tmp_path / target), str(out_en / "report.docx")],
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / target / name).exists()
    pdf = (tmp_path / "pdf" / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
    html = (tmp_path / "html" / "report.html").read_text(encoding="utf-8", errors="replace")
    n_tables = sum(len(ts) for ts in build_plan_tables(results, "en")) + 2
    assert html.count("<table") == n_tables  # LibreOffice reads every Word table as a table
    assert "Registered (eligible)" in " ".join(html.split())  # LibreOffice wraps long lines


def test_late_failure_study_gets_a_docx_and_pdf_figures(tmp_path, capsys):
    from pathlib import Path

    from cartreg.cli.main import main
    from cartreg.report.tables import build_tables
    import json

    example = Path(__file__).resolve().parents[2] / "examples" / "registry"
    assert main(["analyze", str(example), "-o", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    doc = Document(str(tmp_path / "report.docx"))
    tables = build_tables(results)
    assert len(doc.tables) == len(tables)
    assert [c.text for c in doc.tables[0].rows[0].cells] == tables[0].columns
    svgs = sorted(p.stem for p in (tmp_path / "figures").glob("*.svg"))
    assert sorted(p.stem for p in (tmp_path / "figures").glob("*.pdf")) == svgs
    assert sorted(p.stem for p in (tmp_path / "figures").glob("*.tiff")) == svgs
    assert len(doc.inline_shapes) == len(svgs)
    assert all(b"/FontFile2" in p.read_bytes() for p in (tmp_path / "figures").glob("*.pdf"))
