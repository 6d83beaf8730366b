"""The agreed time grid of count tables and the value grids of baseline distributions.

Times (days) are coarsened up to the grid: bin ``k = ceil(days / width)``, time ``k * width``; on
the day grid whole days are unchanged. Width: day 1, week 7, month 30.4375 (365.25 / 12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cartreg.endpoints import DAYS_PER_MONTH
from cartreg.errors import CartregError

GRIDS = {"day": 1.0, "week": 7.0, "month": DAYS_PER_MONTH}
HORIZON_DAYS = 40 * 365.25  #: longest time a table holds (longer is an out-of-range bin)

#: baseline variables released as value tables: (lowest, highest, values per unit)
VALUE_DOMAINS: dict[str, tuple[float, float, int]] = {
    "age": (0, 130, 1),
    "prior_lines": (0, 50, 1),
    "ferritin_ug_l": (0, 100000, 1),
    "crp_mg_dl": (0, 1000, 10),
}


@dataclass(frozen=True)
class Axis:
    """Bins ``0 .. n-1`` of values ``(lo_index + k) / per_unit``, then a missing and an out-of-range bin.

    For a time axis ``per_unit`` is ``1 / width`` expressed as ``width`` (see :func:`time_axis`).
    """

    n: int
    width: float  # value of one bin step
    lo: float
    time: bool  # times coarsen up (ceil); values round to the nearest step

    @property
    def size(self) -> int:
        return self.n + 2

    @property
    def missing(self) -> int:
        return self.n

    @property
    def out_of_range(self) -> int:
        return self.n + 1

    def index(self, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values, dtype=float)
        ok = ~np.isnan(v)
        idx = np.full(v.shape, self.missing, dtype=np.int64)
        with np.errstate(invalid="ignore"):
            if self.time:  # bins from lo (0, or a negative multiple of the width for gaps)
                k = np.ceil(v[ok] / self.width) - round(self.lo / self.width)
            else:
                k = np.rint((v[ok] - self.lo) / self.width)
        k = k.astype(np.int64)
        k[(k < 0) | (k >= self.n)] = self.out_of_range
        idx[ok] = k
        return idx

    def values(self) -> np.ndarray:
        """Value of each in-range bin (as a float array)."""
        k = np.arange(self.n, dtype=float)
        if self.time:
            return (round(self.lo / self.width) + k) * self.width
        per_unit = round(1 / self.width)
        return (round(self.lo * per_unit) + k) / per_unit


def time_axis(grid: str, horizon_days: float = HORIZON_DAYS) -> Axis:
    if grid not in GRIDS:
        raise CartregError(f"grid must be one of {', '.join(GRIDS)}, not {grid!r}", 2)
    w = GRIDS[grid]
    return Axis(n=int(np.ceil(horizon_days / w)) + 1, width=w, lo=0.0, time=True)


def gap_axis(grid: str, window_days: float, horizon_days: float = HORIZON_DAYS) -> Axis:
    """The time axis of treatment gaps: as :func:`time_axis`, plus bins below 0 down to
    ``-window_days`` (issue 10 rule 2: a treatment started up to the failure-treatment window before
    the recorded failure has a negative gap, never below ``-window``)."""
    w = time_axis(grid, horizon_days).width  # (validates the grid)
    below = int(np.ceil(max(float(window_days), 0.0) / w))
    return Axis(n=int(np.ceil(horizon_days / w)) + 1 + below, width=w, lo=-below * w, time=True)


def value_axis(name: str) -> Axis:
    lo, hi, per_unit = VALUE_DOMAINS[name]
    return Axis(n=int(round((hi - lo) * per_unit)) + 1, width=1.0 / per_unit, lo=float(lo), time=False)


def coarsen(days: np.ndarray, grid: str) -> np.ndarray:
    """Times moved up to the grid (NaN stays NaN): what the nodes' tables hold."""
    w = GRIDS[grid]
    d = np.asarray(days, dtype=float)
    return np.ceil(d / w) * w
