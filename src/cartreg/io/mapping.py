"""Mappings: turn a registry held in any layout into the four exchange-format tables.

A mapping file (TOML, syntax in ``docs/mapping.md``) says where each exchange-format column comes
from: a source column, a source column with ``values`` (code translation), ``scale`` (unit
conversion), ``format`` (date format), or a ``constant``. Each of the four tables may be a list of
entries (``[[responses]]``), each adding rows: a wide sheet holding several assessments per patient
row gives one entry per assessment.

Nothing is interpreted here beyond what the mapping says: the output is raw text tables
(:class:`~cartreg.io.registry_files.RawRegistry`) that go through the same validation and atomic
import as any registry. A value the mapping does not translate is passed on unchanged, so an
unmapped code is an ``unknown_code`` error, never a guess. Every output row remembers its source
(file with sheet, spreadsheet row) and every output column its source header, and
:func:`relabel_issues` rewrites each validation issue to name the source cell; ``target_column``
keeps the exchange-format column.

The transformation is one DuckDB ``SELECT`` per entry over the source columns (bound parameters, no
Python loop over rows).

Example::

    m = load_mapping(Path("examples/sources/clinician-workbook/mapping.toml"))
    mapped = apply_mapping(m)
    mapped.raw.tables["responses"].data.num_rows
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping as MappingT
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from cartreg.errors import CartregError
from cartreg.io.readers import SourceFile, SourceTable, read_source
from cartreg.io.registry_files import TABLE_NAMES, RawRegistry, RawTable, sha256_file

#: Exchange-format columns per table, with their types (kept here so io does not import registry).
#: A test checks this against :mod:`cartreg.registry.schema`.
TARGET_COLUMNS: MappingT[str, MappingT[str, str]] = {
    "patients": {"patient_id": "text", "center": "text", "sex": "code", "age": "integer", "histology": "code",
                 "eligibility_date": "date", "stage": "integer", "aaipi": "integer", "prior_lines": "integer",
                 "prior_auto_hsct": "bool", "prior_allo_hsct": "bool", "last_contact_date": "date",
                 "death_date": "date", "death_cause": "code"},
    "infusions": {"patient_id": "text", "infusion_date": "date", "product": "code", "ecog": "integer",
                  "ldh_elevated": "bool", "bulky": "bool", "ferritin_ug_l": "number", "crp_mg_dl": "number",
                  "bridging": "code", "crs_grade": "integer", "icans_grade": "integer"},
    "responses": {"patient_id": "text", "assessment_date": "date", "response": "code"},
    "treatments": {"patient_id": "text", "start_date": "date", "regimen": "text"},
}
REQUIRED: MappingT[str, tuple[str, ...]] = {
    "patients": ("patient_id", "eligibility_date", "last_contact_date"),
    "infusions": ("patient_id", "infusion_date"),
    "responses": ("patient_id", "assessment_date", "response"),
    "treatments": ("patient_id", "start_date", "regimen"),
}
#: The date whose emptiness means "no row" in an event table.
ROW_DATE: MappingT[str, str] = {"infusions": "infusion_date", "responses": "assessment_date", "treatments": "start_date"}
MANDATORY = ("patients", "infusions")
SPEC_KEYS = ("column", "values", "scale", "format", "constant")
SOURCE_KEYS = ("path", "sheet", "date_format", "missing", "redcap_dictionary", "header_row")

_ISO = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
#: Date formats that are numbers: (origin, seconds per unit). ``excel``: Excel serial days (1900 date
#: system, day 1 = 1900-01-01, so the origin is 1899-12-30); ``sas``/``stata``: days since 1960-01-01;
#: ``spss``: seconds since 1582-10-14.
DAY_COUNTS: MappingT[str, tuple[str, int]] = {"excel": ("1899-12-30", 1), "sas": ("1960-01-01", 1),
                                              "stata": ("1960-01-01", 1), "spss": ("1582-10-14", 86400)}


@dataclass(frozen=True)
class Spec:
    """Where one exchange-format column comes from.

    ``column`` a source header, or a tuple of headers of which the first non-empty cell is taken
    (``column = ["Date de décès", "Date des dernières nouvelles"]``), or None with ``constant``;
    ``values`` source value (trimmed,
    lower-case) -> exchange code; ``scale`` multiplies a number; ``format`` a strptime date format;
    ``constant`` a fixed value for every row.
    """

    target: str
    column: str | tuple[str, ...] | None = None
    values: MappingT[str, str] = field(default_factory=dict)
    scale: float | None = None
    format: str | None = None
    constant: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The source headers: one, or several read in order (the first non-empty cell wins)."""
        if self.column is None:
            return ()
        return self.column if isinstance(self.column, tuple) else (self.column,)


