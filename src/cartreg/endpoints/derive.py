"""Per-patient endpoints of the late-failure analysis, derived in DuckDB SQL.

Every rule here has a section of the same name in ``docs/endpoints.md`` with a worked example.
Each step is a small pure function returning a named SQL statement; :func:`derive_endpoints` runs
them in order on a connection that holds the registry tables (``patients``, ``infusions``,
``responses``, ``treatments``, typed as in ``docs/data-format.md``). Values are bound parameters.

Conventions (docs/endpoints.md, *Conventions*):

* times are whole days between dates (``date - date`` in SQL);
* "after X" means strictly later than X's date;
* responses and treatments dated on or before the infusion date are ignored, and counted;
* with a data cut-off, records dated after it do not exist and follow-up ends at it (*Data freeze*).

The rules of issue 10 (data freeze, failure-treatment window, PFS censored at the last assessment
after Cheson et al. 2014, lymphoma death as failure, line of treatment) each have a parameter of
:class:`EndpointRules` whose other value gives the rule before it.
"""

from __future__ import annotations

import datetime as dt
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
PfsCensoring = Literal["last-assessment", "last-contact"]
PFS_CENSORING = ("last-assessment", "last-contact")
CutoffRule = Literal["censor", "drop-patients"]
CUTOFF_RULES = ("censor", "drop-patients")

#: Keys of ``Endpoints.after_cutoff`` (results.json ``ignored_records.after_cutoff``), in order.
AFTER_CUTOFF_KEYS = ("responses", "treatments", "deaths", "last_contacts_truncated", "registered_after_cutoff",
                     "infused_after_cutoff")

#: Baseline columns carried into the per-patient table when the registry has them.
BASELINE_PATIENT_COLUMNS = (
    "center", "sex", "age", "histology", "eligibility_date", "stage", "aaipi", "prior_lines",
    "prior_auto_hsct", "prior_allo_hsct", "death_cause",
)
BASELINE_INFUSION_COLUMNS = (
    "ecog", "ldh_elevated", "bulky", "ferritin_ug_l", "crp_mg_dl", "bridging", "crs_grade", "icans_grade",
)

_FAR = "DATE '9999-12-31'"  # stands for "no such date" inside LEAST/comparisons

#: The date columns of each registry table (docs/data-format.md), for the data freeze.
_DATE_COLUMNS = {
    "patients": ["eligibility_date", "last_contact_date", "death_date"],
    "infusions": ["infusion_date"],
    "responses": ["assessment_date"],
    "treatments": ["start_date"],
}


