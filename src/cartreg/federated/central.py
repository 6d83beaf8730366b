"""Aggregator side: drive the nodes, pool their aggregates, return cartreg's own results.

The aggregator never sees a row. It sums the nodes' masked vectors (:mod:`.secure`), so it learns
the pooled count tables only, expands each pooled table into the (time, group, status) rows it
counts, and hands them to the same summary blocks and estimators ``cartreg analyze`` uses
(Kaplan-Meier, log-rank, Aalen-Johansen and Gray, Cox): those results depend on the rows only
through these counts, so they are those of the union of the registries on the grid. The Cox model
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
from cartreg.endpoints import CLASSES, DAYS_PER_MONTH, load_class_map
from cartreg.errors import CartregError
from cartreg.federated import messages as msg
from cartreg.federated import secure
from cartreg.federated.grid import VALUE_DOMAINS, Axis, time_axis, value_axis
from cartreg.federated.node import plan_params
from cartreg.federated.privacy import MIN_ORGANIZATIONS
from cartreg.stats.cox import CoxResult, finish_fit, newton_raphson
from cartreg.stats.design import design_matrix
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


@dataclass(frozen=True)
class FederatedOptions:
    """What the researcher asks for (the nodes may refuse it)."""

    study: str = "late-failure"
    grid: str = "month"
    pooled_risk_sets: bool = False
    value_tables: bool = True
    regimen_texts: bool = True
    params: dict[str, Any] | None = None

    def plan(self) -> dict[str, Any]:
        return {"study": self.study, "grid": self.grid, "cox": "pooled" if self.pooled_risk_sets else "stratified",
                "value_tables": self.value_tables, "regimen_texts": self.regimen_texts,
                "params": dict(self.params or {})}


def _ask(transport: Transport, request: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    answers = transport.run(request)
    for org, a in zip(transport.organizations, answers):
        msg.check(a)
        if a["kind"] == "refusal":
            raise CartregError(f"organisation {org} refused: {a.get('reason')}", 2)
        msg.check(a, kind)
    return answers


# --- expanding pooled tables into the rows they count ----------------------------------------------


def _axis_values(ax: Axis, counts: np.ndarray, what: str) -> np.ndarray:
    """The values a pooled 1-D table counts (NaN for the missing bin); out-of-range is an error."""
    counts = np.asarray(counts, np.int64)
    if counts[ax.out_of_range]:
        raise CartregError(f"{what}: {int(counts[ax.out_of_range])} value(s) outside the agreed range", 2)
    vals = np.concatenate([ax.values(), [np.nan]])
    return np.repeat(vals, counts[: ax.n + 1])


def _rows(table: np.ndarray, ax: Axis, what: str, labels: Sequence[Any] | None = None):
    """(time, status[, group]) rows of a pooled (status, time) or (group, status, time) table."""
    t = table if labels is not None else table[None]
    times, status, group = [], [], []
    for gi in range(t.shape[0]):
        for s in range(t.shape[1]):
            v = _axis_values(ax, t[gi, s], what)
            times.append(v)
            status.append(np.full(v.size, s, np.int64))
            group.append(np.full(v.size, labels[gi] if labels is not None else None, dtype=object))
    return np.concatenate(times), np.concatenate(status), np.concatenate(group)


def _distribution(ax: Axis, counts: np.ndarray, what: str, scale: float = 1.0,
                  warnings: list | None = None) -> dict[str, Any]:
    counts = np.asarray(counts, np.int64)
    if counts[ax.out_of_range]:
        if warnings is not None:
            warnings.append({"kind": "federated", "message": f"{what}: values outside the agreed range; "
                             "median, quartiles and range not given"})
        n = int(counts[: ax.n].sum() + counts[ax.out_of_range])
        return {"n": n, "n_missing": int(counts[ax.missing]), "median": None, "min": None, "max": None,
                "q1": None, "q3": None}
    return b.distribution(_axis_values(ax, counts, what) / scale)


def _tally(texts: list[str], counts: np.ndarray) -> dict[str, int]:
    """``{text: n}`` without zeros, most frequent first, then alphabetical (as ``late_failure._value_counts``)."""
    pairs = [(t, int(n)) for t, n in zip(texts, np.asarray(counts).tolist()) if n]
    return dict(sorted(pairs, key=lambda kv: (-kv[1], kv[0])))


def _with_pct(d: Any) -> Any:
    """Add ``pct`` to every ``{n, N, ...}`` count (as :func:`cartreg.study.blocks.count` does)."""
    if not isinstance(d, dict):
        return d
    d = {k: _with_pct(v) for k, v in d.items()}
    if "n" in d and "N" in d and not isinstance(d["n"], dict):
        rest = {k: v for k, v in d.items() if k not in ("n", "N")}
        return {"n": d["n"], "N": d["N"], "pct": b.pct(d["n"], d["N"])} | rest
    return d


def _unflatten(keys: list[str], values: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in zip(keys, values.tolist()):
        parts = k.split("/")
        cur = out
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = int(v)
    return out


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


def _cox_block(fit_for: Callable[[list[str], list[str]], CoxResult], group_events: dict[str, int],
               group_present: set[str], reference: str) -> tuple[dict[str, Any], list[str]]:
    """The ``{class: {hr, ci, p}}`` and notes of :func:`cartreg.study.blocks.cox_vs_reference`, same rules."""
    levels = sorted(group_present)
    hrs: dict[str, Any] = {g: None for g in levels if g != reference}
    notes: list[str] = []
    if reference not in group_present:
        notes.append(f"reference class {reference!r} has no patients: no hazard ratios")
        return hrs, notes
    if group_events[reference] == 0:
        notes.append(f"reference class {reference!r} has no events: no hazard ratios")
        return hrs, notes
    for g in levels:
        if group_events[g] == 0:
            notes.append(f"class {g!r} has no events: left out of the Cox model, HR not estimable")
    keep = [g for g in levels if group_events[g] > 0]
    if len(keep) < 2:
        return hrs, notes
    _, names = design_matrix(np.array(keep, dtype=object), reference, numeric={}, group_name="class")
    terms = [nm.split("=", 1)[1] for nm in names]
    fit = fit_for(keep, terms)
    for i, name in enumerate(fit.names):
        g = name.split("=", 1)[1]
        if bool(np.asarray(fit.infinite)[i]):
            notes.append(f"class {g!r}: coefficient is infinite, HR not estimable")
            continue
        hrs[g] = {"hr": b.num(fit.hr[i]), "ci": [b.num(fit.ci_lower[i]), b.num(fit.ci_upper[i])],
                  "p": b.num(fit.p[i])}
    notes.extend(str(w) for w in fit.warnings)
    return hrs, notes


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
        texts = {k: sorted({str(t) for a in hello for t in a["regimen_texts"][k]}) for k in ("regimens", "unmapped")}
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
    counts = _unflatten(scalar_keys, total[: len(scalar_keys)])
    tables: dict[str, np.ndarray] = {}
    pos = len(scalar_keys)
    for name, shape in shapes:
        size = int(np.prod(shape))
        tables[name] = total[pos : pos + size].reshape(shape)
        pos += size

    stratified = None
    if not options.pooled_risk_sets:
        # the two Cox models (PFS-2, OS-2) run their Newton steps side by side: one round per step pair
        def send(batch: dict[str, dict[str, Any]]) -> dict[str, list]:
            nonlocal rounds
            names = list(batch)
            req = msg.request("cox", session, plan=plan, organizations=orgs, models=[batch[k] for k in names])
            answers = _ask(transport, req, "cox")
            rounds += 1
            return {k: [(a["evaluations"][i]["loglik"], a["evaluations"][i]["score"],
                         a["evaluations"][i]["information"]) for a in answers] for i, k in enumerate(names)}

        def job(endpoint: str):
            ev_key = "events_pfs2" if endpoint == "pfs2" else "events_os2"
            table = tables["pfs2" if endpoint == "pfs2" else "os2t"]

            def run(ask):
                def fit_for(levels: list[str], terms: list[str]) -> CoxResult:
                    def evaluate_nodes(beta: np.ndarray):
                        return ask({"endpoint": endpoint, "levels": levels, "terms": terms,
                                    "beta": [float(x) for x in beta]})

                    n = int(table[[CLASSES.index(g) for g in levels]].sum())
                    events = int(sum(counts["by_class"][g][ev_key] for g in levels))
                    return federated_cox(evaluate_nodes, [f"class={t}" for t in terms], n, events, len(orgs),
                                         params.conf_level)

                bc = counts["by_class"]
                return _cox_block(fit_for, {g: bc[g][ev_key] for g in CLASSES},
                                  {g for g in CLASSES if bc[g]["n"] > 0}, params.reference_class)
            return run

        stratified = _lockstep({"pfs2": job("pfs2"), "os2": job("os2")}, send)

    results = assemble(counts, tables, params, options, stratified, texts)
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
    cutoffs = {(a.get("data_cutoff"), a.get("data_cutoff_inferred")) for a in hello}
    if len(cutoffs) == 1:  # one common cut-off: as analyze reports it (else each registry's is in federated.n)
        results["parameters"]["data_cutoff"], results["parameters"]["data_cutoff_inferred"] = cutoffs.pop()
    results["meta"] = {"cartreg_version": __version__, "registry_sha256": None,  # several registries: no one hash
                       "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
                       "files": {}}
    return FederatedRun(results=results, nodes=[{k: v for k, v in a.items() if k != "kind"} for a in hello],
                        rounds=rounds)


def assemble(counts: dict[str, Any], tables: dict[str, np.ndarray], params, options: FederatedOptions,
             stratified: dict[str, Any] | None, texts: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The late-failure results dict from pooled counts and tables (mirrors ``late_failure.run``)."""
    T = time_axis(options.grid)
    ct, cl = params.conf_type, params.conf_level
    step = params.risk_table_step_months
    warnings: list[dict[str, Any]] = []
    vt = options.value_tables
    fa = counts["failures"]
    infused = counts["cohort"]["infused"]
    n_failed = fa["n"]

    def no_dist(n: int, n_missing: int, quartiles: bool = True) -> dict[str, Any]:
        d = {"n": n, "n_missing": n_missing, "median": None, "min": None, "max": None}
        return d | ({"q1": None, "q3": None} if quartiles else {})

    # failures and the cumulative incidence
    cif_days, cif_status, _ = _rows(tables["cif"], T, "cif_days")
    cif_fit = b.cif_fit(cif_days, cif_status) if infused else None
    failures = {
        "n": n_failed,
        "pct": b.pct(n_failed, infused),
        "relapse": {"n": fa["relapse"]},
        "progression": {"n": fa["progression"]},
        "early": {"n": fa["early"], "pct": b.pct(fa["early"], n_failed)},
        "late": {"n": fa["late"], "pct": b.pct(fa["late"], n_failed)},
        "cif": b.cif_at(cif_days, cif_status, params.cif_months, fit=cif_fit) if infused else [],
        "cif_curve": b.cif_curve(cif_days, cif_status, fit=cif_fit) if infused else None,
        "sensitivity": [{"late_after_days": float(d), "late_n": fa["sensitivity"][str(i)],
                         "late_pct": b.pct(fa["sensitivity"][str(i)], n_failed)}
                        for i, d in enumerate(params.sensitivity_days)],
        "time_to_failure": (_distribution(T, tables["ttf_failed"], "time to failure", DAYS_PER_MONTH, warnings)
                            if vt else no_dist(fa["ttf_n"], fa["ttf_missing"])),
    }

    # treated late failures, by class
    pf_t, pf_e, pf_g = _rows(tables["pfs2"], T, "pfs2_days", CLASSES)
    os_t, os_e, os_g = _rows(tables["os2t"], T, "os2_treated_days", CLASSES)
    o2_t, o2_e, _ = _rows(tables["os2"], T, "os2_days")
    n_late = fa["late"]
    n_treated = int(tables["pfs2"].sum())
    landmark_days = params.landmark_months * DAYS_PER_MONTH
    bc = counts["by_class"]
    if options.pooled_risk_sets:
        pfs2_hr, pfs2_notes = b.cox_vs_reference(pf_t, pf_e, pf_g, params.reference_class, cl)
        os2_hr, os2_notes = b.cox_vs_reference(os_t, os_e, os_g, params.reference_class, cl)
    else:
        (pfs2_hr, pfs2_notes), (os2_hr, os2_notes) = stratified["pfs2"], stratified["os2"]
    by_class: dict[str, Any] = {}
    curves_pfs2: dict[str, Any] = {}
    curves_os2: dict[str, Any] = {}
    gap_all = tables.get("gap_by_class")
    for i, cls in enumerate(CLASSES):
        mp, mo = pf_g == cls, os_g == cls
        is_ref = cls == params.reference_class
        gap_med = None
        if bc[cls]["n"] and gap_all is not None:
            gap_med = _distribution(T, gap_all[i], f"gap ({cls})", 1.0, warnings)["median"]
        by_class[cls] = {
            "n": bc[cls]["n"],
            "events_pfs2": bc[cls]["events_pfs2"],
            "events_os2": bc[cls]["events_os2"],
            "gap_days_median": gap_med,
            "pfs2_6mo": b.landmark(pf_t[mp], pf_e[mp], landmark_days, ct, cl),
            "os2_6mo": b.landmark(os_t[mo], os_e[mo], landmark_days, ct, cl),
            "pfs2_hr": None if is_ref else pfs2_hr.get(cls),
            "os2_hr": None if is_ref else os2_hr.get(cls),
            "reference": is_ref,
            "pfs2": b.km_summary(pf_t[mp], pf_e[mp], ct, cl),
            "os2": b.km_summary(os_t[mo], os_e[mo], ct, cl),
            "regimens": _tally(texts["regimens"], tables["regimens"][i]) if texts is not None else {},
        }
        if bc[cls]["n"]:
            curves_pfs2[cls] = b.km_curve(pf_t[mp], pf_e[mp], ct, cl, step)
            curves_os2[cls] = b.km_curve(os_t[mo], os_e[mo], ct, cl, step)

    base = counts["baseline"]

    def baseline(s: str) -> dict[str, Any]:
        d = _with_pct(base[s])
        for var, key in (("age", "age"), ("prior_lines", "prior_lines"), ("ferritin_ug_l", "ferritin"),
                         ("crp_mg_dl", "crp")):
            if vt:
                d[key] = _distribution(value_axis(var), tables[f"{s}.{var}"], f"{s} {key}", 1.0, warnings)
            else:
                d[key] = no_dist(d[key]["n"], d[key]["n_missing"])
        return d

    ft = counts["first_treatment"]
    late_out = {
        "n": n_late,
        "baseline": baseline("late"),
        "best_response": _with_pct(counts["best_response"]),
        "time_to_failure": (_distribution(T, tables["ttf_late"], "time to failure (late)", DAYS_PER_MONTH, warnings)
                            if vt else no_dist(base["late"]["n"], 0)),
        "first_treatment": {
            "treated": _with_pct(ft["treated"]),
            "untreated": _with_pct(ft["untreated"]),
            "unknown": _with_pct(ft["unknown"]),
            "classes": _with_pct(ft["classes"]),
            "regimens": {cls: by_class[cls]["regimens"] for cls in CLASSES},
            "gap_days": (_distribution(T, tables["gap_treated"], "gap", 1.0, warnings) if vt
                         else no_dist(n_treated, 0)),
        },
        "post_failure_response": _with_pct(counts["post_failure_response"]),
        "followup": b.followup(o2_t, o2_e, ct, cl),
        "os2": b.km_summary(o2_t, o2_e, ct, cl),
        "pfs2": b.km_summary(pf_t, pf_e, ct, cl),
        "by_class": by_class,
        "curves": {
            "pfs2": {"overall": b.km_curve(pf_t, pf_e, ct, cl, step), "by_class": curves_pfs2},
            "os2": {"overall": b.km_curve(o2_t, o2_e, ct, cl, step), "by_class": curves_os2},
        },
        "logrank": {
            "pfs2": b.logrank(pf_t, pf_e, pf_g) if n_treated else None,
            "os2": b.logrank(os_t, os_e, os_g) if n_treated else None,
        },
        "hr_notes": {"pfs2": pfs2_notes, "os2": os2_notes},
    }

    if texts is not None:
        for text, n in zip(texts["unmapped"], tables["unmapped_rows"].tolist()):
            if n:
                warnings.append({"kind": "unmapped_regimen", "regimen": text, "n_rows": n,
                                 "message": f"regimen {text!r} matched no treatment class: counted as 'other'"})
    elif counts["unmapped_regimen_rows"]:
        warnings.append({"kind": "unmapped_regimen", "regimen": None, "n_rows": counts["unmapped_regimen_rows"],
                         "message": f"{counts['unmapped_regimen_rows']} regimen row(s) across the registries matched "
                                    "no treatment class: counted as 'other' (regimen texts are not released)"})
    for key, n in counts["ignored"].items():
        if n:
            warnings.append({"kind": "ignored_records", "what": key, "n": n,
                             "message": f"{n} record(s) ignored: {key.replace('_', ' ')}"})
    for endpoint, notes in (("pfs2", pfs2_notes), ("os2", os2_notes)):
        for note in notes:
            warnings.append({"kind": "hazard_ratio", "endpoint": endpoint, "message": note})

    products = {k: v for k, v in counts["cohort"]["products"].items() if v}
    products = dict(sorted(products.items(), key=lambda kv: (-kv[1], kv[0])))
    from cartreg.study import jsonable

    results = {
        "study": "late-failure",
        "parameters": params.to_dict() | {"class_map_source": load_class_map(None).source,
                                          "data_cutoff": None, "data_cutoff_inferred": None},
        "cohort": {"registered": counts["cohort"]["registered"], "infused": infused, "products": products},
        "failures": failures,
        "early": {"n": fa["early"], "baseline": baseline("early")},
        "late": late_out,
        "ignored_records": counts["ignored"],
        "warnings": warnings,
    }
    return jsonable(results)
