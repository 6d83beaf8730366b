"""Group comparisons ("Table 1" with P values) as R ``gtsummary::tbl_summary(by =) |> add_p()``
computes them by default, with ``tableone``'s standardised mean differences.

For each variable, rows with a missing group are dropped, and then:

* **categorical** (text, boolean, or numeric with fewer than 10 distinct values — gtsummary's
  rule): counts and percentages per group with missing values excluded from the denominators;
  Pearson's chi-squared test without continuity correction (``chisq.test(correct = FALSE)``) when
  every expected count is at least 5, otherwise Fisher's exact test (``fisher.test``, r x c tables
  included) — the rule of ``gtsummary:::assign_test``;
* **continuous**: median and quartiles with R's default ``quantile`` (type 7; ``quantile_type=2``
  gives gtsummary's own choice), plus n, mean and SD; the Wilcoxon rank-sum test
  (``wilcox.test``) for two groups and the Kruskal-Wallis test (``kruskal.test``) for more;
* **SMD** as ``tableone`` (:mod:`cartreg.stats.smd`): for more than two groups the mean of the
  pairwise SMDs (what ``print(CreateTableOne(..., smd = TRUE))`` shows); the pairwise values are
  kept in ``smd_pairs``.

>>> import numpy as np
>>> res = compare({"arm": np.array(["a", "a", "b", "b", "b"], dtype=object),
...                "sex": np.array(["F", "M", "F", "F", None], dtype=object)}, by="arm")
>>> v = res.variables[0]
>>> v.counts.tolist(), v.test, round(v.p, 6)
([[1, 2], [1, 0]], 'fisher', 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from cartreg.errors import CartregError
from cartreg.stats._data import is_missing
from cartreg.stats.group_tests import chisq_test, expected_counts, fisher_exact
from cartreg.stats.smd import smd_categorical, smd_mean

__all__ = ["CompareResult", "VariableSummary", "compare", "compare_arrays", "CATEGORICAL_MAX_LEVELS"]

#: A numeric variable with fewer distinct values than this is summarised as categorical
#: (gtsummary's default rule).
CATEGORICAL_MAX_LEVELS: int = 10

_QUANTILE_TYPES = (7, 2, 1)


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    f = float(x)
    return f if np.isfinite(f) else None


@dataclass(frozen=True, eq=False)
class VariableSummary:
    """One row block of Table 1.

    ``type`` is ``"categorical"`` or ``"continuous"``. For a categorical variable ``levels`` are
    its levels (R factor order), ``counts[i, j]`` the count of level ``i`` in group ``j`` and
    ``percents`` the column percentages (missing excluded). For a continuous variable ``stats``
    holds, per group, ``n, median, q1, q3, mean, sd, min, max``. ``test`` is ``"chisq"``,
    ``"fisher"``, ``"wilcoxon"``, ``"kruskal"`` or ``None`` (fewer than two groups with data);
    ``statistic`` is chi-squared, W or the Kruskal-Wallis H (``None`` for Fisher), ``df`` its
    degrees of freedom, ``exact`` whether the Wilcoxon P is exact. ``smd`` is tableone's SMD
    (the mean of ``smd_pairs`` for more than two groups). ``n_missing`` counts rows with a group
    but no value; ``n_missing_by_group`` per group.
    """

    name: str
    type: str
    groups: tuple[str, ...]
    levels: tuple[str, ...] | None
    counts: np.ndarray | None
    percents: np.ndarray | None
    stats: tuple[dict[str, float | None], ...] | None
    overall: dict[str, Any]
    test: str | None
    statistic: float | None
    df: int | None
    p: float | None
    exact: bool | None
    smd: float | None
    smd_pairs: tuple[float, ...]
    n_missing: int
    n_missing_by_group: tuple[int, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON record of ``cartreg compare --format json`` for this variable."""
        d: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type == "categorical":
            assert self.levels is not None and self.counts is not None and self.percents is not None
            d["levels"] = [
                {"level": lev,
                 "groups": [{"group": g, "n": int(self.counts[i, j]), "pct": _num(self.percents[i, j])}
                            for j, g in enumerate(self.groups)],
                 "overall": {"n": int(self.counts[i].sum()), "pct": _num(self.overall["pct"][i])}}
                for i, lev in enumerate(self.levels)]
        else:
            assert self.stats is not None
            d["summary"] = [{"group": g, **{k: _num(v) if k != "n" else v for k, v in s.items()}}
                            for g, s in zip(self.groups, self.stats)]
            d["overall"] = {k: _num(v) if k != "n" else v for k, v in self.overall.items()}
        d.update({
            "test": self.test, "statistic": _num(self.statistic), "df": self.df, "p": _num(self.p),
            "exact": self.exact, "smd": _num(self.smd), "smd_pairs": [_num(s) for s in self.smd_pairs],
            "n_missing": self.n_missing, "n_missing_by_group": list(self.n_missing_by_group),
            "notes": list(self.notes),
        })
        return d


