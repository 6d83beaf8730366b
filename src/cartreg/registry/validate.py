"""Columnar validation of a registry in DuckDB.

Each raw text table (from :mod:`cartreg.io.registry_files`) becomes, in one ``SELECT``, a parse table
holding the trimmed text of every column (``<col>__raw``, empty -> NULL) beside its typed value
(``<col>``). Each rule is one ``SELECT`` that returns the offending rows as issues; the rules of a
stage run as one ``UNION ALL`` so DuckDB can spread them over the cores. No Python loop touches a
data row. Finally the ``__raw`` columns are dropped, leaving the typed tables
``patients, infusions, responses, treatments``.

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
from cartreg.registry.report import ValidationReport
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
# Each builder takes ``ref``, the SQL expression of the trimmed text (NULL when empty).


def _raw(c: Column) -> str:
    """Column of the trimmed source text in the parse table (text columns are their own raw)."""
    return _q(c.name if c.type == "text" else c.name + "__raw")


#: ``1,450``: a comma that may separate thousands (1450) as well as decimals (1.45).
AMBIGUOUS_COMMA_RE = r"[+-]?[1-9]\d{0,2}(,\d{3})+"


def _number_expr(ref: str, decimal_comma: bool = True) -> str:
    """DOUBLE of the text, NULL when it is not a plain number.

    ``62.0`` reads as 62; a digit separator (``1_000``) never reads. A decimal comma (``5,5``) reads
    in a ``;``-delimited file (``decimal_comma``, French exports); elsewhere only where it has no
    other reading: ``1,450`` may be 1450 or 1.45, so it does not read (an ``invalid_number``).
    """
    if decimal_comma:
        comma = f"TRY_CAST(replace({ref}, ',', '.') AS DOUBLE)"
    else:
        comma = (f"CASE WHEN regexp_full_match({ref}, '[+-]?\\d*,\\d+') "
                 f"AND NOT regexp_full_match({ref}, '{AMBIGUOUS_COMMA_RE}') "
                 f"THEN TRY_CAST(replace({ref}, ',', '.') AS DOUBLE) END")
    return (f"(CASE WHEN contains({ref}, '_') THEN NULL::DOUBLE WHEN contains({ref}, ',') THEN {comma} "
            f"ELSE TRY_CAST({ref} AS DOUBLE) END)")


def _date_value(ref: str) -> Query:
    """DATE of strict ``YYYY-MM-DD`` text (optionally with a midnight time), else NULL.

    The common exact form is checked by position, which is several times faster than a regex;
    DuckDB's own cast would also accept ``2020/01/01`` or ``2020-1-1``, which the format forbids.
    """
    return Query(
        f"CASE WHEN length({ref}) = 10 AND substr({ref}, 5, 1) = '-' AND substr({ref}, 8, 1) = '-' "
        f"THEN TRY_CAST({ref} AS DATE) "
        f"WHEN length({ref}) > 10 AND regexp_full_match({ref}, ?) THEN TRY_CAST(left({ref}, 10) AS DATE) END",
        (_DATE_RE,),
    )


def _readable(c: Column, ref: str, decimal_comma: bool = True) -> Query:
    """Boolean SQL: the non-empty text parses as the column's type (range aside)."""
    if c.type == "date":
        d = _date_value(ref)
        return Query(f"(({d.sql}) IS NOT NULL)", d.params)
    if c.type == "integer":
        n = _number_expr(ref, decimal_comma)
        return Query(f"(isfinite({n}) AND {n} = round({n}) AND abs({n}) <= 2147483647)")
    if c.type == "number":
        return Query(f"isfinite({_number_expr(ref, decimal_comma)})")
    if c.type == "bool":
        return Query(f"(lower({ref}) IN (SELECT unnest(?::VARCHAR[])))", (list(BOOL_TRUE + BOOL_FALSE),))
    if c.type == "code":
        canon = _canonical(c, ref)
        return Query(f"({canon.sql}) IS NOT NULL", canon.params)
    return Query("TRUE")


