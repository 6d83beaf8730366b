"""Every shipped plan, end to end on examples/registry: results.json, report.html in headless Chromium
(no console error, no request), report.docx converted by LibreOffice. A plan whose blocks need a module
this build lacks (issue 12: compare, logistic, finegray) is skipped with that reason."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from cartreg.cli.main import main
from cartreg.study import load_plan, shipped_plans

from report.cdp import find_chromium, inspect_page

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "registry"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def missing_modules(name: str) -> list[str]:
    plan = load_plan(name=name)
    need = set()
    for b in plan.blocks:
        if b.kind == "table":
            need.add("compare")
        if b.kind == "model" and b.model == "logistic":
            need.add("logistic")
        if b.kind == "cuminc" and b.adjust:
            need.add("finegray")
    return sorted(m for m in need if importlib.util.find_spec(f"cartreg.stats.{m}") is None)


@pytest.mark.parametrize("name", sorted(shipped_plans()))
def test_shipped_plan_end_to_end(name, tmp_path, capsys):
    missing = missing_modules(name)
    if missing:
        pytest.skip(f"needs cartreg.stats.{', '.join(missing)} (issue 12), not in this build")
    out = tmp_path / "out"
    args = ["analyze", str(EXAMPLE), "-o", str(out), "--lang", "fr"]
    args += ["--plan", str(tmp_path / f"{name}.toml")] if name == "late-failure" else ["--study", name]
    (tmp_path / f"{name}.toml").write_text(shipped_plans()[name], encoding="utf-8")
    code = main(args)
    err = capsys.readouterr().err
    assert code == 0, err
    res = json.loads((out / "results.json").read_text())
    assert res["study"] == name and len(res["blocks"]) == len(load_plan(name=name).blocks)
    if find_chromium() is not None:
        page = inspect_page(out / "report.html", "document.querySelectorAll('figure.table table').length",
                            tmp_path / "shot.png")
        assert page.errors == [] and page.requests == [(out / "report.html").resolve().as_uri()]
        assert int(page.value) >= 2
    if SOFFICE is not None:
        proc = subprocess.run([SOFFICE, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                               "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"), str(out / "report.docx")],
                              capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0 and (tmp_path / "pdf" / "report.pdf").read_bytes().startswith(b"%PDF")