@dataclass(frozen=True, eq=False)
class CompareResult:
    """Table 1: the grouping column ``by``, its ``groups`` (levels) with their sizes ``n``, the
    rows dropped for a missing group (``excluded``) and one :class:`VariableSummary` per variable."""

    by: str
    groups: tuple[str, ...]
    n: tuple[int, ...]
    excluded: int
    variables: tuple[VariableSummary, ...]
    quantile_type: int = 7
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """``{by, groups[{level, n}], variables[...]}``: the JSON of ``cartreg compare``."""
        return {
            "by": self.by,
            "groups": [{"level": g, "n": int(n)} for g, n in zip(self.groups, self.n)],
            "excluded": self.excluded,
            "quantile_type": self.quantile_type,
            "variables": [v.to_dict() for v in self.variables],
            "notes": list(self.notes),
        }

    def to_frame(self) -> Any:
        """A long (tidy) pandas DataFrame: one row per variable, level and group."""
        import pandas as pd

        rows = []
        for v in self.variables:
            if v.type == "categorical":
                assert v.levels is not None and v.counts is not None and v.percents is not None
                for i, lev in enumerate(v.levels):
                    for j, g in enumerate(v.groups):
                        rows.append({"variable": v.name, "level": lev, "group": g, "n": int(v.counts[i, j]),
                                     "pct": v.percents[i, j], "test": v.test, "p": v.p, "smd": v.smd})
            else:
                assert v.stats is not None
                for g, s in zip(v.groups, v.stats):
                    rows.append({"variable": v.name, "level": None, "group": g, **s, "test": v.test,
                                 "p": v.p, "smd": v.smd})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        lines = [f"Table 1 by {self.by}: " + ", ".join(f"{g} (n={n})" for g, n in zip(self.groups, self.n))]
        for v in self.variables:
            p = "NA" if v.p is None else ("P<.001" if v.p < 0.001 else f"P={v.p:.3f}")
            lines.append(f"  {v.name} [{v.type}] {v.test or '-'} {p}")
        return "\n".join(lines)


def _quantile_sorted(xs: np.ndarray, prob: float, qtype: int) -> float:
    """R's ``quantile(x, prob, type = qtype)`` for sorted ``xs`` (types 7 and 2, R's formulas)."""
    n = xs.size
    if n == 0:
        return float("nan")
    if qtype == 7:
        index = (n - 1) * prob
        lo = int(np.floor(index))
        hi = int(np.ceil(index))
        q = float(xs[lo])
        h = index - lo
        if index > lo and xs[hi] != q:
            q = (1 - h) * q + h * float(xs[hi])
        return q
    fuzz = 4 * np.finfo(float).eps
    nppm = n * prob
    j = int(np.floor(nppm + fuzz))
    if qtype == 1:
        h = float(nppm > j)
    else:  # type 2
        h = ((nppm > j) + 1) / 2
    pad = np.concatenate((xs[:1], xs[:1], xs, xs[-1:], xs[-1:]))
    a, b = float(pad[j + 1]), float(pad[j + 2])
    if h == 1:
        return b
    if 0 < h < 1 and a != b:
        return (1 - h) * a + h * b
    return a