@dataclass(frozen=True)
class EndpointRules:
    """The parameters of the derivation rules (docs/endpoints.md).

    late_after_days: a failure is *late* when time to failure > this (default 91.3125 = 3 months).
    min_untreated_followup_days: follow-up after failure needed to call a patient *untreated*.
    class_precedence: order in which combined classes decide a treatment's class (``other`` last).
    treated_origin: origin of PFS-2 and of by-class comparisons: ``treatment_start`` or ``failure``.
    failure_treatment_window_days: a treatment started up to this many days before the failure date
        (and strictly after the last assessment before it) is the first post-failure treatment
        (default 30; 0 = on or after the failure date only, the rule before issue 10).
    pfs_censoring: ``last-assessment`` (default; Cheson 2014, FDA 2018) censors PFS-2 and the
        cumulative incidence of failure at the last adequate disease assessment; ``last-contact``
        censors them at the last contact (the rule before issue 10).
    lymphoma_death_as_failure: a death from lymphoma without a recorded PD/PMD is a failure
        (progression) on the death date (default True; False = a death without failure).
    line_window_days: regimens started within this many days of the first post-failure treatment
        form its line (default 14; 0 = the same day only, the rule before issue 10).
    data_cutoff: the data freeze; every record dated after it is ignored and follow-up ends at it
        (None = no freeze applied).
    cutoff_rule: ``censor`` (default, above) or ``drop-patients``: every patient with any date after
        the cut-off is left out, as ``--cutoff --drop-invalid`` did before issue 10.
    """

    late_after_days: float = 91.3125
    min_untreated_followup_days: int = 30
    class_precedence: tuple[str, ...] = DEFAULT_PRECEDENCE
    treated_origin: TreatedOrigin = "treatment_start"
    failure_treatment_window_days: int = 30
    pfs_censoring: PfsCensoring = "last-assessment"
    lymphoma_death_as_failure: bool = True
    line_window_days: int = 14
    data_cutoff: dt.date | None = None
    cutoff_rule: CutoffRule = "censor"

    def __post_init__(self) -> None:
        if not np.isfinite(self.late_after_days) or self.late_after_days < 0:
            raise CartregError(f"late_after_days must be a non-negative number, got {self.late_after_days!r}")
        if self.min_untreated_followup_days < 0:
            raise CartregError("min_untreated_followup_days must be >= 0")
        if self.treated_origin not in ("treatment_start", "failure"):
            raise CartregError(f"treated_origin must be treatment_start or failure, got {self.treated_origin!r}")
        for name in ("failure_treatment_window_days", "line_window_days"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 36525:
                raise CartregError(f"{name} must be a whole number of days from 0 to 36525, got {v!r}")
        if self.pfs_censoring not in PFS_CENSORING:
            raise CartregError(f"pfs_censoring must be one of {', '.join(PFS_CENSORING)}, got {self.pfs_censoring!r}")
        if not isinstance(self.lymphoma_death_as_failure, bool):
            raise CartregError(f"lymphoma_death_as_failure must be true or false, got {self.lymphoma_death_as_failure!r}")
        if self.cutoff_rule not in CUTOFF_RULES:
            raise CartregError(f"cutoff_rule must be one of {', '.join(CUTOFF_RULES)}, got {self.cutoff_rule!r}")
        if self.data_cutoff is not None and not isinstance(self.data_cutoff, dt.date):
            raise CartregError(f"data_cutoff must be a date, got {self.data_cutoff!r}")
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
    registered: number of registered patients (registered on or before the data cut-off).
    rules: the rules used.
    class_map_source: where the regimen-to-class table came from.
    after_cutoff: with a data cut-off, the records after it (AFTER_CUTOFF_KEYS -> count, over the whole
    registry); None without a cut-off.
    """

    patients: pa.Table
    regimens: pa.Table
    ignored: dict[str, int]
    registered: int
    rules: EndpointRules
    class_map_source: str
    after_cutoff: dict[str, int] | None = None

    @property
    def unmapped_regimens(self) -> list[tuple[str, int]]:
        """Regimen texts classified ``other`` because no drug was recognised, with their row counts."""
        # plain Python over the few distinct texts (an Arrow filter would make pyarrow import pandas)
        return [(r["regimen"], r["n_rows"]) for r in self.regimens.to_pylist() if r["recognised"] is False]


# --- steps ------------------------------------------------------------------------------------


def step_sources(
    cutoff: dt.date | None, patient_cols: set[str] | frozenset[str] = frozenset(), rule: str = "censor",
    date_cols: dict[str, list[str]] | None = None,
) -> list[Step]:
    """The registry as it stood at the data freeze (docs/endpoints.md, *Data freeze*).

    Views ``ep_src_patients``, ``ep_src_infusions``, ``ep_src_responses`` and ``ep_src_treatments``
    read the registry tables. With a cut-off: a patient registered (``eligibility_date``) after it is
    not in the registry; an infusion, assessment or treatment dated after it does not exist; a death
    after it does not exist (nor its cause), and a last contact after it is moved back to it, so a
    patient alive at the cut-off, or dying after it, is censored at the cut-off. The cut-off is a
    bound parameter, stored in the one-row temporary table ``ep_cut``. Without a cut-off the views
    are the tables themselves.

    With ``rule = "drop-patients"`` (the rule before issue 10: ``--cutoff --drop-invalid``), every
    patient with any date after the cut-off (``date_cols``: the date columns of each table) is left
    out with all of their rows instead (``ep_cut_dropped``), and the other records are kept as they are.
    """
    tables = ("patients", "infusions", "responses", "treatments")
    if cutoff is None:
        return [Step(f"ep_src_{t}", f"CREATE OR REPLACE TEMP VIEW ep_src_{t} AS SELECT * FROM {t}")
                for t in tables]
    cut = "(SELECT cut FROM ep_cut)"
    if rule == "drop-patients":
        parts = [f"SELECT patient_id FROM {t} WHERE {c} > {cut}" for t in tables for c in (date_cols or {}).get(t, [])]
        dropped = " UNION ".join(parts) if parts else "SELECT NULL::VARCHAR AS patient_id WHERE FALSE"
        return [
            Step("ep_cut", "CREATE OR REPLACE TEMP TABLE ep_cut AS SELECT $cutoff::DATE AS cut", {"cutoff": cutoff}),
            Step("ep_cut_dropped", f"CREATE OR REPLACE TEMP TABLE ep_cut_dropped AS SELECT DISTINCT patient_id "
                                   f"FROM ({dropped}) WHERE patient_id IS NOT NULL"),
            *(Step(f"ep_src_{t}", f"CREATE OR REPLACE TEMP VIEW ep_src_{t} AS SELECT * FROM {t} "
                                  f"WHERE patient_id NOT IN (SELECT patient_id FROM ep_cut_dropped)")
              for t in tables),
        ]
    replace = [f"CASE WHEN last_contact_date > {cut} THEN {cut} ELSE last_contact_date END AS last_contact_date",
               f"CASE WHEN death_date > {cut} THEN NULL ELSE death_date END AS death_date"]
    if "death_cause" in patient_cols:
        replace.append(f"CASE WHEN death_date > {cut} THEN NULL ELSE death_cause END AS death_cause")
    registered = f"WHERE eligibility_date IS NULL OR eligibility_date <= {cut}" if "eligibility_date" in patient_cols else ""
    return [
        Step("ep_cut", "CREATE OR REPLACE TEMP TABLE ep_cut AS SELECT $cutoff::DATE AS cut", {"cutoff": cutoff}),
        Step("ep_src_patients", f"CREATE OR REPLACE TEMP VIEW ep_src_patients AS "
                                f"SELECT * REPLACE ({', '.join(replace)}) FROM patients {registered}"),
        Step("ep_src_infusions", f"CREATE OR REPLACE TEMP VIEW ep_src_infusions AS "
                                 f"SELECT * FROM infusions WHERE infusion_date IS NULL OR infusion_date <= {cut}"),
        Step("ep_src_responses", f"CREATE OR REPLACE TEMP VIEW ep_src_responses AS "
                                 f"SELECT * FROM responses WHERE assessment_date IS NULL OR assessment_date <= {cut}"),
        Step("ep_src_treatments", f"CREATE OR REPLACE TEMP VIEW ep_src_treatments AS "
                                  f"SELECT * FROM treatments WHERE start_date IS NULL OR start_date <= {cut}"),
    ]


def step_after_cutoff_counts(patient_cols: set[str] | frozenset[str]) -> Step:
    """Records dated after the data cut-off, counted over the whole registry (AFTER_CUTOFF_KEYS).

    Needs ``ep_cut`` (:func:`step_sources` with a cut-off).
    """
    cut = "(SELECT cut FROM ep_cut)"
    registered = (f"(SELECT count(*) FROM patients WHERE eligibility_date > {cut})"
                  if "eligibility_date" in patient_cols else "0")
    registered_by = (f"SELECT patient_id FROM patients WHERE eligibility_date IS NULL OR eligibility_date <= {cut}"
                     if "eligibility_date" in patient_cols else "SELECT patient_id FROM patients")
    return Step(
        "after_cutoff",
        f"""
        SELECT (SELECT count(*) FROM responses WHERE assessment_date > {cut}) AS responses,
               (SELECT count(*) FROM treatments WHERE start_date > {cut}) AS treatments,
               (SELECT count(*) FROM patients WHERE death_date > {cut}) AS deaths,
               (SELECT count(*) FROM patients WHERE last_contact_date > {cut}) AS last_contacts_truncated,
               {registered} AS registered_after_cutoff,
               (SELECT count(*) FROM infusions i SEMI JOIN ({registered_by}) p ON p.patient_id = i.patient_id
                WHERE i.infusion_date > {cut}) AS infused_after_cutoff
        """,
    )


def step_infused(baseline_cols: list[str] | tuple[str, ...] = ()) -> Step:
    """Infused cohort: patients with an infusion row carrying a date (on or before the cut-off).

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
        FROM ep_src_patients pt JOIN ep_src_infusions inf ON inf.patient_id = pt.patient_id
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
        FROM ep_src_responses r JOIN ep_infused i ON r.patient_id = i.patient_id
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
        FROM ep_src_treatments t
        JOIN ep_infused i ON t.patient_id = i.patient_id
        JOIN ep_regimen_class c ON c.regimen = t.regimen
        WHERE t.start_date > i.infusion_date
        """,
    )


def step_car_t(rules: EndpointRules | None = None, has_death_cause: bool = True) -> Step:
    """Failure, relapse vs progression, and the CAR T response window, per infused patient.

    failure_date: first date after infusion with a PD/PMD (a PD wins over other responses that day);
    with ``lymphoma_death_as_failure``, else the death date of a death from lymphoma
    (``failure_by_lymphoma_death``).
    cr_before_failure: a CR/CMR strictly between infusion and failure (relapse; else progression).
    window_end: the earlier of the failure date and the first treatment after infusion; the best
    response to CAR T uses assessments strictly before it.
    last_assessment_before_failure: the last assessment (any code) strictly before the failure date.
    last_assessment_date: the last adequate assessment (any code but NE) after infusion.
    """
    rules = rules or EndpointRules()
    lymph = ("b0.pd_date IS NULL AND b0.death_cause = 'lymphoma'"
             if rules.lymphoma_death_as_failure and has_death_cause else "FALSE")
    return Step(
        "ep_core",
        f"""
        CREATE OR REPLACE TEMP TABLE ep_core AS
        WITH pdf AS (
            SELECT pid, min(d) AS pd_date FROM ep_resp WHERE is_pd GROUP BY pid
        ), first_any_tx AS (
            SELECT pid, min(start_date) AS first_tx_after_infusion FROM ep_tx GROUP BY pid
        ), b0 AS (
            SELECT i.rowid AS pid, i.death_date, {"i.death_cause" if has_death_cause else "NULL::VARCHAR"} AS death_cause,
                   p.pd_date, a.first_tx_after_infusion
            FROM ep_infused i
            LEFT JOIN pdf p ON p.pid = i.rowid
            LEFT JOIN first_any_tx a ON a.pid = i.rowid
        ), b1 AS (
            SELECT b0.pid, b0.first_tx_after_infusion,
                   coalesce(b0.pd_date, CASE WHEN {lymph} THEN b0.death_date END) AS failure_date,
                   coalesce({lymph} AND b0.death_date IS NOT NULL, false) AS failure_by_lymphoma_death
            FROM b0
        ), base AS (
            SELECT b1.*,
                   LEAST(coalesce(b1.failure_date, {_FAR}), coalesce(b1.first_tx_after_infusion, {_FAR})) AS window_end
            FROM b1
        ), car AS (
            SELECT r.pid,
                   max(r.rnk) FILTER (WHERE r.d < b.window_end) AS best_rnk,
                   bool_or(r.rnk = 5 AND r.d < b.failure_date) AS cr_before_failure,
                   max(r.d) FILTER (WHERE r.d < b.failure_date) AS last_assessment_before_failure,
                   max(r.d) FILTER (WHERE r.rnk > 1) AS last_assessment_date
            FROM ep_resp r JOIN base b ON b.pid = r.pid
            GROUP BY r.pid
        )
        SELECT b.pid, b.failure_date, b.failure_by_lymphoma_death, b.first_tx_after_infusion, b.window_end,
               c.best_rnk, coalesce(c.cr_before_failure, false) AS cr_before_failure,
               c.last_assessment_before_failure, c.last_assessment_date
        FROM base b LEFT JOIN car c ON c.pid = b.pid
        """,
    )


def _qualifies(t: str = "t", c: str = "c") -> str:
    """SQL: treatment ``t`` qualifies as post-failure for the failure of ``c`` (see step_first_treatment)."""
    return (f"{t}.start_date >= {c}.failure_date - $window::INTEGER "
            f"AND {t}.start_date > coalesce({c}.last_assessment_before_failure, DATE '0001-01-01')")


def step_line(rules: EndpointRules | None = None) -> Step:
    """The first post-failure treatment's line: ``ep_line``, one row per regimen row of the line.

    A treatment *qualifies* when its start is on or after the failure date minus
    ``failure_treatment_window_days`` and strictly after the last assessment before the failure date;
    the first post-failure treatment starts on the earliest qualifying date (``tx_date``, which may
    precede the failure date). Its *line* is every regimen started from ``tx_date`` to ``tx_date +
    line_window_days`` (inclusive).
    """
    rules = rules or EndpointRules()
    return Step(
        "ep_line",
        f"""
        CREATE OR REPLACE TEMP TABLE ep_line AS
        WITH cand AS (
            SELECT t.* FROM ep_tx t JOIN ep_core c ON c.pid = t.pid
            WHERE c.failure_date IS NOT NULL AND {_qualifies()}
        ), first_date AS (
            SELECT pid, min(start_date) AS tx_date FROM cand GROUP BY pid
        )
        SELECT c.*, f.tx_date FROM first_date f JOIN cand c ON c.pid = f.pid
        WHERE c.start_date <= f.tx_date + $line_window::INTEGER
        """,
        {"window": int(rules.failure_treatment_window_days), "line_window": int(rules.line_window_days)},
    )


def step_first_treatment() -> Step:
    """First treatment after failure: its line (``ep_line``, see :func:`step_line`) as one treatment.

    The line's class is the one of highest precedence (lowest ``prec``); its text lists the distinct
    regimens, sorted, joined by `` + ``. Most lines are one regimen (the same text on every row:
    ``rmin = rmax``); only the others go through the slower ordered, distinct aggregates.
    """
    return Step(
        "ep_first_tx",
        """
        CREATE OR REPLACE TEMP TABLE ep_first_tx AS
        WITH first_day AS (
            SELECT pid, any_value(tx_date) AS tx_date, arg_min(class, prec) AS tx_class,
                   min(regimen) AS rmin, max(regimen) AS rmax
            FROM ep_line GROUP BY pid
        ), combined AS (
            SELECT l.pid,
                   string_agg(DISTINCT l.regimen, ' + ' ORDER BY l.regimen) AS tx_regimen,
                   count(DISTINCT l.regimen_key) AS tx_n_regimens
            FROM first_day d JOIN ep_line l ON l.pid = d.pid
            WHERE d.rmin <> d.rmax
            GROUP BY l.pid
        )
        SELECT d.pid, d.tx_date, d.tx_class,
               coalesce(m.tx_regimen, d.rmin) AS tx_regimen,
               coalesce(m.tx_n_regimens, 1) AS tx_n_regimens
        FROM first_day d LEFT JOIN combined m ON m.pid = d.pid
        """,
    )


def step_pre_failure_treatment(rules: EndpointRules | None = None) -> Step:
    """Treatments after infusion, before the failure date, that do not qualify as post-failure.

    (Consolidation in response, maintenance, a treatment more than ``failure_treatment_window_days``
    before the failure, or one given before the last assessment preceding the failure.) Per failed
    patient: their distinct regimens, sorted, joined by `` + `` (``pre_failure_regimens``).
    """
    rules = rules or EndpointRules()
    return Step(
        "ep_pre",
        f"""
        CREATE OR REPLACE TEMP TABLE ep_pre AS
        SELECT t.pid, string_agg(DISTINCT t.regimen, ' + ' ORDER BY t.regimen) AS pre_failure_regimens
        FROM ep_tx t JOIN ep_core c ON c.pid = t.pid
        WHERE c.failure_date IS NOT NULL AND t.start_date < c.failure_date AND NOT ({_qualifies()})
        GROUP BY t.pid
        """,
        {"window": int(rules.failure_treatment_window_days)},
    )


def step_after_first_treatment() -> Step:
    """Second progression and the post-failure response window.

    pd2_date: first PD/PMD strictly after both the failure date and the first treatment's start (the
    failure itself is never a second progression, even when the treatment started before it).
    next_tx_date: start of a later, *different* treatment: a start date after the first treatment's
    whose regimen (compared by normalised text) is not one of the first line's regimens.
    post_rnk: best assessment after the start (and after the failure date), up to and including
    pd2_date, strictly before next_tx_date.
    """
    return Step(
        "ep_post",
        f"""
        CREATE OR REPLACE TEMP TABLE ep_post AS
        WITH after AS (
            SELECT r.pid, r.d, r.is_pd, r.rnk
            FROM ep_resp r JOIN ep_first_tx f ON f.pid = r.pid JOIN ep_core c ON c.pid = r.pid
            WHERE r.d > GREATEST(f.tx_date, c.failure_date)
        ), pd2 AS (
            SELECT pid, min(d) AS pd2_date FROM after WHERE is_pd GROUP BY pid
        ), nxt AS (
            SELECT f.pid, min(t.start_date) AS next_tx_date
            FROM ep_first_tx f
            JOIN ep_tx t ON t.pid = f.pid AND t.start_date > f.tx_date
            ANTI JOIN ep_line k ON k.pid = t.pid AND k.regimen_key = t.regimen_key
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
    if rules.pfs_censoring == "last-contact":
        pfs2_censor = "x.last_contact_date"
        cif_censor = "x.last_contact_date"
    else:  # last adequate assessment, never before the origin
        pfs2_censor = "GREATEST(coalesce(x.last_assessment_date, x.treated_origin_date), x.treated_origin_date)"
        cif_censor = "GREATEST(coalesce(x.last_assessment_date, x.infusion_date), x.infusion_date)"
    return Step(
        "ep_patients",
        f"""
        WITH x AS (
            SELECT i.*, c.failure_date, c.failure_by_lymphoma_death, c.first_tx_after_infusion, c.best_rnk,
                   c.cr_before_failure, c.last_assessment_date,
                   f.tx_date, f.tx_class, f.tx_regimen, f.tx_n_regimens, p.pd2_date, p.next_tx_date, p.post_rnk,
                   pre.pre_failure_regimens,
                   i.death_date IS NOT NULL AS dead,
                   c.failure_date IS NOT NULL AS failed,
                   {origin} AS treated_origin_date
            FROM ep_infused i
            JOIN ep_core c ON c.pid = i.rowid
            LEFT JOIN ep_first_tx f ON f.pid = i.rowid
            LEFT JOIN ep_post p ON p.pid = i.rowid
            LEFT JOIN ep_pre pre ON pre.pid = i.rowid
        )
        SELECT x.patient_id, x.infusion_date, x.product, x.last_contact_date, x.death_date, x.dead,
               x.failed, x.failure_date,
               x.failure_date - x.infusion_date AS ttf_days,
               CASE WHEN NOT x.failed THEN NULL WHEN x.failure_by_lymphoma_death THEN 'progression'
                    WHEN x.cr_before_failure THEN 'relapse' ELSE 'progression' END AS failure_type,
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
                         ELSE {pfs2_censor} END - x.treated_origin_date END AS pfs2_days,
               CASE WHEN x.tx_date IS NOT NULL THEN x.pd2_date IS NOT NULL OR x.dead END AS pfs2_event,
               CASE WHEN x.tx_date IS NOT NULL THEN
                    coalesce(x.death_date, x.last_contact_date) - x.treated_origin_date END AS os2_treated_days,
               CASE WHEN x.tx_date IS NOT NULL THEN x.dead END AS os2_treated_event,
               -- competing risks from infusion: 1 = failure, 2 = death without failure, 0 = censored
               CASE WHEN x.failed THEN x.failure_date - x.infusion_date
                    WHEN x.dead THEN x.death_date - x.infusion_date
                    ELSE {cif_censor} - x.infusion_date END AS cif_days,
               CASE WHEN x.failed THEN 1 WHEN x.dead THEN 2 ELSE 0 END AS cif_status,
               -- overall survival from infusion (for plans measured from infusion)
               coalesce(x.death_date, x.last_contact_date) - x.infusion_date AS os_days,
               x.dead AS os_event,
               -- issue-10 rules: how the failure was found, treatments before it, the last assessment
               CASE WHEN x.failed THEN x.failure_by_lymphoma_death END AS failure_by_lymphoma_death,
               CASE WHEN x.failed THEN x.pre_failure_regimens IS NOT NULL END AS pre_failure_treatment,
               x.pre_failure_regimens,
               x.last_assessment_date
               {baseline}
        FROM x
        ORDER BY x.patient_id
        """,
        {"late_after_days": float(rules.late_after_days), "min_fu": int(rules.min_untreated_followup_days)},
    )


def step_ignored_counts() -> Step:
    """Records the rules ignore, counted (they are reported, never silently dropped).

    One pass over each of ``responses`` and ``treatments`` (a left join to the infused cohort), as
    they stood at the data cut-off (records after it are counted in ``after_cutoff``).
    """
    return Step(
        "ignored",
        """
        WITH r AS (
            SELECT count(*) FILTER (WHERE i.patient_id IS NOT NULL AND r.assessment_date <= i.infusion_date) AS before,
                   count(*) FILTER (WHERE i.patient_id IS NULL) AS not_infused
            FROM ep_src_responses r LEFT JOIN ep_infused i ON i.patient_id = r.patient_id
        ), t AS (
            SELECT count(*) FILTER (WHERE i.patient_id IS NOT NULL AND t.start_date <= i.infusion_date) AS before,
                   count(*) FILTER (WHERE i.patient_id IS NULL) AS not_infused
            FROM ep_src_treatments t LEFT JOIN ep_infused i ON i.patient_id = t.patient_id
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
        "SELECT regimen, count(*) AS n FROM ep_src_treatments WHERE regimen IS NOT NULL GROUP BY regimen "
        "ORDER BY regimen"
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
    pcols, icols = _columns(con, "patients"), _columns(con, "infusions")
    date_cols = {t: [c for c in cols if c in _columns(con, t)] for t, cols in _DATE_COLUMNS.items()}
    for step in step_sources(rules.data_cutoff, pcols, rules.cutoff_rule, date_cols):
        con.execute(step.sql, step.params or None)
    regimens = _regimen_classes(con, class_map, rules.class_precedence)
    _drop_not_treatment(con)
    baseline = [c for c in BASELINE_PATIENT_COLUMNS if c in pcols] + [c for c in BASELINE_INFUSION_COLUMNS if c in icols]
    qualified = [f"pt.{c}" if c in BASELINE_PATIENT_COLUMNS else f"inf.{c}" for c in baseline]
    steps = [
        step_infused(qualified),
        step_responses(),
        step_treatments(),
        step_car_t(rules, has_death_cause="death_cause" in pcols),
        step_line(rules),
        step_first_treatment(),
        step_pre_failure_treatment(rules),
        step_after_first_treatment(),
        step_patient_table(rules, baseline),
    ]
    *tables, table_step = steps
    for step in tables:
        con.execute(step.sql, step.params or None)
    patients = con.sql(table_step.sql, params=table_step.params or None).to_arrow_table()
    ignored = _one_row(con, step_ignored_counts())
    after_cutoff = None
    if rules.data_cutoff is not None:
        after_cutoff = _one_row(con, step_after_cutoff_counts(pcols))
        if rules.cutoff_rule == "drop-patients":
            ignored["patients_left_out_for_a_date_after_cutoff"] = int(
                con.execute("SELECT count(*) FROM ep_cut_dropped").fetchall()[0][0])
    registered = int(con.execute("SELECT count(*) FROM ep_src_patients").fetchall()[0][0])
    return Endpoints(
        patients=patients,
        regimens=regimens,
        ignored=ignored,
        registered=registered,
        rules=rules,
        class_map_source=class_map.source,
        after_cutoff=after_cutoff,
    )


def _one_row(con: duckdb.DuckDBPyConnection, step: Step) -> dict[str, int]:
    """The one row of a counting step as ``{column: int}``."""
    cur = con.execute(step.sql, step.params or None)
    names = [d[0] for d in cur.description]
    return dict(zip(names, (int(v) for v in cur.fetchall()[0])))


__all__ = [
    "AFTER_CUTOFF_KEYS",
    "CLASSES",
    "CUTOFF_RULES",
    "DAYS_PER_MONTH",
    "EndpointRules",
    "Endpoints",
    "PFS_CENSORING",
    "derive_endpoints",
]
