"""The one place where plan blocks call estimators that live in other issues' modules.

``[[table]]`` blocks call ``cartreg.stats.compare`` and ``[[model]] kind = "logistic"`` calls
``cartreg.stats.logistic`` (issue 12); the Fine-Gray model of ``[[cuminc]]`` blocks with ``adjust``
calls ``cartreg.stats.finegray``. When the module is not part of this build, the block stops with a
clear :class:`CartregError` (exit 2) instead of a traceback. Each adapter returns the estimator's
documented ``to_dict()`` JSON unchanged (the plan block adds only ``kind``).
"""

from __future__ import annotations

import importlib
from typing import Any, Mapping

import numpy as np



def _module(name: str, block: str, issue: str) -> Any:
    try:
        return importlib.import_module(f"cartreg.stats.{name}")
    except ImportError:
        from cartreg.study.plan import PlanInputError

        raise PlanInputError(
            f"block kind {block!r} needs cartreg.stats.{name} ({issue}), which this build of cartreg does not have",
            exit_code=2,
        ) from None


def compare(data: Mapping[str, np.ndarray], by: str, variables: list[str],
            types: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Table 1: ``cartreg.stats.compare.compare(data, by, variables, types=...).to_dict()``.

    ``data`` maps column names to NumPy arrays of the plan population (text as object arrays with
    None for missing, flags as ``no``/``yes`` text, numbers as float with NaN); ``types`` says which
    variables are categorical or continuous.
    """
    mod = _module("compare", "table", "the statistics issue: cartreg compare")
    return mod.compare(dict(data), by, variables=list(variables), types=dict(types or {})).to_dict()


def logistic(outcome: str, covariates: list[str], data: Mapping[str, np.ndarray],
             reference_levels: dict[str, str] | None = None, firth: bool = False) -> dict[str, Any]:
    """Logistic model: ``cartreg.stats.logistic.logistic(...).to_dict()``."""
    mod = _module("logistic", "model", "the statistics issue: cartreg logistic")
    return mod.logistic(outcome, list(covariates), dict(data), reference_levels=reference_levels or None,
                        firth=firth).to_dict()


def finegray(days: np.ndarray, status: np.ndarray, X: np.ndarray, names: list[str], cause: int,
             conf_level: float = 0.95) -> dict[str, Any]:
    """Fine-Gray subdistribution hazards of ``cause``: ``cartreg.stats.finegray.finegray(time, status,
    X, names, cause=, conf_level=)`` (R ``cmprsk::crr``), as JSON ``{cause, n, excluded, events,
    competing, converged, terms[{term, coef, se, hr, ci, p}], warnings}``."""
    mod = _module("finegray", "cuminc (Fine-Gray, with adjust)", "issue 12b: Fine-Gray")
    fit = mod.finegray(days, status, X, list(names), cause=cause, conf_level=conf_level)

    def num(x: Any) -> float | None:
        x = float(x)
        return x if np.isfinite(x) else None

    return {
        "cause": str(fit.cause), "n": int(fit.n), "excluded": int(fit.excluded), "events": int(fit.events),
        "competing": int(fit.competing), "converged": bool(fit.converged),
        "terms": [{"term": n, "coef": num(fit.coef[j]), "se": num(fit.se[j]), "hr": num(fit.hr[j]),
                   "ci": [num(fit.ci_lower[j]), num(fit.ci_upper[j])], "p": num(fit.p[j])}
                  for j, n in enumerate(fit.names)],
        "warnings": [str(w) for w in fit.warnings],
    }


__all__ = ["compare", "finegray", "logistic"]