def _cont_stats(xs: np.ndarray, qtype: int) -> dict[str, float | None]:
    """Summary of sorted values ``xs``."""
    q = [_quantile_sorted(xs, pr, qtype) for pr in (0.5, 0.25, 0.75)]
    return {"n": int(xs.size), "median": q[0], "q1": q[1], "q3": q[2],
            "mean": float(xs.mean()) if xs.size else float("nan"),
            "sd": float(xs.std(ddof=1)) if xs.size > 1 else float("nan"),
            "min": float(xs[0]) if xs.size else float("nan"),
            "max": float(xs[-1]) if xs.size else float("nan")}


def _is_numeric(values: np.ndarray) -> np.ndarray | None:
    """The values as float when every non-missing value is a number (bools are not)."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iuf":
        return arr.astype(float)
    if arr.dtype.kind == "b":
        return None
    head = arr[:64]  # cheap look first: a text column fails here without a pass over all rows
    head = head[~is_missing(head)]
    if any(isinstance(v, (bool, np.bool_)) for v in head[:50].tolist()):
        return None  # the same answer as the check below (``present`` starts with ``head``)
    try:
        head.astype(float)
    except (TypeError, ValueError):
        return None  # the whole column would fail ``astype(float)`` below
    miss = is_missing(arr)
    try:
        out = np.full(arr.shape[0], np.nan)
        present = arr[~miss]
        if any(isinstance(v, (bool, np.bool_)) for v in present[:50].tolist()):
            return None
        out[~miss] = present.astype(float)
        return out
    except (TypeError, ValueError):
        return None


def _variable_type(values: np.ndarray, forced: str | None) -> tuple[str, np.ndarray | None]:
    num = _is_numeric(values)
    if forced is not None:
        if forced not in ("categorical", "continuous"):
            raise CartregError(f"unknown variable type {forced!r}: use categorical or continuous", 2)
        if forced == "continuous" and num is None:
            raise CartregError("a continuous variable must be numeric", 2)
        return forced, num
    if num is None:
        return "categorical", None
    head = num[:2000]
    if np.unique(head[~np.isnan(head)]).size >= CATEGORICAL_MAX_LEVELS:
        return "continuous", num  # already 10 distinct values: no need to look further
    distinct = np.unique(num[~np.isnan(num)]).size
    return ("categorical" if distinct < CATEGORICAL_MAX_LEVELS else "continuous"), num


def _categorical(name: str, values: np.ndarray, codes: np.ndarray, groups: tuple[str, ...],
                 ) -> VariableSummary:
    from cartreg.stats.km import factor

    k = len(groups)
    f = factor(np.asarray(values))  # levels in R factor order; codes -1 where missing
    levels = list(f.levels)
    vcodes = f.codes
    miss = vcodes < 0
    L = len(levels)
    counts = np.bincount(vcodes[~miss] * k + codes[~miss], minlength=L * k).reshape(L, k).astype(np.int64)
    col = counts.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = 100.0 * counts / col[None, :]
        overall_pct = 100.0 * counts.sum(1) / counts.sum()
    n_miss_g = np.bincount(codes[miss], minlength=k)
    notes: list[str] = []
    present_groups = col > 0
    present_levels = counts.sum(1) > 0
    tab = counts[present_levels][:, present_groups]
    test = statistic = df = p = None
    if tab.shape[0] >= 2 and tab.shape[1] >= 2:
        e = expected_counts(tab)
        if (e >= 5).all():
            ct = chisq_test(tab)
            test, statistic, df, p = "chisq", ct.statistic, ct.df, ct.p
        else:
            test = "fisher"
            try:
                p = fisher_exact(tab)
            except CartregError as exc:  # too large to enumerate: report, as gtsummary shows the error
                notes.append(exc.message)
    else:
        notes.append("no test: fewer than two levels or two groups with data")
    pairs = smd_categorical(vcodes, codes, L, n_groups=k) if k >= 2 else []
    return VariableSummary(
        name=name, type="categorical", groups=groups, levels=tuple(levels), counts=counts,
        percents=pct, stats=None, overall={"n": int(counts.sum()), "pct": overall_pct.tolist()},
        test=test, statistic=statistic, df=df, p=p, exact=None,
        smd=smd_mean(pairs) if pairs else None, smd_pairs=tuple(pairs),
        n_missing=int(miss.sum()), n_missing_by_group=tuple(int(m) for m in n_miss_g), notes=tuple(notes))


def _smd_from_stats(per_group: tuple[dict[str, Any], ...]) -> list[float]:
    """tableone's continuous SMD for every pair of groups from the group means and SDs already
    computed (the same formula as :func:`cartreg.stats.smd.smd_continuous`)."""
    out = []
    k = len(per_group)
    for a in range(k):
        for b in range(a + 1, k):
            ma, mb = per_group[a]["mean"], per_group[b]["mean"]
            va, vb = per_group[a]["sd"] ** 2, per_group[b]["sd"] ** 2
            d, pooled = ma - mb, (va + vb) / 2
            with np.errstate(invalid="ignore", divide="ignore"):
                s = float(abs(d) / np.sqrt(np.float64(pooled)))
            if np.isnan(s) and d == 0 and pooled == 0:
                s = 0.0
            out.append(s)
    return out


def _group_ranks(xs: np.ndarray, per_sorted: list[np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average ranks (R's ``rank``, ties averaged) of every value in the pooled sorted sample
    ``xs``, listed group after group (``per_sorted``: each group's sorted values), with the group
    code of each and the sizes of the runs of ties. The Wilcoxon and Kruskal-Wallis statistics only
    sum ranks per group, and these sums of half-integers are exact in any order, so listing the
    rows by group rather than in data order gives the same numbers (``group_tests._rankdata``)."""
    starts = np.concatenate(([True], xs[1:] != xs[:-1])) if xs.size else np.zeros(0, dtype=bool)
    first = np.flatnonzero(starts)
    last = np.concatenate((first[1:], [xs.size])) - 1
    avg = (first + last) / 2.0 + 1.0
    distinct = xs[first]
    ranks = np.concatenate([avg[np.searchsorted(distinct, v)] for v in per_sorted])
    gcodes = np.repeat(np.arange(len(per_sorted), dtype=np.intp), [v.size for v in per_sorted])
    return ranks, last - first + 1, gcodes


