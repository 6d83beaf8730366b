"""cartreg: real-world CAR T-cell therapy registry analysis.

Stages, in data-flow order (each imports only from the ones before it)::

    io -> registry -> endpoints -> stats -> study -> synth -> report -> cli
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "read_registry"]


def read_registry(path, cutoff=None):
    """Read a registry (CSV directory, .xlsx workbook or cartreg .duckdb file).

    Returns a :class:`cartreg.registry.Registry` holding the typed tables and the validation report.
    """
    from cartreg.registry import read_registry as _read

    return _read(path, cutoff=cutoff)
