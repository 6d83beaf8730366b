"""Aggregator side: drive the nodes, pool their aggregates, return cartreg's own results.

The aggregator never sees a row. It sums the nodes' masked vectors (:mod:`.secure`), so it learns
the pooled count tables only, and :mod:`.pooled` turns them into the results dictionary with the
same summary blocks and estimators ``cartreg analyze`` uses. The Cox model
stratified by registry runs :func:`cartreg.stats.cox.newton_raphson` with an evaluator that sums
the nodes' log-likelihoods, scores and informations (one request per Newton step).

The transport is anything with ``organizations`` (ids, in a fixed order) and
``run(request) -> [response per organization]``: the vantage6 algorithm (:mod:`cartreg.v6algorithm`)
and the in-process :class:`LocalTransport` of the tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from cartreg import __version__
from cartreg.endpoints import CLASSES
from cartreg.errors import CartregError
from cartreg.federated import messages as msg
from cartreg.federated import secure
from cartreg.federated.grid import VALUE_DOMAINS
from cartreg.federated.options import FederatedOptions
from cartreg.federated.pooled import assemble, comparison, hazard_ratios, reference_not_compared, unflatten
from cartreg.federated.node import plan_params
from cartreg.federated.privacy import MIN_ORGANIZATIONS
from cartreg.federated.grid import time_axis
from cartreg.federated.pooled import table_rows
from cartreg.stats.cox import CoxResult, finish_fit, newton_raphson
from cartreg.stats.zph import _transform_times, score_tests, term_assignment
from cartreg.study import blocks as b

__all__ = ["Transport", "LocalTransport", "FederatedOptions", "run_federated", "federated_cox"]


class Transport(Protocol):
    organizations: list[int]

    def run(self, request: dict[str, Any]) -> list[dict[str, Any]]: ...


class LocalTransport:
    """Calls each node's handler in-process; keeps every message sent (for tests and audits)."""

    def __init__(self, nodes: Sequence[Callable[[dict[str, Any]], dict[str, Any]]], organizations: Sequence[int]):
        self.nodes = list(nodes)
        self.organizations = [int(o) for o in organizations]
        self.log: list[tuple[int, dict[str, Any], dict[str, Any]]] = []

    def run(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for org, node in zip(self.organizations, self.nodes):
            sent = msg.roundtrip(request)
            got = msg.roundtrip(node(sent))
            self.log.append((org, sent, got))
            out.append(got)
        return out


def _ask(transport: Transport, request: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    answers = transport.run(request)
    for org, a in zip(transport.organizations, answers):
        msg.check(a)
        if a["kind"] == "refusal":
            raise CartregError(f"organisation {org} refused: {a.get('reason')}", 2)
        msg.check(a, kind)
    return answers


# --- the Cox model stratified by registry ------------------------------------------------------------


def federated_cox(evaluate_nodes: Callable[[np.ndarray], list[tuple[float, np.ndarray, np.ndarray]]],
                  names: Sequence[str], n: int, events: int, n_strata: int, conf_level: float,
                  no_event_group: np.ndarray | None = None) -> CoxResult:
    """A Cox fit whose log-likelihood, score and information are sums over nodes (strata).

    Runs the one Newton-Raphson of :func:`cartreg.stats.cox.newton_raphson` (step-halving and
    convergence as ``coxph``) and builds the result with :func:`cartreg.stats.cox.finish_fit`.
    Covariates are used as they are (indicator columns are neither centred nor scaled by
    ``coxph`` either).
    """
    p = len(names)

    def evaluate(beta: np.ndarray):
        parts = evaluate_nodes(beta)
        ll = float(sum(x[0] for x in parts))
        u = np.sum([np.asarray(x[1], float) for x in parts], axis=0) if p else np.zeros(0)
        imat = np.sum([np.asarray(x[2], float) for x in parts], axis=0) if p else np.zeros((0, 0))
        return ll, u.reshape(p), imat.reshape(p, p)

    nr = newton_raphson(evaluate, p)
    return finish_fit(nr, tuple(names), np.ones(p), np.zeros(p),
                      np.zeros(p, bool) if no_event_group is None else no_event_group,
                      n=n, events=events, excluded=0, n_strata=n_strata, ties="efron", conf_level=conf_level)


def stratified_zph(fit: CoxResult, levels: list[str], terms: list[str], table: np.ndarray, grid: str,
                   ask: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> dict[str, Any]:
    """R's ``cox.zph(fit)`` (transform "km", the class factor as one term) of the Cox model stratified
    by registry, from per-node sums (:func:`cartreg.stats.zph.stratum_sums`).

    The score test's ``u`` and information are sums over strata of per-stratum terms, given the
    coefficients, the centred transformed time ``g(t)`` of each event time and a centring of X.
    cox.zph takes ``g`` from the Kaplan-Meier of all rows pooled (strata ignored), centred by its
    mean over the events, and centres X by its mean over all rows: the aggregator has both from the
    pooled (class, status, time) table, so it sends them with the final coefficients (one round);
    each node returns its stratum's ``u`` (2p) and information (2p x 2p), and
    :func:`cartreg.stats.zph.score_tests` turns their sums into the statistics. Aliased
    coefficients are left out, as cox.zph drops NA coefficients. Times are the grid's, so no two
    distinct times are near-equal (cox.zph's ``aeqSurv`` merging has nothing to merge).
    """
    keep_col = ~np.isnan(np.asarray(fit.coef, dtype=float))
    kept = [t for t, k in zip(terms, keep_col) if k]
    beta = np.asarray(fit.coef, dtype=float)[keep_col]
    t, st, grp = table_rows(table, time_axis(grid), "zph", CLASSES)
    m = np.isin(grp, levels) & ~np.isnan(t)  # the model's complete rows
    t, st, grp = t[m], st[m], grp[m]
    ttimes, _ = _transform_times(t, st, "km")
    ev = st == 1
    g = ttimes - ttimes[ev].mean()
    times, first = np.unique(t[ev], return_index=True)
    x_mean = [float(np.mean((grp == lv).astype(float))) for lv in kept]
    got = ask({"levels": levels, "terms": kept, "beta": [float(x) for x in beta],
               "zph": {"times": times.tolist(), "g": g[ev][first].tolist(), "x_mean": x_mean}})
    p = len(kept)
    u = np.sum([np.asarray(a["u"], float).reshape(2 * p) for a in got], axis=0)
    imat = np.sum([np.asarray(a["imat"], float).reshape(2 * p, 2 * p) for a in got], axis=0)
    assign = term_assignment([f"class={k}" for k in kept])
    chisq, df, pv, gchisq, gp = score_tests(u, imat, assign)
    return {"chisq": b.num(gchisq), "df": int(p), "p": b.num(gp),
            "terms": {k: {"chisq": b.num(c), "df": int(d), "p": b.num(q)}
                      for k, c, d, q in zip(assign, chisq, df, pv)}}


class _Abort(Exception):
    pass


def _lockstep(jobs: dict[str, Callable[[Callable[[dict], Any]], Any]], send: Callable[[dict[str, Any]], dict[str, Any]]):
    """Run ``jobs`` side by side; each gets ``ask(model) -> answer``, and the asks of all running
    jobs go out together in one ``send({job: model}) -> {job: answer}`` (one round for all)."""
    cv = threading.Condition()
    pending: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    active = set(jobs)
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def make_ask(name: str):
        def ask(model):
            with cv:
                pending[name] = model
                cv.notify_all()
                while name not in answers and not errors:
                    cv.wait()
                if errors:
                    raise _Abort()
                return answers.pop(name)
        return ask

    def runner(name: str, job) -> None:
        try:
            results[name] = job(make_ask(name))
        except _Abort:
            pass
        except BaseException as exc:  # re-raised in the caller's thread
            with cv:
                errors.append(exc)
        finally:
            with cv:
                active.discard(name)
                cv.notify_all()

    threads = [threading.Thread(target=runner, args=(n, j), daemon=True) for n, j in jobs.items()]
    for t in threads:
        t.start()
    while True:
        with cv:
            while active and set(pending) != active and not errors:
                cv.wait()
            if errors or not active:
                break
            batch = dict(pending)
            pending.clear()
        try:
            got = send(batch)
        except BaseException as exc:
            with cv:
                errors.append(exc)
                cv.notify_all()
            break
        with cv:
            answers.update(got)
            cv.notify_all()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


# --- the protocol ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FederatedRun:
    """What :func:`run_federated` returns: results.json content and the per-node disclosures."""

    results: dict[str, Any]
    nodes: list[dict[str, Any]]
    rounds: int


def run_federated(transport: Transport, options: FederatedOptions = FederatedOptions()) -> FederatedRun:
    """Run the federated late-failure study; results.json keys as ``cartreg analyze`` writes them."""
    orgs = list(transport.organizations)
    if len(set(orgs)) < MIN_ORGANIZATIONS:
        raise CartregError(f"a federated analysis needs at least {MIN_ORGANIZATIONS} organisations "
                           f"(registries); {len(set(orgs))} given: nothing computed", 2)
    params = plan_params(options.plan())
    plan = options.plan()
    session = secrets.token_hex(16)
    rounds = 0

    hello = _ask(transport, msg.request("hello", session, plan=plan, organizations=orgs), "hello")
    rounds += 1
    keys = {str(a["organization"]): a["public_key"] for a in hello}
    if options.value_tables and not all((a.get("settings") or {}).get("allow_value_tables") for a in hello):
        # a node refuses value tables: go on without them (medians, quartiles, ranges are then null)
        options = dataclasses.replace(options, value_tables=False)
        plan = options.plan()
    texts = None
    if options.regimen_texts and all(a.get("regimen_texts") is not None for a in hello):
        texts = {k: sorted({str(t) for a in hello for t in a["regimen_texts"][k]})
                 for k in ("regimens", "unmapped", "pre_failure", "not_treatment")}
    tabs = _ask(transport, msg.request("tables", session, plan=plan, organizations=orgs, public_keys=keys,
                                       regimen_texts=texts), "tables")
    rounds += 1
    digests = {a["layout"] for a in tabs}
    if len(digests) != 1:
        raise CartregError("the nodes' tables do not have the same layout: do they run the same cartreg version?", 2)
    try:
        total = secure.unmask_sum([msg.decode_array(a["masked"]) for a in tabs])
    except ValueError as exc:
        raise CartregError(f"secure aggregation failed: {exc}", 2) from None
    scalar_keys, shapes = tabs[0]["layout_keys"], tabs[0]["layout_shapes"]
    counts = unflatten(scalar_keys, total[: len(scalar_keys)])
    tables: dict[str, np.ndarray] = {}
    pos = len(scalar_keys)
    for name, shape in shapes:
        size = int(np.prod(shape))
        tables[name] = total[pos : pos + size].reshape(shape)
        pos += size

    stratified = None
    _, compared, left_out = comparison(counts, params)
    note = reference_not_compared(params.reference_class, left_out)
    if note is not None and not options.pooled_risk_sets:  # no model to fit (as late_failure.run)
        stratified = {"pfs2": ({}, [note], None), "os2": ({}, [note], None)}
    elif not options.pooled_risk_sets:
        # the two Cox models (PFS-2, OS-2) run their Newton steps side by side: one round per step pair
        def send(batch: dict[str, dict[str, Any]]) -> dict[str, list]:
            nonlocal rounds
            names = list(batch)
            req = msg.request("cox", session, plan=plan, organizations=orgs, models=[batch[k] for k in names])
            answers = _ask(transport, req, "cox")
            rounds += 1
            return {k: [a["evaluations"][i] for a in answers] for i, k in enumerate(names)}

        def job(endpoint: str):
            ev_key = "events_pfs2" if endpoint == "pfs2" else "events_os2"
            table = tables["pfs2" if endpoint == "pfs2" else "os2t"]

            def run(ask):
                def fit_for(levels: list[str], terms: list[str]) -> CoxResult:
                    def evaluate_nodes(beta: np.ndarray):
                        got = ask({"endpoint": endpoint, "levels": levels, "terms": terms,
                                   "beta": [float(x) for x in beta]})
                        return [(a["loglik"], a["score"], a["information"]) for a in got]

                    n = int(table[[CLASSES.index(g) for g in levels]].sum())
                    events = int(sum(counts["by_class"][g][ev_key] for g in levels))
                    return federated_cox(evaluate_nodes, [f"class={t}" for t in terms], n, events, len(orgs),
                                         params.conf_level)

                bc = counts["by_class"]
                # the classes compared (issue 10 rule 7), as late_failure.run restricts its Cox model
                def ph_for(fit: CoxResult, levels: list[str], terms: list[str]) -> dict[str, Any]:
                    return stratified_zph(fit, levels, terms, table, options.grid,
                                          lambda model: ask({"endpoint": endpoint} | model))

                return hazard_ratios(fit_for, {g: bc[g][ev_key] for g in compared}, set(compared),
                                     params.reference_class, flag_imprecise=True, ph_for=ph_for)
            return run

        stratified = _lockstep({"pfs2": job("pfs2"), "os2": job("os2")}, send)

    cutoffs = {(a.get("data_cutoff"), a.get("data_cutoff_inferred")) for a in hello}
    common_cutoff = next(iter(cutoffs))[0] if len(cutoffs) == 1 else None
    results = assemble(counts, tables, params, options, stratified, texts, data_cutoff=common_cutoff)
    for var, n in (counts.get("off_grid") or {}).items():
        if n and options.value_tables:
            lo, hi, per_unit = VALUE_DOMAINS[var]
            results["warnings"].append({"kind": "federated", "message": f"{n} value(s) of {var} are not multiples of "
                                        f"{1 / per_unit:g}: its median, quartiles and range are on that grid"})
    if not options.value_tables:
        results["warnings"].append({"kind": "federated", "message": "a registry does not release value tables: "
                                    "medians, quartiles and ranges are not given"})
    if texts is None:
        results["warnings"].append({"kind": "federated", "message": "a registry does not release regimen texts: "
                                    "counts per regimen are not given"})
    results["federated"] = {
        "registries": len(orgs),
        "n": [{"organization": int(a["organization"]), "registered": int(a["n_registered"]),
               "infused": int(a["n_infused"]), "data_cutoff": a.get("data_cutoff")} for a in hello],
        "grid": options.grid,
        "cox": "pooled risk sets" if options.pooled_risk_sets else "stratified by registry",
        "value_tables": options.value_tables,
        "rounds": rounds,
        "protocol_version": msg.VERSION,
    }
    if len(cutoffs) == 1:  # one common cut-off: as analyze reports it (else each registry's is in federated.n)
        results["parameters"]["data_cutoff"], results["parameters"]["data_cutoff_inferred"] = cutoffs.pop()
    results["meta"] = {"cartreg_version": __version__, "registry_sha256": None,  # several registries: no one hash
                       "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
                       "files": {}}
    return FederatedRun(results=results, nodes=[{k: v for k, v in a.items() if k != "kind"} for a in hello],
                        rounds=rounds)