@dataclass(frozen=True)
class Entry:
    """One block of rows for a target table: ``table``, its position ``index`` among the table's
    entries, the source sheet/file/instrument ``source`` (None: [source].sheet) and its specs."""

    table: str
    index: int
    source: str | None
    specs: tuple[Spec, ...]
    distinct: bool = False  # rows equal in every mapped column count once (a long sheet's repeated baseline)

    def spec(self, target: str) -> Spec | None:
        return next((s for s in self.specs if s.target == target), None)


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file. ``path`` is the mapping file (None for a built-in mapping)."""

    path: Path | None
    source_path: Path
    sheet: str | None
    date_format: str | None
    missing: tuple[str, ...]
    redcap_dictionary: Path | None
    entries: tuple[Entry, ...]
    header_row: int | None = None  # workbooks: the header's row (default: the first row with a value)

    @property
    def label(self) -> str:
        return self.path.name if self.path is not None else "mapping"

    def entries_of(self, table: str) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.table == table)


@dataclass(frozen=True)
class MappedRegistry:
    """The exchange-format raw tables made from a source, with their provenance.

    ``provenance`` per target table: ``_row`` (the target row), ``file`` (source label), ``srow``
    (source row), ``entry`` (entry index). ``columns``: (table, entry, target, source header, format).
    """

    raw: RawRegistry
    mapping: Mapping
    source: SourceFile
    provenance: pa.Table
    columns: pa.Table
    cells: pa.Table | None = None  # (label, _row, target, source_column) where a list of headers was read


# ------------------------------------------------------------------------------------- parsing


def _err(where: str, msg: str) -> CartregError:
    return CartregError(f"{where}: {msg}", 2)


def _parse_spec(where: str, target: str, raw: object) -> Spec:
    if isinstance(raw, str):
        return Spec(target, column=raw)
    if not isinstance(raw, dict):
        raise _err(where, f"'{target}' must be a source column name or a table {{column, values, scale, format, "
                          f"constant}}, not {type(raw).__name__}")
    unknown = [k for k in raw if k not in SPEC_KEYS]
    if unknown:
        raise _err(where, f"'{target}': unknown key(s) {', '.join(unknown)} (allowed: {', '.join(SPEC_KEYS)})")
    column = raw.get("column")
    constant = raw.get("constant")
    if (column is None) == (constant is None):
        raise _err(where, f"'{target}': give exactly one of 'column' or 'constant'")
    if isinstance(column, list) and column and all(isinstance(c, str) for c in column):
        column = tuple(column) if len(column) > 1 else column[0]
    elif column is not None and not isinstance(column, str):
        raise _err(where, f"'{target}': 'column' must be a header text, or a list of headers (the first "
                          "non-empty cell is taken)")
    values = raw.get("values", {})
    if not isinstance(values, dict):
        raise _err(where, f"'{target}': 'values' must be a table {{source value = code}}")
    norm: dict[str, str] = {}
    for k, v in values.items():
        if isinstance(v, bool):
            v = "yes" if v else "no"
        if not isinstance(v, (str, int, float)):
            raise _err(where, f"'{target}': values.{k} must be a text")
        key = str(k).strip().casefold()
        if key in norm and norm[key] != str(v):
            raise _err(where, f"'{target}': values has '{k}' twice (case is ignored) with different codes")
        norm[key] = str(v)
    scale = raw.get("scale")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale == 0):
        raise _err(where, f"'{target}': 'scale' must be a non-zero number")
    fmt = raw.get("format")
    if fmt is not None and (not isinstance(fmt, str) or ("%" not in fmt and fmt not in DAY_COUNTS)):
        raise _err(where, f"'{target}': 'format' must be a date format such as \"%d/%m/%Y\", or one of "
                          f"{', '.join(DAY_COUNTS)} (a number of days)")
    if constant is not None:
        if isinstance(constant, bool):
            constant = "yes" if constant else "no"
        constant = str(constant)
    return Spec(target, column, norm, None if scale is None else float(scale), fmt, constant)


def parse_mapping(doc: dict, base: Path, path: Path | None = None, source_path: Path | None = None) -> Mapping:
    """A :class:`Mapping` from a parsed TOML document; relative paths are resolved against ``base``."""
    label = path.name if path is not None else "mapping"
    src = doc.get("source", {})
    if not isinstance(src, dict):
        raise _err(label, "[source] must be a table")
    unknown = [k for k in src if k not in SOURCE_KEYS]
    if unknown:
        raise _err(label, f"[source]: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(SOURCE_KEYS)})")
    if source_path is None:
        if "path" not in src:
            raise _err(label, "[source] path is missing (the file or directory to read, relative to the mapping)")
        source_path = (base / str(src["path"])).resolve()
    missing = src.get("missing", [])
    if isinstance(missing, str):
        missing = [missing]
    if not isinstance(missing, list) or not all(isinstance(m, (str, int, float)) for m in missing):
        raise _err(label, '[source] missing must be a list of texts, e.g. missing = ["NA", "ND"]')
    date_format = src.get("date_format")
    if date_format is not None and (not isinstance(date_format, str)
                                    or ("%" not in date_format and date_format not in DAY_COUNTS)):
        raise _err(label, '[source] date_format must be a date format such as "%d/%m/%Y"')
    for key in ("path", "sheet", "redcap_dictionary"):
        if key in src and not isinstance(src[key], str):
            raise _err(label, f"[source] {key} must be a text")
    header_row = src.get("header_row")
    if header_row is not None and (isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1):
        raise _err(label, "[source] header_row must be a row number (1 = the first row)")
    dict_path = src.get("redcap_dictionary")
    extra = [k for k in doc if k not in ("source", *TABLE_NAMES)]
    if extra:
        raise _err(label, f"unknown table(s) {', '.join(extra)} (the exchange format has {', '.join(TABLE_NAMES)})")
    entries: list[Entry] = []
    for table in TABLE_NAMES:
        blocks = doc.get(table)
        if blocks is None:
            if table in MANDATORY:
                raise _err(label, f"no [{table}] table: the exchange format needs it (mandatory)")
            continue
        if isinstance(blocks, dict):
            blocks = [blocks]
        for i, block in enumerate(blocks):
            where = f"{label} [{table}]" + (f" #{i + 1}" if len(blocks) > 1 else "")
            if not isinstance(block, dict):
                raise _err(where, "must be a table of column = source")
            source = block.get("from")
            if source is not None and not isinstance(source, str):
                raise _err(where, "'from' must be a sheet, file or instrument name (a text)")
            distinct = block.get("distinct", False)
            if not isinstance(distinct, bool):
                raise _err(where, "'distinct' must be true or false")
            specs = []
            for target, raw in block.items():
                if target in ("from", "distinct"):
                    continue
                if target not in TARGET_COLUMNS[table]:
                    raise _err(where, f"'{target}' is not an exchange-format column of {table} "
                                      f"(columns: {', '.join(TARGET_COLUMNS[table])})")
                specs.append(_parse_spec(where, target, raw))
            entries.append(Entry(table, i, None if source is None else str(source), tuple(specs), distinct))
    return Mapping(path, Path(source_path), None if src.get("sheet") is None else str(src["sheet"]),
                   src.get("date_format"), tuple(str(m) for m in missing),
                   None if dict_path is None else (base / str(dict_path)).resolve(), tuple(entries), header_row)


def load_mapping(path: str | Path, source: str | Path | None = None) -> Mapping:
    """Read a mapping file. ``source`` (the SOURCE argument of the CLI) overrides [source].path."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CartregError(f"{path}: no such mapping file", 2) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CartregError(f"{path.name}: not a valid TOML mapping ({exc})", 2) from exc
    return parse_mapping(doc, path.parent, path, None if source is None else Path(source).resolve())


