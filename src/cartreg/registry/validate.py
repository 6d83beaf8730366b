"""Columnar validation of a registry in DuckDB.

The raw text tables (from :mod:`cartreg.io.registry_files`) go into DuckDB as ``src_<table>``
(trimmed, empty -> NULL). Each typed table is one ``SELECT`` of parse expressions over it, and each
rule is one ``SELECT`` that returns the offending rows as issues. No Python loop touches a data row.

A value that fails a cell rule (unparseable, unknown code, out of range) is NULL in the typed table;
the issue keeps the original text.

Example::

    con = duckdb.connect()
    report = validate_raw(con, read_registry_files(Path("examples/registry")), cutoff=None)
    con.sql("SELECT count(*) FROM patients")
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from cartreg.errors import CartregError
from cartreg.io.registry_files import RawRegistry, RawTable
from cartreg.registry.report import ISSUE_SCHEMA, ValidationReport
from cartreg.registry.schema import (
    BOOL_FALSE,
    BOOL_TRUE,
    PROGRESSION,
    RULES_BY_ID,
    TABLES,
    Column,
    Table,
    date_columns,
)

# Strict ISO date; Excel/CSV exports sometimes add a midnight time, which we accept.
_DATE_RE = r"\d{4}-\d{2}-\d{2}(?:[ T]00:00(?::00(?:\.0+)?)?)?"

_ISSUES_DDL = (
    'CREATE OR REPLACE TABLE issues (severity VARCHAR, file VARCHAR, "row" BIGINT, "column" VARCHAR, '
    "value VARCHAR, rule VARCHAR, message VARCHAR, patient_id VARCHAR)"
)


@dataclass(frozen=True)
class Query:
    """A SQL text with its bound parameters."""

    sql: str
    params: tuple = ()


def _q(ident: str) -> str:
    """Quote an identifier (column names come from the schema or from a header)."""
    return '"' + ident.replace('"', '""') + '"'


# ------------------------------------------------------------------------------ parse expressions


def _number_expr(col: str) -> str:
    # Decimal comma (French exports) -> decimal point; "62.0" reads as 62.
    return f"TRY_CAST(replace({_q(col)}, ',', '.') AS DOUBLE)"


def _readable(c: Column) -> Query:
    """Boolean SQL: the non-empty text parses as the column's type (range aside)."""
    v = _q(c.name)
    if c.type == "date":
        return Query(f"(regexp_full_match({v}, ?) AND TRY_CAST(left({v}, 10) AS DATE) IS NOT NULL)", (_DATE_RE,))
    if c.type == "integer":
        n = _number_expr(c.name)
        return Query(f"(isfinite({n}) AND {n} = round({n}) AND abs({n}) <= 2147483647)")
    if c.type == "number":
        return Query(f"isfinite({_number_expr(c.name)})")
    if c.type == "bool":
        return Query(f"(lower({v}) IN (SELECT unnest(?::VARCHAR[])))", (list(BOOL_TRUE + BOOL_FALSE),))
    if c.type == "code":
        return Query(f"({_canonical(c).sql}) IS NOT NULL", _canonical(c).params)
    return Query("TRUE")


def _canonical(c: Column) -> Query:
    """Canonical code for a case-insensitive code or synonym, else NULL."""
    keys = [code.lower() for code in c.codes] + list(c.synonyms)
    values = list(c.codes) + list(c.synonyms.values())
    return Query(f"(?::VARCHAR[])[list_position(?::VARCHAR[], lower({_q(c.name)}))]", (values, keys))


def _value(c: Column) -> Query:
    """Typed value (NULL when unreadable), before range checks."""
    v = _q(c.name)
    if c.type == "date":
        return Query(f"CASE WHEN regexp_full_match({v}, ?) THEN TRY_CAST(left({v}, 10) AS DATE) END", (_DATE_RE,))
    if c.type in ("integer", "number"):
        ok = _readable(c)
        cast = "INTEGER" if c.type == "integer" else "DOUBLE"
        return Query(f"CASE WHEN {ok.sql} THEN CAST({_number_expr(c.name)} AS {cast}) END", ok.params)
    if c.type == "bool":
        return Query(
            f"CASE WHEN lower({v}) IN (SELECT unnest(?::VARCHAR[])) THEN TRUE "
            f"WHEN lower({v}) IN (SELECT unnest(?::VARCHAR[])) THEN FALSE END",
            (list(BOOL_TRUE), list(BOOL_FALSE)),
        )
    if c.type == "code":
        return _canonical(c)
    return Query(v)