def _canonical(c: Column, ref: str) -> Query:
    """Canonical code for a case-insensitive code or synonym, else NULL."""
    keys = [code.lower() for code in c.codes] + list(c.synonyms)
    values = list(c.codes) + list(c.synonyms.values())
    return Query(f"(?::VARCHAR[])[list_position(?::VARCHAR[], lower({ref}))]", (values, keys))


def _value(c: Column, ref: str, decimal_comma: bool = True) -> Query:
    """Typed value (NULL when unreadable), before range checks."""
    if c.type == "date":
        return _date_value(ref)
    if c.type in ("integer", "number"):
        ok = _readable(c, ref, decimal_comma)
        cast = "INTEGER" if c.type == "integer" else "DOUBLE"
        return Query(f"CASE WHEN {ok.sql} THEN CAST({_number_expr(ref, decimal_comma)} AS {cast}) END", ok.params)
    if c.type == "bool":
        return Query(
            f"CASE WHEN lower({ref}) IN (SELECT unnest(?::VARCHAR[])) THEN TRUE "
            f"WHEN lower({ref}) IN (SELECT unnest(?::VARCHAR[])) THEN FALSE END",
            (list(BOOL_TRUE), list(BOOL_FALSE)),
        )
    if c.type == "code":
        return _canonical(c, ref)
    return Query(ref)


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


def _typed_value(c: Column, ref: str, decimal_comma: bool = True) -> Query:
    """Typed value, NULL when unreadable or out of range."""
    val = _value(c, ref, decimal_comma)
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
        f"({msg_sql.sql})::VARCHAR, ({pid_sql})::VARCHAR FROM {frm or t} WHERE {where.sql}"
    )
    return Query(sql, (sev, label, col, rule, *msg_sql.params, *where.params))


def _insert(con: duckdb.DuckDBPyConnection, queries: list[Query]) -> None:
    """Insert the union of issue queries (one statement, so DuckDB can run them in parallel)."""
    if not queries:
        return
    sql = "INSERT INTO issues " + "\nUNION ALL\n".join(q.sql for q in queries)
    params = [p for q in queries for p in q.params]
    con.execute(sql, params)


def _cell_checks(table: Table, label: str, present: set[str], decimal_comma: bool = True) -> list[Query]:
    """Queries for the rules that look at one cell at a time.

    They compare the parsed value with the source text, so the costly parse expressions only run
    again on the (few) cells that failed: DuckDB evaluates ``AND`` on the rows still selected.
    """
    t = table.name
    out: list[Query] = []
    for c in table.columns:
        raw, typed = _raw(c), _q(c.name)
        if c.required:
            out.append(_issue_select(t, label, c.name, "NULL", "missing_value",
                                     Query("?", (f"{c.name} is required",)), Query(f"{raw} IS NULL")))
        if c.name not in present or c.type == "text":
            continue
        ok = _readable(c, raw, decimal_comma)
        rule = {"date": "invalid_date", "integer": "invalid_number", "number": "invalid_number",
                "bool": "invalid_boolean", "code": "unknown_code"}[c.type]
        expect = {
            "date": "is not a date (expected YYYY-MM-DD)",
            "integer": "is not a whole number",
            "number": "is not a number",
            "bool": "is not yes/no (or true/false, 1/0)",
            "code": "is not a known code (allowed: " + ", ".join(c.codes) + ")",
        }[c.type]
        failed = f"{raw} IS NOT NULL AND {typed} IS NULL"
        msg = Query(f"printf(?, {raw})", (f"{c.name} '%s' {expect}",))
        if c.type in ("integer", "number"):
            msg = Query(
                f"printf(CASE WHEN contains({raw}, '_') THEN ? "
                f"WHEN NOT ? AND regexp_full_match({raw}, '{AMBIGUOUS_COMMA_RE}') THEN ? ELSE ? END, {raw})",
                (f"{c.name} '%s' is not a number: digit separators such as '_' are not read",
                 decimal_comma,
                 f"{c.name} '%s' is ambiguous: the comma may separate thousands or decimals in a comma-delimited "
                 "file; write the number without a thousands separator, with a decimal point",
                 f"{c.name} '%s' {expect}"))
        out.append(_issue_select(t, label, c.name, raw, rule, msg,
                                 Query(f"{failed} AND NOT coalesce({ok.sql}, FALSE)", ok.params)))
        if c.minimum is not None or c.maximum is not None:
            bounds = (f"{_fmt_bound(c.minimum)}–{_fmt_bound(c.maximum)}" if c.maximum is not None
                      else f"≥ {_fmt_bound(c.minimum)}")
            out.append(_issue_select(t, label, c.name, raw, "out_of_range",
                                     Query(f"printf(?, {raw})", (f"{c.name} %s is outside the allowed range {bounds}",)),
                                     Query(f"{failed} AND coalesce({ok.sql}, FALSE)", ok.params)))
        if c.plausible_max is not None:
            out.append(_issue_select(t, label, c.name, raw, "implausible_value",
                                     Query(f"printf(?, {raw})", (f"{c.name} %s is implausible (> {_fmt_bound(c.plausible_max)}); please check",)),
                                     Query(f"{typed} > {c.plausible_max!r}")))
        if c.synonyms:
            out.append(_issue_select(t, label, c.name, raw, "code_synonym",
                                     Query(f"printf(?, {raw}, {typed})", (f"{c.name} '%s' read as %s",)),
                                     Query(f"{typed} IS NOT NULL AND lower({raw}) <> lower({typed})")))
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