# ------------------------------------------------------------------------------------ applying


def _q(ident: str) -> str:
    return '"' + ident.replace('"', '""') + '"'


def _human_format(fmt: str) -> str:
    """``%d/%m/%Y`` -> ``dd/mm/yyyy`` for messages."""
    if fmt in DAY_COUNTS:
        return f"a {fmt} date number" if fmt != "spss" else "an SPSS date (seconds)"
    for a, b in (("%d", "dd"), ("%m", "mm"), ("%Y", "yyyy"), ("%y", "yy"), ("%b", "mon"), ("%B", "month"),
                 ("%H", "HH"), ("%M", "MM"), ("%S", "SS")):
        fmt = fmt.replace(a, b)
    return fmt


def _wrap(template: str, own: list, inner_sql: str, inner_params: list) -> tuple[str, list]:
    """Put the expression ``inner_sql`` wherever ``__x`` appears in ``template``; parameters follow the
    text order (``own`` are the template's own ``?`` in order, the inner ones repeat per ``__x``)."""
    import re

    out_sql, out_params, own_i = [], [], 0
    for tok in re.split(r"(__x|\?)", template):
        if tok == "__x":
            out_sql.append(f"({inner_sql})")
            out_params.extend(inner_params)
        elif tok == "?":
            out_sql.append("?")
            out_params.append(own[own_i])
            own_i += 1
        else:
            out_sql.append(tok)
    assert own_i == len(own)
    return "".join(out_sql), out_params


