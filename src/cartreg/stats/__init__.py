"""Estimators on plain NumPy arrays, one per module, each returning a frozen result dataclass.

Every estimator agrees with R ``survival`` 3.5 / ``cmprsk`` 2.2; the conventions matched are in
``docs/statistics.md``, ``docs/stats-cox.md`` and ``docs/stats-cuminc.md``.

>>> import numpy as np
>>> kaplan_meier(np.array([1., 2, 3, 4]), np.array([1, 1, 0, 1])).median
3.0
"""

from __future__ import annotations

from cartreg.stats.cox import CoxResult, coxph
from cartreg.stats.cuminc import cuminc
from cartreg.stats.design import design_matrix
from cartreg.stats.followup import FollowUp, median_followup
from cartreg.stats.km import KaplanMeier, RiskTable, SurvivalAt, kaplan_meier, kaplan_meier_by
from cartreg.stats.logrank import LogRank, logrank_test
from cartreg.stats.zph import CoxZph, cox_zph

__all__ = [
    "CoxResult", "CoxZph", "FollowUp", "KaplanMeier", "LogRank", "RiskTable", "SurvivalAt",
    "cox_zph", "coxph", "cuminc", "design_matrix", "kaplan_meier", "kaplan_meier_by", "logrank_test",
    "median_followup",
]
