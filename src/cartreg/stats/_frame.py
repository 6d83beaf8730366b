"""Columns out of a data frame (pandas, polars) or a mapping of arrays, as plain NumPy arrays.

The estimators work on NumPy arrays; their DataFrame-level entry points (``compare(data, by)``,
``logistic(outcome, covariates, data)``, ``propensity(treatment, covariates, data=)``) take
columns by name through :func:`column`, which never imports pandas or polars itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cartreg.errors import CartregError


def column_names(data: Any) -> list[str]:
    """The column names of ``data`` (a DataFrame or a mapping of name -> values)."""
    cols = getattr(data, "columns", None)
    if cols is not None:
        return [str(c) for c in list(cols)]
    if hasattr(data, "keys"):
        return [str(k) for k in data.keys()]
    raise CartregError("data must be a pandas/polars DataFrame or a mapping of column name -> values", 2)


def column(data: Any, name: str) -> np.ndarray:
    """One column as a NumPy array: floats with NaN, or objects with ``None`` where missing.

    pandas nullable dtypes (``Int64``, ``boolean``, ``string``) become float / object arrays with
    NaN / ``None`` for ``pd.NA``; a pandas or NumPy timedelta column is converted to days.
    """
    if name not in column_names(data):
        raise CartregError(f"unknown column {name!r} (columns: {', '.join(column_names(data))})", 2)
    col = data[name]
    dtype = getattr(col, "dtype", None)
    kind = getattr(dtype, "kind", None)
    if kind == "m" or "timedelta" in str(dtype).lower() or "duration" in str(dtype).lower():
        arr = np.asarray(col).astype("timedelta64[ns]")
        out = arr.astype(np.int64).astype(float) / 86400e9
        out[np.isnat(arr)] = np.nan
        return out
    if hasattr(col, "to_numpy") and hasattr(col, "isna"):  # pandas Series
        miss = np.asarray(col.isna(), dtype=bool)
        if kind in ("i", "u", "f") or str(dtype) in ("Int64", "Int32", "Float64", "Int8", "Int16",
                                                       "UInt8", "UInt16", "UInt32", "UInt64"):
            out = np.asarray(col.to_numpy(dtype=float, na_value=np.nan), dtype=float)
            return out
        if kind == "b" or str(dtype) == "boolean":
            out = np.asarray(col.to_numpy(dtype=object, na_value=None), dtype=object)
            return out
        out = np.asarray(col.to_numpy(dtype=object), dtype=object)
        out[miss] = None
        return out
    if hasattr(col, "to_numpy") and hasattr(col, "is_null"):  # polars Series
        miss = np.asarray(col.is_null().to_numpy(), dtype=bool)
        out = np.asarray(col.to_numpy())
        if out.dtype.kind in "iuf":
            out = out.astype(float)
            out[miss] = np.nan
            return out
        out = out.astype(object)
        out[miss] = None
        return out
    arr = np.asarray(col)
    if arr.dtype.kind in "iu":
        return arr.astype(float)
    return arr