def _continuous(name: str, x: np.ndarray, codes: np.ndarray, groups: tuple[str, ...], qtype: int,
                exact: bool | None) -> VariableSummary:
    from cartreg.stats.group_tests import kruskal_from_ranks, wilcox_from_ranks

    k = len(groups)
    miss = np.isnan(x)
    xv, cv = x[~miss], codes[~miss]
    # Sorting values (not an argsort of the rows): the pooled sample and each group. The
    # quantiles, means and SDs read the same sorted values as before, and the tests need only
    # each value's average rank in the pooled sample, looked up from the runs of tied values.
    per_sorted = [np.sort(xv[cv == j]) for j in range(k)]
    xs = np.sort(np.concatenate(per_sorted), kind="stable")  # merges the k sorted runs: O(n)
    stats_ = tuple(_cont_stats(v, qtype) for v in per_sorted)
    overall = _cont_stats(xs, qtype)
    with_data = [j for j in range(k) if per_sorted[j].size > 0]
    test = statistic = df = p = None
    ex: bool | None = None
    notes: list[str] = []
    if len(with_data) >= 2:
        ranks, ties, gcodes = _group_ranks(xs, per_sorted)
        if k == 2:
            wt = wilcox_from_ranks(ranks, gcodes == 0, ties, exact=exact)
            test, statistic, p, ex = "wilcoxon", wt.statistic, wt.p, wt.exact
        else:
            kt = kruskal_from_ranks(ranks, gcodes, ties)
            test, statistic, df, p = "kruskal", kt.statistic, kt.df, kt.p
    if test is None:
        notes.append("no test: fewer than two groups with data")
    pairs = _smd_from_stats(stats_) if k >= 2 else []
    n_miss_g = np.bincount(codes[miss], minlength=k)
    return VariableSummary(
        name=name, type="continuous", groups=groups, levels=None, counts=None, percents=None,
        stats=stats_, overall=overall, test=test, statistic=statistic, df=df, p=p, exact=ex,
        smd=smd_mean(pairs) if pairs else None, smd_pairs=tuple(pairs), n_missing=int(miss.sum()),
        n_missing_by_group=tuple(int(m) for m in n_miss_g), notes=tuple(notes))


