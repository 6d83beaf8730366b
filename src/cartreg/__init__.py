"""cartreg: real-world CAR T-cell therapy registry analysis.

Stages, in data-flow order (each imports only from the ones before it)::

    io -> registry -> endpoints -> stats -> study -> synth -> report -> cli
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "plot_cuminc", "plot_forest", "plot_km", "read_registry"]

_PLOTS = ("plot_km", "plot_cuminc", "plot_forest")


def __getattr__(name: str):
    """``cartreg.plot_km`` etc.: the plotting API of :mod:`cartreg.report.plots`, imported on first use."""
    if name in _PLOTS:
        from cartreg.report import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'cartreg' has no attribute {name!r}")


def read_registry(path, cutoff=None):
    """Read a registry (CSV directory, .xlsx workbook or cartreg .duckdb file).

    Returns a :class:`cartreg.registry.Registry` holding the typed tables and the validation report.
    """
    from cartreg.registry import read_registry as _read

    return _read(path, cutoff=cutoff)
