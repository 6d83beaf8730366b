"""The registry exchange format v1 as data: tables, columns, code lists and validation rules.

``docs/data-format.md`` is the human-readable form of this module; a test checks that every column
and rule named here appears there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

FORMAT_VERSION = "1"

#: Column types of the exchange format and the DuckDB type each is stored as.
SQL_TYPES: Mapping[str, str] = MappingProxyType(
    {"text": "VARCHAR", "code": "VARCHAR", "integer": "INTEGER", "number": "DOUBLE", "date": "DATE", "bool": "BOOLEAN"}
)


@dataclass(frozen=True)
class Column:
    """One column of the data dictionary.

    ``codes`` are the canonical values of a code column; ``synonyms`` maps other accepted spellings
    (lower-case) to a canonical code and is reported as a note. ``minimum``/``maximum`` bound valid
    values (errors); ``plausible_max`` bounds plausible ones (warnings).
    """

    name: str
    type: str
    required: bool = False
    codes: tuple[str, ...] = ()
    synonyms: Mapping[str, str] = field(default_factory=dict)
    minimum: float | None = None
    maximum: float | None = None
    plausible_max: float | None = None
    meaning: str = ""

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    """One table (file or sheet) of the exchange format."""

    name: str
    mandatory: bool
    columns: tuple[Column, ...]
    meaning: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


SEX = ("M", "F")
HISTOLOGY = ("DLBCL", "PMBL", "HGBCL", "tFL", "tMZL", "PCNSL", "GZL", "RICHTER", "OTHER")
DEATH_CAUSE = ("lymphoma", "toxicity", "infection", "other")
PRODUCT = ("axi-cel", "tisa-cel", "liso-cel", "brexu-cel", "other")
PRODUCT_SYNONYMS: Mapping[str, str] = MappingProxyType(
    {"yescarta": "axi-cel", "kymriah": "tisa-cel", "breyanzi": "liso-cel", "tecartus": "brexu-cel"}
)
BRIDGING = ("none", "chemotherapy", "radiotherapy", "combined", "other")
RESPONSE_PET = ("CMR", "PMR", "NMR", "PMD")
RESPONSE_CT = ("CR", "PR", "SD", "PD")
RESPONSE = (*RESPONSE_PET, *RESPONSE_CT, "NE")
PROGRESSION = ("PD", "PMD")

BOOL_TRUE = ("yes", "true", "1")
BOOL_FALSE = ("no", "false", "0")

_PID = Column("patient_id", "text", required=True, meaning="Registry patient identifier, read as a trimmed string (leading zeros kept).")

PATIENTS = Table(
    "patients",
    mandatory=True,
    meaning="One row per registered patient.",
    columns=(
        Column("patient_id", "text", required=True, meaning="Registry patient identifier; unique. Read as a trimmed string (leading zeros kept)."),
        Column("center", "text", meaning="Treating center."),
        Column("sex", "code", codes=SEX, meaning="Sex."),
        Column("age", "integer", minimum=0, maximum=120, plausible_max=90, meaning="Age in years at CAR T eligibility."),
        Column("histology", "code", codes=HISTOLOGY, meaning="Lymphoma histology (t = transformed; RICHTER = Richter syndrome)."),
        Column("eligibility_date", "date", required=True, meaning="Date the patient was found eligible for CAR T cells."),
        Column("stage", "integer", minimum=1, maximum=4, meaning="Ann Arbor stage at eligibility."),
        Column("aaipi", "integer", minimum=0, maximum=3, meaning="Age-adjusted International Prognostic Index at eligibility."),
        Column("prior_lines", "integer", minimum=1, meaning="Number of treatment lines before eligibility."),
        Column("prior_auto_hsct", "bool", meaning="Autologous stem-cell transplant before CAR T cells."),
        Column("prior_allo_hsct", "bool", meaning="Allogeneic stem-cell transplant before CAR T cells."),
        Column("last_contact_date", "date", required=True, meaning="Last date known alive, or the death date."),
        Column("death_date", "date", meaning="Date of death; empty if alive at last contact."),
        Column("death_cause", "code", codes=DEATH_CAUSE, meaning="Cause of death; only with a death_date."),
    ),
)

INFUSIONS = Table(
    "infusions",
    mandatory=True,
    meaning="At most one row per patient (v1). A registered patient with no row was not infused.",
    columns=(
        _PID,
        Column("infusion_date", "date", required=True, meaning="Date of CAR T-cell infusion."),
        Column("product", "code", codes=PRODUCT, synonyms=PRODUCT_SYNONYMS, meaning="CAR T-cell product (brand names accepted, with a note)."),
        Column("ecog", "integer", minimum=0, maximum=4, meaning="ECOG performance status at infusion."),
        Column("ldh_elevated", "bool", meaning="LDH above the upper limit of normal at infusion."),
        Column("bulky", "bool", meaning="Bulky disease at infusion."),
        Column("ferritin_ug_l", "number", minimum=0, plausible_max=100000, meaning="Ferritin at infusion, µg/l."),
        Column("crp_mg_dl", "number", minimum=0, meaning="C-reactive protein at infusion, mg/dl."),
        Column("bridging", "code", codes=BRIDGING, meaning="Bridging therapy between eligibility and infusion."),
        Column("crs_grade", "integer", minimum=0, maximum=5, meaning="Worst cytokine release syndrome grade (ASTCT)."),
        Column("icans_grade", "integer", minimum=0, maximum=5, meaning="Worst ICANS grade (ASTCT)."),
    ),
)

RESPONSES = Table(
    "responses",
    mandatory=False,
    meaning="Every disease assessment after infusion, including those after later treatments.",
    columns=(
        _PID,
        Column("assessment_date", "date", required=True, meaning="Date of the assessment."),
        Column("response", "code", required=True, codes=RESPONSE,
               meaning="Lugano 2014 PET code (CMR, PMR, NMR, PMD), CT code (CR, PR, SD, PD), or NE (not evaluable)."),
    ),
)

TREATMENTS = Table(
    "treatments",
    mandatory=False,
    meaning="Anticancer treatments started after infusion.",
    columns=(
        _PID,
        Column("start_date", "date", required=True, meaning="Start date of the treatment."),
        Column("regimen", "text", required=True,
               meaning="Regimen name or drugs joined by '+', e.g. R-GemOx, glofitamab, lenalidomide + rituximab, radiotherapy."),
    ),
)

TABLES: tuple[Table, ...] = (PATIENTS, INFUSIONS, RESPONSES, TREATMENTS)
TABLES_BY_NAME: Mapping[str, Table] = MappingProxyType({t.name: t for t in TABLES})


@dataclass(frozen=True)
class Rule:
    """A validation rule: stable snake_case id, severity, and what it means."""

    id: str
    severity: str  # "error" | "warning" | "note"
    meaning: str


SEVERITIES = ("error", "warning", "note")

RULES: tuple[Rule, ...] = (
    # errors: cells
    Rule("malformed_row", "error", "A CSV row does not have as many fields as the header; the row is skipped."),
    Rule("missing_value", "error", "A required value is empty."),
    Rule("invalid_date", "error", "A date is not a valid YYYY-MM-DD date."),
    Rule("invalid_number", "error", "A number cannot be read, or an integer column holds a non-whole number."),
    Rule("invalid_boolean", "error", "A boolean is not yes/no, true/false or 1/0."),
    Rule("unknown_code", "error", "A code is not in the column's list of allowed values."),
    Rule("out_of_range", "error", "A number is outside the column's allowed range."),
    Rule("invalid_encoding", "error",
         "A cell of a UTF-8 file holds bytes that are not UTF-8 (the file is not re-decoded as Windows-1252)."),
    Rule("control_character", "error", "A value holds a control character (NUL, ESC, ...); tab and line breaks are allowed."),
    Rule("formula_without_value", "error",
         "A workbook cell holds a formula without a stored value (it would read as empty)."),
    # errors: identity
    Rule("duplicate_patient", "error", "A patient_id appears more than once in patients."),
    Rule("unknown_patient", "error", "A patient_id in infusions, responses or treatments is not in patients."),
    Rule("multiple_infusions", "error", "A patient has more than one infusion row (v1 allows one)."),
    Rule("invalid_identifier", "error",
         "A patient_id holds a control or invisible character (e.g. NUL, zero-width space)."),
    # errors: dates
    Rule("infusion_before_eligibility", "error", "The infusion is dated before the eligibility date."),
    Rule("event_after_last_contact", "error",
         "An eligibility, infusion, assessment, treatment or death date is after last_contact_date."),
    Rule("death_before_infusion", "error", "The death date is before the infusion date."),
    Rule("event_after_death", "error", "An assessment or treatment is dated after the death date."),
    Rule("death_last_contact_mismatch", "error",
         "A death_date differs from last_contact_date (for a dead patient, last contact is the death date)."),
    Rule("death_cause_without_death", "error", "A death_cause is given without a death_date."),
    Rule("date_after_cutoff", "warning",
         "A date is after the data cut-off given with --cutoff: the analysis ignores it and ends follow-up at the cut-off."),
    Rule("date_in_future", "error", "A date is after the import date (today)."),
    # warnings
    Rule("patient_id_case", "warning", "Two patient_ids differ only by case (two patients; the same one?)."),
    Rule("inferred_cutoff_outlier", "warning",
         "The inferred data cut-off (latest date) is more than a year after the 99th percentile of all dates."),
    Rule("event_before_infusion", "warning",
         "An assessment or treatment is dated on or before the infusion date; analyses ignore it."),
    Rule("not_infused", "warning", "Responses or treatments of a patient who was never infused; analyses ignore them."),
    Rule("conflicting_responses", "warning", "Different responses for the same patient on the same date."),
    Rule("duplicate_row", "warning", "A row repeats an earlier row of the same file exactly."),
    Rule("lymphoma_death_without_progression", "warning",
         "Death from lymphoma, but no PD or PMD response was ever recorded."),
    Rule("grade5_without_death", "warning", "CRS or ICANS grade 5 (fatal) but no death_date."),
    Rule("implausible_value", "warning", "A value is possible but implausible (age > 90, ferritin > 100000 µg/l)."),
    Rule("unknown_column", "warning", "A column that is not in the data dictionary; it is kept in the stored table."),
    Rule("missing_table", "warning", "The optional responses or treatments file is missing: no records."),
    Rule("not_utf8", "warning", "A CSV file is not UTF-8 and was read as Windows-1252."),
    # notes
    Rule("code_synonym", "note", "A product brand name was accepted as a synonym of its code (e.g. Yescarta -> axi-cel)."),
    Rule("missing_column", "note", "An optional column is absent; its values are missing."),
)
RULES_BY_ID: Mapping[str, Rule] = MappingProxyType({r.id: r for r in RULES})


def date_columns(table: Table) -> tuple[str, ...]:
    """Names of the date columns of a table."""
    return tuple(c.name for c in table.columns if c.type == "date")