def _spec_sql(spec: Spec, st: SourceTable, col_type: str, default_format: str | None,
              missing: tuple[str, ...], code_cols: MappingT[str, str]) -> tuple[str, list]:
    """SQL text of one target column from the source table ``src``, with its parameters.

    Steps, in order: trim (empty -> NULL); ``missing`` tokens -> NULL; ``values`` (by label, then by
    the underlying code of a value-labelled column; an unmapped value passes unchanged); ``scale``
    (a number is multiplied and written with 12 significant digits; text passes unchanged); date
    ``format`` (an ISO date, e.g. from a typed cell, is kept; text not in the format passes
    unchanged, so the validator reports it at its cell).
    """
    if spec.constant is not None:
        return "?::VARCHAR", [spec.constant]
    parts, params = [], []
    for col in spec.columns:
        header = st.find_column(col)
        x, p = f"NULLIF(trim({_q(header)}), '')", []
        if not spec.values and col_type in ("integer", "number") and header in code_cols:
            x = f"NULLIF(trim({_q(code_cols[header])}), '')"  # a value-labelled number: its stored number
        if missing:
            x, p = _wrap("CASE WHEN list_contains(?::VARCHAR[], lower(__x)) THEN NULL ELSE __x END",
                         [[m.strip().casefold() for m in missing]], x, p)
        parts.append(x)
        params.extend(p)
    x = parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"
    header = st.find_column(spec.columns[0])
    if spec.values:
        keys, vals = list(spec.values), list(spec.values.values())
        code = code_cols.get(header)
        if code is not None:  # a value-labelled column: the mapping may name the label or the code
            x, params = _wrap(
                "NULLIF(coalesce((?::VARCHAR[])[list_position(?::VARCHAR[], lower(__x))], "
                f"(?::VARCHAR[])[list_position(?::VARCHAR[], lower(trim({_q(code)})))], __x), '')",
                [vals, keys, vals, keys], x, params)
        else:
            x, params = _wrap("NULLIF(coalesce((?::VARCHAR[])[list_position(?::VARCHAR[], lower(__x))], __x), '')",
                              [vals, keys], x, params)
    if spec.scale is not None:
        x, params = _wrap("CASE WHEN TRY_CAST(replace(__x, ',', '.') AS DOUBLE) IS NOT NULL "
                          "THEN printf('%.12g', TRY_CAST(replace(__x, ',', '.') AS DOUBLE) * ?) ELSE __x END",
                          [spec.scale], x, params)
    fmt = spec.format or (default_format if col_type == "date" else None)
    if fmt is not None:
        tmpl, own = _date_template(fmt)
        x, params = _wrap(tmpl, own, x, params)
    return x, params


def _date_template(fmt: str) -> tuple[str, list]:
    """SQL template (on ``__x``) turning a date in ``fmt`` into ISO text; an ISO date is kept and text
    not in the format passes unchanged (the validator then reports it at its cell)."""
    if fmt in DAY_COUNTS:
        origin, unit = DAY_COUNTS[fmt]
        days = "floor(TRY_CAST(replace(__x, ',', '.') AS DOUBLE) / ?)"
        return ("CASE WHEN regexp_full_match(__x, ?) THEN left(__x, 10) "
                f"WHEN {days} BETWEEN -1000000 AND 1000000 "
                f"THEN strftime(?::DATE + CAST({days} AS INTEGER), '%Y-%m-%d') ELSE __x END",
                [_ISO[1:-1], unit, origin, unit])
    return ("CASE WHEN regexp_full_match(__x, ?) THEN left(__x, 10) "
            "ELSE coalesce(strftime(try_strptime(__x, ?), '%Y-%m-%d'), __x) END", [_ISO[1:-1], fmt])


