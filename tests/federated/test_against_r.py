"""The federated Cox models against R (scripts/r-reference/federated_cox.R, survival 3.5).

Three registries with heavy ties shared across them (tests/fixtures/r/federated_cox_data.csv).
Stratified by registry: each node's log-likelihood, score and information summed into the shared
Newton-Raphson. Pooled risk sets: the pooled count table per (class, status, time), expanded and fitted.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cartreg.federated.central import federated_cox
from cartreg.federated.pooled import table_rows
from cartreg.federated.grid import time_axis
from cartreg.federated.node import evaluate_rows
from cartreg.stats import coxph
from cartreg.stats.design import design_matrix

FIX = Path(__file__).parents[1] / "fixtures" / "r"
CLASSES = ["bispecific", "chemo", "imid", "targeted"]


@pytest.fixture(scope="module")
def data():
    with open(FIX / "federated_cox_data.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    reg = np.array([r["registry"] for r in rows])
    cls = np.array([r["class"] for r in rows], dtype=object)
    t = np.array([float(r["time"]) for r in rows])
    e = np.array([int(r["event"]) for r in rows])
    return reg, cls, t, e, json.loads((FIX / "federated_cox.json").read_text())


def _check(fit, ref):
    names = [n.replace("class", "class=", 1) for n in ref["names"]]
    assert list(fit.names) == names
    np.testing.assert_allclose(fit.coef, ref["coef"], rtol=1e-9)
    np.testing.assert_allclose(fit.se, ref["se"], rtol=1e-9)
    np.testing.assert_allclose(fit.ci_lower, ref["lower"], rtol=1e-9)
    np.testing.assert_allclose(fit.ci_upper, ref["upper"], rtol=1e-9)
    np.testing.assert_allclose(fit.p, ref["p"], rtol=1e-6)
    assert [fit.loglik_null, fit.loglik] == pytest.approx(ref["loglik"], rel=1e-12)
    assert fit.score_chi2 == pytest.approx(ref["score"], rel=1e-9)
    assert fit.iterations == ref["iter"] and fit.events == ref["nevent"] and fit.n == ref["n"]


def test_stratified_by_registry_matches_r(data):
    reg, cls, t, e, ref = data
    X, names = design_matrix(cls, "chemo", numeric={}, group_name="class")
    nodes = [reg == r for r in ("A", "B", "C")]
    # events at the same time in several registries: the strata matter
    assert len(set(t[nodes[0] & (e == 1)]) & set(t[nodes[1] & (e == 1)]) & set(t[nodes[2] & (e == 1)])) >= 3

    def evaluate_nodes(beta):
        return [evaluate_rows(t[m], e[m], X[m], beta) for m in nodes]

    fit = federated_cox(evaluate_nodes, names, int(t.size), int(e.sum()), 3, 0.95)
    _check(fit, ref["stratified"])


def test_pooled_risk_sets_from_the_pooled_count_table_match_r(data):
    reg, cls, t, e, ref = data
    ax = time_axis("day")
    table = np.zeros((len(CLASSES), 2, ax.size), np.int64)
    for r in ("A", "B", "C"):  # each node's table, summed (as the secure sum gives it)
        m = reg == r
        np.add.at(table, (np.searchsorted(CLASSES, cls[m].astype(str)), e[m], ax.index(t[m])), 1)
    tt, ee, gg = table_rows(table, ax, "time", CLASSES)
    X, names = design_matrix(gg, "chemo", numeric={}, group_name="class")
    _check(coxph(tt, ee, X, names), ref["pooled"])
