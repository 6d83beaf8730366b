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

# The DataFrame door (issue 12): the same estimators, also callable with column names and data=.
# They call the array functions above unchanged when data is None.
from cartreg.stats.cox_robust import score_residuals  # noqa: E402
from cartreg.stats.finegray import FineGrayResult  # noqa: E402
from cartreg.stats.analysis import cuminc_analysis, survival_analysis  # noqa: E402
from cartreg.stats.frame import (  # noqa: E402
    KaplanMeierBy, as_table, coxph, cuminc, finegray, kaplan_meier,
)

__all__ += [
    "FineGrayResult", "KaplanMeierBy", "as_table", "cuminc_analysis", "finegray",
    "score_residuals", "survival_analysis",
]
from cartreg.stats.cox_firth import FirthCoxResult  # noqa: E402
from cartreg.stats.frame import coxphf  # noqa: E402

__all__ += ["FirthCoxResult", "coxphf"]
from cartreg.stats.frame import logrank_test, median_followup  # noqa: E402
from cartreg.stats.tidy import tidy  # noqa: E402

__all__ += ["tidy"]
# Issue 12: group comparisons (Table 1), logistic regression, RMST, propensity weighting.
from cartreg.stats.compare import CompareResult, compare  # noqa: E402
from cartreg.stats.logistic import LogisticResult, logistic, logistic_fit  # noqa: E402
from cartreg.stats.propensity import PropensityResult, propensity  # noqa: E402
from cartreg.stats.rmst import RMSTResult, rmst  # noqa: E402

__all__ += [
    "CompareResult", "LogisticResult", "PropensityResult", "RMSTResult", "compare", "logistic",
    "logistic_fit", "propensity", "rmst",
]