def _entry_sql(entry: Entry, st: SourceTable, mapping: Mapping, code_cols: MappingT[str, str],
               label: str) -> tuple[str, list]:
    """One SELECT for an entry, in layers (each a sub-SELECT) so no expression is repeated:
    clean (trim, missing tokens) -> values -> scale -> date format -> the entry's rows."""
    cols = TARGET_COLUMNS[entry.table]
    specs = [sp for sp in entry.specs if sp.constant is None]
    n = len(specs)
    names = [f"__c{i}" for i in range(n)]
    params: list = []
    # layer 1: clean
    sel = []
    picks: list[str] = []  # for a list of headers: which one gave the value (provenance)
    for i, sp in enumerate(specs):
        cleaned = []
        for col in sp.columns:
            t = f"NULLIF(trim({_q(st.find_column(col))}), '')"
            if mapping.missing:
                cleaned.append(f"CASE WHEN list_contains(?::VARCHAR[], lower({t})) THEN NULL ELSE {t} END")
                params.append([m.strip().casefold() for m in mapping.missing])
            else:
                cleaned.append(t)
        if len(cleaned) == 1:
            sel.append(f"{cleaned[0]} AS {names[i]}")
            code = code_cols.get(st.find_column(sp.columns[0]))
        else:
            sel.append(f"coalesce({', '.join(cleaned)}) AS {names[i]}")
            whens = []
            for j, col in enumerate(sp.columns):
                t = f"NULLIF(trim({_q(st.find_column(col))}), '')"
                if mapping.missing:
                    whens.append(f"WHEN {t} IS NOT NULL AND NOT list_contains(?::VARCHAR[], lower({t})) THEN {j}")
                    params.append([m.strip().casefold() for m in mapping.missing])
                else:
                    whens.append(f"WHEN {t} IS NOT NULL THEN {j}")
            sel.append(f"CASE {' '.join(whens)} END AS __p{i}")
            picks.append(f"__p{i}")
            code = None
        sel.append(f"lower(trim({_q(code)})) AS __k{i}" if code is not None else f"NULL::VARCHAR AS __k{i}")
    sql = f"SELECT {', '.join([*sel, '_row']) if sel else '_row'} FROM src"

    def layer(exprs: dict[int, tuple[str, list]], inner: str, keep_codes: bool) -> str:
        """SELECT over ``inner``; its parameters come before the inner ones (text order)."""
        out, own = [], []
        for i, c in enumerate(names):
            if i in exprs:
                e, p = exprs[i]
                out.append(f"{e} AS {c}")
                own.extend(p)
            else:
                out.append(c)
            if keep_codes:
                out.append(f"__k{i}")
        params[:0] = own
        return f"SELECT {', '.join([*out, *picks, '_row'])} FROM ({inner})"

    # layer 2: values (by label, then by the underlying code of a value-labelled column)
    vals = {}
    for i, sp in enumerate(specs):
        if sp.values:
            keys, codes_ = list(sp.values), list(sp.values.values())
            vals[i] = (f"NULLIF(coalesce((?::VARCHAR[])[list_position(?::VARCHAR[], lower({names[i]}))], "
                       f"(?::VARCHAR[])[list_position(?::VARCHAR[], __k{i})], {names[i]}), '')",
                       [codes_, keys, codes_, keys])
    for i, sp in enumerate(specs):
        # a value-labelled number (stage 1 "Stage I") is its stored number unless the mapping says otherwise
        if not sp.values and cols[sp.target] in ("integer", "number") and len(sp.columns) == 1 \
                and st.find_column(sp.columns[0]) in code_cols:
            vals[i] = (f"coalesce(__k{i}, {names[i]})", [])
    if vals:
        sql = layer(vals, sql, keep_codes=False)
    elif n:
        sql = f"SELECT {', '.join([*names, *picks, '_row'])} FROM ({sql})"
    # layer 3: scale
    scales = {i: (f"CASE WHEN TRY_CAST(replace({names[i]}, ',', '.') AS DOUBLE) IS NOT NULL THEN "
                  f"printf('%.12g', TRY_CAST(replace({names[i]}, ',', '.') AS DOUBLE) * ?) ELSE {names[i]} END",
                  [sp.scale]) for i, sp in enumerate(specs) if sp.scale is not None}
    if scales:
        sql = layer(scales, sql, keep_codes=False)
    # layer 4: date format (an ISO date, e.g. from a typed cell, is kept; text not in the format passes
    # unchanged so that the validator reports it at its cell)
    fmts = {}
    for i, sp in enumerate(specs):
        fmt = sp.format or (mapping.date_format if cols[sp.target] == "date" else None)
        c = names[i]
        if fmt is not None:
            tmpl, own = _date_template(fmt)
            fmts[i] = _wrap(tmpl, own, c, [])
        elif cols[sp.target] == "date":  # a typed datetime cell (Excel, SAS, Stata): the date of the event
            fmts[i] = (f"CASE WHEN regexp_full_match({c}, ?) THEN left({c}, 10) ELSE {c} END", [_ISO[1:-1]])
    if fmts:
        sql = layer(fmts, sql, keep_codes=False)
    final = []
    for sp in entry.specs:
        if sp.constant is not None:
            final.append(f"?::VARCHAR AS {_q(sp.target)}")
        else:
            final.append(f"{names[specs.index(sp)]} AS {_q(sp.target)}")
    const_params = [sp.constant for sp in entry.specs if sp.constant is not None]
    final += [f'{p} AS "__pick__{specs[int(p[3:])].target}"' for p in picks]
    sql = f"SELECT {', '.join([*final, '_row AS __srow'])} FROM ({sql})"
    params = const_params + params  # the outer SELECT's parameters come first in the text
    date_col = ROW_DATE.get(entry.table)
    if date_col is not None:
        sql = f"SELECT * FROM ({sql}) WHERE {_q(date_col)} IS NOT NULL"
    if entry.distinct:  # identical rows once (at their first source row); rows that differ all stay
        sql = f"SELECT * EXCLUDE (__srow), min(__srow) AS __srow FROM ({sql}) GROUP BY ALL ORDER BY __srow"
    return sql, params


def _check_entry(entry: Entry, st: SourceTable, label: str) -> None:
    where = f"{label} [{entry.table}]" + (f" #{entry.index + 1}" if len(label) and entry.index else "")
    for col in REQUIRED[entry.table]:
        if entry.spec(col) is None:
            raise _err(where, f"required column '{col}' is not mapped")
    for spec in entry.specs:
        for col in spec.columns:
            if st.find_column(col) is None:
                import difflib

                hint = difflib.get_close_matches(col, st.columns, n=1, cutoff=0.6)
                extra = f"; did you mean '{hint[0]}'?" if hint else ""
                raise _err(where, f"{spec.target}: no column '{col}' in {st.label}{extra} "
                                  f"(columns: {', '.join(st.columns[:40])}{' ...' if len(st.columns) > 40 else ''})")


