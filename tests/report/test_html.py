"""write_report: files written, self-contained HTML, numbers from results, no identifiers."""

from __future__ import annotations

import csv
import re

from cartreg.report import render_report, write_report
from cartreg.report.html import inline_svg
from cartreg.report.summary import summary_paragraphs

TABLES = ["patient_flow", "table1_baseline", "table2_response", "table3_treatments",
          "table4_outcomes_by_class", "table5_sensitivity_cutoff"]
FIGURES = ["figure1a_pfs2_by_class", "figure1b_os2_by_class", "figure2_overall_pfs2_os2",
           "figure3_cif_failure", "figure4_forest_hr"]


def test_files_written(report_dir):
    assert (report_dir / "report.html").is_file()
    for name in FIGURES:
        assert (report_dir / "figures" / f"{name}.svg").stat().st_size > 1000
        png = (report_dir / "figures" / f"{name}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        # pHYs chunk: 300 dpi = 11811 pixels per metre
        i = png.index(b"pHYs")
        assert int.from_bytes(png[i + 4:i + 8], "big") == 11811
    for name in TABLES:
        with open(report_dir / "tables" / f"{name}.csv", newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert len(rows) > 1


def test_html_is_self_contained(report_dir):
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "<link" not in html.lower()
    assert "@import" not in html and "@font-face" not in html
    assert not re.search(r"""\b(src|href)\s*=\s*["'](?!#)""", html)  # only in-page anchors
    assert not re.search(r"url\((?!#)", html)
    # the only http(s) strings are XML namespace names of the inline SVGs
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert "@media print" in html
    assert html.count("<svg") == len(FIGURES)


def test_inline_svg_ids_are_unique_across_figures(report_dir):
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_inline_svg_prefixes_references():
    svg = ('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><defs><path id="g1"/>'
           '<clipPath id="c1"/></defs><use xlink:href="#g1"/><g clip-path="url(#c1)"/></svg>')
    out = inline_svg(svg, "f2", "T")
    assert 'id="f2-g1"' in out and 'href="#f2-g1"' in out and "url(#f2-c1)" in out
    assert not out.startswith("<?xml")
    assert '<title id="f2-title">T</title>' in out


def test_summary_numbers(results):
    text = " ".join(p if isinstance(p, str) else " ".join(p) for p in summary_paragraphs(results))
    assert "431/976 (44%) infused patients failed" in text
    assert "145/431 (34%) were late failures" in text
    assert "286/431 (66%) early failures" in text
    cif3 = results["failures"]["cif"][0]
    assert f"was {round(100 * cif3['est'])}% (95% CI, {round(100 * cif3['ci'][0])}-{round(100 * cif3['ci'][1])}) at 3 months" in text
    assert "median age was 62 years (range 19-77)" in text
    assert "12/143 (8.4%) had ECOG PS >2" in text
    assert "36/145 (25%) patients were transplant recipients (34 auto-HSCT and 2 allo-HSCT)" in text
    assert "131/145 (90%), with 76/145 (52%) in complete metabolic response" in text
    assert "Median time from infusion to failure was 4.1 months (range 3.0-21.5; IQR 3.4-6.5)" in text
    assert "41/124 (33%) IMiD-based" in text
    assert "20/145 (14%) were not treated" in text
    assert "median follow-up from failure of 15.0 months (95% CI, 12.0-17.0)" in text
    pfs = results["late"]["pfs2"]
    assert f"median PFS-2 after treatment for CAR T failure of {pfs['median']:.1f} months" in text
    assert "HR 0.19 (95% CI, 0.07-0.51), P<.001" in text
    assert "HR 0.28 (95% CI, 0.09-0.83), P=.02" in text
    assert "HR not estimable" in text
    assert "descriptive, unadjusted comparisons, measured from the start of treatment" in text


def test_median_not_reached_in_summary(results):
    results["late"]["os2"].update(median=None, ci=[9.5, None])
    text = " ".join(p for p in summary_paragraphs(results) if isinstance(p, str))
    assert "a median OS-2 of not reached (95% CI, 9.5-not reached)" in text


def _no_figures(monkeypatch):
    import cartreg.report.figures as figures

    monkeypatch.setattr(figures, "build_figures", lambda *a, **k: [])  # HTML text only: fast


def test_parameters_section(results, monkeypatch):
    _no_figures(monkeypatch)
    html = render_report(results)
    for s in ("91.3125 days (3.0 months)", "log-log", "start of first treatment after failure",
              "Bispecific antibody &gt; IMiD &gt; Targeted therapy &gt; Anti-PD-1 &gt; Chemotherapy &gt; Radiotherapy",
              "2022-04-29", results["meta"]["registry_sha256"], "cartreg version"):
        assert s in html, s


def test_identifiers_withheld_unless_asked(results, tmp_path, monkeypatch):
    _no_figures(monkeypatch)
    results["warnings"].append({"kind": "check", "message": "response date before infusion",
                                "patient_id": "PT-SECRET-0042"})
    html = write_report(results, tmp_path / "a").read_text(encoding="utf-8")
    assert "PT-SECRET-0042" not in html
    assert "patient identifiers withheld" in html
    html = write_report(results, tmp_path / "b", identifiers=True).read_text(encoding="utf-8")
    assert "PT-SECRET-0042" in html
