"""The report on real results of the study (``cartreg.study.analyze`` on ``examples/registry``).

The example registry is tiny (20 patients): classes with no patient, curves that are never drawn
(fewer than 5 at risk), null CIs and HRs. The report must format all of it without error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "registry"


@pytest.fixture(scope="module")
def study_results() -> dict:
    study = pytest.importorskip("cartreg.study")
    if not EXAMPLE.is_dir():
        pytest.skip("examples/registry not present")
    from cartreg.registry import read_registry

    return study.analyze(read_registry(EXAMPLE))


def test_tables_and_summary_on_study_results(study_results):
    from cartreg.report.format import fmt_n_N_pct
    from cartreg.report.summary import summary_paragraphs
    from cartreg.report.tables import build_tables, patient_flow

    r = study_results
    tables = build_tables(r)
    assert [t.id for t in tables][0] == "patient_flow"
    f = r["failures"]
    assert patient_flow(r).cell("Failed after infusion (progression or relapse)", "n/N (%)") == \
        fmt_n_N_pct(f["n"], r["cohort"]["infused"], f["pct"])
    text = " ".join(p if isinstance(p, str) else " ".join(p) for p in summary_paragraphs(r))
    assert fmt_n_N_pct(f["late"]["n"], f["n"], f["late"]["pct"]) in text


def test_write_report_on_study_results(study_results, tmp_path, monkeypatch):
    import cartreg.report.figures as figures
    from cartreg.report import write_report

    built = figures.build_figures(study_results)  # every figure draws from the study's arrays
    assert len(built) == 5
    monkeypatch.setattr(figures, "build_figures", lambda *a, **k: [])  # keep the test fast
    html = write_report(study_results, tmp_path).read_text(encoding="utf-8")
    assert study_results["meta"]["registry_sha256"] in html
