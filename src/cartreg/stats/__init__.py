"""Estimators on plain NumPy arrays, one per module, each returning a frozen result dataclass.

Every estimator agrees with R ``survival`` 3.5 / ``cmprsk`` 2.2; the conventions matched are in
``docs/statistics.md``, ``docs/stats-cox.md`` and ``docs/stats-cuminc.md``.
"""

from __future__ import annotations

from typing import Any

from cartreg.stats.followup import FollowUp, median_followup
from cartreg.stats.km import KaplanMeier, RiskTable, SurvivalAt, kaplan_meier, kaplan_meier_by
from cartreg.stats.logrank import LogRank, logrank_test

_LAZY = {
    "coxph": "cartreg.stats.cox",
    "CoxResult": "cartreg.stats.cox",
    "design_matrix": "cartreg.stats.design",
    "cuminc": "cartreg.stats.cuminc",
}


def __getattr__(name: str) -> Any:  # the Cox and cuminc modules load on first use
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cartreg.stats' has no attribute {name!r}")


__all__ = [
    "FollowUp", "KaplanMeier", "LogRank", "RiskTable", "SurvivalAt",
    "kaplan_meier", "kaplan_meier_by", "logrank_test", "median_followup",
    "coxph", "design_matrix", "cuminc",
]
