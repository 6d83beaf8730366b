"""Per-patient endpoints of the late-failure analysis, derived in DuckDB SQL.

Every rule here has a section of the same name in ``docs/endpoints.md`` with a worked example.
Each step is a small pure function returning a named SQL statement; :func:`derive_endpoints` runs
them in order on a connection that holds the registry tables (``patients``, ``infusions``,
``responses``, ``treatments``, typed as in ``docs/data-format.md``). Values are bound parameters.

Conventions (docs/endpoints.md, *Conventions*):

* times are whole days between dates (``date - date`` in SQL);
* "after X" means strictly later than X's date;
* responses and treatments dated on or before the infusion date are ignored, and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import duckdb
import numpy as np
import pyarrow as pa

from cartreg.endpoints.treatment_classes import (
    CLASSES,
    DEFAULT_PRECEDENCE,
    NOT_TREATMENT,
    ClassMap,
    load_class_map,
    normalise_key,
    validate_precedence,
)
from cartreg.errors import CartregError

#: Days in a month (365.25 / 12). Months are for display only; every rule works in days.
DAYS_PER_MONTH = 30.4375

#: Best-response ranking (higher is better). CR/CMR > PR/PMR > SD/NMR > PD/PMD > NE.
#: PD only matters after failure (the CAR T window ends before the failure date).
RESPONSE_RANK: dict[str, int] = {"CR": 5, "CMR": 5, "PR": 4, "PMR": 4, "SD": 3, "NMR": 3, "PD": 2, "PMD": 2, "NE": 1}
RANK_LABEL: dict[int, str] = {5: "CR", 4: "PR", 3: "SD", 2: "PD", 1: "NE"}

TreatedOrigin = Literal["treatment_start", "failure"]

#: Baseline columns carried into the per-patient table when the registry has them.
BASELINE_PATIENT_COLUMNS = (
    "center", "sex", "age", "histology", "eligibility_date", "stage", "aaipi", "prior_lines",
    "prior_auto_hsct", "prior_allo_hsct", "death_cause",
)
BASELINE_INFUSION_COLUMNS = (
    "ecog", "ldh_elevated", "bulky", "ferritin_ug_l", "crp_mg_dl", "bridging", "crs_grade", "icans_grade",
)

_FAR = "DATE '9999-12-31'"  # stands for "no such date" inside LEAST/comparisons


@dataclass(frozen=True)
class EndpointRules:
    """The parameters of the derivation rules (docs/endpoints.md).

    late_after_days: a failure is *late* when time to failure > this (default 91.3125 = 3 months).
    min_untreated_followup_days: follow-up after failure needed to call a patient *untreated*.
    class_precedence: order in which combined classes decide a treatment's class (``other`` last).
    treated_origin: origin of PFS-2 and of by-class comparisons: ``treatment_start`` or ``failure``.
    """

    late_after_days: float = 91.3125
    min_untreated_followup_days: int = 30
    class_precedence: tuple[str, ...] = DEFAULT_PRECEDENCE
    treated_origin: TreatedOrigin = "treatment_start"

    def __post_init__(self) -> None:
        if not np.isfinite(self.late_after_days) or self.late_after_days < 0:
            raise CartregError(f"late_after_days must be a non-negative number, got {self.late_after_days!r}")
        if self.min_untreated_followup_days < 0:
            raise CartregError("min_untreated_followup_days must be >= 0")
        if self.treated_origin not in ("treatment_start", "failure"):
            raise CartregError(f"treated_origin must be treatment_start or failure, got {self.treated_origin!r}")
        object.__setattr__(self, "class_precedence", validate_precedence(self.class_precedence))


@dataclass(frozen=True)
class Step:
    """One named SQL statement of the derivation."""

    name: str
    sql: str
    params: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoints:
    """Result of :func:`derive_endpoints`.

    patients: one row per infused patient (columns documented in docs/endpoints.md, *Per-patient table*).
    regimens: distinct regimen texts with their class and number of rows (after-infusion treatments).
    ignored: counts of records the rules ignore (e.g. responses on or before the infusion date).
    registered: number of registered patients.
    rules: the rules used.
    class_map_source: where the regimen-to-class table came from.
    """

    patients: pa.Table
    regimens: pa.Table
    ignored: dict[str, int]
    registered: int
    rules: EndpointRules
    class_map_source: str

    @property
    def unmapped_regimens(self) -> list[tuple[str, int]]:
        """Regimen texts classified ``other`` because no drug was recognised, with their row counts."""
        # plain Python over the few distinct texts (an Arrow filter would make pyarrow import pandas)
        return [(r["regimen"], r["n_rows"]) for r in self.regimens.to_pylist() if r["recognised"] is False]


# --- steps ------------------------------------------------------------------------------------


def step_infused(baseline_cols: list[str] | tuple[str, ...] = ()) -> Step:
    """Infused cohort: patients with an infusion row carrying a date.

    The later steps key each infused patient by this table's ``rowid`` (``pid``): their joins and
    group-bys run on integers instead of patient_id text. The baseline columns (``pt.<col>``,
    ``inf.<col>``) are carried here, from the one join of ``patients`` and ``infusions``.
    """
    baseline = "".join(f", {c}" for c in baseline_cols)
    return Step(
        "ep_infused",
        f"""
        CREATE OR REPLACE TEMP TABLE ep_infused AS
        SELECT pt.patient_id, inf.infusion_date, inf.product, pt.last_contact_date, pt.death_date
               {baseline}
        FROM patients pt JOIN infusions inf ON inf.patient_id = pt.patient_id
        WHERE inf.infusion_date IS NOT NULL
        """,
    )


def step_responses() -> Step:
    """Assessments strictly after the infusion date, with their rank (RESPONSE_RANK)."""
    cases = " ".join(f"WHEN '{code}' THEN {rank}" for code, rank in RESPONSE_RANK.items())
    return Step(
        "ep_resp",
        f"""
        CREATE OR REPLACE TEMP TABLE ep_resp AS
        SELECT i.rowid AS pid, r.assessment_date AS d,
               r.response IN ('PD', 'PMD') AS is_pd,
               CASE r.response {cases} END AS rnk
        FROM responses r JOIN ep_infused i ON r.patient_id = i.patient_id
        WHERE r.assessment_date > i.infusion_date AND r.response IS NOT NULL
        """,
    )


def step_treatments() -> Step:
    """Treatments strictly after the infusion date, with the class of their regimen text."""
    return Step(
        "ep_tx",
        """
        CREATE OR REPLACE TEMP TABLE ep_tx AS
        SELECT i.rowid AS pid, t.start_date, t.regimen, c.regimen_key, c.class, c.prec
        FROM treatments t
        JOIN ep_infused i ON t.patient_id = i.patient_id
        JOIN ep_regimen_class c ON c.regimen = t.regimen
        WHERE t.start_date > i.infusion_date
        """,
    )


def step_car_t() -> Step:
    """Failure, relapse vs progression, and the CAR T response window, per infused patient.

    failure_date: first date after infusion with a PD/PMD (a PD wins over other responses that day).
    cr_before_failure: a CR/CMR strictly between infusion and failure (relapse; else progression).
    window_end: the earlier of the failure date and the first treatment after infusion; the best
    response to CAR T uses assessments strictly before it.
    """
    return Step(
        "ep_core",
        f"""
        CREATE OR REPLACE TEMP TABLE ep_core AS
        WITH fail AS (
            SELECT pid, min(d) AS failure_date FROM ep_resp WHERE is_pd GROUP BY pid
        ), first_any_tx AS (
            SELECT pid, min(start_date) AS first_tx_after_infusion FROM ep_tx GROUP BY pid
        ), base AS (
            SELECT i.rowid AS pid, f.failure_date, a.first_tx_after_infusion,
                   LEAST(coalesce(f.failure_date, {_FAR}), coalesce(a.first_tx_after_infusion, {_FAR})) AS window_end
            FROM ep_infused i
            LEFT JOIN fail f ON f.pid = i.rowid
            LEFT JOIN first_any_tx a ON a.pid = i.rowid
        ), car AS (
            SELECT r.pid,
                   max(r.rnk) FILTER (WHERE r.d < b.window_end) AS best_rnk,
                   bool_or(r.rnk = 5 AND r.d < b.failure_date) AS cr_before_failure
            FROM ep_resp r JOIN base b ON b.pid = r.pid
            GROUP BY r.pid
        )
        SELECT b.pid, b.failure_date, b.first_tx_after_infusion, b.window_end,
               c.best_rnk, coalesce(c.cr_before_failure, false) AS cr_before_failure
        FROM base b LEFT JOIN car c ON c.pid = b.pid
        """,
    )


def step_first_treatment() -> Step:
    """First treatment after failure: the earliest start_date >= failure date.

    Regimens starting that same day form one treatment; its class is the one of highest
    precedence (lowest ``prec``); its text lists the distinct regimens, sorted, joined by `` + ``.
    Most first treatments are one regimen (the same text on every row of that day: ``rmin = rmax``);
    only the others go through the slower ordered, distinct aggregates.
    """
    return Step(
        "ep_first_tx",
        """
        CREATE OR REPLACE TEMP TABLE ep_first_tx AS
        WITH cand AS (
            SELECT t.* FROM ep_tx t JOIN ep_core c ON c.pid = t.pid
            WHERE c.failure_date IS NOT NULL AND t.start_date >= c.failure_date
        ), first_date AS (
            SELECT pid, min(start_date) AS tx_date FROM cand GROUP BY pid
        ), first_day AS (
            SELECT f.pid, f.tx_date, arg_min(c.class, c.prec) AS tx_class,
                   min(c.regimen) AS rmin, max(c.regimen) AS rmax
            FROM first_date f JOIN cand c ON c.pid = f.pid AND c.start_date = f.tx_date
            GROUP BY f.pid, f.tx_date
        ), combined AS (
            SELECT c.pid,
                   string_agg(DISTINCT c.regimen, ' + ' ORDER BY c.regimen) AS tx_regimen,
                   count(DISTINCT c.regimen_key) AS tx_n_regimens
            FROM first_day d JOIN cand c ON c.pid = d.pid AND c.start_date = d.tx_date
            WHERE d.rmin <> d.rmax
            GROUP BY c.pid
        )
        SELECT d.pid, d.tx_date, d.tx_class,
               coalesce(m.tx_regimen, d.rmin) AS tx_regimen,
               coalesce(m.tx_n_regimens, 1) AS tx_n_regimens
        FROM first_day d LEFT JOIN combined m ON m.pid = d.pid
        """,
    )


def step_after_first_treatment() -> Step:
    """Second progression and the post-failure response window.

    pd2_date: first PD/PMD strictly after the first treatment's start.
    next_tx_date: start of a later, *different* treatment: a start date after the first treatment's
    whose regimen (compared by normalised text) is not one of the first treatment's regimens.
    post_rnk: best assessment after the start, up to and including pd2_date, strictly before next_tx_date.
    """
    return Step(
        "ep_post",
        f"""
        CREATE OR REPLACE TEMP TABLE ep_post AS
        WITH after AS (
            SELECT r.pid, r.d, r.is_pd, r.rnk
            FROM ep_resp r JOIN ep_first_tx f ON f.pid = r.pid AND r.d > f.tx_date
        ), pd2 AS (
            SELECT pid, min(d) AS pd2_date FROM after WHERE is_pd GROUP BY pid
        ), first_keys AS (
            SELECT t.pid, t.regimen_key
            FROM ep_tx t JOIN ep_first_tx f ON f.pid = t.pid AND t.start_date = f.tx_date
        ), nxt AS (
            SELECT f.pid, min(t.start_date) AS next_tx_date
            FROM ep_first_tx f
            JOIN ep_tx t ON t.pid = f.pid AND t.start_date > f.tx_date
            ANTI JOIN first_keys k ON k.pid = t.pid AND k.regimen_key = t.regimen_key
            GROUP BY f.pid
        ), win AS (
            SELECT f.pid, p.pd2_date, n.next_tx_date
            FROM ep_first_tx f
            LEFT JOIN pd2 p ON p.pid = f.pid
            LEFT JOIN nxt n ON n.pid = f.pid
        ), post AS (
            SELECT a.pid, max(a.rnk) AS post_rnk
            FROM after a JOIN win w ON w.pid = a.pid
            WHERE a.d <= coalesce(w.pd2_date, {_FAR}) AND a.d < coalesce(w.next_tx_date, {_FAR})
            GROUP BY a.pid
        )
        SELECT w.pid, w.pd2_date, w.next_tx_date, p.post_rnk
        FROM win w LEFT JOIN post p ON p.pid = w.pid
        """,
    )


def step_patient_table(rules: EndpointRules, baseline_cols: list[str]) -> Step:
    """The per-patient endpoint table (one row per infused patient), ordered by patient_id.

    ``baseline_cols`` are the baseline columns carried by ``ep_infused`` (see :func:`step_infused`).
    A query, not a table: :func:`derive_endpoints` fetches it straight into Arrow.
    """
    labels = " ".join(f"WHEN {rank} THEN '{label}'" for rank, label in RANK_LABEL.items())
    baseline = "".join(f", x.{c}" for c in baseline_cols)
    origin = "c.failure_date" if rules.treated_origin == "failure" else "f.tx_date"
    return Step(
        "ep_patients",
        f"""
        WITH x AS (
            SELECT i.*, c.failure_date, c.first_tx_after_infusion, c.best_rnk, c.cr_before_failure,
                   f.tx_date, f.tx_class, f.tx_regimen, f.tx_n_regimens, p.pd2_date, p.next_tx_date, p.post_rnk,
                   i.death_date IS NOT NULL AS dead,
                   c.failure_date IS NOT NULL AS failed,
                   {origin} AS treated_origin_date
            FROM ep_infused i
            JOIN ep_core c ON c.pid = i.rowid
            LEFT JOIN ep_first_tx f ON f.pid = i.rowid
            LEFT JOIN ep_post p ON p.pid = i.rowid
        )
        SELECT x.patient_id, x.infusion_date, x.product, x.last_contact_date, x.death_date, x.dead,
               x.failed, x.failure_date,
               x.failure_date - x.infusion_date AS ttf_days,
               CASE WHEN NOT x.failed THEN NULL WHEN x.cr_before_failure THEN 'relapse' ELSE 'progression' END
                   AS failure_type,
               CASE WHEN NOT x.failed THEN NULL ELSE (x.failure_date - x.infusion_date) > $late_after_days END AS late,
               x.first_tx_after_infusion,
               CASE x.best_rnk {labels} END AS best_response,
               CASE WHEN NOT x.failed THEN NULL
                    WHEN x.tx_date IS NOT NULL THEN 'treated'
                    WHEN x.dead OR x.last_contact_date - x.failure_date >= $min_fu THEN 'untreated'
                    ELSE 'unknown' END AS tx_status,
               x.tx_date, x.tx_date - x.failure_date AS tx_gap_days, x.tx_class, x.tx_regimen, x.tx_n_regimens,
               CASE WHEN x.tx_date IS NULL THEN NULL ELSE CASE x.post_rnk {labels} END END AS post_best_response,
               x.pd2_date, x.next_tx_date,
               -- OS-2: failure -> death, censored at last contact
               CASE WHEN x.failed THEN coalesce(x.death_date, x.last_contact_date) - x.failure_date END AS os2_days,
               CASE WHEN x.failed THEN x.dead END AS os2_event,
               -- PFS-2 and OS-2 among the treated, from the treated origin
               x.treated_origin_date,
               CASE WHEN x.tx_date IS NOT NULL THEN
                    CASE WHEN x.pd2_date IS NOT NULL OR x.dead
                         THEN LEAST(coalesce(x.pd2_date, {_FAR}), coalesce(x.death_date, {_FAR}))
                         ELSE x.last_contact_date END - x.treated_origin_date END AS pfs2_days,
               CASE WHEN x.tx_date IS NOT NULL THEN x.pd2_date IS NOT NULL OR x.dead END AS pfs2_event,
               CASE WHEN x.tx_date IS NOT NULL THEN
                    coalesce(x.death_date, x.last_contact_date) - x.treated_origin_date END AS os2_treated_days,
               CASE WHEN x.tx_date IS NOT NULL THEN x.dead END AS os2_treated_event,
               -- competing risks from infusion: 1 = failure, 2 = death without failure, 0 = censored
               CASE WHEN x.failed THEN x.failure_date - x.infusion_date
                    ELSE coalesce(x.death_date, x.last_contact_date) - x.infusion_date END AS cif_days,
               CASE WHEN x.failed THEN 1 WHEN x.dead THEN 2 ELSE 0 END AS cif_status,
               -- overall survival from infusion (for plans measured from infusion)
               coalesce(x.death_date, x.last_contact_date) - x.infusion_date AS os_days,
               x.dead AS os_event
               {baseline}
        FROM x
        ORDER BY x.patient_id
        """,
        {"late_after_days": float(rules.late_after_days), "min_fu": int(rules.min_untreated_followup_days)},
    )


def step_ignored_counts() -> Step:
    """Records the rules ignore, counted (they are reported, never silently dropped).

    One pass over each of ``responses`` and ``treatments`` (a left join to the infused cohort).
    """
    return Step(
        "ignored",
        """
        WITH r AS (
            SELECT count(*) FILTER (WHERE i.patient_id IS NOT NULL AND r.assessment_date <= i.infusion_date) AS before,
                   count(*) FILTER (WHERE i.patient_id IS NULL) AS not_infused
            FROM responses r LEFT JOIN ep_infused i ON i.patient_id = r.patient_id
        ), t AS (
            SELECT count(*) FILTER (WHERE i.patient_id IS NOT NULL AND t.start_date <= i.infusion_date) AS before,
                   count(*) FILTER (WHERE i.patient_id IS NULL) AS not_infused
            FROM treatments t LEFT JOIN ep_infused i ON i.patient_id = t.patient_id
        )
        SELECT r.before AS responses_on_or_before_infusion,
               t.before AS treatments_on_or_before_infusion,
               r.not_infused AS responses_of_patients_not_infused,
               t.not_infused AS treatments_of_patients_not_infused
        FROM r, t
        """,
    )


# --- driver -----------------------------------------------------------------------------------


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
    ).fetchall()
    return {r[0] for r in rows}


def _regimen_classes(
    con: duckdb.DuckDBPyConnection, class_map: ClassMap, precedence: tuple[str, ...]
) -> pa.Table:
    """Classify each *distinct* regimen text once (not per patient) and register the lookup table."""
    rows = con.execute(
        "SELECT regimen, count(*) AS n FROM treatments WHERE regimen IS NOT NULL GROUP BY regimen ORDER BY regimen"
    ).fetchall()
    texts = [r[0] for r in rows]
    classes = [class_map.classify(t, precedence) for t in texts]
    rank = {c: i for i, c in enumerate(precedence)}
    other_rank = len(precedence)
    # The lookup table goes in as bound list parameters (no Arrow registration of Python objects).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE ep_regimen_class AS
        SELECT * FROM (
            SELECT unnest($regimen::VARCHAR[]) AS regimen, unnest($regimen_key::VARCHAR[]) AS regimen_key,
                   unnest($class::VARCHAR[]) AS class, unnest($prec::INTEGER[]) AS prec,
                   unnest($recognised::BOOLEAN[]) AS recognised, unnest($n_rows::BIGINT[]) AS n_rows
        )
        """,
        {
            "regimen": texts,
            "regimen_key": [normalise_key(t) for t in texts],
            "class": classes,
            "prec": [rank.get(c, other_rank) for c in classes],
            "recognised": [class_map.recognises(t) for t in texts],
            "n_rows": [int(r[1]) for r in rows],
        },
    )
    return con.sql("SELECT * FROM ep_regimen_class ORDER BY regimen").to_arrow_table()


