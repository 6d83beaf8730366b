"""The registry stage: exchange-format schema, columnar validation, and the DuckDB store.

Example::

    from cartreg.registry import read_registry, import_registry
    reg = read_registry("examples/registry")
    reg.report.has_errors, reg.con.sql("SELECT count(*) FROM patients").fetchone()
"""

from __future__ import annotations

from cartreg.registry.report import Issue, ValidationReport
from cartreg.registry.store import (
    ImportResult,
    Registry,
    RegistryInvalidError,
    RegistryMetadata,
    import_registry,
    read_registry,
)

__all__ = [
    "ImportResult",
    "Issue",
    "Registry",
    "RegistryInvalidError",
    "RegistryMetadata",
    "ValidationReport",
    "import_registry",
    "read_registry",
]
