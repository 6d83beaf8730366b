"""Regenerate examples/sources/ (issue 11): three real-world shapes of one small synthetic registry.

    .venv/bin/python scripts/make_example_sources.py

* ``clinician-workbook/``: a wide French workbook (``registre.xlsx``) and its mapping;
* ``redcap/``: a REDCap export (``export.csv``, raw codes, repeating instruments), its data dictionary
  (``dict.csv``, the template of ``cartreg redcap-dictionary``) and a mapping;
* ``stata/``: a wide Stata file (``registre.dta``, value labels, Stata dates) and its mapping.

Each imports with 0 errors: ``cartreg import SOURCE --mapping DIR/mapping.toml -o registry.duckdb``
(checked by tests/mapping/test_examples.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cartreg.synth import generate
from cartreg.synth.shapes import write_shape

ROOT = Path(__file__).resolve().parents[1] / "examples" / "sources"
SHAPES = {"clinician-workbook": "wide-xlsx", "redcap": "redcap", "stata": "stata"}


def main() -> None:
    reg = generate(40, seed=11)
    for name, shape in SHAPES.items():
        d = ROOT / name
        shutil.rmtree(d, ignore_errors=True)
        src = write_shape(reg, shape, d)
        print(f"wrote {src.relative_to(ROOT.parent.parent)} and {(d / 'mapping.toml').relative_to(ROOT.parent.parent)}")


if __name__ == "__main__":
    main()
