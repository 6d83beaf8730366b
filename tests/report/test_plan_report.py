"""The plan report: HTML, figures (SVG/PDF text as text, 85/175 mm, dpi), French, and the plotting API."""

from __future__ import annotations

import json
import re
import struct
import tomllib
from importlib.resources import files

import numpy as np
import pytest

from cartreg.report.i18n import Lang
from cartreg.report.plan_report import build_plan_tables, flow_table, write_plan_report
from cartreg.study import analyze_plan
from cartreg.study.plan import parse_plan_text
from plan.conftest import Reg, connect

from .cdp import find_chromium, inspect_page

PLAN = '''
[study]
name = "check"
title = "Outcomes by product"
population = "infused"
[[survival]]
endpoint = "os_infusion"
by = "product"
reference = "axi-cel"
landmarks_months = [6, 12]
adjust = ["age", "ecog", "ldh_elevated"]
[[cuminc]]
endpoint = "relapse_nrm"
by = "product"
times_months = [3, 6, 12]
[[model]]
kind = "cox"
outcome = "pfs_infusion"
covariates = ["age", "bridging", "ldh_elevated"]
[[survival]]
endpoint = "pfs2"
by = "tx_class"
reference = "chemotherapy"
where = "late and treated_after_failure"
landmarks_months = [6]
'''
N_FIGURES = 5  # block 1: KM + forest; block 2: CIF; block 3: forest; block 4: KM (+ forest when classes compare)


@pytest.fixture(scope="module")
def results():
    return analyze_plan(Reg(connect()), parse_plan_text(PLAN, "check.toml"))


@pytest.fixture(scope="module")
def out_en(results, tmp_path_factory):
    out = tmp_path_factory.mktemp("plan-en")
    write_plan_report(results, out, lang="en", figure_width="double", dpi=150)
    return out


@pytest.fixture(scope="module")
def out_fr(results, tmp_path_factory):
    out = tmp_path_factory.mktemp("plan-fr")
    write_plan_report(results, out, lang="fr", figure_width="single", dpi=200)
    return out


def n_figures(results) -> int:
    return N_FIGURES + (1 if results["blocks"][3]["cox"] else 0)


