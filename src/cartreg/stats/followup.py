"""Median follow-up by the reverse Kaplan-Meier method (Schemper & Smith 1996).

Estimand: the median potential follow-up — the median of the censoring distribution. The
Kaplan-Meier estimator is applied with the roles of event and censoring swapped (a censored
observation is the "event", a death ends observation early), and its median and CI are read by the
same ``summary(fit)$table`` rule as any Kaplan-Meier median. Equivalent to R
``survfit(Surv(time, 1 - status) ~ 1)`` and its printed median. At a time with both a death and a
censoring, the death is treated as still at risk for censoring (R's order: "events" first).

>>> import numpy as np
>>> fu = median_followup(np.array([1., 2, 3, 4, 5]), np.array([1, 0, 1, 0, 0]))
>>> fu.median
4.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cartreg.stats._data import complete_cases
from cartreg.stats.ci import check_conf
from cartreg.stats.km import KaplanMeier, _fmt, _km_from_complete, as_event, as_time


@dataclass(frozen=True, eq=False)
class FollowUp:
    """Median follow-up by reverse Kaplan-Meier.

    ``median`` (``None`` = not reached) and ``ci`` (lower, upper) by the ``print.survfit`` rule;
    ``n`` observations used; ``excluded`` rows dropped for a missing value; ``conf_type``,
    ``conf_level``; ``reverse`` the reverse Kaplan-Meier curve itself (its "events" are the
    censorings).
    """

    median: float | None
    ci: tuple[float | None, float | None]
    n: int
    excluded: int
    conf_type: str
    conf_level: float
    reverse: KaplanMeier

    def summary(self) -> str:
        """One line: median follow-up and its CI."""
        lo, hi = self.ci
        return (f"median follow-up {_fmt(self.median)} ({self.conf_level:.0%} CI {_fmt(lo)}-{_fmt(hi)}, "
                f"{self.conf_type}), reverse Kaplan-Meier, n={self.n}")

    def __repr__(self) -> str:
        return f"FollowUp({self.summary()})"


def median_followup(time: np.ndarray, event: np.ndarray, conf_type: str = "log",
                    conf_level: float = 0.95) -> FollowUp:
    """Median follow-up by reverse Kaplan-Meier (Schemper & Smith 1996); see the module docstring."""
    check_conf(conf_type, conf_level)
    cc = complete_cases(np.asarray(time), np.asarray(event))
    t = as_time(cc.arrays[0])
    e = as_event(cc.arrays[1])
    rev = _km_from_complete(t, 1.0 - e, cc.excluded, conf_type, conf_level)
    return FollowUp(median=rev.median, ci=rev.median_ci, n=rev.n, excluded=cc.excluded,
                    conf_type=conf_type, conf_level=float(conf_level), reverse=rev)