def decimal_comma_allowed(rt: RawTable | None) -> bool:
    """A decimal comma reads everywhere in a ``;``-delimited CSV; elsewhere only without another reading."""
    return rt is not None and rt.delimiter == ";"


def trim_unicode_whitespace(data: pa.Table) -> pa.Table:
    """Every text column with leading and trailing Unicode whitespace removed (tab, no-break space,
    ideographic space...), vectorised. Invisible format characters (zero-width space) are not
    whitespace: they stay, and are reported in identifiers."""
    import pyarrow.compute as pc

    cols = [pc.utf8_trim_whitespace(col) if pa.types.is_string(col.type) else col for col in data.columns]
    return pa.Table.from_arrays(cols, names=data.column_names)


def _load_parsed(con: duckdb.DuckDBPyConnection, table: Table, rt: RawTable | None) -> tuple[str, tuple[str, ...]]:
    """Create the parse table ``<table>``: trimmed text (``<col>__raw``, empty -> NULL) beside the
    typed value (``<col>``), all-empty rows dropped. Returns (file label, extra column names)."""
    data = rt.data if rt is not None else _empty_raw(table)
    present = rt.columns if rt is not None else table.column_names
    extras = tuple(c for c in present if c not in table.column_names)
    reserved = [e for e in extras if e.endswith("__raw") or e.startswith("_")]  # our working columns
    if reserved and rt is not None:
        raise CartregError(f"{rt.label}: column names starting with '_' or ending in '__raw' are reserved "
                           f"({', '.join(reserved)}); please rename them", 2)
    names = (*table.column_names, *extras)
    decimal_comma = decimal_comma_allowed(rt)
    data = trim_unicode_whitespace(data)
    outer, params = [], []
    for c in table.columns:
        if c.type != "text":
            outer.append(f"{_q(c.name)} AS {_raw(c)}")
        tv = _typed_value(c, _q(c.name), decimal_comma)
        outer.append(f"CAST({tv.sql} AS {c.sql_type}) AS {_q(c.name)}")
        params.extend(tv.params)
    outer.extend(_q(e) for e in extras)
    inner = []  # parameters follow the SQL text order: outer select first, then this subquery
    for name in names:
        if name in present:
            inner.append(f"NULLIF({_q(name)}, '') AS {_q(name)}")  # trimmed by trim_unicode_whitespace
        else:
            inner.append(f"NULL::VARCHAR AS {_q(name)}")
    con.register("raw_in", data)
    try:
        con.execute(
            f"CREATE OR REPLACE TABLE {table.name} AS SELECT {', '.join(outer)}, _row FROM "
            f"(SELECT {', '.join(inner)}, _row FROM raw_in) WHERE coalesce({', '.join(_q(n) for n in names)}) IS NOT NULL",
            params,
        )
    finally:
        con.unregister("raw_in")
    label = rt.label if rt is not None else f"{table.name}.csv"
    return label, extras