def open_source(mapping: Mapping) -> SourceFile:
    """Read the mapping's source: a REDCap export (with its dictionary), or any file or directory."""
    from cartreg.io.redcap import is_redcap_export, read_redcap

    p = mapping.source_path
    if mapping.redcap_dictionary is not None or (p.is_file() and p.suffix.lower() == ".csv" and is_redcap_export(p)):
        return read_redcap(p, mapping.redcap_dictionary)
    return read_source(p, mapping.header_row)


def apply_mapping(mapping: Mapping, source: SourceFile | None = None) -> MappedRegistry:
    """The four raw exchange-format tables made from the mapping's source, with provenance."""
    source = source if source is not None else open_source(mapping)
    con = duckdb.connect()
    tables: dict[str, RawTable] = {}
    prov_parts: list[pa.Table] = []
    cell_parts: list[pa.Table] = []  # per-cell source headers of list specs
    colmap_rows: list[tuple] = []
    for table in TABLE_NAMES:
        entries = mapping.entries_of(table)
        if not entries:
            continue
        label = f"{mapping.label}[{table}]"
        parts: list[pa.Table] = []
        offset = 0
        for entry in entries:
            name = entry.source if entry.source is not None else mapping.sheet
            st = source.table(name, what=f"[{table}] ")
            entry = _with_default_patient(entry, source, st)
            _check_entry(entry, st, mapping.label)
            code_cols = {h: f"__code__{i}" for i, h in enumerate(st.codes)}
            data = st.data
            for h, c in code_cols.items():
                data = data.append_column(c, st.codes[h])
            con.register("src", data)
            try:
                sql, params = _entry_sql(entry, st, mapping, code_cols, label)
                out = con.sql(sql, params=params).to_arrow_table()
            finally:
                con.unregister("src")
            n = out.num_rows
            for spec in entry.specs:
                pick_col = f"__pick__{spec.target}"
                if pick_col in out.column_names:
                    headers = pa.array([st.find_column(c) for c in spec.columns], pa.string())
                    pick = out.column(pick_col).combine_chunks()
                    cell_parts.append(pa.table({
                        "label": pa.array([label], pa.string()).take(pa.array(np.zeros(n, dtype=np.int32))),
                        "_row": pa.array(np.arange(offset + 2, offset + n + 2, dtype=np.int64)),
                        "target": pa.array([spec.target], pa.string()).take(pa.array(np.zeros(n, dtype=np.int32))),
                        "source_column": headers.take(pick),
                    }))
            offset += n
            parts.append(out)
            zeros = pa.array(np.zeros(n, dtype=np.int32))
            prov_parts.append(pa.table({
                "label": pa.array([label], pa.string()).take(zeros),
                "file": pa.array([st.label], pa.string()).take(zeros),
                "srow": out.column("__srow").cast(pa.int64()),
                "entry": pa.array(np.full(n, entry.index, dtype=np.int64)),
            }))
            for spec in entry.specs:
                fmt = spec.format or (mapping.date_format if TARGET_COLUMNS[table][spec.target] == "date" else None)
                colmap_rows.append((label, entry.index, spec.target,
                                    " / ".join(st.find_column(c) for c in spec.columns) if spec.columns else None,
                                    None if fmt is None else _human_format(fmt), st.label))
        present = [c for c in TARGET_COLUMNS[table] if any(c in p.column_names for p in parts)]
        arrays = []
        for c in present:
            chunks = [p.column(c).cast(pa.string()) if c in p.column_names else pa.nulls(p.num_rows, pa.string())
                      for p in parts]
            arrays.append(pa.chunked_array([ch for part in chunks for ch in
                                            (part.chunks if isinstance(part, pa.ChunkedArray) else [part])],
                                           pa.string()).combine_chunks())
        total = sum(p.num_rows for p in parts)
        rows = pa.array(range(2, total + 2), pa.int64())
        data = pa.Table.from_arrays([*arrays, rows], names=[*present, "_row"])
        tables[table] = RawTable(table, label, tuple(present), data, "")
    # provenance: target row k of a table (in entry order) is the k-th provenance row of that table
    prov = pa.concat_tables(prov_parts) if prov_parts else pa.table({"label": pa.array([], pa.string())})
    if prov.num_rows:
        con.register("p", prov)
        prov = con.sql("SELECT label, (row_number() OVER (PARTITION BY label ORDER BY __i) + 1)::BIGINT AS _row, "
                           "file, srow, entry FROM (SELECT *, row_number() OVER () AS __i FROM p)").to_arrow_table()
        con.unregister("p")
    colmap = pa.table({k: pa.array([r[i] for r in colmap_rows], pa.int64() if k == "entry" else pa.string())
                       for i, k in enumerate(("label", "entry", "target", "source_column", "format", "file"))})
    sources = list(source.sources)
    if mapping.path is not None:
        sources.append((mapping.path.name, sha256_file(mapping.path)))
    raw = RawRegistry(mapping.path or mapping.source_path, "mapping", tables, tuple(sorted(sources)), ())
    con.close()
    cells = pa.concat_tables(cell_parts) if cell_parts else None
    return MappedRegistry(raw, mapping, source, prov, colmap, cells)


