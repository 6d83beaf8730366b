"""Vectorised sampling helpers for the generator (plain NumPy, no per-patient loops)."""

from __future__ import annotations

import numpy as np

DAYS_PER_MONTH = 30.4375


def categorical(u: np.ndarray, probs: np.ndarray, group: np.ndarray | None = None) -> np.ndarray:
    """Category index for each uniform ``u``.

    ``probs`` is (K,) or, with ``group``, (G, K): row ``group[i]`` gives patient i's probabilities.
    """
    cum = np.cumsum(np.asarray(probs, dtype=float), axis=-1)
    cum[..., -1] = 1.0 + 1e-12  # guard rounding: every u < 1 lands in a category
    if group is None:
        return np.searchsorted(cum, u, side="right").astype(np.int16)
    rows = cum[group]
    return (u[:, None] >= rows).sum(axis=1).astype(np.int16)


def piecewise_exponential(e: np.ndarray, breaks: np.ndarray, hazard: np.ndarray) -> np.ndarray:
    """Event times from piecewise-constant hazards by inversion of the cumulative hazard.

    ``e`` are Exp(1) draws (n,); ``breaks`` (K,) the interval starts (first 0); ``hazard`` (n, K)
    per-patient hazards. Returns times in the units of ``breaks`` (inf if the hazard is 0 forever).
    """
    breaks = np.asarray(breaks, dtype=float)
    hazard = np.asarray(hazard, dtype=float)
    widths = np.diff(breaks)
    cum = np.zeros_like(hazard)
    if hazard.shape[1] > 1:
        cum[:, 1:] = np.cumsum(hazard[:, :-1] * widths, axis=1)
    idx = (cum <= e[:, None]).sum(axis=1) - 1
    rows = np.arange(len(e))
    h = hazard[rows, idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = breaks[idx] + (e - cum[rows, idx]) / h
    # a zero hazard in a non-final interval cannot hold the event: the cumsum already moved past it
    t[h == 0] = np.inf
    return t


def months_to_days(t_months: np.ndarray, minimum: int = 1) -> np.ndarray:
    """Whole days (ceiling) of a time in months, at least ``minimum``; inf stays large."""
    d = np.ceil(np.minimum(t_months, 1e6) * DAYS_PER_MONTH)
    return np.maximum(d, minimum).astype(np.int64)


def weighted_choice(u: np.ndarray, weights: dict[str, float]) -> tuple[np.ndarray, list[str]]:
    """Index into ``list(weights)`` for each uniform ``u``, with probabilities ∝ weights."""
    names = list(weights)
    w = np.array([float(weights[k]) for k in names])
    return categorical(u, w / w.sum()), names