def _drop_not_treatment(con: duckdb.DuckDBPyConnection) -> None:
    """Rule 6 (docs/endpoints.md): entries of class ``none`` (best supportive care, a corticosteroid
    alone, transfusion...) are not treatments. Removing them from the regimen lookup leaves them out of
    ``ep_tx``, so no rule sees them: a patient whose only entries after failure are ``none`` is untreated.
    ``Endpoints.regimens`` (returned before this step) still lists them, for the report's note.
    """
    con.execute("DELETE FROM ep_regimen_class WHERE class = $none", {"none": NOT_TREATMENT})


def derive_endpoints(
    con: duckdb.DuckDBPyConnection,
    rules: EndpointRules | None = None,
    class_map: ClassMap | None = None,
) -> Endpoints:
    """Derive every per-patient endpoint of docs/endpoints.md from the registry tables in ``con``.

    The connection must hold ``patients``, ``infusions``, ``responses`` and ``treatments`` with the
    columns of docs/data-format.md. Temporary ``ep_*`` tables are created on the connection.

    >>> import duckdb
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE patients AS SELECT '1' AS patient_id, DATE '2021-01-01' AS last_contact_date, "
    ...                 "NULL::DATE AS death_date")
    >>> _ = con.execute("CREATE TABLE infusions AS SELECT '1' AS patient_id, DATE '2020-01-01' AS infusion_date, "
    ...                 "'axi-cel' AS product")
    >>> _ = con.execute("CREATE TABLE responses AS SELECT '1' AS patient_id, DATE '2020-06-01' AS assessment_date, "
    ...                 "'PMD' AS response")
    >>> _ = con.execute("CREATE TABLE treatments AS SELECT '1' AS patient_id, DATE '2020-06-10' AS start_date, "
    ...                 "'R-GemOx' AS regimen")
    >>> ep = derive_endpoints(con)
    >>> ep.patients.column("ttf_days").to_pylist(), ep.patients.column("tx_class").to_pylist()
    ([152], ['chemotherapy'])
    """
    rules = rules or EndpointRules()
    class_map = class_map or load_class_map()
    for table in ("patients", "infusions", "responses", "treatments"):
        if not _columns(con, table):
            raise CartregError(f"the registry has no {table} table")
    regimens = _regimen_classes(con, class_map, rules.class_precedence)
    _drop_not_treatment(con)
    pcols, icols = _columns(con, "patients"), _columns(con, "infusions")
    baseline = [c for c in BASELINE_PATIENT_COLUMNS if c in pcols] + [c for c in BASELINE_INFUSION_COLUMNS if c in icols]
    qualified = [f"pt.{c}" if c in BASELINE_PATIENT_COLUMNS else f"inf.{c}" for c in baseline]
    steps = [
        step_infused(qualified),
        step_responses(),
        step_treatments(),
        step_car_t(),
        step_first_treatment(),
        step_after_first_treatment(),
        step_patient_table(rules, baseline),
    ]
    *tables, table_step = steps
    for step in tables:
        con.execute(step.sql, step.params or None)
    patients = con.sql(table_step.sql, params=table_step.params or None).to_arrow_table()
    ignored_step = step_ignored_counts()
    cur = con.execute(ignored_step.sql)
    names = [d[0] for d in cur.description]
    ignored = dict(zip(names, (int(v) for v in cur.fetchall()[0])))
    registered = int(con.execute("SELECT count(*) FROM patients").fetchall()[0][0])
    return Endpoints(
        patients=patients,
        regimens=regimens,
        ignored=ignored,
        registered=registered,
        rules=rules,
        class_map_source=class_map.source,
    )


__all__ = [
    "CLASSES",
    "DAYS_PER_MONTH",
    "EndpointRules",
    "Endpoints",
    "derive_endpoints",
]
