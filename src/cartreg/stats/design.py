"""Design matrices for regression: one categorical term with a chosen reference level, plus numerics.

This is what R's ``model.matrix`` builds for ``~ factor(COL) + age`` under treatment contrasts
(``contr.treatment``): one 0/1 indicator column per non-reference level of the factor, named
``COL=LEVEL`` (R writes ``factor(COL)LEVEL``), followed by the numeric columns under their own names.

Levels are ordered like R factor levels: numerically when every level is a number (R reads such a
column as numeric and ``factor`` sorts it by value), otherwise by code point, which is R's order in
the C locale. The reference level defaults to the first level, as in R.

Missing values are carried through as NaN (a row with a missing group gets NaN in every group
column), so that :func:`cartreg.stats.cox.coxph` can exclude and count those rows.
"""

from __future__ import annotations

import math

import numpy as np

from cartreg.errors import CartregError
from cartreg.stats._data import is_missing

__all__ = ["design_matrix", "factor_levels", "model_matrix"]


def _level_text(value: object) -> str:
    """The text of one level: integral floats without ``.0`` (R prints ``factor(c(1, 2))`` as 1, 2)."""
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isfinite(f) and f == int(f) and abs(f) < 1e15:
            return str(int(f))
        return repr(f)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def _as_number(text: str) -> float | None:
    try:
        f = float(text)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def factor_levels(group: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Level text per row (``""`` where missing) and the sorted level list, like R ``factor``.

    >>> factor_levels(np.array(["b", "a", None, "b"], dtype=object))[1]
    ['a', 'b']
    >>> factor_levels(np.array([10.0, 9.0, np.nan]))[1]
    ['9', '10']
    """
    arr = np.asarray(group)
    if arr.ndim != 1:
        raise CartregError(f"group must be one-dimensional, got shape {arr.shape}")
    missing = is_missing(arr)
    texts = np.full(arr.shape[0], "", dtype=object)
    present = arr[~missing]
    if present.size:
        keys = present.astype(object).astype(str) if arr.dtype.kind == "O" else present
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        labels = np.array([_level_text(v) for v in present[first].tolist()], dtype=object)
        texts[~missing] = labels[inverse]
    levels = sorted(set(texts[~missing].tolist()))
    numbers = [_as_number(s) for s in levels]
    if levels and all(x is not None for x in numbers):
        levels = [s for _, s in sorted(zip(numbers, levels), key=lambda t: (t[0], t[1]))]
    return texts, levels


def design_matrix(
    group: np.ndarray | None,
    reference: object = None,
    numeric: dict[str, np.ndarray] | None = None,
    group_name: str = "group",
    levels: list[str] | tuple[str, ...] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Build ``X`` (float, n x p) and the term names for a categorical term plus numeric columns.

    Parameters
    ----------
    group
        One label per row (strings, numbers, or objects; ``None``/NaN/``""`` are missing), or
        ``None`` for no categorical term.
    reference
        The reference level (compared by its text, so ``"1"`` and ``1`` both name level ``1``);
        ``None`` takes the first level as R does. A level absent from the data is a
        :class:`~cartreg.errors.CartregError` naming it.
    numeric
        Numeric covariates by name, in the order wanted; missing values become NaN.
    group_name
        The column name used in the term names ``"{group_name}={level}"``.
    levels
        An explicit level order (e.g. a pandas Categorical's categories, as an R factor keeps
        its levels); levels absent from the data are dropped, as R's model frame drops unused
        levels. ``None``: R's sorted order.

    Returns
    -------
    (X, names)
        Group indicators first (levels in R factor order, the reference dropped), then the numeric
        columns. Rows with a missing value hold NaN in the affected columns.

    >>> X, names = design_matrix(np.array(["b", "a", "c", None], dtype=object), "a",
    ...                          numeric={"age": np.array([50, 60, 70, 80])}, group_name="arm")
    >>> names
    ['arm=b', 'arm=c', 'age']
    >>> X.tolist()
    [[1.0, 0.0, 50.0], [0.0, 0.0, 60.0], [0.0, 1.0, 70.0], [nan, nan, 80.0]]
    """
    numeric = dict(numeric or {})
    n: int | None = None
    columns: list[np.ndarray] = []
    names: list[str] = []

    if group is not None:
        texts, found = factor_levels(group)
        if levels is not None:
            present = set(found)
            found = [str(v) for v in levels if str(v) in present] + \
                [v for v in found if v not in {str(x) for x in levels}]
        levels = found
        n = texts.shape[0]
        if not levels:
            raise CartregError(f"column {group_name!r} has no non-missing values")
        if reference is None:
            ref = levels[0]
        else:
            ref = _level_text(reference)
            if ref not in levels:
                shown = ", ".join(levels[:20]) + (", ..." if len(levels) > 20 else "")
                raise CartregError(
                    f"reference level {ref!r} does not occur in column {group_name!r} "
                    f"(levels: {shown})"
                )
        missing = texts == ""
        for level in levels:
            if level == ref:
                continue
            col = (texts == level).astype(float)
            col[missing] = np.nan
            columns.append(col)
            names.append(f"{group_name}={level}")

    for name, values in numeric.items():
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise CartregError(f"covariate {name!r} must be one-dimensional, got shape {arr.shape}")
        if n is None:
            n = arr.shape[0]
        elif arr.shape[0] != n:
            raise CartregError(f"covariate {name!r} has {arr.shape[0]} rows, expected {n}")
        missing = is_missing(arr)
        col = np.full(arr.shape[0], np.nan)
        try:
            col[~missing] = arr[~missing].astype(float)
        except (TypeError, ValueError):
            bad = next(v for v in arr[~missing].tolist() if _as_number(str(v)) is None)
            raise CartregError(f"covariate {name!r} is not numeric (value {bad!r})") from None
        if np.isinf(col).any():
            raise CartregError(f"covariate {name!r} has infinite values")
        columns.append(col)
        names.append(str(name))

    if n is None:
        raise CartregError("design_matrix needs a group or at least one numeric covariate")
    X = np.column_stack(columns) if columns else np.empty((n, 0))
    return X, names


def _first_level(values: np.ndarray, order: object) -> str:
    _, found = factor_levels(values)
    if order is not None:
        present = set(found)
        for v in order:  # type: ignore[attr-defined]
            if str(v) in present:
                return str(v)
    return found[0] if found else ""


def model_matrix(
    terms: list[tuple],
) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """``model.matrix`` for several factors and numerics, in the order given.

    Each term is ``(kind, name, values, reference)`` or ``(kind, name, values, reference, levels)``
    with ``kind`` ``"factor"`` (treatment contrasts: one 0/1 column per non-reference level, named
    ``name=LEVEL``; reference = the first level in R's order, or of ``levels``, unless given) or
    ``"numeric"`` (one column named ``name``). Returns
    ``(X, names, references)``, ``references`` mapping each factor to its reference level.
    Missing values are NaN in every column of the term.

    >>> X, names, refs = model_matrix([
    ...     ("numeric", "age", np.array([50., 60, 70]), None),
    ...     ("factor", "sex", np.array(["m", "f", "m"], dtype=object), None),
    ...     ("factor", "ecog", np.array(["0", "1", "2"], dtype=object), "1")])
    >>> names, refs
    (['age', 'sex=m', 'ecog=0', 'ecog=2'], {'sex': 'f', 'ecog': '1'})
    >>> X.tolist()
    [[50.0, 1.0, 1.0, 0.0], [60.0, 0.0, 0.0, 0.0], [70.0, 1.0, 0.0, 1.0]]
    """
    blocks: list[np.ndarray] = []
    names: list[str] = []
    refs: dict[str, str] = {}
    n: int | None = None
    for term in terms:
        kind, name, values, reference = term[:4]
        order = term[4] if len(term) > 4 else None
        arr = np.asarray(values)
        if n is None:
            n = arr.shape[0]
        elif arr.shape[0] != n:
            raise CartregError(f"covariate {name!r} has {arr.shape[0]} rows, expected {n}")
        if kind == "factor":
            X, nm = design_matrix(arr, reference, group_name=name, levels=order)
            refs[name] = (_level_text(reference) if reference is not None else
                          _first_level(arr, order))
        elif kind == "numeric":
            X, nm = design_matrix(None, numeric={name: arr})
        else:
            raise CartregError(f"unknown term kind {kind!r}")
        blocks.append(X)
        names.extend(nm)
    if len(set(names)) != len(names):
        dup = sorted({x for x in names if names.count(x) > 1})
        raise CartregError(f"a covariate is given twice (terms {', '.join(dup)})")
    if n is None:
        raise CartregError("model_matrix needs at least one term")
    return (np.column_stack(blocks) if blocks else np.empty((n, 0))), names, refs
