"""The synthetic registry: a generative model calibrated to the DESCAR-T late-failure abstract.

>>> from cartreg.synth import generate, write_registry, load_config
>>> reg = generate(300, seed=7)                 # tables in the exchange format, plus latent truth
>>> sorted(reg.tables)
['infusions', 'patients', 'responses', 'treatments']

``write_registry(reg, "out/")`` writes CSV files; ``"reg.xlsx"`` a workbook; ``"reg.duckdb"`` a
cartreg store. :mod:`cartreg.synth.calibrate` compares the analysed registry with the abstract.
See docs/synthetic-registry.md.
"""

from __future__ import annotations

from cartreg.synth.config import load_config
from cartreg.synth.generate import SynthRegistry, generate
from cartreg.synth.write import write_csv_dir, write_duckdb, write_registry, write_xlsx

__all__ = [
    "SynthRegistry",
    "generate",
    "load_config",
    "write_csv_dir",
    "write_duckdb",
    "write_registry",
    "write_xlsx",
]
