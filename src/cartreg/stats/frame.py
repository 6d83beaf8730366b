"""The DataFrame door: every estimator called with column names and ``data=``.

One path for both doors: a pandas or polars DataFrame, a pyarrow Table, a dict of arrays or a
file read by :func:`cartreg.io.datafile.read_table` all become one :class:`~cartreg.io.datafile.DataTable`
(:func:`as_table`), and the same functions read the columns from it. ``cartreg survival`` and
``cartreg cuminc`` call :func:`cartreg.stats.analysis.survival_analysis` and
:func:`cartreg.stats.analysis.cuminc_analysis` (built on this module) on the table they read; a
notebook calls the same functions, or the single estimators below, on its DataFrame.

Column rules (the CLI's rules, for every caller):

* event columns: 1/0, yes/no, true/false (any case), or R's ``Surv`` coding 1 = censored and
  2 = event when a column holds only 1 and 2 (:func:`event_column`);
* covariates (:func:`covariate_matrix`): a column whose every value is a number is numeric
  (its term is the column name, as R names a numeric term); any other column (text, yes/no,
  true/false, a boolean dtype) is a factor, one indicator per non-reference level named
  ``COL=LEVEL``, reference = the first level in R's sorted order unless
  ``reference_levels={COL: LEVEL}`` (which also makes a numeric column a factor);
* a pandas ``Categorical`` covariate is a factor whose levels keep the categories' order (the
  first category present is the reference), as an R factor;
* a pandas ``timedelta64`` column (or an Arrow/polars duration) is converted to days (float),
  never read as nanoseconds;
* rows with a missing value in any column used are excluded and counted, as R's ``na.omit``.

>>> import numpy as np
>>> d = {"t": np.array([5., 8, 3, 9, 2, 7]), "e": np.array([1, 0, 1, 1, 0, 1]),
...      "arm": np.array(["b", "a", "b", "a", "a", "b"], dtype=object)}
>>> km = kaplan_meier("t", "e", data=d)
>>> km.n, km.events, km.median
(6, 4, 7.0)
>>> sorted(kaplan_meier("t", "e", data=d, by="arm"))
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cartreg.errors import CartregError
from cartreg.io.datafile import DataTable
from cartreg.stats import cox as _cox
from cartreg.stats import km as _km
from cartreg.stats.cox_firth import FirthCoxResult
from cartreg.stats.cox_firth import coxphf as _coxphf_fn
from cartreg.stats.cuminc import CumIncResult
from cartreg.stats.cuminc import cuminc as _cuminc_fn
from cartreg.stats.finegray import FineGrayResult
from cartreg.stats.finegray import finegray as _finegray_fn
from cartreg.stats._data import complete_cases
from cartreg.stats.design import model_matrix

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "KaplanMeierBy", "as_table", "covariate_matrix", "coxph", "coxphf", "cuminc", "event_column",
    "finegray", "kaplan_meier", "logrank_test", "median_followup", "status_column",
]

TRUE_WORDS = ("1", "yes", "true")
FALSE_WORDS = ("0", "no", "false")
_DAY_NS = {"s": 86400.0, "ms": 86400e3, "us": 86400e6, "ns": 86400e9}


# --------------------------------------------------------------------------------------------
# any table -> DataTable
# --------------------------------------------------------------------------------------------


def _arrow_column(values: Any) -> pa.Array:
    """One column as a pyarrow array; durations become days (float64)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if not isinstance(values, pa.Array):
        arr = np.asarray(values)
        if arr.dtype.kind == "m":  # numpy timedelta64
            days = arr / np.timedelta64(1, "D")
            return pa.array(days, pa.float64(), mask=np.isnan(days))
        if arr.dtype.kind == "O":
            try:
                values = pa.array(arr, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                values = pa.array([None if v is None or v != v else str(v) for v in arr.tolist()],
                                  pa.string())
        else:
            values = pa.array(arr, from_pandas=True)
    if pa.types.is_duration(values.type):
        unit = values.type.unit
        secs = pc.cast(values, pa.int64())
        return pc.divide(pc.cast(secs, pa.float64()), _DAY_NS[unit])
    if pa.types.is_dictionary(values.type):
        return values.cast(values.type.value_type)
    if pa.types.is_large_string(values.type):
        return values.cast(pa.string())
    return values


@dataclass(frozen=True, eq=False)
class FrameTable(DataTable):
    """A :class:`DataTable` from an in-memory frame, remembering the category order of pandas
    ``Categorical`` columns, which R keeps as the order of factor levels (the first level is the
    reference; unused categories are dropped). Other columns' levels are sorted."""

    levels: dict[str, tuple[str, ...]] = field(default_factory=dict)


def as_table(data: Any, name: str = "DataFrame") -> DataTable:
    """A :class:`DataTable` from a pandas/polars DataFrame, a pyarrow Table, a dict of arrays,
    a file path, or a DataTable (returned as is).

    Row numbers in messages are 0-based positions for in-memory tables.

    >>> import numpy as np
    >>> t = as_table({"t": np.array([1.5, np.nan]), "arm": np.array(["a", None], dtype=object)})
    >>> t.numeric("t").tolist(), t.text("arm").tolist()
    ([1.5, nan], ['a', None])
    """
    if isinstance(data, DataTable):
        return data
    if isinstance(data, (str, Path)):
        from cartreg.io.datafile import read_table

        return read_table(data)
    module = type(data).__module__
    levels: dict[str, tuple[str, ...]] = {}
    if module.startswith("pandas"):
        cols: dict[str, pa.Array] = {}
        for col in data.columns:
            s = data[col]
            if str(s.dtype) == "category":
                levels[str(col)] = tuple(str(c) for c in s.cat.categories)
            kind = getattr(s.dtype, "kind", "O")
            if kind == "m":
                days = (s / np.timedelta64(1, "D")).to_numpy(dtype=float, na_value=np.nan)
                cols[str(col)] = pa.array(days, pa.float64(), mask=np.isnan(days))
            else:
                try:
                    cols[str(col)] = _arrow_column(pa.Array.from_pandas(s))
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    cols[str(col)] = _arrow_column(s.to_numpy(dtype=object))
        n = len(data)
    elif module.startswith("polars"):
        tab = data.to_arrow()
        cols = {str(c): _arrow_column(tab.column(c)) for c in tab.column_names}
        n = tab.num_rows
    elif isinstance(data, pa.Table):
        cols = {str(c): _arrow_column(data.column(c)) for c in data.column_names}
        n = data.num_rows
    elif isinstance(data, Mapping):
        cols = {str(k): _arrow_column(v) for k, v in data.items()}
        lens = {len(v) for v in cols.values()}
        if len(lens) > 1:
            raise CartregError(f"the columns of {name} have different lengths: {sorted(lens)}")
        n = lens.pop() if lens else 0
    else:
        raise CartregError(f"data must be a pandas or polars DataFrame, a pyarrow Table or a dict "
                           f"of columns, not {type(data).__name__}")
    return FrameTable(Path(name), tuple(cols), cols, n, 0, False, levels)


# --------------------------------------------------------------------------------------------
# columns
# --------------------------------------------------------------------------------------------


def event_column(table: DataTable, column: str) -> tuple[np.ndarray, str | None]:
    """The event column as float 0/1 (NaN missing) and a note when R's 1/2 coding was used.

    Accepted: 1/0, yes/no, true/false (any case); a column holding only 1 and 2 (with at least one
    2) is read as R's ``Surv`` coding, 1 = censored and 2 = event, as ``Surv`` itself does.
    """
    col = table.column(column)
    text = table.text(col)
    present = text[~np.equal(text, None)]
    words = np.char.lower(np.char.strip(present.astype(str))) if present.size else np.array([], dtype=str)
    uniq = np.unique(words)
    try:
        nums = np.unique(np.asarray(uniq, dtype=float)) if uniq.size else np.array([])
    except ValueError:
        nums = None
    values = None
    note = None
    if nums is not None:
        vals = table.numeric(col)
        if np.isin(nums, (0.0, 1.0)).all():
            values = vals
        elif np.isin(nums, (1.0, 2.0)).all():
            values = vals - 1.0
            note = (f"note: event column {col!r} holds only 1 and 2: read as R's Surv coding "
                    "(1 = censored, 2 = event)")
    else:
        ok = np.isin(uniq, TRUE_WORDS + FALSE_WORDS)
        if ok.all():
            full = np.full(text.shape[0], np.nan)
            mask = ~np.equal(text, None)
            full[mask] = np.isin(words, TRUE_WORDS).astype(float)
            values = full
    if values is None:
        allowed = np.isin(uniq, TRUE_WORDS + FALSE_WORDS) if nums is None else np.isin(
            np.asarray(uniq, dtype=float), (0.0, 1.0))
        bad = [str(u) for u in uniq[~allowed]][:5]
        raise CartregError(
            f"event column {col!r} must hold 1/0, yes/no or true/false (or R's 1 = censored / "
            f"2 = event); found {', '.join(repr(b) for b in bad)}"
        )
    return values, note


def status_column(table: DataTable, column: str, cens_code: Any = "0") -> tuple[np.ndarray, Any, list[str]]:
    """The competing-risks status column (numbers when every code is a number, else text) and
    the censoring code in the same type, with notes for the user."""
    col = table.column(column)
    text = table.text(col)
    present = text[~np.equal(text, None)]
    uniq = np.unique(present.astype(str)) if present.size else np.array([], dtype=str)
    notes: list[str] = []
    try:
        np.asarray(uniq, dtype=float)
        numeric = True
    except ValueError:
        numeric = False
    if numeric:
        try:
            code: Any = float(cens_code)
        except ValueError:
            raise CartregError(f"status column {col!r} holds numbers but --cens-code {cens_code!r} "
                               "is not a number") from None
        values: np.ndarray = table.numeric(col)
        found = bool(np.any(values == code))
    else:
        code = str(cens_code).strip()
        missing = np.equal(text, None)
        values = text.copy()
        values[~missing] = np.char.strip(text[~missing].astype(str)).astype(object)
        found = bool(np.any(values[~missing] == code))
    if not found:
        notes.append(f"note: no row of {col!r} has the censoring code {cens_code!r}: every row is an "
                     "event (use --cens-code for another code)")
    return values, code, notes


def _is_boolean_column(table: DataTable, col: str) -> bool:
    return pa.types.is_boolean(table.data[col].type)


def covariate_matrix(
    table: DataTable,
    covariates: Sequence[str],
    reference_levels: Mapping[str, Any] | None = None,
    leading: Sequence[tuple[str, np.ndarray, Any]] = (),
    also: Sequence[np.ndarray | None] = (),
) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """``X`` (n x p, NaN where missing), term names and the reference level of each factor.

    ``leading`` are factors placed first (``(name, labels, reference)``; the CLI's ``--group``).
    A covariate is numeric when every value is a number and it has no entry in
    ``reference_levels``; otherwise a factor (see the module docstring). Factor levels are those
    of the complete rows (every term and every column in ``also`` present), as R's model frame
    drops unused levels after ``na.omit``; the other rows are NaN.
    """
    refs = {}
    for k, v in (reference_levels or {}).items():
        refs[table.column(k)] = v
    terms: list[tuple] = []
    order = getattr(table, "levels", {})
    for name, labels, ref in leading:
        terms.append(("factor", name, labels, ref, order.get(name)))
    for c in covariates:
        col = table.column(c)
        if col in refs or col in order or _is_boolean_column(table, col):
            terms.append(("factor", col, table.text(col), refs.get(col), order.get(col)))
            continue
        try:
            terms.append(("numeric", col, table.numeric(col), None))
        except CartregError:
            terms.append(("factor", col, table.text(col), None))
    unknown = set(refs) - {t[1] for t in terms}
    if unknown:
        raise CartregError(f"--reference-level names {', '.join(sorted(unknown))}, which is not a "
                           "covariate")
    if terms:
        cc = complete_cases(*(term[2] for term in terms), *also)
        if cc.excluded:
            blank = ~cc.keep
            fixed = []
            for term in terms:
                kind, name, values = term[:3]
                if kind == "factor":
                    values = np.asarray(values, dtype=object).copy()
                    values[blank] = None
                fixed.append((kind, name, values, *term[3:]))
            terms = fixed
    return model_matrix(terms)


# --------------------------------------------------------------------------------------------
# single estimators with data=
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class KaplanMeierBy(Mapping):
    """Kaplan-Meier curves by group, as ``survfit(Surv(t, e) ~ by, data = d)``: a mapping
    level -> :class:`~cartreg.stats.km.KaplanMeier`, levels in R factor order."""

    by: str
    curves: dict[str, _km.KaplanMeier] = field(default_factory=dict)

    def __getitem__(self, level: str) -> _km.KaplanMeier:
        return self.curves[level]

    def __iter__(self):
        return iter(self.curves)

    def __len__(self) -> int:
        return len(self.curves)

    def to_frame(self, times: Sequence[float] | None = None) -> "pd.DataFrame":
        """One tidy pandas DataFrame of every curve's steps (or S(t) at ``times``), with the
        group in column ``strata`` (``broom::tidy(survfit)``)."""
        from cartreg.stats.tidy import km_frame

        return km_frame(self.curves, times)

    def plot(self, ax=None, risk_table: bool = True, **kwargs):
        """The report's Kaplan-Meier figure of these fits (one curve per group), with its number-at-risk table
        (:func:`cartreg.report.plots.plot_km`; times drawn in their own unit unless ``time_scale``
        is given). Returns the Matplotlib figure. The one place a result reaches into ``report``,
        lazily: drawing is a view of the result, and the report and a notebook draw it alike."""
        from cartreg.report.plots import plot_km

        kwargs.setdefault("time_scale", 1.0)
        kwargs.setdefault("xlabel", "Time")
        return plot_km(self.curves, by=self.by, ax=ax, risk_table=risk_table, **kwargs)

    def _repr_html_(self) -> str:
        from cartreg.stats.tidy import km_summary_html

        return km_summary_html(self.curves, self.by)

    def __repr__(self) -> str:
        return "\n".join(f"{self.by}={k}: {v.summary()}" for k, v in self.curves.items())


def _weights(table: DataTable, weights: str | None) -> np.ndarray | None:
    return None if weights is None else table.numeric(weights)


def _labels(table: DataTable, column: str | None) -> np.ndarray | None:
    return None if column is None else table.text(column)


def kaplan_meier(
    time: Any,
    event: Any,
    conf_type: str = "log",
    conf_level: float = 0.95,
    *,
    data: Any = None,
    by: str | None = None,
    weights: Any = None,
    robust: bool | None = None,
    cluster: Any = None,
) -> _km.KaplanMeier | KaplanMeierBy:
    """Kaplan-Meier, as ``survfit(Surv(time, event) ~ by, data, weights, cluster, robust)``.

    With ``data``: ``time``, ``event``, ``by``, ``weights`` and ``cluster`` are column names and
    the result is a :class:`~cartreg.stats.km.KaplanMeier` (no ``by``) or a :class:`KaplanMeierBy`.
    Without ``data`` they are arrays (:func:`cartreg.stats.km.kaplan_meier`).
    """
    if data is None:
        if by is not None:
            return KaplanMeierBy("group", _km.kaplan_meier_by(time, event, np.asarray(by), conf_type,
                                                              conf_level, weights=weights,
                                                              robust=robust, cluster=cluster))
        return _km.kaplan_meier(time, event, conf_type, conf_level, weights=weights, robust=robust,
                                cluster=cluster)
    table = as_table(data)
    t = table.numeric(time)
    e, _ = event_column(table, event)
    w = _weights(table, weights)
    cl = _labels(table, cluster)
    if by is None:
        return _km.kaplan_meier(t, e, conf_type, conf_level, weights=w, robust=robust, cluster=cl)
    col = table.column(by)
    curves = _km.kaplan_meier_by(t, e, table.text(by), conf_type, conf_level, weights=w,
                                 robust=robust, cluster=cl)
    order = getattr(table, "levels", {}).get(col)
    if order is not None:  # a pandas Categorical: strata in category order, as survfit
        curves = {k: curves[k] for k in order if k in curves} | curves
    return KaplanMeierBy(col, curves)


def coxph(
    time: Any,
    event: Any,
    X: Any = None,
    names: Sequence[str] | None = None,
    ties: str = "efron",
    strata: Any = None,
    conf_level: float = 0.95,
    *,
    data: Any = None,
    covariates: Sequence[str] | None = None,
    reference_levels: Mapping[str, Any] | None = None,
    weights: Any = None,
    robust: bool = False,
    cluster: Any = None,
    **control: Any,
) -> _cox.CoxResult:
    """Cox model, as ``coxph(Surv(time, event) ~ covariates + strata(s), data, weights, robust,
    cluster, ties)``.

    With ``data``: column names for ``time``, ``event``, ``covariates`` (numeric or factor, see
    the module docstring), ``strata``, ``weights`` and ``cluster``. Without: arrays, with ``X``
    and ``names`` (:func:`cartreg.stats.cox.coxph`).

    >>> import numpy as np
    >>> d = {"t": np.array([9, 1, 1, 6, 6, 8.]), "e": np.array([1, 1, 0, 1, 1, 0]),
    ...      "arm": np.array(["a", "b", "b", "b", "a", "a"], dtype=object)}
    >>> fit = coxph("t", "e", covariates=["arm"], data=d)
    >>> fit.names, round(float(fit.coef[0]), 6)
    (('arm=b',), 1.676857)
    """
    if data is None:
        if X is None or names is None:
            raise CartregError("coxph needs X and names, or data= with covariates=")
        return _cox.coxph(time, event, X, names, ties, strata, conf_level, weights=weights,
                          robust=robust, cluster=cluster, **control)
    table = as_table(data)
    t = table.numeric(time)
    e, _ = event_column(table, event)
    st, w, cl = _labels(table, strata), _weights(table, weights), _labels(table, cluster)
    Xm, nm, _ = covariate_matrix(table, list(covariates or []), reference_levels,
                                 also=(t, e, st, w, cl))
    return _cox.coxph(t, e, Xm, nm, ties, st, conf_level, weights=w, robust=robust, cluster=cl,
                      **control)


def logrank_test(time: Any, event: Any, group: Any, strata: Any = None, *, data: Any = None,
                 on_singular: str = "nan"):
    """Log-rank test, as ``survdiff(Surv(time, event) ~ group + strata(strata), data)``; with
    ``data`` the arguments are column names (:func:`cartreg.stats.logrank.logrank_test`, which
    documents ``on_singular``). ``cartreg.stats.tidy.tidy(result)`` gives its tidy table."""
    from cartreg.stats.logrank import logrank_test as _lr

    if data is None:
        return _lr(time, event, group, strata, on_singular=on_singular)
    table = as_table(data)
    e, _ = event_column(table, event)
    return _lr(table.numeric(time), e, table.text(group), _labels(table, strata), on_singular=on_singular)


def median_followup(time: Any, event: Any, conf_type: str = "log", conf_level: float = 0.95, *,
                    data: Any = None):
    """Median follow-up by reverse Kaplan-Meier; with ``data`` the arguments are column names
    (:func:`cartreg.stats.followup.median_followup`)."""
    from cartreg.stats.followup import median_followup as _mf

    if data is None:
        return _mf(time, event, conf_type, conf_level)
    table = as_table(data)
    e, _ = event_column(table, event)
    return _mf(table.numeric(time), e, conf_type, conf_level)


def coxphf(
    time: Any,
    event: Any,
    X: Any = None,
    names: Sequence[str] | None = None,
    conf_level: float = 0.95,
    *,
    data: Any = None,
    covariates: Sequence[str] | None = None,
    reference_levels: Mapping[str, Any] | None = None,
    **control: Any,
) -> FirthCoxResult:
    """Firth's penalised Cox model, as ``coxphf(Surv(time, event) ~ covariates, data)``; with
    ``data`` the arguments are column names (:func:`cartreg.stats.cox_firth.coxphf`)."""
    if data is None:
        if X is None or names is None:
            raise CartregError("coxphf needs X and names, or data= with covariates=")
        return _coxphf_fn(time, event, X, names, conf_level, **control)
    table = as_table(data)
    e, _ = event_column(table, event)
    t = table.numeric(time)
    Xm, nm, _ = covariate_matrix(table, list(covariates or []), reference_levels, also=(t, e))
    return _coxphf_fn(t, e, Xm, nm, conf_level, **control)


def finegray(
    time: Any,
    status: Any,
    X: Any = None,
    names: Sequence[str] | None = None,
    cause: Any = 1,
    cens_code: Any = 0,
    conf_level: float = 0.95,
    *,
    data: Any = None,
    covariates: Sequence[str] | None = None,
    reference_levels: Mapping[str, Any] | None = None,
) -> FineGrayResult:
    """Fine-Gray model, as ``crr(time, status, model.matrix(~ covariates), failcode = cause,
    cencode = cens_code)``; with ``data`` the arguments are column names."""
    if data is None:
        if X is None or names is None:
            raise CartregError("finegray needs X and names, or data= with covariates=")
        return _finegray_fn(time, status, X, names, cause, cens_code, conf_level)
    table = as_table(data)
    t = table.numeric(time)
    st, code, _ = status_column(table, status, str(cens_code))
    Xm, nm, _ = covariate_matrix(table, list(covariates or []), reference_levels, also=(t, st))
    return _finegray_fn(t, st, Xm, nm, cause, code, conf_level)


def cuminc(
    time: Any,
    status: Any,
    group: Any = None,
    *,
    data: Any = None,
    strata: Any = None,
    conf_level: float = 0.95,
    cens_code: Any = 0,
    rho: float = 0.0,
) -> CumIncResult:
    """Cumulative incidence and Gray's test, as ``cmprsk::cuminc``; with ``data`` the arguments
    are column names (:func:`cartreg.stats.cuminc.cuminc`)."""
    if data is None:
        return _cuminc_fn(time, status, group, strata=strata, conf_level=conf_level,
                              cens_code=cens_code, rho=rho)
    table = as_table(data)
    st, code, _ = status_column(table, status, str(cens_code))
    return _cuminc_fn(table.numeric(time), st, _labels(table, group),
                          strata=_labels(table, strata), conf_level=conf_level, cens_code=code,
                          rho=rho)
