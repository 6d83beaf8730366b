"""Input handling shared by every estimator: coerce to arrays and drop incomplete rows.

R's model functions drop rows with a missing value in any variable used (``na.action = na.omit``)
and report how many. cartreg does the same, and every result carries that count as ``excluded``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def is_missing(values: np.ndarray) -> np.ndarray:
    """Boolean mask of missing entries: NaN for floats, None/NaN/"" for object or string arrays."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        return np.isnan(arr)
    if arr.dtype.kind in "iub":
        return np.zeros(arr.shape[0], dtype=bool)
    if arr.dtype.kind in "US":
        return arr == arr.dtype.type("")
    # object: None, float NaN (NaN != NaN) and empty strings are missing; elementwise, no Python loop
    obj = arr.astype(object)
    return np.asarray(np.equal(obj, None) | np.not_equal(obj, obj) | np.equal(obj, ""), dtype=bool)


@dataclass(frozen=True)
class Complete:
    """The complete cases of several aligned columns.

    ``arrays`` are the columns restricted to complete rows, in the order given; ``keep`` is the mask
    over the original rows; ``excluded`` is how many rows had a missing value in any column.
    """

    arrays: tuple[np.ndarray, ...]
    keep: np.ndarray
    excluded: int


def complete_cases(*columns: np.ndarray | None) -> Complete:
    """Drop rows with a missing value in any of ``columns`` (``None`` columns are skipped).

    >>> c = complete_cases(np.array([1.0, np.nan, 3.0]), np.array([1, 0, 1]))
    >>> c.excluded, c.arrays[0].tolist()
    (1, [1.0, 3.0])
    """
    present = [np.asarray(c) for c in columns if c is not None]
    if not present:
        raise ValueError("complete_cases needs at least one column")
    n = present[0].shape[0]
    for c in present:
        if c.shape[0] != n:
            raise ValueError(f"columns have different lengths: {n} and {c.shape[0]}")
    bad = np.zeros(n, dtype=bool)
    for c in present:
        if c.ndim == 2:
            bad |= np.isnan(c.astype(float)).any(axis=1)
        else:
            bad |= is_missing(c)
    keep = ~bad
    out = tuple(None if c is None else np.asarray(c)[keep] for c in columns)
    return Complete(arrays=out, keep=keep, excluded=int(bad.sum()))


#: ``sqrt(.Machine$double.eps)``: survival's ``aeqSurv`` tolerance for merging near-equal times.
TIMEFIX_TOLERANCE: float = float(np.sqrt(np.finfo(float).eps))


def timefix_cuts(y: np.ndarray) -> np.ndarray | None:
    """``survival::aeqSurv``'s cut points for sorted unique times ``y``; ``None`` when nothing merges.

    Times closer than :data:`TIMEFIX_TOLERANCE` (absolutely, or relative to the mean absolute time)
    to the previous one are merged into the first of their run. ``survfit``, ``survdiff`` and ``coxph``
    all apply this (``timefix = TRUE``). Map a time ``t`` to its merged value with
    ``cuts[np.searchsorted(cuts, t, side="right") - 1]``.
    """
    y = y[np.isfinite(y)]
    if y.size < 2:
        return None
    dy = np.diff(y)
    tied = (dy <= TIMEFIX_TOLERANCE) | (dy / np.mean(np.abs(y)) <= TIMEFIX_TOLERANCE)
    if not tied.any():
        return None
    return y[np.concatenate(([True], ~tied))]


def fill_columns(out: np.ndarray, blocks: list[np.ndarray], chunk: int = 16384) -> np.ndarray:
    """Copy the column blocks (1-D arrays or 2-D n x k blocks, left to right) into ``out``
    (n x total) by slabs of ``chunk`` rows, so that columns that are strided views of one array
    (``X[:, j]``) are read once from memory rather than once per column. A plain copy: ``out``
    holds exactly the same values as filling it column by column."""
    n = out.shape[0]
    widths = [1 if b.ndim == 1 else b.shape[1] for b in blocks]
    for r0 in range(0, n, chunk):
        r1 = min(n, r0 + chunk)
        j = 0
        for b, w in zip(blocks, widths):
            if b.ndim == 1:
                out[r0:r1, j] = b[r0:r1]
            else:
                out[r0:r1, j:j + w] = b[r0:r1]
            j += w
    return out