def _finish_typed(con: duckdb.DuckDBPyConnection, table: Table, extras: tuple[str, ...]) -> None:
    """Drop the source-text columns: the typed table keeps the schema columns, extras and ``_row``."""
    cols = ", ".join(_q(n) for n in (*table.column_names, *extras, "_row"))
    con.execute(f"CREATE TABLE {table.name}__typed AS SELECT {cols} FROM {table.name}")
    con.execute(f"DROP TABLE {table.name}")
    con.execute(f"ALTER TABLE {table.name}__typed RENAME TO {table.name}")


# ------------------------------------------------------------------------------- relational rules


#: The date column of each dependent table, checked against the patient's dates.
EVENT_DATE = {"infusions": "infusion_date", "responses": "assessment_date", "treatments": "start_date"}


def _create_contexts(con: duckdb.DuckDBPyConnection) -> None:
    """``ctx_<table>``: each dependent row with its patient's dates, joined once for all date rules.

    ``p1``/``i1`` hold the first patients/infusions row per patient_id (duplicates are reported, not
    used twice).
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE p1 AS SELECT patient_id, eligibility_date, last_contact_date, "
        "death_date, death_cause, death_date__raw IS NOT NULL AS death_given, _row "
        "FROM patients WHERE patient_id IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY patient_id ORDER BY _row) = 1"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE i1 AS SELECT patient_id, infusion_date, _row FROM infusions "
        "WHERE patient_id IS NOT NULL QUALIFY row_number() OVER (PARTITION BY patient_id ORDER BY _row) = 1"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE pi AS SELECT p1.patient_id, TRUE AS known, p1.eligibility_date AS elig, "
        "p1.last_contact_date AS lcd, p1.death_date AS dod, i1.infusion_date AS inf, "
        "i1.patient_id IS NOT NULL AS infused FROM p1 LEFT JOIN i1 USING (patient_id)"
    )
    for t, col in EVENT_DATE.items():
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE ctx_{t} AS SELECT x._row, x.patient_id, x.{col} AS d, "
            "coalesce(pi.known, FALSE) AS known, pi.elig, pi.lcd, pi.dod, pi.inf, coalesce(pi.infused, FALSE) AS infused "
            f"FROM {t} x LEFT JOIN pi ON x.patient_id = pi.patient_id WHERE x.patient_id IS NOT NULL"
        )


#: The date_after_cutoff message of each date column: what the analysis does with the record.
_CUTOFF_MESSAGE = {
    "eligibility_date": "eligibility_date %s is after the data cut-off %s: the patient is not in the analysed cohort",
    "infusion_date": "infusion_date %s is after the data cut-off %s: the patient is not in the analysed cohort",
    "assessment_date": "assessment_date %s is after the data cut-off %s: the analysis ignores this assessment",
    "start_date": "start_date %s is after the data cut-off %s: the analysis ignores this treatment",
    "death_date": "death_date %s is after the data cut-off %s: the analysis ignores it (censored at the cut-off)",
    "last_contact_date": "last_contact_date %s is after the data cut-off %s: follow-up ends at the cut-off",
}


def cutoff_message(col: str) -> str:
    """The printf template (date, cut-off) of a ``date_after_cutoff`` warning on column ``col``."""
    return _CUTOFF_MESSAGE.get(col, f"{col} %s is after the data cut-off %s: the analysis ignores it")


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
                               m("patient_id %s is not in patients", "patient_id"), Query("NOT known"),
                               frm=f"ctx_{t}"))
    q.append(_issue_select("infusions", I, "patient_id", "patient_id", "multiple_infusions",
                           m("second infusion of patient %s (first on row %d); v1 allows one", "patient_id", "first_row"),
                           Query("rn > 1"),
                           frm="(SELECT *, row_number() OVER w AS rn, min(_row) OVER w AS first_row FROM infusions "
                               "WHERE patient_id IS NOT NULL WINDOW w AS (PARTITION BY patient_id ORDER BY _row))"))
    # dates
    q.append(_issue_select("infusions", I, "infusion_date", "d", "infusion_before_eligibility",
                           m("infusion %s is before eligibility %s", "d", "elig"), Query("d < elig"),
                           frm="ctx_infusions"))
    for col in ("eligibility_date", "death_date"):
        q.append(_issue_select("patients", P, col, col, "event_after_last_contact",
                               m(f"{col} %s is after last_contact_date %s", col, "last_contact_date"),
                               Query(f"{col} > last_contact_date"), frm="patients"))
    for t, lab in (("infusions", I), ("responses", R), ("treatments", T)):
        col = EVENT_DATE[t]
        q.append(_issue_select(t, lab, col, "d", "event_after_last_contact",
                               m(f"{col} %s is after last_contact_date %s", "d", "lcd"), Query("d > lcd"),
                               frm=f"ctx_{t}"))
    q.append(_issue_select("patients", P, "death_date", "p1.death_date", "death_before_infusion",
                           m("death_date %s is before the infusion %s", "p1.death_date", "i1.infusion_date"),
                           Query("p1.death_date < i1.infusion_date"),
                           frm="p1 JOIN i1 USING (patient_id)", row_sql="p1._row", pid_sql="p1.patient_id"))
    for t, lab in (("responses", R), ("treatments", T)):
        col = EVENT_DATE[t]
        q.append(_issue_select(t, lab, col, "d", "event_after_death",
                               m(f"{col} %s is after death %s", "d", "dod"), Query("d > dod"), frm=f"ctx_{t}"))
    q.append(_issue_select("patients", P, "death_date", "death_date", "death_last_contact_mismatch",
                           m("death_date %s differs from last_contact_date %s; for a dead patient they are the same",
                             "death_date", "last_contact_date"),
                           Query("death_date <> last_contact_date"), frm="patients"))
    q.append(_issue_select("patients", P, "death_cause", "death_cause", "death_cause_without_death",
                           m("death_cause %s is given but death_date is empty", "death_cause"),
                           Query("death_cause__raw IS NOT NULL AND death_date__raw IS NULL")))  # source text
    if cutoff is not None:
        for table in TABLES:
            for col in date_columns(table):
                q.append(_issue_select(table.name, labels[table.name], col, col, "date_after_cutoff",
                                       Query(f"printf(?, {col}, ?::DATE)", (cutoff_message(col), cutoff)),
                                       Query(f"{col} > ?::DATE", (cutoff,)), frm=table.name))
    # warnings
    for t, lab in (("responses", R), ("treatments", T)):
        col = EVENT_DATE[t]
        q.append(_issue_select(t, lab, col, "d", "event_before_infusion",
                               m(f"{col} %s is on or before the infusion %s; analyses ignore it", "d", "inf"),
                               Query("d <= inf"), frm=f"ctx_{t}"))
        q.append(_issue_select(t, lab, "patient_id", "patient_id", "not_infused",
                               m(f"patient %s has {t} but no infusion; analyses ignore them", "patient_id"),
                               Query("known AND NOT infused"), frm=f"ctx_{t}"))
    q.append(_issue_select("responses", R, "response", "response", "conflicting_responses",
                           m("responses on %s disagree: %s", "assessment_date", "codes"), Query("rn > 1 AND n_codes > 1"),
                           # min <> max finds the conflicting dates cheaply; the code list and row
                           # numbers are built only for those.
                           frm="(SELECT unnest(rows[2:]) AS _row, unnest(codes[2:]) AS response, patient_id, "
                               "assessment_date, array_to_string(list_sort(list_distinct(codes)), ', ') AS codes, "
                               "2 AS rn, 2 AS n_codes FROM "
                               "(SELECT patient_id, assessment_date, list(_row ORDER BY _row) AS rows, "
                               "list(response ORDER BY _row) AS codes FROM responses "
                               "SEMI JOIN (SELECT patient_id, assessment_date FROM responses "
                               "WHERE response IS NOT NULL GROUP BY ALL HAVING min(response) <> max(response)) "
                               "USING (patient_id, assessment_date) WHERE response IS NOT NULL GROUP BY ALL))"))
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


#: Characters an identifier may not hold: controls, invisible format characters (zero-width space,
#: BOM, bidirectional marks) and line/paragraph separators (RE2 Unicode classes).
IDENTIFIER_FORBIDDEN_RE = r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]"


def _identifier_check(t: str, label: str) -> Query:
    """``invalid_identifier``: a patient_id holding a control or invisible character (a distinct
    patient that looks the same as another).

    Checked on every ``patients`` row, and on the rows of the other tables whose patient_id is not
    in ``patients`` (an id that is in ``patients`` was checked there): the regex runs once per
    patient, not once per response.
    """
    frm = "patients" if t == "patients" else f"(SELECT _row, patient_id FROM ctx_{t} WHERE NOT known)"
    return _issue_select(t, label, "patient_id", "patient_id", "invalid_identifier",
                         Query("?", ("patient_id holds a control or invisible character (shown escaped); "
                                     "identifiers must be visible text",)),
                         Query("regexp_matches(patient_id, ?)", (IDENTIFIER_FORBIDDEN_RE,)), frm=frm)


def _identity_checks(labels: dict[str, str], today: dt.date) -> list[Query]:
    """Identifiers differing only by case (a warning) and dates after the import date (errors)."""
    P = labels["patients"]
    q = [_issue_select("patients", P, "patient_id", "x.patient_id", "patient_id_case",
                       Query("printf(?, x.patient_id, k.first_id, k.first_row)",
                             ("patient_id %s differs only by case from %s (row %d): they are two patients; "
                              "check that they are not the same one",)),
                       Query("x.patient_id <> k.first_id"),
                       frm="p1 x JOIN (SELECT lower(patient_id) AS k, arg_min(patient_id, _row) AS first_id, "
                           "min(_row) AS first_row FROM p1 GROUP BY 1 HAVING count(*) > 1) k "
                           "ON lower(x.patient_id) = k.k",
                       row_sql="x._row", pid_sql="x.patient_id")]
    for table in TABLES:
        for col in date_columns(table):
            q.append(_issue_select(table.name, labels[table.name], col, col, "date_in_future",
                                   Query(f"printf(?, {col}, ?::DATE)",
                                         (f"{col} %s is after today ({today.isoformat()}), the import date: "
                                          "a typing error?", today)),
                                   Query(f"{col} > ?::DATE", (today,)), frm=table.name))
    return q


#: The inferred cut-off is suspicious when it is more than this many days after the 99th percentile.
CUTOFF_OUTLIER_DAYS = 365


def _inferred_cutoff_check(con: duckdb.DuckDBPyConnection, labels: dict[str, str]) -> None:
    """``inferred_cutoff_outlier``: the latest date (the inferred cut-off) is more than a year after
    the 99th percentile (``quantile_disc``) of every date in the registry.

    A single mistyped year (2202) would otherwise move the cut-off and every censoring time. A first
    pass counts the dates within a year of the latest one; the percentile is computed only when
    fewer than 1% of dates are (it is then the only way the rule can fire).
    """
    cols = [(t.name, c) for t in TABLES for c in date_columns(t)]
    latest = con.execute("SELECT greatest(" + ", ".join(f"(SELECT max({c}) FROM {t})" for t, c in cols)
                         + ")").fetchone()[0]
    if latest is None:
        return
    limit = latest - dt.timedelta(days=CUTOFF_OUTLIER_DAYS)
    counts = con.execute(
        "SELECT " + " + ".join(f"(SELECT count({c}) FROM {t})" for t, c in cols) + ", "
        + " + ".join(f"(SELECT coalesce(count_if({c} >= ?::DATE), 0) FROM {t})" for t, c in cols), [limit] * len(cols)
    ).fetchone()
    n, near = int(counts[0]), int(counts[1])
    if near > 0.01 * n + 1:
        return
    union = " UNION ALL ".join(f"SELECT {c} AS d FROM {t}" for t, c in cols)
    p99 = con.execute(f"SELECT quantile_disc(d, 0.99) FROM ({union}) WHERE d IS NOT NULL").fetchone()[0]
    if p99 is None or (latest - p99).days <= CUTOFF_OUTLIER_DAYS:
        return
    where = " UNION ALL ".join(
        f"SELECT ? AS file, _row, ? AS col, patient_id FROM {t} WHERE {c} = ?::DATE" for t, c in cols)
    params = [x for t, c in cols for x in (labels[t], c, latest)]
    hit = con.execute(f"SELECT * FROM ({where}) ORDER BY _row LIMIT 1", params).fetchone()
    con.execute("INSERT INTO issues VALUES ('warning', ?, ?, ?, ?, 'inferred_cutoff_outlier', ?, ?)", [
        hit[0], hit[1], hit[2], latest.isoformat(),
        f"the inferred data cut-off {latest.isoformat()} (the latest date) is more than a year after 99% of the "
        f"dates (99th percentile {p99.isoformat()}): a typing error? Fix it, or give --cutoff", hit[3]])


def _duplicate_row_checks(labels: dict[str, str], extras: dict[str, tuple[str, ...]]) -> list[Query]:
    """Rows equal in every column (as text) to an earlier row; GROUP BY treats NULLs as equal."""
    out = []
    for table in TABLES:
        cols = ", ".join([_raw(c) for c in table.columns] + [_q(e) for e in extras[table.name]])
        t = table.name
        out.append(_issue_select(t, labels[t], None, "NULL", "duplicate_row",
                                 Query("printf(?, first_row)", ("same as row %d",)), Query("TRUE"),
                                 frm=f"(SELECT unnest(rows[2:]) AS _row, rows[1] AS first_row, patient_id FROM "
                                     f"(SELECT list(_row ORDER BY _row) AS rows, patient_id FROM {t} "
                                     f"GROUP BY {cols} HAVING count(*) > 1))"))
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


def validate_raw(con: duckdb.DuckDBPyConnection, raw: RawRegistry, cutoff: dt.date | None,
                 today: dt.date | None = None) -> ValidationReport:
    """Build the typed tables ``patients, infusions, responses, treatments`` in ``con`` and validate.

    ``today`` is the import date (default: today): a later date is a ``date_in_future`` error.

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
        label, ex = _load_parsed(con, table, rt)
        labels.setdefault(table.name, label)
        extras[table.name] = ex
        present = set(rt.columns) if rt is not None else set()
        cell_queries.extend(_cell_checks(table, labels[table.name], present, decimal_comma_allowed(rt)))
    _read_problems(con, raw, labels, extras)
    _insert(con, cell_queries)
    _create_contexts(con)
    _insert(con, _relational_checks(labels, cutoff))
    _insert(con, _identity_checks(labels, dt.date.today() if today is None else today)
            + [_identifier_check(t, labels[t]) for t in ("patients", *EVENT_DATE)])
    _insert(con, _duplicate_row_checks(labels, extras))
    if cutoff is None:
        _inferred_cutoff_check(con, labels)
    con.execute("DROP TABLE p1; DROP TABLE i1; DROP TABLE pi; DROP TABLE ctx_infusions; DROP TABLE ctx_responses; "
                "DROP TABLE ctx_treatments")
    for table in TABLES:
        _finish_typed(con, table, extras[table.name])
    return ValidationReport(fetch_sorted_issues(con, "issues", [labels[t.name] for t in TABLES]), str(raw.path))


def fetch_sorted_issues(con: duckdb.DuckDBPyConnection, table: str, file_order: list[str]) -> pa.Table:
    """Issues ordered by severity, file (table order), row, column, rule."""
    return con.sql(
        f'SELECT * FROM {table} ORDER BY list_position([\'error\', \'warning\', \'note\'], severity), '
        f'coalesce(list_position(?::VARCHAR[], file), 99), file, "row" NULLS FIRST, "column", rule',
        params=[file_order],
    ).to_arrow_table()  # typed by ValidationReport (which adds target_column when absent)