def test_html_is_self_contained_and_shows_the_numbers(results, out_en):
    html = (out_en / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org", "")
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # unique ids (inline SVGs are prefixed)
    assert all(f'id="{h}"' in html for h in re.findall(r'<a href="#([^"]+)"', html))  # contents links resolve
    assert html.count('<figure class="fig fig-double"') == n_figures(results)
    b1 = results["blocks"][0]
    axi = b1["groups"]["axi-cel"]
    # the row of axi-cel in the landmark table: N, events
    assert re.search(rf'<td class="lvl0">axi-cel</td>\s*<td class="ac">{axi["n"]}</td>\s*<td class="ac">{axi["events"]}</td>', html)
    hr = b1["cox"]["tisa-cel"]
    assert Lang("en").hr(hr["hr"], hr["ci"]) in html
    assert "1 (reference)" in html and "Patient flow" in html and "Analysis parameters" in html
    assert "<summary>Plan file (check.toml)</summary><pre>\n[study]\nname = &#34;check&#34;" in html


def test_tables_are_written_as_csv(results, out_en):
    names = sorted(p.name for p in (out_en / "tables").iterdir())
    assert names == sorted(["flow.csv", "parameters.csv", "block1_survival.csv", "block1_hr.csv", "block2_cuminc.csv",
                            "block3_model.csv", "block4_survival.csv"] + (["block4_hr.csv"] if results["blocks"][3]["cox"] else []))
    flow = (out_en / "tables" / "flow.csv").read_text().splitlines()
    assert flow[1] == f"Registered (eligible),{results['cohort']['registered']}"


def _svg_width_pt(path) -> float:
    m = re.search(r'<svg[^>]*\bwidth="([\d.]+)pt"', path.read_text(encoding="utf-8"))
    return float(m.group(1))


def _png_dpi(path) -> float:
    data = path.read_bytes()
    i = data.index(b"pHYs")
    ppm_x = struct.unpack(">I", data[i + 4: i + 8])[0]
    return ppm_x * 0.0254


@pytest.mark.parametrize("which, mm, dpi", [("en", 175, 150), ("fr", 85, 200)])
def test_figures_text_as_text_width_and_dpi(results, out_en, out_fr, which, mm, dpi):
    out = out_en if which == "en" else out_fr
    stems = sorted({p.stem for p in (out / "figures").iterdir()})
    assert len(stems) == n_figures(results)
    for stem in stems:
        svg, pdf, png, tiff = (out / "figures" / f"{stem}.{ext}" for ext in ("svg", "pdf", "png", "tiff"))
        text = svg.read_text(encoding="utf-8")
        assert "<text" in text and "<path" in text  # labels are <text>, not glyph outlines
        assert _svg_width_pt(svg) == pytest.approx(mm / 25.4 * 72, abs=0.01)
        raw = pdf.read_bytes()
        assert raw.startswith(b"%PDF") and b"/FontFile2" in raw and b"/Type3" not in raw  # TrueType, editable
        assert _png_dpi(png) == pytest.approx(dpi, abs=0.5)
        assert tiff.read_bytes()[:4] in (b"II*\x00", b"MM\x00*")


def test_french_tables_have_no_english_label(results):
    en = tomllib.loads((files("cartreg.report") / "i18n" / "en.toml").read_text(encoding="utf-8"))
    fr = tomllib.loads((files("cartreg.report") / "i18n" / "fr.toml").read_text(encoding="utf-8"))
    english = set()
    for section in ("columns", "levels", "causes", "endpoints", "text", "origins"):
        for key, value in en[section].items():
            if value != fr[section][key] and len(value) >= 3 and "{" not in value:
                english.add(value)
    tables = [t for ts in build_plan_tables(results, "fr") for t in ts] + [flow_table(Lang("fr"), results)]
    cells = []
    for t in tables:
        cells += [t.title, *t.columns, *(c for row in t.rows for c in row)]
    for cell in cells:
        assert cell not in english, cell
        for word in english:
            if " " in word:
                assert word.lower() not in cell.lower(), (word, cell)
        assert not re.search(r"\d\.\d", cell), cell  # decimal comma
    joined = " ".join(cells)
    assert "Rechute ou progression" in joined and "1 (référence)" in joined
    assert re.search(r"<0,001|0,\d\d", joined)


def test_p_values_in_french_and_english():
    assert (Lang("fr").p(0.00001, prefix=True), Lang("en").p(0.00001, prefix=True)) == ("P<0,001", "P<.001")
    assert (Lang("fr").p(0.0472), Lang("en").p(0.0472)) == ("0,047", ".047")
    assert Lang("fr").median(None, [12.04, None]) == "NA (12,0-NA)"


def test_catalogues_have_the_same_keys():
    en = tomllib.loads((files("cartreg.report") / "i18n" / "en.toml").read_text(encoding="utf-8"))
    fr = tomllib.loads((files("cartreg.report") / "i18n" / "fr.toml").read_text(encoding="utf-8"))
    assert {s: set(v) for s, v in en.items()} == {s: set(v) for s, v in fr.items()}


CHROMIUM = find_chromium()

PAGE = """JSON.stringify({figures: Array.from(document.querySelectorAll("figure.fig svg")).map(s => s.getBoundingClientRect().width),
  tables: document.querySelectorAll("figure.table table").length})"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian package 'chromium'; .ci/run installs it)")
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_plan_report_renders_in_headless_chromium(results, out_en, out_fr, lang, tmp_path):
    out = out_en if lang == "en" else out_fr
    page = inspect_page(out / "report.html", PAGE, tmp_path / "shot.png")
    assert page.errors == []
    assert page.requests == [(out / "report.html").resolve().as_uri()]
    info = json.loads(page.value)
    assert len(info["figures"]) == n_figures(results) and all(w > 100 for w in info["figures"])


def test_plotting_api_on_stats_results():
    import cartreg
    from cartreg.stats import coxph, cuminc, kaplan_meier, kaplan_meier_by

    rng = np.random.default_rng(1)
    t = rng.exponential(300, 120).round() + 1
    e = rng.random(120) < 0.7
    g = np.where(rng.random(120) < 0.5, "a", "b")
    fig = cartreg.plot_km(kaplan_meier_by(t, e, g), by="arm")
    assert len(fig.axes) == 2  # curves + risk table
    row = [tx.get_text() for tx in fig.axes[1].texts]
    assert str(int((g == "a").sum())) in row and str(int((g == "b").sum())) in row
    fig1 = cartreg.plot_km(kaplan_meier(t, e), risk_table=False)
    assert len(fig1.axes) == 1
    ax = fig1.axes[0]
    assert cartreg.plot_km(kaplan_meier(t, e), ax=ax) is fig1  # draws into a given Axes
    ci = cuminc(t, np.where(e, np.where(rng.random(120) < 0.3, 2, 1), 0), g)
    assert len(cartreg.plot_cuminc(ci).axes[0].get_lines()) == 4  # 2 groups x 2 causes
    fit = coxph(t, e, (g == "b").astype(float)[:, None], ["arm=b"])
    fig3 = cartreg.plot_forest(fit)
    assert [tl.get_text() for tl in fig3.axes[0].get_yticklabels()] == ["arm=b"]


def test_every_message_the_code_uses_is_in_both_catalogues():
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src" / "cartreg" / "report"
    used = set()
    for f in ("plan_report.py", "plots.py", "docx.py", "templates/plan.html.j2"):
        used |= set(re.findall(r"""\bL\.t\(\s*['"]([a-z_0-9]+)['"]""", (src / f).read_text(encoding="utf-8")))
    assert len(used) > 40
    for lang in ("en", "fr"):
        missing = used - set(Lang(lang).m["text"])
        assert not missing, (lang, missing)
