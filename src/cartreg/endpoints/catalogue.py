"""The endpoint catalogue: one documented row per *registered* patient, for plan files.

The catalogue is a layer of DuckDB SQL steps on top of the registry tables and of the per-patient
table :func:`cartreg.endpoints.derive.derive_endpoints` produces (its ``failure_date``, ``late``,
``tx_status``, PFS-2/OS-2 columns are reused, never re-derived). Every column is listed in
:data:`COLUMNS` with its type, unit and rule, and documented in ``docs/endpoints.md``
(*Endpoint catalogue*); the names are a public contract (issue 13).

Time-to-event endpoint ``E`` has the columns ``E_days`` (whole days from its origin) and ``E_event``
(true = event, false = censored, empty = not in the endpoint's population); competing-risks endpoint
``E`` has ``E_days`` and ``E_status`` (0 = censored, 1, 2 = the causes of :data:`COMPETING`).

>>> sorted(TIME_TO_EVENT)
['dor', 'os2', 'os2_treated', 'os_eligibility', 'os_infusion', 'pfs2', 'pfs_eligibility', 'pfs_infusion']
>>> sorted(COMPETING)
['failure_death', 'relapse_nrm']
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import duckdb
import pyarrow as pa

from cartreg.endpoints.derive import Endpoints, Step

#: Response codes that count as a response (CT and PET codes).
RESPONDER_CODES = ("CR", "CMR", "PR", "PMR")

#: Day of the "response at 3 months" landmark (3 months = 91.3125 days; assessments on or before day 91).
RESPONSE_LANDMARK_DAYS = 91


@dataclass(frozen=True)
class CatalogueColumn:
    """One catalogue column: name (contract), type, unit and the rule that derives it."""

    name: str
    type: str  # flag | date | days | event | status | code | integer | number | text
    unit: str
    rule: str
    levels: tuple[str, ...] = ()


@dataclass(frozen=True)
class TimeToEvent:
    """A time-to-event endpoint: columns ``{name}_days`` and ``{name}_event``."""

    name: str
    label: str
    origin: str
    event: str
    population: str

    @property
    def days(self) -> str:
        return f"{self.name}_days"

    @property
    def event_col(self) -> str:
        return f"{self.name}_event"


@dataclass(frozen=True)
class CompetingRisks:
    """A competing-risks endpoint: ``{name}_days`` and ``{name}_status`` (0 censored, 1 and 2 causes)."""

    name: str
    label: str
    origin: str
    causes: Mapping[int, str]
    population: str

    @property
    def days(self) -> str:
        return f"{self.name}_days"

    @property
    def status(self) -> str:
        return f"{self.name}_status"


TIME_TO_EVENT: Mapping[str, TimeToEvent] = MappingProxyType({
    e.name: e for e in (
        TimeToEvent("os_infusion", "Overall survival from infusion", "infusion_date", "death", "infused"),
        TimeToEvent("pfs_infusion", "Progression-free survival from infusion", "infusion_date",
                    "failure (first PD/PMD) or death", "infused"),
        TimeToEvent("os_eligibility", "Overall survival from eligibility", "eligibility_date", "death", "registered"),
        TimeToEvent("pfs_eligibility", "Progression-free survival from eligibility", "eligibility_date",
                    "failure (first PD/PMD after infusion) or death", "registered"),
        TimeToEvent("os2", "Overall survival from failure (OS-2)", "failure_date", "death", "failed"),
        TimeToEvent("pfs2", "Progression-free survival after failure (PFS-2)", "treated_origin_date",
                    "PD/PMD after the first treatment's start, or death", "treated_after_failure"),
        TimeToEvent("os2_treated", "Overall survival of treated failures from the treated origin", "treated_origin_date",
                    "death", "treated_after_failure"),
        TimeToEvent("dor", "Duration of response", "first_response_date", "failure or death", "responders"),
    )
})

COMPETING: Mapping[str, CompetingRisks] = MappingProxyType({
    e.name: e for e in (
        CompetingRisks("relapse_nrm", "Relapse or progression and non-relapse mortality", "infusion_date",
                       MappingProxyType({1: "relapse", 2: "nrm"}), "infused"),
        CompetingRisks("failure_death", "Failure and death without failure", "infusion_date",
                       MappingProxyType({1: "failure", 2: "death_without_failure"}), "infused"),
    )
})

COHORT_FLAGS = ("registered", "infused", "failed", "early", "late", "treated_after_failure", "responders")

_C = CatalogueColumn
COLUMNS: tuple[CatalogueColumn, ...] = (
    _C("patient_id", "text", "", "Registry patient identifier (identifying; never shown in a report)."),
    # cohort flags
    _C("registered", "flag", "", "Every row of `patients` (always true)."),
    _C("infused", "flag", "", "The patient has an `infusions` row with an infusion date."),
    _C("failed", "flag", "", "Infused and a PD/PMD after infusion (`failure_date` not empty); false otherwise."),
    _C("early", "flag", "", "Failed and not late (time to failure <= `late_after_days`)."),
    _C("late", "flag", "", "Failed and time to failure > `late_after_days` (default 91.3125); false otherwise."),
    _C("treated_after_failure", "flag", "", "Failed and a treatment started on or after the failure date (`tx_status` = treated)."),
    _C("responders", "flag", "", "Infused with a best response to CAR T of CR or PR (`orr`)."),
    # dates
    _C("eligibility_date", "date", "", "Date found eligible for CAR T (`patients`)."),
    _C("infusion_date", "date", "", "CAR T infusion date (`infusions`); empty when not infused."),
    _C("failure_date", "date", "", "First PD/PMD after infusion (Endpoint rules, *Cohort and failure*)."),
    _C("first_response_date", "date", "", "First CR/CMR/PR/PMR after infusion and before the end of the CAR T response window."),
    _C("tx_date", "date", "", "Start of the first treatment after failure."),
    _C("treated_origin_date", "date", "", "Origin of PFS-2: `tx_date` (default) or `failure_date` (`treated_origin`)."),
    _C("pd2_date", "date", "", "First PD/PMD after the first treatment's start."),
    _C("last_contact_date", "date", "", "Last date known alive, or the death date (`patients`)."),
    _C("death_date", "date", "", "Date of death (`patients`)."),
    # failure details
    _C("ttf_days", "days", "days", "Time to failure: `failure_date` - `infusion_date`."),
    _C("failure_type", "code", "", "relapse (a CR/CMR before the failure) or progression.", ("progression", "relapse")),
    _C("tx_status", "code", "", "After failure: treated, untreated (dead, or >= `min_untreated_followup_days` of follow-up) or unknown.",
       ("treated", "unknown", "untreated")),
    _C("tx_class", "code", "", "Class of the first treatment after failure (Endpoint rules, *Treatment class*)."),
    _C("days_eligibility_to_infusion", "days", "days", "`infusion_date` - `eligibility_date`."),
    _C("not_infused_reason", "code", "", "Registered but not infused: `died before infusion` (a death date) or `alive, not infused`.",
       ("alive, not infused", "died before infusion")),
    # responses
    _C("best_response", "code", "", "Best response to CAR T (CR > PR > SD > PD > NE) before failure or the next treatment.",
       ("CR", "NE", "PD", "PR", "SD")),
    _C("orr", "flag", "", "Best response CR or PR (infused patients; empty when not infused)."),
    _C("cr", "flag", "", "Best response CR (infused patients; empty when not infused)."),
    _C("response_3mo", "code", "", "Response at 3 months: PD when failed by day 91; otherwise the last assessment on or before "
       "day 91 (CR/PR/SD/NE); empty without one.", ("CR", "NE", "PD", "PR", "SD")),
    _C("post_best_response", "code", "", "Best response to the first treatment after failure.", ("CR", "NE", "PD", "PR", "SD")),
    # baseline (exchange-format names)
    _C("center", "text", "", "Treating center (`patients`)."),
    _C("sex", "code", "", "Sex (`patients`).", ("F", "M")),
    _C("age", "integer", "years", "Age at eligibility (`patients`)."),
    _C("histology", "code", "", "Histology (`patients`).",
       ("DLBCL", "GZL", "HGBCL", "OTHER", "PCNSL", "PMBL", "RICHTER", "tFL", "tMZL")),
    _C("stage", "integer", "", "Ann Arbor stage at eligibility (`patients`)."),
    _C("aaipi", "integer", "", "Age-adjusted IPI at eligibility (`patients`)."),
    _C("prior_lines", "integer", "lines", "Treatment lines before eligibility (`patients`)."),
    _C("prior_auto_hsct", "flag", "", "Autologous transplant before CAR T (`patients`)."),
    _C("prior_allo_hsct", "flag", "", "Allogeneic transplant before CAR T (`patients`)."),
    _C("death_cause", "code", "", "Cause of death (`patients`).", ("infection", "lymphoma", "other", "toxicity")),
    _C("product", "code", "", "CAR T product (`infusions`).", ("axi-cel", "brexu-cel", "liso-cel", "other", "tisa-cel")),
    _C("ecog", "integer", "", "ECOG performance status at infusion (`infusions`)."),
    _C("ldh_elevated", "flag", "", "LDH above normal at infusion (`infusions`)."),
    _C("bulky", "flag", "", "Bulky disease at infusion (`infusions`)."),
    _C("ferritin_ug_l", "number", "µg/l", "Ferritin at infusion (`infusions`)."),
    _C("crp_mg_dl", "number", "mg/dl", "C-reactive protein at infusion (`infusions`)."),
    _C("bridging", "code", "", "Bridging therapy (`infusions`).", ("chemotherapy", "combined", "none", "other", "radiotherapy")),
    # toxicity
    _C("crs_grade", "integer", "grade", "Worst CRS grade, ASTCT (`infusions`)."),
    _C("icans_grade", "integer", "grade", "Worst ICANS grade, ASTCT (`infusions`)."),
    _C("crs_grade3", "flag", "", "CRS grade >= 3 (empty when `crs_grade` is empty)."),
    _C("icans_grade3", "flag", "", "ICANS grade >= 3 (empty when `icans_grade` is empty)."),
    # time-to-event endpoints
    _C("os_infusion_days", "days", "days", "Infused: (death date, else last contact) - infusion date."),
    _C("os_infusion_event", "event", "", "Infused: dead."),
    _C("pfs_infusion_days", "days", "days", "Infused: (failure date or death date, whichever first, else last contact) - infusion date."),
    _C("pfs_infusion_event", "event", "", "Infused: failed or dead."),
    _C("os_eligibility_days", "days", "days", "Registered: (death date, else last contact) - eligibility date."),
    _C("os_eligibility_event", "event", "", "Registered: dead."),
    _C("pfs_eligibility_days", "days", "days", "Registered: (failure date or death date, whichever first, else last contact) - eligibility date. A patient never infused has no assessment: death or censoring."),
    _C("pfs_eligibility_event", "event", "", "Registered: failed or dead."),
    _C("os2_days", "days", "days", "Failed: (death date, else last contact) - failure date (OS-2)."),
    _C("os2_event", "event", "", "Failed: dead."),
    _C("pfs2_days", "days", "days", "Treated after failure: (PD/PMD after the first treatment's start or death, else last contact) - treated_origin_date (PFS-2)."),
    _C("pfs2_event", "event", "", "Treated after failure: second progression or death."),
    _C("os2_treated_days", "days", "days", "Treated after failure: (death date, else last contact) - treated_origin_date."),
    _C("os2_treated_event", "event", "", "Treated after failure: dead."),
    _C("dor_days", "days", "days", "Responders: (failure date or death date, whichever first, else last contact) - first_response_date."),
    _C("dor_event", "event", "", "Responders: failed or dead."),
    # competing risks
    _C("relapse_nrm_days", "days", "days", "Infused: (failure date, else death date, else last contact) - infusion date."),
    _C("relapse_nrm_status", "status", "", "1 = relapse or progression (a failure: PD/PMD after infusion); 2 = death without "
       "it (non-relapse mortality, any cause); 0 = censored. With `lymphoma_death_as_relapse = true`, a death from "
       "lymphoma without a failure is 1 (CIBMTR convention)."),
    _C("failure_death_days", "days", "days", "Infused: the cumulative incidence of failure of the late-failure study (`cif_days`)."),
    _C("failure_death_status", "status", "", "1 = failure; 2 = death without failure; 0 = censored (`cif_status`)."),
)
COLUMNS_BY_NAME: Mapping[str, CatalogueColumn] = MappingProxyType({c.name: c for c in COLUMNS})

_PATIENT_COLS = {"center": "VARCHAR", "sex": "VARCHAR", "age": "INTEGER", "histology": "VARCHAR",
                 "eligibility_date": "DATE", "stage": "INTEGER", "aaipi": "INTEGER", "prior_lines": "INTEGER",
                 "prior_auto_hsct": "BOOLEAN", "prior_allo_hsct": "BOOLEAN", "death_cause": "VARCHAR"}
_INFUSION_COLS = {"product": "VARCHAR", "ecog": "INTEGER", "ldh_elevated": "BOOLEAN", "bulky": "BOOLEAN",
                  "ferritin_ug_l": "DOUBLE", "crp_mg_dl": "DOUBLE", "bridging": "VARCHAR", "crs_grade": "INTEGER",
                  "icans_grade": "INTEGER"}
_EP_COLS = ("patient_id", "infusion_date", "last_contact_date", "death_date", "failed", "failure_date", "ttf_days", "failure_type", "late",
            "first_tx_after_infusion", "best_response", "tx_status", "tx_date", "tx_class", "post_best_response",
            "pd2_date", "treated_origin_date", "os2_days", "os2_event", "pfs2_days", "pfs2_event", "os2_treated_days",
            "os2_treated_event", "cif_days",
            "cif_status", "os_days", "os_event")


@dataclass(frozen=True)
class Catalogue:
    """The catalogue table (one row per registered patient, columns of :data:`COLUMNS`, ordered by patient_id)."""

    table: pa.Table

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.table.column_names)


# --- steps ------------------------------------------------------------------------------------


def _select(con: duckdb.DuckDBPyConnection, table: str, cols: Mapping[str, str], alias: str) -> str:
    present = {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()}
    return ", ".join(f"{alias}.{c}" if c in present else f"NULL::{t} AS {c}" for c, t in cols.items())


def step_first_response() -> Step:
    """First response (CR/CMR/PR/PMR) after infusion and before the CAR T response window ends.

    The window is the one of ``best_response`` (derive.step_car_t): it ends at the earlier of the
    failure and the first treatment after infusion. Keyed by patient_id on ``cat_ep``.
    """
    codes = ", ".join(f"'{c}'" for c in RESPONDER_CODES)
    return Step(
        "cat_first_response",
        f"""
        CREATE OR REPLACE TEMP TABLE cat_first_response AS
        SELECT e.patient_id, min(r.assessment_date) AS first_response_date
        FROM responses r JOIN cat_ep e ON e.patient_id = r.patient_id
        WHERE r.response IN ({codes}) AND r.assessment_date > e.infusion_date
          AND r.assessment_date < LEAST(coalesce(e.failure_date, DATE '9999-12-31'),
                                        coalesce(e.first_tx_after_infusion, DATE '9999-12-31'))
        GROUP BY e.patient_id
        """,
    )


def step_response_landmark() -> Step:
    """Response at 3 months: PD when failed by day 91, else the last assessment on or before day 91."""
    return Step(
        "cat_response_3mo",
        """
        CREATE OR REPLACE TEMP TABLE cat_response_3mo AS
        SELECT e.patient_id,
               CASE WHEN e.failure_date IS NOT NULL AND e.failure_date - e.infusion_date <= $landmark THEN 'PD'
                    ELSE CASE arg_max(r.response, r.assessment_date)
                         WHEN 'CMR' THEN 'CR' WHEN 'CR' THEN 'CR' WHEN 'PMR' THEN 'PR' WHEN 'PR' THEN 'PR'
                         WHEN 'NMR' THEN 'SD' WHEN 'SD' THEN 'SD' WHEN 'NE' THEN 'NE' ELSE NULL END END AS response_3mo
        FROM cat_ep e JOIN responses r ON r.patient_id = e.patient_id
        WHERE r.assessment_date > e.infusion_date AND r.assessment_date - e.infusion_date <= $landmark
          AND r.response NOT IN ('PD', 'PMD')
        GROUP BY e.patient_id, e.failure_date, e.infusion_date
        UNION ALL
        SELECT e.patient_id, 'PD' FROM cat_ep e
        WHERE e.failure_date IS NOT NULL AND e.failure_date - e.infusion_date <= $landmark
          AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.patient_id = e.patient_id
                          AND r.assessment_date > e.infusion_date AND r.assessment_date - e.infusion_date <= $landmark
                          AND r.response NOT IN ('PD', 'PMD'))
        """,
        {"landmark": RESPONSE_LANDMARK_DAYS},
    )


def step_catalogue(patient_cols: str, infusion_cols: str, lymphoma_death_as_relapse: bool = False) -> Step:
    """The catalogue query: registered patients left-joined to the derived per-patient table.

    ``lymphoma_death_as_relapse``: count a death from lymphoma without a documented failure as
    relapse/progression in ``relapse_nrm`` (CIBMTR); default False: any death without failure is NRM.
    """
    return Step(
        "catalogue",
        f"""
        WITH x AS (
            SELECT pt.patient_id,
                   -- the derived table's dates for the infused (its rules may censor them), the registry's otherwise
                   CASE WHEN e.patient_id IS NOT NULL THEN e.last_contact_date ELSE pt.last_contact_date END
                       AS last_contact_date,
                   CASE WHEN e.patient_id IS NOT NULL THEN e.death_date ELSE pt.death_date END AS death_date,
                   {patient_cols}, {infusion_cols},
                   e.infusion_date, e.failed, e.failure_date, e.ttf_days, e.failure_type, e.late, e.best_response,
                   e.tx_status, e.tx_date, e.tx_class, e.post_best_response, e.pd2_date, e.treated_origin_date,
                   e.os2_days, e.os2_event, e.pfs2_days, e.pfs2_event, e.os2_treated_days, e.os2_treated_event, e.cif_days, e.cif_status, e.os_days, e.os_event,
                   fr.first_response_date, r3.response_3mo,
                   e.patient_id IS NOT NULL AS infused_
            FROM patients pt
            LEFT JOIN cat_ep e ON e.patient_id = pt.patient_id
            LEFT JOIN infusions inf ON inf.patient_id = pt.patient_id AND e.patient_id IS NOT NULL
            LEFT JOIN cat_first_response fr ON fr.patient_id = pt.patient_id
            LEFT JOIN cat_response_3mo r3 ON r3.patient_id = pt.patient_id
        )
        SELECT patient_id,
               true AS registered,
               infused_ AS infused,
               coalesce(failed, false) AS failed,
               coalesce(failed AND NOT late, false) AS early,
               coalesce(late, false) AS late,
               coalesce(tx_status = 'treated', false) AS treated_after_failure,
               coalesce(best_response IN ('CR', 'PR'), false) AS responders,
               eligibility_date, infusion_date, failure_date, first_response_date, tx_date, treated_origin_date,
               pd2_date, last_contact_date, death_date,
               ttf_days, failure_type, tx_status, tx_class,
               infusion_date - eligibility_date AS days_eligibility_to_infusion,
               CASE WHEN infused_ THEN NULL WHEN death_date IS NOT NULL THEN 'died before infusion'
                    ELSE 'alive, not infused' END AS not_infused_reason,
               best_response,
               CASE WHEN infused_ THEN coalesce(best_response IN ('CR', 'PR'), false) END AS orr,
               CASE WHEN infused_ THEN coalesce(best_response = 'CR', false) END AS cr,
               CASE WHEN infused_ THEN response_3mo END AS response_3mo,
               post_best_response,
               center, sex, age, histology, stage, aaipi, prior_lines, prior_auto_hsct, prior_allo_hsct, death_cause,
               product, ecog, ldh_elevated, bulky, ferritin_ug_l, crp_mg_dl, bridging, crs_grade, icans_grade,
               crs_grade >= 3 AS crs_grade3, icans_grade >= 3 AS icans_grade3,
               os_days AS os_infusion_days, os_event AS os_infusion_event,
               CASE WHEN infused_ THEN cif_days END AS pfs_infusion_days,
               CASE WHEN infused_ THEN cif_status > 0 END AS pfs_infusion_event,
               coalesce(death_date, last_contact_date) - eligibility_date AS os_eligibility_days,
               death_date IS NOT NULL AS os_eligibility_event,
               CASE WHEN failure_date IS NOT NULL OR death_date IS NOT NULL
                    THEN LEAST(coalesce(failure_date, DATE '9999-12-31'), coalesce(death_date, DATE '9999-12-31'))
                    ELSE last_contact_date END - eligibility_date AS pfs_eligibility_days,
               failure_date IS NOT NULL OR death_date IS NOT NULL AS pfs_eligibility_event,
               os2_days, os2_event, pfs2_days, pfs2_event, os2_treated_days, os2_treated_event,
               CASE WHEN first_response_date IS NOT NULL THEN
                    CASE WHEN failed OR death_date IS NOT NULL
                         THEN LEAST(coalesce(failure_date, DATE '9999-12-31'), coalesce(death_date, DATE '9999-12-31'))
                         ELSE last_contact_date END - first_response_date END AS dor_days,
               CASE WHEN first_response_date IS NOT NULL THEN failed OR death_date IS NOT NULL END AS dor_event,
               CASE WHEN infused_ THEN coalesce(failure_date, death_date, last_contact_date) - infusion_date
                    END AS relapse_nrm_days,
               CASE WHEN NOT infused_ THEN NULL
                    WHEN failure_date IS NOT NULL THEN 1
                    WHEN death_date IS NOT NULL AND $lymphoma_as_relapse AND death_cause = 'lymphoma' THEN 1
                    WHEN death_date IS NOT NULL THEN 2 ELSE 0 END AS relapse_nrm_status,
               CASE WHEN infused_ THEN cif_days END AS failure_death_days,
               CASE WHEN infused_ THEN cif_status END AS failure_death_status
        FROM x
        ORDER BY patient_id
        """,
        {"lymphoma_as_relapse": bool(lymphoma_death_as_relapse)},
    )


def build_catalogue(con: duckdb.DuckDBPyConnection, ep: Endpoints, lymphoma_death_as_relapse: bool = False) -> Catalogue:
    """The endpoint catalogue of the registry in ``con``, given its derived endpoints ``ep``.

    ``ep.patients`` is copied to the temporary table ``cat_ep`` (columns of :data:`_EP_COLS`); temporary
    ``cat_*`` tables are created. ``lymphoma_death_as_relapse``: see :func:`step_catalogue`.

    >>> import duckdb
    >>> from cartreg.endpoints import derive_endpoints
    >>> con = duckdb.connect()
    >>> _ = con.execute("CREATE TABLE patients AS SELECT * FROM (VALUES ('1', DATE '2019-12-01', DATE '2021-01-01', "
    ...     "NULL::DATE), ('2', DATE '2019-12-01', DATE '2020-01-10', DATE '2020-01-10')) "
    ...     "t(patient_id, eligibility_date, last_contact_date, death_date)")
    >>> _ = con.execute("CREATE TABLE infusions AS SELECT '1' AS patient_id, DATE '2020-01-01' AS infusion_date, "
    ...                 "'axi-cel' AS product")
    >>> _ = con.execute("CREATE TABLE responses AS SELECT '1' AS patient_id, DATE '2020-06-01' AS assessment_date, "
    ...                 "'PMD' AS response")
    >>> _ = con.execute("CREATE TABLE treatments AS SELECT '1' AS patient_id, DATE '2020-06-10' AS start_date, "
    ...                 "'R-GemOx' AS regimen")
    >>> cat = build_catalogue(con, derive_endpoints(con))
    >>> cat.table.select(["infused", "late", "pfs_infusion_days", "not_infused_reason"]).to_pylist()[1]
    {'infused': False, 'late': False, 'pfs_infusion_days': None, 'not_infused_reason': 'died before infusion'}
    """
    con.register("cat_ep_arrow", ep.patients.select([c for c in _EP_COLS if c in ep.patients.column_names]))
    missing = [c for c in _EP_COLS if c not in ep.patients.column_names]
    extra = "".join(f", NULL AS {c}" for c in missing)
    con.execute(f"CREATE OR REPLACE TEMP TABLE cat_ep AS SELECT *{extra} FROM cat_ep_arrow")
    con.unregister("cat_ep_arrow")
    for step in (step_first_response(), step_response_landmark()):
        con.execute(step.sql, step.params or None)
    final = step_catalogue(_select(con, "patients", _PATIENT_COLS, "pt"), _select(con, "infusions", _INFUSION_COLS, "inf"),
                           lymphoma_death_as_relapse)
    table = con.sql(final.sql, params=final.params).to_arrow_table()
    return Catalogue(table=table)


__all__ = ["COHORT_FLAGS", "COLUMNS", "COLUMNS_BY_NAME", "COMPETING", "Catalogue", "CatalogueColumn",
           "CompetingRisks", "TIME_TO_EVENT", "TimeToEvent", "build_catalogue"]
