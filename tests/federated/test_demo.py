"""``cartreg demo --federated``: three different registries, each analysed, and the federated study."""

from __future__ import annotations

import json

import pytest

from cartreg.cli.main import main

pytest.importorskip("vantage6.algorithm.tools.mock_client")


def test_demo_federated(tmp_path):
    assert main(["demo", "--federated", "-o", str(tmp_path)]) == 0
    own = {n: json.loads((tmp_path / n / "results.json").read_text()) for n in ("registry-A", "registry-B", "registry-C")}
    fed = json.loads((tmp_path / "federated" / "results.json").read_text())
    sizes = [r["cohort"]["infused"] for r in own.values()]
    assert len(set(sizes)) == 3  # different sizes
    share = [r["cohort"]["products"].get("tisa-cel", 0) / r["cohort"]["infused"] for r in own.values()]
    assert max(share) - min(share) > 0.15  # different case mix
    assert [x["infused"] for x in fed["federated"]["n"]] == sizes
    # pooled counts are the sums of the registries' own counts
    for key in ("n",):
        assert fed["failures"][key] == sum(r["failures"][key] for r in own.values())
    assert fed["late"]["n"] == sum(r["late"]["n"] for r in own.values())
    for n in ("registry-A", "registry-B", "registry-C", "federated"):
        assert (tmp_path / n / "report.html").exists()
    assert "Federated analysis of 3 registries" in (tmp_path / "federated" / "report.html").read_text()
