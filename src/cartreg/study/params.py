"""Study parameters: defaults, a TOML file, then command-line overrides (later wins).

A TOML file may set the keys at top level or in a table named after the study::

    # study.toml
    [late-failure]
    late_after_days = 90
    conf_type = "log"
    class_precedence = ["bispecific", "IMiD", "targeted", "anti-PD1", "chemotherapy", "radiotherapy"]
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cartreg.endpoints import DEFAULT_PRECEDENCE, EndpointRules
from cartreg.endpoints.derive import CUTOFF_RULES, PFS_CENSORING
from cartreg.endpoints.treatment_classes import CLASSES, validate_precedence
from cartreg.errors import CartregError

CONF_TYPES = ("log", "log-log", "plain")


@dataclass(frozen=True)
class LateFailureParams:
    """Parameters of the late-failure study (docs/endpoints.md and docs/results.md).

    late_after_days: failure is late when time to failure > this many days (91.3125 = 3 months).
    conf_type, conf_level: pointwise CI transform and level of every Kaplan-Meier estimate.
    landmark_months: the landmark of the ``*_6mo`` estimates (Kaplan-Meier at months x 30.4375 days).
    treated_origin: ``treatment_start`` (default; avoids immortal time) or ``failure``.
    min_untreated_followup_days: follow-up after failure needed to call a patient untreated.
    class_precedence: which class a combined treatment takes; ``other`` is always last.
    reference_class: the Cox reference class.
    class_map: a user CSV of regimen classes (None = the packaged table).
    cif_months: times of the cumulative incidence of failure.
    sensitivity_days: late-failure cut-offs of the sensitivity table.
    risk_table_step_months: spacing of the number-at-risk table under the curves.
    failure_treatment_window_days: a treatment started up to this many days before the failure (and
        after the last assessment before it) is the first post-failure treatment (0 = the old rule).
    pfs_censoring: ``last-assessment`` (PFS-2 and the CIF of failure censored at the last disease
        assessment) or ``last-contact`` (the old rule).
    lymphoma_death_as_failure: a lymphoma death without a recorded progression is a failure.
    line_window_days: regimens started within this many days of the first post-failure treatment
        form its line (0 = the same day only, the old rule).
    cutoff_rule: ``censor`` (records after the data cut-off ignored, follow-up ends at it) or
        ``drop-patients`` (every patient with a date after it left out: ``--cutoff --drop-invalid``
        before issue 10).
    (docs/endpoints.md, *Rules of issue 10*.)
    min_class_size: a class with fewer treated patients, and the class ``other``, are described but
        left out of the Cox models, the log-rank test and the forest plot (1 = compare every class,
        ``other`` included: the behaviour before issue 10).
    """

    late_after_days: float = 91.3125
    conf_type: str = "log-log"
    conf_level: float = 0.95
    landmark_months: float = 6.0
    treated_origin: str = "treatment_start"
    min_untreated_followup_days: int = 30
    class_precedence: tuple[str, ...] = DEFAULT_PRECEDENCE
    reference_class: str = "chemotherapy"
    class_map: str | None = None
    cif_months: tuple[float, ...] = (3.0, 6.0, 12.0)
    sensitivity_days: tuple[float, ...] = (60.0, 90.0, 91.3125, 120.0)
    risk_table_step_months: float = 3.0
    failure_treatment_window_days: int = 30
    pfs_censoring: str = "last-assessment"
    lymphoma_death_as_failure: bool = True
    line_window_days: int = 14
    cutoff_rule: str = "censor"
    min_class_size: int = 5

    def __post_init__(self) -> None:
        if self.conf_type not in CONF_TYPES:
            raise CartregError(f"conf_type must be one of {', '.join(CONF_TYPES)}, got {self.conf_type!r}")
        if not 0 < self.conf_level < 1:
            raise CartregError(f"conf_level must be between 0 and 1, got {self.conf_level!r}")
        if self.landmark_months <= 0:
            raise CartregError("landmark_months must be > 0")
        if self.reference_class not in CLASSES:
            raise CartregError(f"reference_class must be one of {', '.join(CLASSES)}, got {self.reference_class!r}")
        if self.risk_table_step_months <= 0:
            raise CartregError("risk_table_step_months must be > 0")
        if isinstance(self.min_class_size, bool) or not isinstance(self.min_class_size, int) or self.min_class_size < 1:
            raise CartregError(f"min_class_size must be a whole number >= 1, got {self.min_class_size!r}")
        object.__setattr__(self, "class_precedence", validate_precedence(self.class_precedence))
        self.rules()  # validates the remaining rule parameters

    def rules(self) -> EndpointRules:
        """The endpoint derivation rules these parameters imply."""
        return EndpointRules(
            late_after_days=float(self.late_after_days),
            min_untreated_followup_days=int(self.min_untreated_followup_days),
            class_precedence=self.class_precedence,
            treated_origin=self.treated_origin,  # type: ignore[arg-type]
            failure_treatment_window_days=self.failure_treatment_window_days,
            pfs_censoring=self.pfs_censoring,  # type: ignore[arg-type]
            lymphoma_death_as_failure=self.lymphoma_death_as_failure,
            line_window_days=self.line_window_days,
            cutoff_rule=self.cutoff_rule,  # type: ignore[arg-type]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (tuples as lists)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


_TUPLE_FIELDS = {"class_precedence", "cif_months", "sensitivity_days"}


def _coerce(name: str, value: Any) -> Any:
    if name in _TUPLE_FIELDS:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise CartregError(f"{name} must be a list")
        if name == "class_precedence":
            return tuple(str(v).strip() for v in items)
        try:
            out = tuple(float(v) for v in items)
        except (TypeError, ValueError):
            raise CartregError(f"{name} must be a list of numbers, got {value!r}") from None
        if not all(math.isfinite(v) for v in out):
            raise CartregError(f"{name} must be finite numbers, got {value!r}")
        return out
    if name in ("late_after_days", "conf_level", "landmark_months", "risk_table_step_months"):
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise CartregError(f"{name} must be a number, got {value!r}") from None
        if not math.isfinite(f):
            raise CartregError(f"{name} must be a finite number, got {value!r}")
        return f
    if name in ("min_untreated_followup_days", "failure_treatment_window_days", "line_window_days", "min_class_size"):
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise CartregError(f"{name} must be a whole number, got {value!r}") from None
        if not math.isfinite(f) or f != int(f):
            raise CartregError(f"{name} must be a whole number, got {value!r}")
        return int(f)
    if name == "lymphoma_death_as_failure":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "yes", "1"):
            return True
        if text in ("false", "no", "0"):
            return False
        raise CartregError(f"{name} must be true or false, got {value!r}")
    if name in ("pfs_censoring", "cutoff_rule"):
        allowed = PFS_CENSORING if name == "pfs_censoring" else CUTOFF_RULES
        if value not in allowed:
            raise CartregError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        return value
    if name in ("conf_type", "treated_origin", "reference_class", "class_map"):
        if value is not None and not isinstance(value, str):
            raise CartregError(f"{name} must be text, got {value!r}")
        return value
    return value


def resolve_params(
    config: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    study: str = "late-failure",
    params_type: type | None = None,
) -> Any:
    """Defaults < TOML ``config`` < ``overrides`` (None values in overrides are ignored).

    ``params_type`` is the plan's parameter dataclass (default :class:`LateFailureParams`).
    """
    params_type = params_type or LateFailureParams
    fields = {f.name: f for f in dataclasses.fields(params_type)}
    values: dict[str, Any] = {}
    if config is not None:
        path = Path(config)
        if not path.is_file():
            raise CartregError(f"config file not found: {path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CartregError(f"{path}: not valid TOML: {exc}") from None
        section = data.get(study, {})
        top = {k: v for k, v in data.items() if not isinstance(v, dict)}
        merged = {**top, **(section if isinstance(section, dict) else {})}
        unknown = sorted(set(merged) - set(fields))
        if unknown:
            raise CartregError(f"{path}: unknown parameter(s) {', '.join(unknown)}; known: {', '.join(fields)}")
        if "class_map" in merged and merged["class_map"] is not None:
            cm = Path(merged["class_map"])
            merged["class_map"] = str(cm if cm.is_absolute() else (path.parent / cm))
        values.update(merged)
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        if k not in fields:
            raise CartregError(f"parameter {k} does not apply to the {study} study")
        values[k] = v
    coerced = {k: _coerce(k, v) for k, v in values.items()}
    return params_type(**coerced)
