"""Standardised mean differences (SMD) as R ``tableone`` 0.13 computes them, optionally weighted.

* Continuous: ``|m_a - m_b| / sqrt((s_a^2 + s_b^2) / 2)`` with sample variances (``var``, n - 1)
  (``tableone:::StdDiff``). Two constant groups with equal means give 0, not NaN.
* Categorical (any number of levels, binary included): the multivariate SMD of Yang & Dalton
  (2012), ``sqrt(T' S^+ T)`` where ``T`` is the difference of the level proportions without the
  first level, ``S = (S_a + S_b) / 2`` with ``S_k = diag(p) - p p'`` and ``S^+`` the Moore-Penrose
  inverse (``MASS::ginv``), as ``tableone:::StdDiffMulti``.
* More than two groups: one SMD per pair of groups (in the order 1 vs 2, 1 vs 3, ..., 2 vs 3, ...);
  ``tableone``'s printed ``SMD`` is their mean (``FormatLstSmds``: ``average = rowMeans``).
* Weighted (``weights=``): ``tableone::svyCreateTableOne``'s convention — weighted means and
  proportions (``survey::svymean``, ``svytable``) and the weighted variance of ``survey::svyvar``,
  ``sum w (x - m_w)^2 / sum w * n / (n - 1)`` with ``n`` the number of rows in the group.

>>> import numpy as np
>>> round(smd_continuous(np.array([1., 2, 3, 4]), np.array([0, 0, 1, 1]))[0], 6)
2.828427
"""

from __future__ import annotations

import numpy as np

__all__ = ["smd_continuous", "smd_categorical", "smd_mean"]


def _group_codes(group: np.ndarray) -> tuple[np.ndarray, int]:
    g = np.asarray(group)
    k = int(g.max()) + 1 if g.size else 0
    return g.astype(np.intp), k


def _pairs(k: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(k) for b in range(a + 1, k)]


def smd_continuous(x: np.ndarray, codes: np.ndarray, weights: np.ndarray | None = None,
                   n_groups: int | None = None) -> list[float]:
    """Pairwise SMDs of a numeric variable between groups ``codes`` (0..k-1); NaN rows dropped."""
    x = np.asarray(x, dtype=float)
    g, k = _group_codes(codes)
    k = n_groups or k
    w = None if weights is None else np.asarray(weights, dtype=float)
    ok = ~np.isnan(x)
    if not ok.all():  # no copies when nothing is missing
        x, g = x[ok], g[ok]
        w = None if w is None else w[ok]
    n = np.bincount(g, minlength=k).astype(float)
    sw = n if w is None else np.bincount(g, weights=w, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.bincount(g, weights=x if w is None else w * x, minlength=k) / sw
        dev = x - m[g]
        dev *= dev
        ss = np.bincount(g, weights=dev if w is None else w * dev, minlength=k)
        v = ss / sw * n / (n - 1) if w is not None else ss / (n - 1)
    out = []
    for a, b in _pairs(k):
        d = m[a] - m[b]
        pooled = (v[a] + v[b]) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            s = abs(d) / np.sqrt(pooled)
        if np.isnan(s) and d == 0 and pooled == 0:
            s = 0.0
        out.append(float(s))
    return out


def smd_categorical(codes_var: np.ndarray, codes: np.ndarray, n_levels: int,
                    weights: np.ndarray | None = None, n_groups: int | None = None) -> list[float]:
    """Pairwise multivariate SMDs (Yang & Dalton 2012) of a categorical variable coded 0..L-1
    (negative codes are missing and dropped) between groups ``codes``."""
    v = np.asarray(codes_var)
    g, k = _group_codes(codes)
    k = n_groups or k
    w = np.ones(v.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    ok = v >= 0
    v, g, w = v[ok].astype(np.intp), g[ok], w[ok]
    # one bincount: the same sums, in the same row order, as ``np.add.at(tab, (g, v), w)``
    tab = np.bincount(g.astype(np.intp) * n_levels + v, weights=w,
                      minlength=k * n_levels).reshape(k, n_levels)
    with np.errstate(invalid="ignore", divide="ignore"):
        props = tab / tab.sum(1, keepdims=True)
    if n_levels > 1:
        props = props[:, 1:]
    out = []
    for a, b in _pairs(k):
        t = props[a] - props[b]
        covs = []
        for p in (props[a], props[b]):
            s = -np.outer(p, p)
            s[np.diag_indices_from(s)] = p * (1 - p)
            covs.append(s)
        s = (covs[0] + covs[1]) / 2
        finite = s[~np.isnan(s)]
        if np.all(finite == 0):
            out.append(0.0 if np.all(~np.isnan(t) & (t == 0)) else float("nan"))
            continue
        q = float(t @ np.linalg.pinv(s, rcond=np.sqrt(np.finfo(float).eps)) @ t)
        out.append(float(np.sqrt(q)))
    return out


def smd_mean(pairwise: list[float]) -> float:
    """The SMD ``tableone`` prints: the single SMD for two groups, the mean of the pairwise SMDs
    for more."""
    if not pairwise:
        return float("nan")
    return float(np.mean(pairwise))
