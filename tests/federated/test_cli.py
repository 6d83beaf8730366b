"""``cartreg federated simulate`` through vantage6's MockAlgorithmClient."""

from __future__ import annotations

import html
import json
import re

import pytest
from test_exactness import compare
from typer.testing import CliRunner

from cartreg.cli.main import app
from cartreg.registry import read_registry
from cartreg.study import analyze

pytest.importorskip("vantage6.algorithm.tools.mock_client")


def _args(split, *extra):
    out = []
    for r in split:
        out += ["--registry", str(r)]
    return ["federated", "simulate", *out, *extra]



@pytest.fixture
def split(plain_split):
    """One split is enough here (the exactness tests run every split)."""
    return plain_split


@pytest.fixture
def full_registry(full_plain):
    return full_plain


def test_simulate_day_pooled_equals_analyze_on_union(split, full_registry, tmp_path):
    res = CliRunner().invoke(app, _args(split, "--grid", "day", "--pooled-risk-sets", "-o", str(tmp_path / "o")))
    assert res.exit_code == 0, res.output
    got = json.loads((tmp_path / "o" / "results.json").read_text())
    assert compare(got, analyze(read_registry(full_registry))) == []
    html = (tmp_path / "o" / "report.html").read_text()
    ns = ", ".join(str(x["infused"]) for x in got["federated"]["n"])
    assert f"Federated analysis of 3 registries (infused patients per registry: {ns})" in html
    assert len(list((tmp_path / "o" / "node-logs").glob("*.log"))) == 3


def test_simulate_refuses_two_registries(split, tmp_path, capsys):
    from cartreg.cli.main import main

    assert main(_args(split[:2], "-o", str(tmp_path / "o"))) == 2
    assert "at least 3 registries" in capsys.readouterr().err
    assert not (tmp_path / "o" / "results.json").exists()


def test_simulate_suppresses_small_cells(split, tmp_path):
    res = CliRunner().invoke(app, _args(split, "--suppress-small-cells", "5", "-o", str(tmp_path / "o")))
    assert res.exit_code == 0, res.output
    text = (tmp_path / "o" / "results.json").read_text()
    got = json.loads(text)
    assert '"<5"' in text

    def walk(d, key=None):
        if isinstance(d, dict):
            for k, v in d.items():
                yield from walk(v, k)
        elif isinstance(d, list):
            for v in d:
                yield from walk(v, key)
        else:
            yield key, d

    from cartreg.federated.suppress import COUNT_KEYS

    small = [(k, v) for k, v in walk(got) if k in COUNT_KEYS and isinstance(v, int) and 0 < v < 5]
    assert small == []
    # value-count tables (regimens per class, products, records ignored) and texts that carry counts
    tallies = [v for k, v in walk({"late": got["late"]["first_treatment"]["regimens"], "p": got["cohort"]["products"],
                                   "i": got["ignored_records"]}) if isinstance(v, int) and 0 < v < 5]
    assert tallies == []
    texts = [w["message"] for w in got["warnings"]] + list(got["late"]["comparisons"]["not_compared"].values())
    assert not [t for t in texts if re.search(r"(?<![\w.\-/:'<])[1-4] (?:record|treated|regimen|death|patient|assess)", t)]
    # the report is written (issue 14: "no count from 1 to 4 in results.json or the report")
    page = (tmp_path / "o" / "report.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "\n", re.sub(r"<(svg|style)\b.*?</\1>", " ", page, flags=re.S)))
    assert "<5" in text
    count_forms = [r"(?<![\w.\-/<])[1-4] \([\d.<>]+%\)",  # n (%)
                   r"(?<![\w.\-/<])[1-4]/\d", r"/[1-4](?![\d.])",  # n/N
                   r"\w \([1-4]\)"]  # regimen (n)
    found = [m.group(0) for pat in count_forms for m in re.finditer(pat, text)]
    assert found == []
    # and the same report without suppression does show such counts (the check is not vacuous)
    res = CliRunner().invoke(app, _args(split, "-o", str(tmp_path / "plain")))
    assert res.exit_code == 0, res.output
    page = (tmp_path / "plain" / "report.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "\n", re.sub(r"<(svg|style)\b.*?</\1>", " ", page, flags=re.S)))
    assert [m.group(0) for pat in count_forms for m in re.finditer(pat, text)] != []


def test_simulate_refuses_a_node_with_five_patients(split, full_registry, tmp_path, capsys):
    from helpers import split_registry

    from cartreg.cli.main import main

    small = split_registry(full_registry, tmp_path / "small", [595, 5], 0)[1]
    assert main(_args([split[0], split[1], small], "-o", str(tmp_path / "o"))) == 2
    err = capsys.readouterr().err
    assert re.search(r"organisation 3 refused: this node has fewer infused patients than its minimum of 10", err)
    assert not (tmp_path / "o" / "results.json").exists()