def _in_range(c: Column, expr: str) -> str:
    parts = []
    if c.minimum is not None:
        parts.append(f"{expr} >= {c.minimum!r}")
    if c.maximum is not None:
        parts.append(f"{expr} <= {c.maximum!r}")
    return " AND ".join(parts) or "TRUE"


def _subst(template: str, val: Query) -> Query:
    """Put ``val`` wherever ``__v`` appears in ``template`` (parameters repeated in order)."""
    return Query(template.replace("__v", f"({val.sql})"), val.params * template.count("__v"))


def _typed_value(c: Column) -> Query:
    """Typed value, NULL when unreadable or out of range."""
    val = _value(c)
    if c.minimum is None and c.maximum is None:
        return val
    return _subst(f"CASE WHEN {_in_range(c, '__v')} THEN __v END", val)


def _fmt_bound(x: float | None) -> str:
    return "" if x is None else (str(int(x)) if float(x).is_integer() else str(x))


# --------------------------------------------------------------------------------- issue queries


def _issue_select(t: str, label: str, col: str | None, value_sql: str, rule: str, msg_sql: Query,
                  where: Query, frm: str | None = None, row_sql: str = "_row", pid_sql: str = "patient_id") -> Query:
    """One SELECT returning issue rows (in ISSUE_SCHEMA order) for the rows matching ``where``."""
    sev = RULES_BY_ID[rule].severity
    sql = (
        f"SELECT ?::VARCHAR, ?::VARCHAR, {row_sql}::BIGINT, ?::VARCHAR, ({value_sql})::VARCHAR, ?::VARCHAR, "
        f"({msg_sql.sql})::VARCHAR, ({pid_sql})::VARCHAR FROM {frm or 'src_' + t} WHERE {where.sql}"
    )
    return Query(sql, (sev, label, col, rule, *msg_sql.params, *where.params))


def _insert(con: duckdb.DuckDBPyConnection, queries: list[Query]) -> None:
    """Insert the union of issue queries (one statement, so DuckDB can run them in parallel)."""
    if not queries:
        return
    sql = "INSERT INTO issues " + "\nUNION ALL\n".join(q.sql for q in queries)
    params = [p for q in queries for p in q.params]
    con.execute(sql, params)


def _cell_checks(table: Table, label: str, present: set[str]) -> list[Query]:
    """Queries for the rules that look at one cell at a time."""
    t = table.name
    out: list[Query] = []
    for c in table.columns:
        v = _q(c.name)
        if c.required:
            out.append(_issue_select(t, label, c.name, "NULL", "missing_value",
                                     Query("?", (f"{c.name} is required",)), Query(f"{v} IS NULL")))
        if c.name not in present or c.type == "text":
            continue
        ok = _readable(c)
        rule = {"date": "invalid_date", "integer": "invalid_number", "number": "invalid_number",
                "bool": "invalid_boolean", "code": "unknown_code"}[c.type]
        expect = {
            "date": "is not a date (expected YYYY-MM-DD)",
            "integer": "is not a whole number",
            "number": "is not a number",
            "bool": "is not yes/no (or true/false, 1/0)",
            "code": "is not a known code (allowed: " + ", ".join(c.codes) + ")",
        }[c.type]
        out.append(_issue_select(t, label, c.name, v, rule, Query(f"printf(?, {v})", (f"{c.name} '%s' {expect}",)),
                                 Query(f"{v} IS NOT NULL AND NOT coalesce({ok.sql}, FALSE)", ok.params)))
        if c.minimum is not None or c.maximum is not None:
            bounds = (f"{_fmt_bound(c.minimum)}–{_fmt_bound(c.maximum)}" if c.maximum is not None
                      else f"≥ {_fmt_bound(c.minimum)}")
            out.append(_issue_select(t, label, c.name, v, "out_of_range",
                                     Query(f"printf(?, {v})", (f"{c.name} %s is outside the allowed range {bounds}",)),
                                     _subst(f"NOT ({_in_range(c, '__v')})", _value(c))))
        if c.plausible_max is not None:
            val = _value(c)
            out.append(_issue_select(t, label, c.name, v, "implausible_value",
                                     Query(f"printf(?, {v})", (f"{c.name} %s is implausible (> {_fmt_bound(c.plausible_max)}); please check",)),
                                     Query(f"({val.sql}) > {c.plausible_max!r}", val.params)))
        if c.synonyms:
            canon = _canonical(c)
            out.append(_issue_select(t, label, c.name, v, "code_synonym",
                                     Query(f"printf(?, {v}, {canon.sql})", (f"{c.name} '%s' read as %s", *canon.params)),
                                     Query(f"({canon.sql}) IS NOT NULL AND lower({v}) <> lower({canon.sql})",
                                           canon.params * 2)))
    return out


