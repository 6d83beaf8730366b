"""docs/notebook.md stays true: every ```python cell runs, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "notebook.md"


def test_notebook_doc_cells_run(capsys) -> None:
    cells = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(cells) >= 7
    ns: dict = {}
    for i, cell in enumerate(cells):
        exec(compile(cell, f"{DOC.name} cell {i + 1}", "exec"), ns)  # noqa: S102 - our own doc
    # a few values the walk-through relies on
    assert ns["cox"].excluded == 1 and "product=axi-cel" in list(ns["table"]["term"])
    assert "robust_se" in ns["robust"].to_frame().columns
    assert ns["result"]["cause_specific"]["cause"] == "1"
    assert {"strata", "logrank", "cox"} <= set(ns["out"])