def _with_default_patient(entry: Entry, source: SourceFile, st: SourceTable) -> Entry:
    """REDCap: ``record_id`` (the export's first column) is the patient unless the entry says otherwise."""
    if entry.spec("patient_id") is not None or source.kind != "redcap" or not st.columns:
        return entry
    return Entry(entry.table, entry.index, entry.source, (Spec("patient_id", column=st.columns[0]), *entry.specs),
                 entry.distinct)


# ------------------------------------------------------------------------------ issue relabelling


def relabel_issues(issues: pa.Table, mapped: MappedRegistry) -> pa.Table:
    """Rewrite validation issues to name the source cell.

    ``file`` becomes the source file (with its sheet), ``row`` the source row, ``column`` the source
    header; ``target_column`` keeps the exchange-format column. An invalid date read with a format
    says which format was expected. Issues about a table as a whole name the mapping.
    """
    con = duckdb.connect()
    con.register("i", issues)
    con.register("p", mapped.provenance if mapped.provenance.num_rows else
                 pa.table({"label": pa.array([], pa.string()), "_row": pa.array([], pa.int64()),
                           "file": pa.array([], pa.string()), "srow": pa.array([], pa.int64()),
                           "entry": pa.array([], pa.int64())}))
    con.register("c", mapped.columns)
    con.register("x", mapped.cells if mapped.cells is not None else
                 pa.table({"label": pa.array([], pa.string()), "_row": pa.array([], pa.int64()),
                           "target": pa.array([], pa.string()), "source_column": pa.array([], pa.string())}))
    out = con.sql(
        """
        SELECT i.severity,
               CASE WHEN i.rule = 'missing_table' THEN ? ELSE coalesce(p.file, i.file) END AS file,
               CASE WHEN p.srow IS NOT NULL THEN p.srow WHEN p.file IS NULL AND i.file IN (SELECT label FROM c)
                    THEN NULL ELSE i."row" END AS "row",
               CASE WHEN p.file IS NOT NULL AND i."column" IS NOT NULL
                    THEN coalesce(x.source_column, c.source_column, i."column") ELSE i."column" END AS "column",
               i.value, i.rule,
               CASE WHEN i.rule = 'invalid_date' AND c.format IS NOT NULL
                    THEN replace(i.message, 'expected YYYY-MM-DD', 'expected ' || c.format)
                    WHEN i.rule IN ('unknown_code', 'invalid_boolean') AND p.file IS NOT NULL
                    THEN i.message || printf(' (hint: translate it with values = {...} for %s in %s)', i."column", ?)
                    WHEN i.rule = 'missing_column' THEN printf('optional column ''%s'' is not mapped; its values are missing', i."column")
                    WHEN i.rule = 'missing_table' THEN printf('the mapping has no [%s] table: the registry has no %s records',
                                                              regexp_replace(i.file, '[.]csv$', ''), regexp_replace(i.file, '[.]csv$', ''))
                    ELSE i.message END AS message,
               i.patient_id,
               i."column" AS target_column
        FROM i
        LEFT JOIN p ON p.label = i.file AND p._row = i."row"
        LEFT JOIN c ON c.label = i.file AND c.entry = p.entry AND c.target = i."column"
        LEFT JOIN x ON x.label = i.file AND x._row = i."row" AND x.target = i."column"
        ORDER BY list_position(['error', 'warning', 'note'], i.severity), 2, 3 NULLS FIRST, 4, i.rule
        """, params=[mapped.mapping.label, mapped.mapping.label]
    ).to_arrow_table()
    con.close()
    return out


def read_mapped(path: str | Path | None, mapping: str | Path | None,
                redcap_dictionary: str | Path | None = None) -> MappedRegistry:
    """The raw exchange-format tables of a source: through a mapping file, or (an export of the
    template REDCap project) through its dictionary. ``path`` (the SOURCE argument) overrides the
    mapping's [source].path; with a mapping, ``redcap_dictionary`` overrides [source].redcap_dictionary."""
    from dataclasses import replace

    if mapping is not None:
        m = load_mapping(mapping, path)
        if redcap_dictionary is not None:
            m = replace(m, redcap_dictionary=Path(redcap_dictionary).resolve())
        return apply_mapping(m)
    from cartreg.io.redcap import builtin_mapping

    if path is None:
        raise CartregError("give the REDCap export to read", 2)
    m, src = builtin_mapping(Path(path), Path(redcap_dictionary))
    return apply_mapping(m, src)


# ---------------------------------------------------------------------------------- map check


@dataclass(frozen=True)
class CheckRow:
    """What one target column of one entry reads: ``unmapped`` is ((value, count), ...), most frequent first."""

    table: str
    entry: int
    target: str
    source: str
    read: int
    mapped: int
    missing: int
    unmapped: tuple[tuple[str, int], ...]


