"""Endpoint derivations (docs/endpoints.md): failure, early/late, responses, treatments, time-to-event."""

from cartreg.endpoints.derive import (
    AFTER_CUTOFF_KEYS,
    CUTOFF_RULES,
    DAYS_PER_MONTH,
    PFS_CENSORING,
    EndpointRules,
    Endpoints,
    derive_endpoints,
)
from cartreg.endpoints.treatment_classes import CLASSES, DEFAULT_PRECEDENCE, NOT_TREATMENT, ClassMap, load_class_map

__all__ = [
    "AFTER_CUTOFF_KEYS",
    "CLASSES",
    "CUTOFF_RULES",
    "DAYS_PER_MONTH",
    "DEFAULT_PRECEDENCE",
    "NOT_TREATMENT",
    "ClassMap",
    "EndpointRules",
    "Endpoints",
    "PFS_CENSORING",
    "derive_endpoints",
    "load_class_map",
]
