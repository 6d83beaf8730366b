"""The data dictionary in docs/data-format.md names every column and rule of schema.py."""

from __future__ import annotations

import re
from pathlib import Path

from cartreg.registry.schema import RULES, SEVERITIES, TABLES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "data-format.md").read_text(encoding="utf-8")


def test_every_column_documented():
    for table in TABLES:
        section = DOC.split(f"### `{table.name}.csv`")[1].split("#")[0]
        documented = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M)
        assert documented == list(table.column_names), table.name


def test_every_rule_documented_with_its_severity():
    for rule in RULES:
        assert f"| `{rule.id}` | {rule.severity} |" in DOC, rule.id
        assert rule.severity in SEVERITIES


def test_rule_ids_are_snake_case_and_unique():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids)


def test_brand_synonyms():
    product = TABLES[1].column("product")
    assert dict(product.synonyms) == {"yescarta": "axi-cel", "kymriah": "tisa-cel", "breyanzi": "liso-cel",
                                      "tecartus": "brexu-cel"}
