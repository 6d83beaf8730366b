"""Issue 13: ``--lang fr`` on the built-in late-failure report (tables, figures, HTML via the catalogue)."""

import re
from pathlib import Path

import pytest
from matplotlib.text import Text
from typer.testing import CliRunner

from cartreg.cli.main import app
from cartreg.report.figures import build_figures
from cartreg.report.study_i18n import StudyTranslator
from cartreg.report.tables import build_tables

REGISTRY = Path(__file__).resolve().parents[2] / "examples" / "registry"

# English words of the report's labels; none may be left in a French table or figure text.
ENGLISH = re.compile(r"\b(the|of|and|by|from|with|not|to|in|Months|Median|[Ff]ailures?|[Tt]reated|days|months|"
                     r"risk|Other|Chemotherapy|Late|Early|[Rr]esponse|events|favours|drawn|Table|Patient|Class|"
                     r"Characteristic|Step|Registered|Infused|Censored|Toxicity|Range)\b")
DRUGS = re.compile(r"^[a-z0-9 +;()-]+$|R-GemOx")  # regimen names (drugs) are the same in French


def _texts(results, lang):
    tr = StudyTranslator(lang)
    out = []
    for t in build_tables(results):
        t = tr.table(t)
        out += [t.title, *t.columns, *(c for row in t.rows for c in row), *t.footnotes]
    for f in build_figures(results):
        f = tr.figure(f)
        f.figure.canvas.draw()
        out += [f.title, f.caption, *(o.get_text() for o in f.figure.findobj(Text))]
    return [s for s in out if s and not DRUGS.match(s)]


def test_english_is_untouched(results):
    tr = StudyTranslator("en")
    for t in build_tables(results):
        assert tr.table(t) is t


def test_french_tables_and_figures_have_no_english_label(results):
    fr = _texts(results, "fr")
    left = [s for s in fr if ENGLISH.search(s)]
    assert left == []
    assert not [s for s in fr if re.search(r"\d\.\d", s)]  # decimal comma everywhere
    assert "HR (IC à 95 %)" in fr and "Caractéristique" in fr


def test_french_numbers():
    tr = StudyTranslator("fr")
    assert tr("P<.001") == "P<0,001"
    assert tr(".04") == "0,04"
    assert tr("0.81 (0.45-1.46)") == "0,81 (0,45-1,46)"
    assert tr("Not treated") == "Non traités"
    assert tr("Not compared: classes with fewer than 5") == "Non comparées : les classes de moins de 5"


def test_cli_lang_fr_late_failure(tmp_path):
    out = tmp_path / "fr"
    res = CliRunner().invoke(app, ["analyze", str(REGISTRY), "-o", str(out), "--lang", "fr"])
    assert res.exit_code == 0, res.output
    assert "English only" not in res.output or "summary paragraphs" in res.output
    t1 = (out / "tables" / "table1_baseline.csv").read_text(encoding="utf-8")
    assert t1.startswith("Caractéristique,Échecs tardifs (N=")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Tableau 4. Devenir des échecs tardifs" in html
    svg = (out / "figures").glob("*.svg")
    assert any(True for _ in svg)


def test_french_html_headings_and_parameters(results):
    from cartreg.report import render_report

    html = render_report(results, None, lang="fr")
    assert '<html lang="fr">' in html
    for fr in ("<h2>Résumé des résultats</h2>", "<h2>Paramètres</h2>", "<h2>Flux des patients</h2>",
               "<h2>Tableaux</h2>", "<h2>Figures</h2>", "<dt>Seuil d&#39;échec tardif</dt>", "<b>Échec tardif</b>"):
        assert fr in html
    assert "<h2>Summary of results</h2>" not in html and "after infusion</dd>" not in html
    en = render_report(results, None)
    assert '<html lang="en">' in en and "<h2>Summary of results</h2>" in en


def test_french_study_docx(results, tmp_path):
    import docx

    from cartreg.report.docx import write_study_docx

    path = write_study_docx(results, tmp_path, dpi=72, lang="fr")
    text = "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
    cells = [c.text for t in docx.Document(str(path)).tables for row in t.rows for c in row.cells]
    assert "Échec tardif après CAR-T" in text and "Tableau 1. " in text
    assert "Caractéristique" in cells and "Characteristic" not in cells