def compare_arrays(
    group: np.ndarray,
    variables: Mapping[str, np.ndarray],
    by: str = "group",
    types: Mapping[str, str] | None = None,
    quantile_type: int = 7,
    exact: bool | None = None,
) -> CompareResult:
    """Table 1 from NumPy arrays: ``group`` (one label per row) and ``variables`` by name.

    ``types`` forces ``"categorical"`` or ``"continuous"`` for some variables; ``quantile_type``
    is R's ``quantile`` type (7, R's default; 2, gtsummary's); ``exact`` is passed to the Wilcoxon
    test (``None``: R's rule).
    """
    if quantile_type not in _QUANTILE_TYPES:
        raise CartregError(f"quantile_type must be one of {sorted(_QUANTILE_TYPES)}", 2)
    types = dict(types or {})
    unknown = set(types) - set(variables)
    if unknown:
        raise CartregError(f"types given for unknown variable(s): {', '.join(sorted(unknown))}", 2)
    from cartreg.stats.km import factor

    fg = factor(np.asarray(group))
    if not fg.levels:
        raise CartregError(f"the grouping column {by!r} has no non-missing values", 1)
    keep = fg.codes >= 0
    all_kept = bool(keep.all())
    codes = fg.codes[keep].astype(np.intp)
    groups = tuple(fg.levels)
    n = tuple(int(c) for c in np.bincount(codes, minlength=len(groups)))
    out = []
    for name, values in variables.items():
        arr = np.asarray(values)
        if arr.shape[0] != keep.shape[0]:
            raise CartregError(f"variable {name!r} has {arr.shape[0]} rows, the group has {keep.shape[0]}", 2)
        if name == by:
            continue
        kept = arr if all_kept else arr[keep]  # no copy when no group is missing
        vtype, num = _variable_type(kept, types.get(name))
        if vtype == "continuous":
            assert num is not None
            out.append(_continuous(name, num, codes, groups, quantile_type, exact))
        else:
            out.append(_categorical(name, kept, codes, groups))
    notes = ()
    if (~keep).any():
        notes = (f"{int((~keep).sum())} row(s) with a missing {by!r} excluded",)
    return CompareResult(by=by, groups=groups, n=n, excluded=int((~keep).sum()), variables=tuple(out),
                         quantile_type=quantile_type, notes=notes)


def compare(
    data: Any,
    by: str,
    variables: list[str] | None = None,
    types: Mapping[str, str] | None = None,
    quantile_type: int = 7,
    exact: bool | None = None,
) -> CompareResult:
    """Table 1 of ``data`` (pandas/polars DataFrame or mapping of arrays) by the column ``by``.

    ``variables`` defaults to every other column. See :func:`compare_arrays` for the options.
    """
    from cartreg.stats._frame import column, column_names

    names = variables if variables is not None else [c for c in column_names(data) if c != by]
    return compare_arrays(column(data, by), {v: column(data, v) for v in names}, by=by, types=types,
                          quantile_type=quantile_type, exact=exact)
