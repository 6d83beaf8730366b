"""Pointwise confidence intervals for a survival probability, exactly as R ``survival``.

The formulas are those of ``survival:::survfit_confint`` (survival 3.5) with ``logse = TRUE`` (the
standard error is that of the cumulative hazard, i.e. of ``-log S``, as Greenwood (1926) gives it)
and ``ulimit = TRUE``. With ``z`` the ``1 - (1 - conf_level) / 2`` normal quantile and ``se`` the
standard error of ``log S``:

* ``plain``:   ``S ± z·se·S``, clipped to ``[0, 1]``; NaN where ``S = 0`` and ``se = ∞``.
* ``log``:     ``exp(log S ± z·se)``, upper clipped to 1; NaN where ``S = 0`` (R's default).
* ``log-log``: ``exp(-exp(log(-log S) ∓ z·se/log S))``; NaN where ``S`` is 0 or 1
  (SAS's and Stata's default; the only one lifelines offers).

NaN plays the role of R's ``NA``.

>>> import numpy as np
>>> lo, hi = confint(np.array([0.5]), np.array([0.2]), "log", 0.95)
>>> round(float(lo[0]), 6), round(float(hi[0]), 6)
(0.337854, 0.739964)
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from cartreg.errors import CartregError

CONF_TYPES: tuple[str, ...] = ("log", "log-log", "plain")


def check_conf(conf_type: str, conf_level: float) -> None:
    """Raise :class:`CartregError` for an unknown ``conf_type`` or a level outside (0, 1)."""
    if conf_type not in CONF_TYPES:
        raise CartregError(f"unknown conf type {conf_type!r}: use one of {', '.join(CONF_TYPES)}")
    if not (0.0 < float(conf_level) < 1.0):
        raise CartregError(f"conf level must be strictly between 0 and 1, got {conf_level}")


def z_value(conf_level: float) -> float:
    """The two-sided normal quantile ``qnorm(1 - (1 - conf_level) / 2)``."""
    return float(ndtri(1.0 - (1.0 - conf_level) / 2.0))


def confint(
    surv: np.ndarray, se_log: np.ndarray, conf_type: str, conf_level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper pointwise limits for ``surv`` given the standard error of ``log(surv)``.

    Matches ``survfit_confint(p, se, logse=TRUE, conf.type, conf.int, ulimit=TRUE)``.
    """
    check_conf(conf_type, conf_level)
    p = np.asarray(surv, dtype=float)
    se = np.asarray(se_log, dtype=float)
    z = z_value(conf_level)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            se2 = se * p * z
            lower = np.maximum(p - se2, 0.0)  # np.maximum propagates NaN like R's pmax
            upper = np.minimum(p + se2, 1.0)
        elif conf_type == "log":
            xx = np.where(p == 0, np.nan, p)
            se2 = z * se
            lower = np.exp(np.log(xx) - se2)
            upper = np.minimum(np.exp(np.log(xx) + se2), 1.0)
        else:  # log-log
            xx = np.where((p == 0) | (p == 1), np.nan, p)
            se2 = z * se / np.log(xx)
            lower = np.exp(-np.exp(np.log(-np.log(xx)) - se2))
            upper = np.exp(-np.exp(np.log(-np.log(xx)) + se2))
    return lower, upper