# ------------------------------------------------------------------------------------ loading


def _check_columns(raw: RawRegistry) -> None:
    """Unusable input (exit 2): a mandatory table or a required column is missing."""
    problems = []
    for table in TABLES:
        rt = raw.tables.get(table.name)
        if rt is None:
            if table.mandatory:
                where = f"sheet '{table.name}'" if raw.kind == "xlsx" else f"file {table.name}.csv"
                problems.append(f"{raw.path}: missing {where} (mandatory)")
            continue
        for c in table.columns:
            if c.required and c.name not in rt.columns:
                problems.append(f"{rt.label}: required column '{c.name}' is missing")
    if problems:
        raise CartregError("; ".join(problems), 2)


def _empty_raw(table: Table) -> pa.Table:
    names = [*table.column_names, "_row"]
    return pa.table({n: pa.array([], pa.int64() if n == "_row" else pa.string()) for n in names})


def _load_src(con: duckdb.DuckDBPyConnection, table: Table, rt: RawTable | None) -> tuple[str, tuple[str, ...]]:
    """Create ``src_<table>``: trimmed text, empty -> NULL, all-empty rows dropped. Returns (label, extras)."""
    data = rt.data if rt is not None else _empty_raw(table)
    present = rt.columns if rt is not None else table.column_names
    extras = tuple(c for c in present if c not in table.column_names and c != "_row")
    con.register("raw_in", data)
    cols = []
    for name in (*table.column_names, *extras):
        if name in present:
            cols.append(f"NULLIF(trim({_q(name)}, ?), '') AS {_q(name)}")
        else:
            cols.append(f"NULL::VARCHAR AS {_q(name)}")
    n_trim = sum(1 for name in (*table.column_names, *extras) if name in present)
    all_names = ", ".join(_q(n) for n in (*table.column_names, *extras))
    con.execute(
        f"CREATE OR REPLACE TABLE src_{table.name} AS SELECT * FROM "
        f"(SELECT {', '.join(cols)}, _row FROM raw_in) WHERE coalesce({all_names}) IS NOT NULL",
        [" \t\r\n\u00a0"] * n_trim,
    )
    con.unregister("raw_in")
    label = rt.label if rt is not None else f"{table.name}.csv"
    return label, extras


def _build_typed(con: duckdb.DuckDBPyConnection, table: Table, extras: tuple[str, ...]) -> None:
    exprs, params = [], []
    for c in table.columns:
        tv = _typed_value(c)
        exprs.append(f"CAST({tv.sql} AS {c.sql_type}) AS {_q(c.name)}")
        params.extend(tv.params)
    exprs.extend(_q(e) for e in extras)
    con.execute(f"CREATE OR REPLACE TABLE {table.name} AS SELECT {', '.join(exprs)}, _row FROM src_{table.name}",
                params)


# ------------------------------------------------------------------------------- relational rules


