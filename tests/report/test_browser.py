"""The report in a real browser: headless Chromium over the DevTools protocol (``cdp.py``).

Loads ``report.html`` from disk, saves a full-page screenshot, and checks that the page made no
request besides itself, had no failed load, console error or exception, and that every figure has
a non-zero size. Skipped, with the reason, when Chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import json

import pytest

from .cdp import find_chromium, inspect_page

CHROMIUM = find_chromium()

FIGURE_SIZES = """JSON.stringify({
  title: document.title,
  figures: Array.from(document.querySelectorAll("figure.fig")).map(f => {
    const svg = f.querySelector("svg"); const b = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    return {id: f.id, width: b.width, height: b.height};
  }),
  tables: document.querySelectorAll("figure.table table").length,
  overflowX: document.documentElement.scrollWidth > document.documentElement.clientWidth
})"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (Debian package 'chromium'; .ci/run installs it)")
def test_report_renders_in_headless_chromium(report_dir, tmp_path_factory):
    shots = tmp_path_factory.mktemp("browser")
    page = inspect_page(report_dir / "report.html", FIGURE_SIZES, shots / "report.png")
    assert page.errors == []
    assert page.requests == [(report_dir / "report.html").resolve().as_uri()]  # nothing but itself
    info = json.loads(page.value)
    assert info["title"].startswith("Late failure after CAR T-cell therapy")
    assert len(info["figures"]) == 5
    for fig in info["figures"]:
        assert fig["width"] > 100 and fig["height"] > 100, fig
    assert info["tables"] == 6
    assert not info["overflowX"]  # nothing wider than the page at 1280 px
    png = page.screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    print(f"screenshot: {page.screenshot}")
