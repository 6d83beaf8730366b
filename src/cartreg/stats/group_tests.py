"""Two-sample and k-sample tests as R ``stats`` computes them (R 4.2).

* :func:`chisq_test` — Pearson's chi-squared test without continuity correction,
  ``chisq.test(table, correct = FALSE)`` (Pearson 1900).
* :func:`fisher_exact` — Fisher's exact test for r x c tables, ``fisher.test(table)``: the
  two-sided P value is the probability, under the multiple hypergeometric distribution with the
  observed margins, of the tables no more probable than the observed one (Freeman & Halton 1951),
  with R's relative tolerance ``1 + 1e-7`` for ties in probability. R uses the FEXACT network
  algorithm (Mehta & Patel 1983); here the same sum is computed by a column-by-column network
  with merged nodes and bounds (see :func:`fisher_exact`).
* :func:`wilcox_test` — Wilcoxon rank-sum (Mann-Whitney) test, ``wilcox.test(x, y)``: exact null
  distribution when both samples have fewer than 50 values and there are no ties, else the normal
  approximation with tie and continuity correction (Wilcoxon 1945; Mann & Whitney 1947).
* :func:`kruskal_test` — Kruskal-Wallis rank-sum test with tie correction, ``kruskal.test``
  (Kruskal & Wallis 1952).

>>> round(fisher_exact([[3, 1], [1, 3]]), 6)   # fisher.test(matrix(c(3,1,1,3), 2))$p.value
0.485714
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from math import comb

import numpy as np
from scipy import special

from cartreg.errors import CartregError

__all__ = ["ChisqTest", "WilcoxTest", "KruskalTest", "chisq_test", "fisher_exact", "wilcox_test",
           "kruskal_test", "FISHER_MAX_NODES"]

#: ``fisher.test``'s relative tolerance when comparing table probabilities with the observed one.
FISHER_REL_ERR: float = 1 + 1e-7

#: Work limit of :func:`fisher_exact` (partial paths generated or kept at one stage); R's FEXACT
#: has a similar limit (``workspace = 200000``) and stops with an error beyond it.
FISHER_MAX_NODES: int = 2_000_000


@dataclass(frozen=True)
class ChisqTest:
    """Pearson chi-squared test: ``statistic``, ``df``, ``p`` and the ``expected`` counts."""

    statistic: float
    df: int
    p: float
    expected: np.ndarray


@dataclass(frozen=True)
class WilcoxTest:
    """Wilcoxon rank-sum test: R's ``W`` (rank sum of x minus n_x (n_x + 1) / 2), ``p``, and
    whether the exact distribution was used."""

    statistic: float
    p: float
    exact: bool


@dataclass(frozen=True)
class KruskalTest:
    """Kruskal-Wallis test: tie-corrected ``statistic`` (chi-squared on ``df`` = k - 1), ``p``."""

    statistic: float
    df: int
    p: float


def _rankdata(x: np.ndarray, ties: bool = False, order: np.ndarray | None = None) -> Any:
    """Average ranks (R's ``rank``, ties averaged); with ``ties=True`` also the size of each run
    of tied values. ``order`` may pass a precomputed ``argsort(x)``."""
    x = np.asarray(x, dtype=float)
    if order is None:
        order = np.argsort(x, kind="mergesort")
    xs = x[order]
    starts = np.concatenate(([True], xs[1:] != xs[:-1]))
    idx = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.concatenate((first[1:], [xs.size])) - 1
    avg = (first + last) / 2.0 + 1.0
    out = np.empty(x.size)
    out[order] = avg[idx]
    return (out, last - first + 1) if ties else out


def _as_table(table: object) -> np.ndarray:
    x = np.asarray(table)
    if x.ndim != 2:
        raise CartregError("a contingency table must be two-dimensional", 2)
    if (x < 0).any() or not np.all(np.equal(np.mod(x, 1), 0)):
        raise CartregError("a contingency table must hold non-negative integer counts", 2)
    return x.astype(np.int64)


def expected_counts(table: object) -> np.ndarray:
    """Expected counts under independence, ``outer(rowSums, colSums) / n`` as ``chisq.test``."""
    x = _as_table(table).astype(float)
    return np.outer(x.sum(1), x.sum(0)) / x.sum()


def chisq_test(table: object) -> ChisqTest:
    """``chisq.test(table, correct = FALSE)``: statistic, df = (r - 1)(c - 1), upper-tail P.

    >>> t = chisq_test([[10, 20], [20, 10]])
    >>> round(t.statistic, 6), t.df, round(t.p, 6)
    (6.666667, 1, 0.009823)
    """
    x = _as_table(table).astype(float)
    e = expected_counts(x)
    stat = float(np.sum((x - e) ** 2 / e))
    df = (x.shape[0] - 1) * (x.shape[1] - 1)
    return ChisqTest(statistic=stat, df=int(df), p=float(special.chdtrc(df, stat)), expected=e)


# ---- Fisher's exact test --------------------------------------------------------------------


def _compositions(c: int, caps: np.ndarray) -> np.ndarray:
    """Every integer vector x with sum c and 0 <= x_i <= caps_i (one row per vector)."""
    m = caps.size
    parts = np.zeros((1, 0), dtype=np.int64)
    sums = np.zeros(1, dtype=np.int64)
    rest = np.concatenate((np.cumsum(caps[::-1])[::-1][1:], [0]))  # capacity of the later rows
    for i in range(m - 1):
        lo = np.maximum(0, c - sums - rest[i])
        hi = np.minimum(caps[i], c - sums)
        cnt = np.maximum(hi - lo + 1, 0)
        idx = np.repeat(np.arange(sums.size), cnt)
        offs = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        xi = lo[idx] + offs
        parts = np.column_stack((parts[idx], xi))
        sums = sums[idx] + xi
    return np.column_stack((parts, c - sums))


def _even_fill(c: int, caps: np.ndarray) -> np.ndarray:
    """The most even split of c under caps (minimises sum log x!)."""
    caps = np.sort(caps)
    out = np.zeros(caps.size, dtype=np.int64)
    remaining = c
    for i, cap in enumerate(caps):
        k = caps.size - i
        if cap * k <= remaining:
            out[i] = cap
            remaining -= cap
        else:
            q, s = divmod(remaining, k)
            out[i:] = q
            out[caps.size - s:] += 1
            break
    return out


def _greedy_fill(c: int, caps: np.ndarray) -> np.ndarray:
    """The most concentrated split of c under caps (maximises sum log x!)."""
    caps = np.sort(caps)[::-1]
    taken = np.minimum(caps, np.maximum(c - (np.cumsum(caps) - caps), 0))
    return taken


def fisher_exact(table: object, max_nodes: int = FISHER_MAX_NODES) -> float:
    """Two-sided P value of Fisher's exact test for an r x c table, as R ``fisher.test(table)``.

    The P value is ``sum P(y)`` over tables ``y`` with the observed margins and
    ``P(y) <= P(x) * (1 + 1e-7)``, where ``P`` is the multiple hypergeometric probability
    ``prod r_i! prod c_j! / (n! prod y_ij!)``.

    Algorithm: the table is filled one column at a time (the largest column last, where it is
    forced); a network node is the multiset of remaining row totals, and the partial sums of
    ``-log y_ij!`` reaching a node are merged when equal. At each node the sum over *all*
    completions is known in closed form (``n'! / (prod r'_i! prod c'_j!)``), and bounds on the
    largest and smallest completion (column by column: the most even and the most concentrated
    fill) decide whether every completion counts, none counts, or the node must be expanded —
    the idea of Mehta & Patel's network algorithm (FEXACT), with simpler bounds.
    Rows or columns with a zero total are dropped first (they do not change the P value).

    >>> round(fisher_exact([[1, 9], [11, 3]]), 7)       # fisher.test: 0.002759456
    0.0027595
    >>> round(fisher_exact([[2, 3, 1], [0, 4, 6], [5, 1, 0]]), 6)  # fisher.test: 0.004673814
    0.004674
    """
    x = _as_table(table)
    x = x[x.sum(1) > 0][:, x.sum(0) > 0]
    if x.shape[0] < 2 or x.shape[1] < 2:
        return 1.0
    if x.shape[0] > x.shape[1]:
        x = x.T  # fewer rows: a shorter node key
    order = np.argsort(x.sum(0), kind="stable")
    x = x[:, order]
    rows = x.sum(1)
    cols = x.sum(0)
    n = int(x.sum())
    lf = special.gammaln(np.arange(n + 1, dtype=float) + 1.0)
    const = float(lf[rows].sum() + lf[cols].sum() - lf[n])
    obs = float(-lf[x].sum())
    thr = obs + np.log(FISHER_REL_ERR)
    nc = cols.size
    total = 0.0

    def bounds(r: np.ndarray, k: int) -> tuple[float, float]:
        hi = lo = 0.0
        for c in cols[k:]:
            hi -= float(lf[_even_fill(int(c), r)].sum())
            lo -= float(lf[_greedy_fill(int(c), r)].sum())
        return lo, hi

    level: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {
        tuple(sorted(rows.tolist())): (np.zeros(1), np.ones(1))}
    def too_large() -> CartregError:
        return CartregError(
            f"Fisher's exact test: the {x.shape[0]} x {x.shape[1]} table with n = {n} is too large "
            "for exact enumeration (as R's fisher.test, which stops at its workspace limit)", 1)

    for k in range(nc - 1):
        nxt: dict[tuple[int, ...], list[tuple[np.ndarray, np.ndarray]]] = {}
        work = 0
        ck = int(cols[k])
        for key, (vals, wts) in level.items():
            r = np.asarray(key, dtype=np.int64)
            lo, hi = bounds(r, k)
            all_sum = float(lf[int(r.sum())] - lf[r].sum() - lf[cols[k:]].sum())
            take = vals + hi <= thr
            if take.any():
                total += float(np.sum(wts[take] * np.exp(vals[take] + all_sum + const)))
            keep = ~take & (vals + lo <= thr)
            if not keep.any():
                continue
            vals, wts = vals[keep], wts[keep]
            X = _compositions(ck, r)
            inc = -lf[X].sum(1)
            rem = r - X
            if k == nc - 2:  # the last column is forced: finish vectorised
                w = vals[:, None] + (inc - lf[rem].sum(1))[None, :]
                ok = w <= thr
                total += float(np.sum((wts[:, None] * np.exp(w + const))[ok]))
                continue
            rem.sort(axis=1)
            uniq, inv = np.unique(rem, axis=0, return_inverse=True)
            inv = inv.ravel()
            # the largest increment per distinct child (rows reaching one child differ by order)
            for u in range(uniq.shape[0]):
                incs = inc[inv == u]
                ckey = tuple(uniq[u].tolist())
                lst = nxt.setdefault(ckey, [])
                for v in incs:
                    lst.append((vals + v, wts))
                work += incs.size * vals.size
            if work > max_nodes:
                raise too_large()
        level = {}
        n_nodes = 0
        for ckey, lst in nxt.items():
            v = np.concatenate([a for a, _ in lst])
            w = np.concatenate([b for _, b in lst])
            keyv = np.round(v, 9)
            uk, inv2 = np.unique(keyv, return_inverse=True)
            wsum = np.bincount(inv2.ravel(), weights=w, minlength=uk.size)
            vrep = np.zeros(uk.size)
            vrep[inv2.ravel()] = v
            level[ckey] = (vrep, wsum)
            n_nodes += uk.size
        if n_nodes > max_nodes:
            raise too_large()
    return float(min(1.0, total))


# ---- Wilcoxon rank-sum ----------------------------------------------------------------------


def _wilcox_counts(m: int, n: int) -> list[int]:
    """Exact counts of the Mann-Whitney statistic U = 0..m n (R's ``cwilcox``): the coefficients
    of the Gaussian binomial ``prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i)``, in integers."""
    size = m * n + 1
    poly = np.zeros(size + n + m + 1, dtype=object)
    poly[:] = 0
    poly[0] = 1
    for i in range(1, m + 1):
        s = n + i
        shifted = np.concatenate((np.zeros(s, dtype=object), poly[:-s]))
        poly = poly - shifted
        for r in range(i):
            poly[r::i] = np.cumsum(poly[r::i])
    return [int(v) for v in poly[:size]]


def _pwilcox(q: float, m: int, n: int) -> float:
    """``pwilcox(q, m, n)``: P(U <= q) under the null (exact)."""
    counts = _wilcox_counts(m, n)
    k = int(np.floor(q + 1e-7))
    if k < 0:
        return 0.0
    k = min(k, m * n)
    return sum(counts[: k + 1]) / comb(m + n, n)


def wilcox_test(x: np.ndarray, y: np.ndarray, exact: bool | None = None,
                correct: bool = True) -> WilcoxTest:
    """Two-sided ``wilcox.test(x, y)`` (missing values dropped), R's default rules.

    ``exact=None`` uses the exact distribution when both samples have fewer than 50 values and no
    ties (R's rule); otherwise the normal approximation with tie correction and, when ``correct``,
    the continuity correction 0.5.

    >>> t = wilcox_test(np.array([1.1, 2.2, 3.3, 4.4]), np.array([0.5, 1.0, 1.5]))
    >>> t.statistic, round(t.p, 6), t.exact
    (11.0, 0.114286, True)
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    nx, ny = x.size, y.size
    if nx < 1 or ny < 1:
        raise CartregError("wilcox_test needs at least one value in each group", 1)
    xy = np.concatenate((x, y))
    r, tie_counts = _rankdata(xy, ties=True)
    isx = np.zeros(nx + ny, dtype=bool)
    isx[:nx] = True
    return wilcox_from_ranks(r, isx, tie_counts, exact=exact, correct=correct)


def wilcox_from_ranks(r: np.ndarray, isx: np.ndarray, tie_counts: np.ndarray, exact: bool | None = None,
                      correct: bool = True) -> WilcoxTest:
    """:func:`wilcox_test` from the pooled ranks ``r``, the mask of the first sample and the sizes of
    the runs of ties (so a caller that has sorted the data does not sort it again)."""
    nx = int(isx.sum())
    ny = int(r.size - nx)
    w = float(r[isx].sum() - nx * (nx + 1) / 2)
    if exact is None:
        exact = nx < 50 and ny < 50
    ties = bool((tie_counts > 1).any())
    if exact and not ties:
        if w > nx * ny / 2:
            p = 1.0 - _pwilcox(w - 1, nx, ny)
        else:
            p = _pwilcox(w, nx, ny)
        return WilcoxTest(statistic=w, p=float(min(2 * p, 1.0)), exact=True)
    z = w - nx * ny / 2
    nt = tie_counts.astype(float)
    sigma = np.sqrt((nx * ny / 12) * ((nx + ny + 1) - np.sum(nt ** 3 - nt) / ((nx + ny) * (nx + ny - 1))))
    corr = np.sign(z) * 0.5 if correct else 0.0
    zz = (z - corr) / sigma
    p = 2 * min(special.ndtr(zz), special.ndtr(-zz))
    return WilcoxTest(statistic=w, p=float(p), exact=False)


def kruskal_test(values: np.ndarray, codes: np.ndarray) -> KruskalTest:
    """``kruskal.test(values, g)`` with group codes ``codes`` (missing values dropped).

    >>> t = kruskal_test(np.array([1., 2, 3, 4, 5, 6]), np.array([0, 0, 1, 1, 2, 2]))
    >>> round(t.statistic, 6), t.df, round(t.p, 6)
    (4.571429, 2, 0.101701)
    """
    v = np.asarray(values, dtype=float)
    g = np.asarray(codes)
    ok = ~np.isnan(v)
    v, g = v[ok], g[ok]
    present = np.flatnonzero(np.bincount(g.astype(np.intp))) if g.size else np.array([], dtype=np.intp)
    remap = np.full(int(g.max()) + 1 if g.size else 0, -1, dtype=np.intp)
    remap[present] = np.arange(present.size)
    gi = remap[g.astype(np.intp)]
    k = int(present.size)
    if k < 2:
        raise CartregError("kruskal_test: all observations are in the same group", 1)
    n = v.size
    r, tie = _rankdata(v, ties=True)
    return _kruskal(r, gi, k, tie)


def kruskal_from_ranks(r: np.ndarray, codes: np.ndarray, tie: np.ndarray) -> KruskalTest:
    """:func:`kruskal_test` from pooled ranks, group codes (0..k-1, empty groups allowed) and the
    sizes of the runs of ties."""
    g = np.asarray(codes, dtype=np.intp)
    present = np.flatnonzero(np.bincount(g))
    remap = np.full(int(g.max()) + 1, -1, dtype=np.intp)
    remap[present] = np.arange(present.size)
    k = int(present.size)
    if k < 2:
        raise CartregError("kruskal_test: all observations are in the same group", 1)
    return _kruskal(r, remap[g], k, tie)


def _kruskal(r: np.ndarray, gi: np.ndarray, k: int, tie: np.ndarray) -> KruskalTest:
    n = r.size
    rs = np.bincount(gi, weights=r, minlength=k)
    ng = np.bincount(gi, minlength=k)
    tie = tie.astype(float)
    h = (12 * np.sum(rs ** 2 / ng) / (n * (n + 1)) - 3 * (n + 1)) / (1 - np.sum(tie ** 3 - tie) / (n ** 3 - n))
    return KruskalTest(statistic=float(h), df=k - 1, p=float(special.chdtrc(k - 1, h)))
