"""Endpoint derivations (docs/endpoints.md): failure, early/late, responses, treatments, time-to-event."""

from cartreg.endpoints.derive import DAYS_PER_MONTH, EndpointRules, Endpoints, derive_endpoints
from cartreg.endpoints.treatment_classes import CLASSES, DEFAULT_PRECEDENCE, NOT_TREATMENT, ClassMap, load_class_map

__all__ = [
    "CLASSES",
    "DAYS_PER_MONTH",
    "DEFAULT_PRECEDENCE",
    "NOT_TREATMENT",
    "ClassMap",
    "EndpointRules",
    "Endpoints",
    "derive_endpoints",
    "load_class_map",
]
