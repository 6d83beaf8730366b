"""Estimators, one per module, each returning a frozen result dataclass.

Every estimator agrees with R ``survival`` 3.5 / ``cmprsk`` 2.2 (and, for the models of issue 12,
``coxphf``, ``logistf``, ``MASS``, ``survRM2``, ``tableone``); the conventions matched are in
``docs/statistics.md``, ``docs/stats-cox.md`` and ``docs/stats-cuminc.md``.

The names exported here are the DataFrame door (:mod:`cartreg.stats.frame`): called with arrays they
are the array estimators unchanged; called with column names and ``data=`` (pandas, polars, Arrow
or a dict) they read the columns first.

>>> import numpy as np
>>> kaplan_meier(np.array([1., 2, 3, 4]), np.array([1, 1, 0, 1])).median
3.0
"""

from __future__ import annotations

from cartreg.stats.analysis import cuminc_analysis, survival_analysis
from cartreg.stats.compare import CompareResult, compare
from cartreg.stats.cox import CoxResult
from cartreg.stats.cox_firth import FirthCoxResult
from cartreg.stats.cox_robust import score_residuals
from cartreg.stats.design import design_matrix
from cartreg.stats.finegray import FineGrayResult
from cartreg.stats.followup import FollowUp
from cartreg.stats.frame import (
    KaplanMeierBy,
    as_table,
    coxph,
    coxphf,
    cuminc,
    finegray,
    kaplan_meier,
    logrank_test,
    median_followup,
)
from cartreg.stats.km import KaplanMeier, RiskTable, SurvivalAt, kaplan_meier_by
from cartreg.stats.logistic import LogisticResult, logistic, logistic_fit
from cartreg.stats.logrank import LogRank
from cartreg.stats.propensity import PropensityResult, propensity
from cartreg.stats.rmst import RMSTResult, rmst
from cartreg.stats.tidy import tidy
from cartreg.stats.zph import CoxZph, cox_zph

__all__ = [
    "CompareResult", "CoxResult", "CoxZph", "FineGrayResult", "FirthCoxResult", "FollowUp", "KaplanMeier",
    "KaplanMeierBy", "LogRank", "LogisticResult", "PropensityResult", "RMSTResult", "RiskTable", "SurvivalAt",
    "as_table", "compare", "cox_zph", "coxph", "coxphf", "cuminc", "cuminc_analysis", "design_matrix",
    "finegray", "kaplan_meier", "kaplan_meier_by", "logistic", "logistic_fit", "logrank_test",
    "median_followup", "propensity", "rmst", "score_residuals", "survival_analysis", "tidy",
]