def _valid_sql(col_type: str, codes: tuple[str, ...], synonyms: tuple[str, ...]) -> tuple[str, list]:
    """Boolean SQL on ``v``: the value is acceptable for the target column's type."""
    if col_type == "code":
        return "lower(v) IN (SELECT unnest(?::VARCHAR[]))", [[c.lower() for c in codes] + list(synonyms)]
    if col_type == "bool":
        return "lower(v) IN ('yes', 'no', 'true', 'false', '1', '0')", []
    if col_type == "date":
        return "(length(v) = 10 AND TRY_CAST(v AS DATE) IS NOT NULL AND regexp_full_match(v, '\\d{4}-\\d{2}-\\d{2}'))", []
    if col_type == "integer":
        return "(TRY_CAST(replace(v, ',', '.') AS DOUBLE) = round(TRY_CAST(replace(v, ',', '.') AS DOUBLE)))", []
    if col_type == "number":
        return "isfinite(TRY_CAST(replace(v, ',', '.') AS DOUBLE))", []
    return "TRUE", []


def check_mapping(mapping_path: str | Path, source: str | Path | None, schema_tables) -> list[CheckRow]:
    """For each target column of each entry: its source and how many values are read, mapped to a
    valid exchange value, missing, and unmapped (with the unmapped source values).

    ``schema_tables`` is :data:`cartreg.registry.schema.TABLES` (code lists and synonyms).
    """
    m = load_mapping(mapping_path, source)
    src = open_source(m)
    codes = {(t.name, c.name): (tuple(c.codes), tuple(c.synonyms)) for t in schema_tables for c in t.columns}
    con = duckdb.connect()
    out: list[CheckRow] = []
    for entry in m.entries:
        st = src.table(entry.source if entry.source is not None else m.sheet, what=f"[{entry.table}] ")
        entry = _with_default_patient(entry, src, st)
        _check_entry(entry, st, m.label)
        code_cols = {h: f"__code__{i}" for i, h in enumerate(st.codes)}
        data = st.data
        for h, c in code_cols.items():
            data = data.append_column(c, st.codes[h])
        con.register("src", data)
        try:
            for spec in entry.specs:
                ctype = TARGET_COLUMNS[entry.table][spec.target]
                final, params = _spec_sql(spec, st, ctype, m.date_format, m.missing, code_cols)
                if spec.constant is not None:
                    raw, raw_params, where = "?::VARCHAR", [spec.constant], f"constant {spec.constant!r}"
                else:
                    heads = [st.find_column(c) for c in spec.columns]
                    raw = "coalesce(" + ", ".join(f"NULLIF(trim({_q(h)}), '')" for h in heads) + ")"
                    raw_params, where = [], f"{st.label} " + " / ".join(f"'{h}'" for h in heads)
                ok, ok_params = _valid_sql(ctype, *codes[(entry.table, spec.target)])
                rows = con.sql(
                    f"WITH t AS (SELECT {raw} AS r, {final} AS v FROM src) "
                    f"SELECT count(r), count(*) FILTER (WHERE v IS NULL), "
                    f"count(*) FILTER (WHERE v IS NOT NULL AND {ok}), "
                    f"(SELECT list([r, cnt::VARCHAR] ORDER BY cnt DESC, r) FROM (SELECT r, count(*) cnt FROM t "
                    f"WHERE v IS NOT NULL AND NOT coalesce({ok}, FALSE) GROUP BY r)) FROM t",
                    params=[*raw_params, *params, *ok_params, *ok_params]).fetchall()[0]
                unmapped = tuple((u[0], int(u[1])) for u in (rows[3] or []))
                out.append(CheckRow(entry.table, entry.index, spec.target, where, int(rows[0]), int(rows[2]),
                                    int(rows[1]), unmapped))
        finally:
            con.unregister("src")
    con.close()
    return out


def format_check(rows: list[CheckRow], max_values: int = 10) -> str:
    """The check as a plain-text table, one line per target column."""
    lines = [f"{'target':<32} {'read':>7} {'mapped':>7} {'missing':>7} {'unmapped':>8}  source"]
    for r in rows:
        name = f"{r.table}" + (f"#{r.entry + 1}" if r.entry else "") + f".{r.target}"
        n_un = sum(c for _, c in r.unmapped)
        lines.append(f"{name:<32} {r.read:>7} {r.mapped:>7} {r.missing:>7} {n_un:>8}  {r.source}")
        if r.unmapped:
            vals = ", ".join(f"{v!r} ({c})" for v, c in r.unmapped[:max_values])
            more = f" and {len(r.unmapped) - max_values} more" if len(r.unmapped) > max_values else ""
            lines.append(f"{'':<32}   unmapped: {vals}{more}")
    return "\n".join(lines)


def toml_value(v: object) -> str:
    """A TOML value: strings as basic strings (JSON escapes are valid TOML), tables inline."""
    import json

    if isinstance(v, dict):
        return "{ " + ", ".join(f"{toml_value(str(k))} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return repr(v)
    return json.dumps(str(v), ensure_ascii=False)
