"""What the researcher asks of a federated analysis (the nodes may refuse it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["FederatedOptions"]


@dataclass(frozen=True)
class FederatedOptions:
    """What the researcher asks for (the nodes may refuse it)."""

    study: str = "late-failure"
    grid: str = "month"
    pooled_risk_sets: bool = False
    value_tables: bool = True
    regimen_texts: bool = True
    params: dict[str, Any] | None = None

    def plan(self) -> dict[str, Any]:
        return {"study": self.study, "grid": self.grid, "cox": "pooled" if self.pooled_risk_sets else "stratified",
                "value_tables": self.value_tables, "regimen_texts": self.regimen_texts,
                "params": dict(self.params or {})}