def _relational_checks(labels: dict[str, str], cutoff: dt.date | None) -> list[Query]:
    """Queries for rules across rows and tables, on the typed tables."""
    P, I, R, T = (labels[n] for n in ("patients", "infusions", "responses", "treatments"))
    q: list[Query] = []
    m = lambda text, *args: Query(f"printf(?{''.join(', ' + a for a in args)})", (text,))  # noqa: E731

    # identity
    q.append(_issue_select("patients", P, "patient_id", "patient_id", "duplicate_patient",
                           m("patient_id %s already on row %d", "patient_id", "first_row"), Query("rn > 1"),
                           frm="(SELECT *, row_number() OVER w AS rn, min(_row) OVER w AS first_row FROM patients "
                               "WHERE patient_id IS NOT NULL WINDOW w AS (PARTITION BY patient_id))"))
    for t, lab in (("infusions", I), ("responses", R), ("treatments", T)):
        q.append(_issue_select(t, lab, "patient_id", "patient_id", "unknown_patient",
                               m("patient_id %s is not in patients", "patient_id"),
                               Query("patient_id IS NOT NULL AND patient_id NOT IN (SELECT patient_id FROM p1)"),
                               frm=t))
    q.append(_issue_select("infusions", I, "patient_id", "patient_id", "multiple_infusions",
                           m("second infusion of patient %s (first on row %d); v1 allows one", "patient_id", "first_row"),
                           Query("rn > 1"),
                           frm="(SELECT *, row_number() OVER w AS rn, min(_row) OVER w AS first_row FROM infusions "
                               "WHERE patient_id IS NOT NULL WINDOW w AS (PARTITION BY patient_id ORDER BY _row))"))
    # dates
    q.append(_issue_select("infusions", I, "infusion_date", "i.infusion_date", "infusion_before_eligibility",
                           m("infusion %s is before eligibility %s", "i.infusion_date", "p1.eligibility_date"),
                           Query("i.infusion_date < p1.eligibility_date"),
                           frm="infusions i JOIN p1 USING (patient_id)", row_sql="i._row", pid_sql="i.patient_id"))
    for col in ("eligibility_date", "death_date"):
        q.append(_issue_select("patients", P, col, col, "event_after_last_contact",
                               m(f"{col} %s is after last_contact_date %s", col, "last_contact_date"),
                               Query(f"{col} > last_contact_date"), frm="patients"))
    for t, lab, col, alias in (("infusions", I, "infusion_date", "x"), ("responses", R, "assessment_date", "x"),
                               ("treatments", T, "start_date", "x")):
        q.append(_issue_select(t, lab, col, f"x.{col}", "event_after_last_contact",
                               m(f"{col} %s is after last_contact_date %s", f"x.{col}", "p1.last_contact_date"),
                               Query(f"x.{col} > p1.last_contact_date"),
                               frm=f"{t} x JOIN p1 USING (patient_id)", row_sql="x._row", pid_sql="x.patient_id"))
    q.append(_issue_select("patients", P, "death_date", "p1.death_date", "death_before_infusion",
                           m("death_date %s is before the infusion %s", "p1.death_date", "i1.infusion_date"),
                           Query("p1.death_date < i1.infusion_date"),
                           frm="p1 JOIN i1 USING (patient_id)", row_sql="p1._row", pid_sql="p1.patient_id"))
    for t, lab, col in (("responses", R, "assessment_date"), ("treatments", T, "start_date")):
        q.append(_issue_select(t, lab, col, f"x.{col}", "event_after_death",
                               m(f"{col} %s is after death %s", f"x.{col}", "p1.death_date"),
                               Query(f"x.{col} > p1.death_date"),
                               frm=f"{t} x JOIN p1 USING (patient_id)", row_sql="x._row", pid_sql="x.patient_id"))
    q.append(_issue_select("patients", P, "death_date", "death_date", "death_last_contact_mismatch",
                           m("death_date %s differs from last_contact_date %s; for a dead patient they are the same",
                             "death_date", "last_contact_date"),
                           Query("death_date <> last_contact_date"), frm="patients"))
    q.append(_issue_select("patients", P, "death_cause", "death_cause", "death_cause_without_death",
                           m("death_cause %s is given but death_date is empty", "death_cause"),
                           Query("death_cause IS NOT NULL AND death_date IS NULL")))  # on src: raw text
    if cutoff is not None:
        for table in TABLES:
            for col in date_columns(table):
                q.append(_issue_select(table.name, labels[table.name], col, col, "date_after_cutoff",
                                       Query(f"printf(?, {col}, ?::DATE)", (f"{col} %s is after the data cut-off %s", cutoff)),
                                       Query(f"{col} > ?::DATE", (cutoff,)), frm=table.name))
    # warnings
    for t, lab, col in (("responses", R, "assessment_date"), ("treatments", T, "start_date")):
        q.append(_issue_select(t, lab, col, f"x.{col}", "event_before_infusion",
                               m(f"{col} %s is on or before the infusion %s; analyses ignore it",
                                 f"x.{col}", "i1.infusion_date"),
                               Query(f"x.{col} <= i1.infusion_date"),
                               frm=f"{t} x JOIN i1 USING (patient_id)", row_sql="x._row", pid_sql="x.patient_id"))
        q.append(_issue_select(t, lab, "patient_id", "patient_id", "not_infused",
                               m(f"patient %s has {t} but no infusion; analyses ignore them", "patient_id"),
                               Query("patient_id IN (SELECT patient_id FROM p1) "
                                     "AND patient_id NOT IN (SELECT patient_id FROM i1)"), frm=t))
    q.append(_issue_select("responses", R, "response", "response", "conflicting_responses",
                           m("responses on %s disagree: %s", "assessment_date", "codes"), Query("rn > 1 AND n_codes > 1"),
                           # min <> max finds the conflicting dates cheaply; the code list is built
                           # only for those rows.
                           frm="(SELECT *, row_number() OVER w AS rn, "
                               "string_agg(DISTINCT response, ', ' ORDER BY response) OVER w2 AS codes, "
                               "count(DISTINCT response) OVER w2 AS n_codes FROM responses "
                               "SEMI JOIN (SELECT patient_id, assessment_date FROM responses "
                               "WHERE response IS NOT NULL GROUP BY ALL HAVING min(response) <> max(response)) "
                               "USING (patient_id, assessment_date) WHERE response IS NOT NULL "
                               "WINDOW w AS (PARTITION BY patient_id, assessment_date ORDER BY _row), "
                               "w2 AS (PARTITION BY patient_id, assessment_date))"))
    q.append(_issue_select("patients", P, "death_cause", "p1.death_cause", "lymphoma_death_without_progression",
                           m("death from lymphoma but no PD or PMD response recorded"),
                           Query("p1.death_cause = 'lymphoma' AND p1.patient_id NOT IN "
                                 "(SELECT patient_id FROM responses WHERE response IN (SELECT unnest(?::VARCHAR[])) "
                                 "AND patient_id IS NOT NULL)", (list(PROGRESSION),)),
                           frm="p1", row_sql="p1._row", pid_sql="p1.patient_id"))
    for col in ("crs_grade", "icans_grade"):
        q.append(_issue_select("infusions", I, col, f"x.{col}", "grade5_without_death",
                               m(f"{col} 5 is fatal, but patient %s has no death_date", "x.patient_id"),
                               Query(f"x.{col} = 5 AND NOT p1.death_given"),
                               frm="infusions x JOIN p1 USING (patient_id)", row_sql="x._row", pid_sql="x.patient_id"))
    return q


