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

__all__ = [
    "CoxResult", "FollowUp", "KaplanMeier", "LogRank", "RiskTable", "SurvivalAt",
    "coxph", "cuminc", "design_matrix", "kaplan_meier", "kaplan_meier_by", "logrank_test",
    "median_followup",
]

# Issue 12: group comparisons (Table 1), logistic regression, RMST, propensity weighting.
from cartreg.stats.compare import CompareResult, compare  # noqa: E402
from cartreg.stats.logistic import LogisticResult, logistic, logistic_fit  # noqa: E402
from cartreg.stats.propensity import PropensityResult, propensity  # noqa: E402
from cartreg.stats.rmst import RMSTResult, rmst  # noqa: E402

__all__ += [
    "CompareResult", "LogisticResult", "PropensityResult", "RMSTResult", "compare", "logistic",
    "logistic_fit", "propensity", "rmst",
]
