"""Issue 14: a federated node reads "a source with a mapping" (``--registry SOURCE::MAPPING.toml``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cartreg.cli.main import main

pytest.importorskip("vantage6.algorithm.tools.mock_client")


@pytest.fixture(scope="module")
def nodes(tmp_path_factory) -> dict[str, Path]:
    """Three registries of different sizes, two written as sources with their mappings, plus the imports."""
    d = tmp_path_factory.mktemp("mapped")
    assert main(["synth", "--patients", "180", "--seed", "3", "--as", "wide-xlsx", "-o", str(d / "wide")]) == 0
    assert main(["synth", "--patients", "150", "--seed", "4", "--as", "redcap", "-o", str(d / "redcap")]) == 0
    assert main(["synth", "--patients", "120", "--seed", "5", "-o", str(d / "plain")]) == 0
    out = {"wide": d / "wide" / "registre.xlsx", "wide.map": d / "wide" / "mapping.toml",
           "redcap.map": d / "redcap" / "mapping.toml", "plain": d / "plain"}
    out["redcap"] = next(p for p in (d / "redcap").iterdir() if p.name != "mapping.toml" and "dict" not in p.name
                         and p.suffix == ".csv")
    for name in ("wide", "redcap"):
        db = d / f"{name}.duckdb"
        assert main(["import", str(out[name]), "--mapping", str(out[name + ".map"]), "-o", str(db)]) == 0
        out[name + ".db"] = db
    return out


def _numbers(results: dict) -> dict:
    """results.json without what names the files or the moment (meta, registry file names)."""
    r = json.loads(json.dumps(results))
    r.pop("meta", None)
    r["federated"].pop("registry_files", None)
    return r


@pytest.mark.parametrize("grid", ["month", "day"])
def test_mapped_sources_equal_the_same_registries_imported(nodes, tmp_path, grid):
    extra = ["--grid", grid, "--no-report"] + (["--pooled-risk-sets"] if grid == "day" else [])
    mapped = ["--registry", f"{nodes['wide']}::{nodes['wide.map']}",
              "--registry", f"{nodes['redcap']}::{nodes['redcap.map']}", "--registry", str(nodes["plain"])]
    imported = ["--registry", str(nodes["wide.db"]), "--registry", str(nodes["redcap.db"]),
                "--registry", str(nodes["plain"])]
    assert main(["federated", "simulate", *mapped, *extra, "-o", str(tmp_path / "m")]) == 0
    assert main(["federated", "simulate", *imported, *extra, "-o", str(tmp_path / "i")]) == 0
    got = json.loads((tmp_path / "m" / "results.json").read_text())
    want = json.loads((tmp_path / "i" / "results.json").read_text())
    assert [x["infused"] for x in got["federated"]["n"]] == [x["infused"] for x in want["federated"]["n"]]
    assert got["federated"]["n"][0]["infused"] > 100  # the wide workbook was really read through its mapping
    assert _numbers(got) == _numbers(want)
    assert got["federated"]["registry_files"] == ["registre.xlsx", nodes["redcap"].name, "plain"]


def test_a_mapped_registry_without_its_mapping_or_a_bad_argument_is_refused(nodes, tmp_path, capsys):
    base = ["federated", "simulate", "--registry", str(nodes["plain"]), "--registry", str(nodes["plain"])]
    assert main([*base, "--registry", f"{nodes['wide']}::", "-o", str(tmp_path / "a")]) == 2
    assert "SOURCE::MAPPING.toml" in capsys.readouterr().err
    assert main([*base, "--registry", f"{nodes['wide']}::{tmp_path / 'none.toml'}", "-o", str(tmp_path / "b")]) == 2
    assert "no such mapping file" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_node_reads_its_mapping_from_its_environment(nodes, tmp_path, monkeypatch):
    from types import SimpleNamespace

    from cartreg.federated import messages as msg
    from cartreg.federated.central import FederatedOptions
    from cartreg.v6algorithm import partial

    monkeypatch.setenv("USER_REQUESTED_DATABASE_LABELS", "default")
    monkeypatch.setenv("DEFAULT_DATABASE_URI", str(nodes["wide"]))
    monkeypatch.setenv("CARTREG_NODE_SECRET", "s3cret")
    monkeypatch.setenv("CARTREG_NODE_LOG", str(tmp_path / "node.log"))
    monkeypatch.setenv("CARTREG_NODE_MAPPING", str(nodes["wide.map"]))
    req = msg.request("hello", "sess", plan=FederatedOptions().plan(), organizations=[4, 5, 6])
    got = partial(request=req, mock_client=SimpleNamespace(organization_id=5))
    assert got["kind"] == "hello", got
    monkeypatch.setenv("DEFAULT_DATABASE_URI", str(nodes["wide.db"]))  # the same registry, imported
    monkeypatch.delenv("CARTREG_NODE_MAPPING")
    want = partial(request=msg.request("hello", "sess2", plan=FederatedOptions().plan(), organizations=[4, 5, 6]),
                   mock_client=SimpleNamespace(organization_id=5))
    assert want["kind"] == "hello" and got["n_infused"] == want["n_infused"] > 100
    assert got["n_registered"] == want["n_registered"]