def _duplicate_row_checks(labels: dict[str, str], extras: dict[str, tuple[str, ...]]) -> list[Query]:
    out = []
    for table in TABLES:
        cols = ", ".join(_q(c) for c in (*table.column_names, *extras[table.name]))
        out.append(_issue_select(table.name, labels[table.name], None, "NULL", "duplicate_row",
                                 Query("printf(?, first_row)", ("same as row %d",)), Query("rn > 1"),
                                 # A row hash finds candidate repeats cheaply (NULLs hash alike); the exact
                                 # window comparison then runs only on those few rows.
                                 frm=f"(SELECT *, row_number() OVER w AS rn, min(_row) OVER w AS first_row "
                                     f"FROM src_{table.name} WHERE hash({cols}) IN (SELECT h FROM "
                                     f"(SELECT hash({cols}) AS h FROM src_{table.name}) GROUP BY h HAVING count(*) > 1) "
                                     f"WINDOW w AS (PARTITION BY {cols} ORDER BY _row))"))
    return out


def _read_problems(con: duckdb.DuckDBPyConnection, raw: RawRegistry, labels: dict[str, str],
                   extras: dict[str, tuple[str, ...]]) -> None:
    """Insert the few file-level issues found by the reader and from the headers."""
    rows = [(p.severity, p.file, p.row, p.column, p.value, p.rule, p.message, None) for p in raw.problems]
    for table in TABLES:
        rt = raw.tables.get(table.name)
        if rt is None:
            if not table.mandatory:
                rows.append(("warning", labels[table.name], None, None, None, "missing_table",
                             f"no {table.name} file: the registry has no {table.name} records", None))
            continue
        for e in extras[table.name]:
            rows.append(("warning", rt.label, 1, e, e, "unknown_column",
                         f"column '{e}' is not in the data dictionary; it is kept", None))
        for c in table.columns:
            if c.name not in rt.columns and not c.required:
                rows.append(("note", rt.label, 1, c.name, None, "missing_column",
                             f"optional column '{c.name}' is absent; its values are missing", None))
    if rows:
        con.executemany("INSERT INTO issues VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def validate_raw(con: duckdb.DuckDBPyConnection, raw: RawRegistry, cutoff: dt.date | None) -> ValidationReport:
    """Build the typed tables ``patients, infusions, responses, treatments`` in ``con`` and validate.

    Raises CartregError (exit 2) when a mandatory table or required column is missing.
    """
    _check_columns(raw)
    con.execute(_ISSUES_DDL)
    labels: dict[str, str] = {}
    extras: dict[str, tuple[str, ...]] = {}
    cell_queries: list[Query] = []
    for table in TABLES:
        rt = raw.tables.get(table.name)
        if raw.kind == "xlsx" and rt is None:
            labels[table.name] = f"{raw.path.name}[{table.name}]"
        label, ex = _load_src(con, table, rt)
        labels.setdefault(table.name, label)
        extras[table.name] = ex
        present = set(rt.columns) if rt is not None else set()
        cell_queries.extend(_cell_checks(table, labels[table.name], present))
        _build_typed(con, table, ex)
    _read_problems(con, raw, labels, extras)
    _insert(con, cell_queries)
    # First row per patient (duplicates are reported, not used twice) and first infusion per patient.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE p1 AS SELECT p.patient_id, p.eligibility_date, p.last_contact_date, "
        "p.death_date, p.death_cause, s.death_date IS NOT NULL AS death_given, p._row "
        "FROM patients p JOIN src_patients s USING (_row) WHERE p.patient_id IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY p.patient_id ORDER BY p._row) = 1"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE i1 AS SELECT patient_id, infusion_date, _row FROM infusions "
        "WHERE patient_id IS NOT NULL QUALIFY row_number() OVER (PARTITION BY patient_id ORDER BY _row) = 1"
    )
    _insert(con, _relational_checks(labels, cutoff))
    _insert(con, _duplicate_row_checks(labels, extras))
    for table in TABLES:
        con.execute(f"DROP TABLE src_{table.name}")
    con.execute("DROP TABLE p1; DROP TABLE i1")
    return ValidationReport(fetch_sorted_issues(con, "issues", [labels[t.name] for t in TABLES]), str(raw.path))


def fetch_sorted_issues(con: duckdb.DuckDBPyConnection, table: str, file_order: list[str]) -> pa.Table:
    """Issues ordered by severity, file (table order), row, column, rule."""
    return con.sql(
        f'SELECT * FROM {table} ORDER BY list_position([\'error\', \'warning\', \'note\'], severity), '
        f'coalesce(list_position(?::VARCHAR[], file), 99), file, "row" NULLS FIRST, "column", rule',
        params=[file_order],
    ).to_arrow_table().cast(ISSUE_SCHEMA)
