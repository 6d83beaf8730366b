"""Node side: a local registry -> aggregates (count tables, value tables, Cox evaluations).

A node derives the late-failure endpoints with the same code, rules and parameters as
``cartreg analyze`` (:func:`cartreg.endpoints.derive_endpoints`, :mod:`cartreg.study.late_failure`),
then releases only:

* ``hello``: its numbers of registered and infused patients, its public DH key and its settings;
* ``tables``: one vector of integer counts (a count skeleton of the study, count tables per (time
  bin, class, status) on the agreed grid, and, if allowed, value-count tables), masked by the
  pairwise masks of :mod:`cartreg.federated.secure` (the aggregator only learns the sum);
* ``cox``: log-likelihood, score and information of the Cox model on its own rows at the betas
  asked (the registry is a stratum: Therneau & Grambsch 2000, sec. 3.3).

Every request is checked against the node's :class:`~cartreg.federated.privacy.NodeSettings`
and logged before it is answered; a refusal is a ``refusal`` message with the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from cartreg.endpoints import CLASSES, NOT_TREATMENT, derive_endpoints, load_class_map
from cartreg.endpoints.derive import AFTER_CUTOFF_KEYS
from cartreg.errors import CartregError
from cartreg.federated import messages as msg
from cartreg.federated import secure
from cartreg.federated.grid import VALUE_DOMAINS, coarsen, gap_axis, time_axis, value_axis
from cartreg.federated.privacy import NodeSettings, log_request
from cartreg.registry import read_registry
from cartreg.stats import cox as _cox
from cartreg.stats.zph import stratum_sums
from cartreg.study import blocks as b
from cartreg.study import late_failure as lf
from cartreg.study.params import LateFailureParams, resolve_params

__all__ = ["handle", "node_counts", "node_tables", "cox_evaluate", "plan_params", "layout_of"]

SUBSETS = ("early", "late")


# --- the study on the node ---------------------------------------------------------------------


def plan_params(plan: dict[str, Any]) -> LateFailureParams:
    """The study parameters of a request (the class map must be the packaged one)."""
    if plan.get("study", "late-failure") != "late-failure":
        raise CartregError(f"unknown federated study {plan.get('study')!r}; available: late-failure", 2)
    params = resolve_params(overrides=dict(plan.get("params") or {}), study="late-failure",
                            params_type=LateFailureParams)
    if params.class_map is not None:
        raise CartregError("a federated analysis uses the packaged class map on every node (class_map must be "
                           "unset): a researcher's file cannot reach the nodes", 2)
    return params


_CACHE: dict[tuple, Any] = {}
_CUTOFF: dict[tuple, Any] = {}


def _cache_key(registry: str, params: LateFailureParams, mapping: str | None) -> tuple:
    """The registry (and its mapping), each with its modification time, and the parameters."""
    files = []
    for f in (registry, mapping):
        if f is None:
            files += [None, None]
            continue
        p = Path(f)
        stat = p.stat() if p.exists() else None
        files += [str(p.resolve()), stat.st_mtime_ns if stat else None]
    return (*files, json.dumps(params.to_dict(), sort_keys=True))


def _study_columns(registry: str, params: LateFailureParams, mapping: str | None = None):
    """(Endpoints, Columns) of a registry, derived as ``cartreg analyze`` derives them (cached per process).

    With ``mapping`` (a mapping TOML, docs/mapping.md) the registry is a source in any layout, read
    through the mapping as ``cartreg analyze SOURCE --mapping MAP.toml`` reads it (issue 14).
    """
    p = Path(registry)
    key = _cache_key(registry, params, mapping)
    if key not in _CACHE:
        reg = read_registry(p, mapping=mapping)
        if reg.report.has_errors:
            raise CartregError(f"{p.name}: the registry has {len(reg.report.errors)} error(s); the node refuses "
                               "to take part until they are fixed", 2)
        cutoff = getattr(reg.metadata, "data_cutoff", None)
        # the data freeze of this registry, as ``run_study`` passes it to the plan (docs/endpoints.md)
        rules = dataclasses.replace(params.rules(), data_cutoff=cutoff if isinstance(cutoff, dt.date) else None)
        ep = derive_endpoints(reg.con, rules, load_class_map(params.class_map))
        if len(_CACHE) > 16:
            _CACHE.clear()
            _CUTOFF.clear()
        _CUTOFF[key] = (cutoff.isoformat() if hasattr(cutoff, "isoformat") else cutoff,
                        getattr(reg.metadata, "data_cutoff_inferred", None))
        _CACHE[key] = (ep, lf.Columns(ep.patients))
    return _CACHE[key]


def _data_cutoff(registry: str, params: LateFailureParams,
                 mapping: str | None = None) -> tuple[str | None, bool | None]:
    """(data cut-off, inferred?) of the registry (its metadata, not patient data), after :func:`_study_columns`."""
    return _CUTOFF.get(_cache_key(registry, params, mapping), (None, None))


def _ints(d: Any) -> Any:
    """The integer leaves of a nested summary (counts), dropping floats and None (derived values)."""
    if isinstance(d, dict):
        out = {k: _ints(v) for k, v in d.items()}
        return {k: v for k, v in out.items() if v is not None and v != {}}
    if isinstance(d, list):
        return _ints({str(i): v for i, v in enumerate(d)})
    if isinstance(d, (int, np.integer)) and not isinstance(d, bool):
        return int(d)
    return None


def _check_vocabulary(c: lf.Columns, m: np.ndarray) -> None:
    for col, levels in (("histology", lf.HISTOLOGIES), ("product", lf.PRODUCTS)):
        v = c.text(col)[m]
        v = v[v != None]  # noqa: E711
        extra = sorted(set(v.tolist()) - set(levels))
        if extra:
            raise CartregError(f"{col} value {extra[0]!r} is outside the agreed vocabulary ({', '.join(levels)})", 2)


def _off_grid(values: np.ndarray, var: str) -> int:
    per_unit = VALUE_DOMAINS[var][2]
    v = values[~np.isnan(values)] * per_unit
    return int((np.abs(v - np.rint(v)) > 1e-6 * np.maximum(1.0, np.abs(v))).sum())


def node_counts(ep, c: lf.Columns, params: LateFailureParams) -> dict[str, Any]:
    """The count skeleton of the late-failure study on this node (every leaf an integer).

    Its structure depends only on the parameters and the fixed vocabularies, so every node's
    skeleton has the same keys; the aggregator sums them and derives percentages.
    """
    failed, _ = c.flag("failed")
    late, _ = c.flag("late")
    early = failed & ~late
    ttf = c.num("ttf_days")
    _check_vocabulary(c, np.ones(c.n, bool))
    treated = late & c.eq("tx_status", "treated")
    tx = c.text("tx_class")
    if (treated & ~np.isin(tx, CLASSES)).any():
        raise CartregError("a treated late failure has no treatment class", 2)
    pfs2_event = c.flag("pfs2_event")[0]
    os2t_event = c.flag("os2_treated_event")[0]

    def share(mask, among):
        return {"n": int((mask & among).sum()), "N": int(among.sum())}

    product = np.where(c.eq("product", None), "unknown", c.text("product"))
    after = ep.after_cutoff
    not_treatment_rows = sum(int(r["n_rows"]) for r in ep.regimens.to_pylist() if r["class"] == NOT_TREATMENT)
    return {
        "cohort": {"registered": int(ep.registered), "infused": int(c.n),
                   "products": {p: int((product == p).sum()) for p in lf.PRODUCTS + ("unknown",)}},
        "failures": {
            "n": int(failed.sum()),
            "relapse": int(c.eq("failure_type", "relapse").sum()),
            "progression": int(c.eq("failure_type", "progression").sum()),
            "early": int(early.sum()), "late": int(late.sum()),
            "lymphoma_death": int((c.flag("failure_by_lymphoma_death")[0] & failed).sum()),
            "sensitivity": {str(i): int((failed & (ttf > d)).sum()) for i, d in enumerate(params.sensitivity_days)},
            "ttf_n": int((failed & ~np.isnan(ttf)).sum()), "ttf_missing": int((failed & np.isnan(ttf)).sum()),
        },
        "baseline": {s: _ints(lf.baseline(c, m)) for s, m in (("early", early), ("late", late))},
        "best_response": {
            "orr": share(c.isin("best_response", ("CR", "PR")), late),
            "cmr": share(c.eq("best_response", "CR"), late),
            "categories": {k: share(c.eq("best_response", k), late) for k in ("CR", "PR", "SD", "NE")}
            | {"none": share(c.eq("best_response", None), late)},
        },
        "first_treatment": {
            "treated": share(c.eq("tx_status", "treated"), late),
            "untreated": share(c.eq("tx_status", "untreated"), late),
            "unknown": share(c.eq("tx_status", "unknown"), late),
            "classes": {cls: share(c.eq("tx_class", cls), treated) for cls in CLASSES},
        },
        "post_failure_response": {
            "orr": share(c.isin("post_best_response", ("CR", "PR")), treated),
            "cmr": share(c.eq("post_best_response", "CR"), treated),
        },
        "pre_failure_treatment": share(c.flag("pre_failure_treatment")[0], late),
        # CRS/ICANS grade counts (blocks.grades' integer leaves; the aggregator rebuilds the block)
        "toxicity": {key: {g: _ints(b.grades(c.num(key)[m])) for g, m in
                           (("late", late), ("early", early), ("infused", np.ones(c.n, bool)))}
                     for key in ("crs_grade", "icans_grade")},
        # the data freeze: records after this registry's cut-off (all zero without one), and 1 if it has one
        "after_cutoff": {k: int(after[k]) if after is not None else 0 for k in AFTER_CUTOFF_KEYS},
        "has_cutoff": int(after is not None),
        "not_treatment_rows": int(not_treatment_rows),
        "by_class": {cls: {"n": int((treated & (tx == cls)).sum()),
                           "events_pfs2": int(pfs2_event[treated & (tx == cls)].sum()),
                           "events_os2": int(os2t_event[treated & (tx == cls)].sum())} for cls in CLASSES},
        "ignored": {k: int(v) for k, v in sorted(ep.ignored.items())},
        "unmapped_regimen_rows": int(sum(n for _, n in ep.unmapped_regimens)),
        # values not on the agreed resolution of their value table (medians etc. then not exact)
        "off_grid": {var: int(_off_grid(c.num(var)[early | late], var)) for var in VALUE_DOMAINS},
    }


def regimen_texts(ep, c: lf.Columns) -> dict[str, list[str]]:
    """The regimen texts a node discloses, with its permission, so that per-text counts can be summed
    securely: ``regimens`` (the treated late failures' first regimens), ``unmapped`` (texts that match
    no class), ``pre_failure`` (late failures' pre-failure treatments, issue 10 rule 2) and
    ``not_treatment`` (texts of class ``none``, issue 10 rule 6)."""
    late, _ = c.flag("late")
    treated = late & c.eq("tx_status", "treated")

    def texts(col: str, m: np.ndarray) -> list[str]:
        return sorted({str(t) for t in c.text(col)[m].tolist() if t is not None})

    return {"regimens": texts("tx_regimen", treated),
            "unmapped": sorted(str(t) for t, _ in ep.unmapped_regimens),
            "pre_failure": texts("pre_failure_regimens", late),
            "not_treatment": sorted(str(r["regimen"]) for r in ep.regimens.to_pylist() if r["class"] == NOT_TREATMENT)}


def node_tables(c: lf.Columns, params: LateFailureParams, grid: str, value_tables: bool,
                texts: dict[str, list[str]] | None = None, ep=None) -> dict[str, np.ndarray]:
    """Count tables on the agreed time grid (and value tables when allowed), as integer arrays.

    Time axes: bins of the grid, then a missing and an out-of-range bin (see :class:`~.grid.Axis`).
    ``pfs2``/``os2t``: (class, event 0/1, time) among treated late failures; ``os2``: (event, time)
    among late failures; ``cif``: (status 0/1/2, time) among infused patients.
    """
    T = time_axis(grid)
    failed, _ = c.flag("failed")
    late, _ = c.flag("late")
    early = failed & ~late
    treated = late & c.eq("tx_status", "treated")
    cls_idx = np.full(c.n, -1)
    for i, cls in enumerate(CLASSES):
        cls_idx[c.eq("tx_class", cls)] = i

    def table(mask, time_col, status, n_status, by_class):
        t = T.index(c.num(time_col)[mask])
        s = np.asarray(status, dtype=np.int64)[mask]
        if by_class:
            shape = (len(CLASSES), n_status, T.size)
            flat = (cls_idx[mask] * n_status + s) * T.size + t
        else:
            shape = (n_status, T.size)
            flat = s * T.size + t
        return np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape)

    out = {
        "pfs2": table(treated, "pfs2_days", c.flag("pfs2_event")[0], 2, True),
        "os2t": table(treated, "os2_treated_days", c.flag("os2_treated_event")[0], 2, True),
        "os2": table(late, "os2_days", c.flag("os2_event")[0], 2, False),
        "cif": table(np.ones(c.n, bool), "cif_days", c.num("cif_status").astype(np.int64), 3, False),
    }
    if value_tables:
        ttf, gap = c.num("ttf_days"), c.num("tx_gap_days")
        G = gap_axis(grid, params.failure_treatment_window_days)  # gaps may be negative (rule 2)
        out["ttf_failed"] = np.bincount(T.index(ttf[failed]), minlength=T.size)
        out["ttf_late"] = np.bincount(T.index(ttf[late]), minlength=T.size)
        out["gap_treated"] = np.bincount(G.index(gap[treated]), minlength=G.size)
        out["gap_by_class"] = np.stack([np.bincount(G.index(gap[treated & (cls_idx == i)]), minlength=G.size)
                                        for i in range(len(CLASSES))])
        for s, m in (("early", early), ("late", late)):
            for var in VALUE_DOMAINS:
                ax = value_axis(var)
                out[f"{s}.{var}"] = np.bincount(ax.index(c.num(var)[m]), minlength=ax.size)
    if texts is not None:
        # counts per (class, regimen text) among treated late failures, on the agreed list of texts
        regimens = [str(t) for t in texts["regimens"]]
        pos = {t: i for i, t in enumerate(regimens)}
        txt = c.text("tx_regimen")
        k = np.array([pos.get(t, -1) if t is not None else -1 for t in txt[treated].tolist()], dtype=np.int64)
        ci = cls_idx[treated]
        ok = k >= 0
        out["regimens"] = np.bincount(ci[ok] * len(regimens) + k[ok],
                                      minlength=len(CLASSES) * len(regimens)).reshape(len(CLASSES), len(regimens))
        rows = dict(ep.unmapped_regimens) if ep is not None else {}
        out["unmapped_rows"] = np.array([int(rows.get(t, 0)) for t in texts.get("unmapped", [])], dtype=np.int64)
        # late failures per pre-failure regimen text (rule 2), and regimen rows per text of class none (rule 6)
        pre = [str(t) for t in texts.get("pre_failure", [])]
        ppos = {t: i for i, t in enumerate(pre)}
        kp = np.array([ppos.get(t, -1) if t is not None else -1
                       for t in c.text("pre_failure_regimens")[late].tolist()], dtype=np.int64)
        out["pre_failure_regimens"] = np.bincount(kp[kp >= 0], minlength=len(pre)).astype(np.int64)
        none_rows = ({r["regimen"]: int(r["n_rows"]) for r in ep.regimens.to_pylist() if r["class"] == NOT_TREATMENT}
                     if ep is not None else {})
        out["not_treatment_rows"] = np.array([none_rows.get(t, 0) for t in texts.get("not_treatment", [])],
                                             dtype=np.int64)
    return out


def _flatten(d: dict[str, Any], prefix: str = "") -> list[tuple[str, int]]:
    items: list[tuple[str, int]] = []
    for k, v in d.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, dict):
            items.extend(_flatten(v, key))
        else:
            items.append((key, int(v)))
    return items


def layout_of(counts: dict[str, Any], tables: dict[str, np.ndarray]) -> tuple[list[str], list[tuple[str, list[int]]], str]:
    """(scalar keys, [(table name, shape)], digest): the agreed layout of the one summed vector."""
    keys = [k for k, _ in _flatten(counts)]
    shapes = [(name, list(a.shape)) for name, a in tables.items()]
    digest = hashlib.sha256(json.dumps([keys, shapes]).encode()).hexdigest()
    return keys, shapes, digest


def vector_of(counts: dict[str, Any], tables: dict[str, np.ndarray]) -> np.ndarray:
    scalars = np.array([v for _, v in _flatten(counts)], dtype=np.int64)
    return np.concatenate([scalars] + [np.asarray(a, np.int64).ravel() for a in tables.values()])


# --- Cox evaluations --------------------------------------------------------------------------


COX_ENDPOINTS = {"pfs2": ("pfs2_days", "pfs2_event"), "os2": ("os2_treated_days", "os2_treated_event")}


def cox_evaluate(c: lf.Columns, grid: str, model: dict[str, Any]) -> tuple[float, np.ndarray, np.ndarray]:
    """Efron log-likelihood, score and information of ``model`` on this node's rows (one stratum).

    ``model``: ``endpoint`` (pfs2 or os2), ``levels`` (classes in the model), ``terms`` (the
    non-reference levels, one indicator column each, in order) and ``beta``. Times are those of
    the count tables (coarsened to the grid). The evaluation is :func:`cartreg.stats.cox` 's own.
    """
    t, ev, g = _model_rows(c, grid, model)
    terms = list(model["terms"])
    beta = np.asarray(model["beta"], dtype=float)
    p = len(terms)
    if t.size == 0 or ev.sum() == 0:
        return 0.0, np.zeros(p), np.zeros((p, p))
    X = np.stack([(g == lv).astype(float) for lv in terms], axis=1) if p else np.zeros((t.size, 0))
    return evaluate_rows(t, ev, X, beta)


def _model_rows(c: lf.Columns, grid: str, model: dict[str, Any]):
    """(times on the grid, events, class) of this node's rows of a Cox ``model`` (complete rows)."""
    days_col, ev_col = COX_ENDPOINTS[model["endpoint"]]
    late, _ = c.flag("late")
    treated = late & c.eq("tx_status", "treated")
    m = treated & c.isin("tx_class", tuple(model["levels"]))
    t = coarsen(c.num(days_col)[m], grid)
    ev = c.flag(ev_col)[0][m].astype(np.int8)
    g = c.text("tx_class")[m]
    ok = ~np.isnan(t)
    return t[ok], ev[ok], g[ok]


def zph_sums(c: lf.Columns, grid: str, model: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """This stratum's ``(u, imat)`` of the proportional-hazards score test (R ``cox.zph``) at the
    final coefficients ``model["beta"]``, by :func:`cartreg.stats.zph.stratum_sums` itself.

    ``model["zph"]``: ``times`` (the pooled event times), ``g`` (the centred transformed time at
    each) and ``x_mean`` (the pooled column means), all from the aggregator's pooled tables.
    """
    t, ev, g = _model_rows(c, grid, model)
    terms = list(model["terms"])
    p = len(terms)
    z = model["zph"]
    times, gv = np.asarray(z["times"], float), np.asarray(z["g"], float)
    beta = np.asarray(model["beta"], float).reshape(p)
    x_mean = np.asarray(z["x_mean"], float).reshape(p)
    if times.shape != gv.shape:
        raise ValueError("zph: times and g differ in length")
    if t.size == 0 or ev.sum() == 0:
        return np.zeros(2 * p), np.zeros((2 * p, 2 * p))
    order = np.argsort(t, kind="stable")
    t, ev, g = t[order], ev[order], g[order]
    X = np.stack([(g == lv).astype(float) for lv in terms], axis=1) if p else np.zeros((t.size, 0))
    pos = np.clip(np.searchsorted(times, t), 0, max(times.size - 1, 0))
    hit = times.size > 0 and True
    at_event = (times[pos] == t) if hit else np.zeros(t.size, bool)
    if not at_event[ev == 1].all():
        raise ValueError("zph: an event time of this node is not among the pooled event times")
    gt = np.where(at_event, gv[pos] if hit else 0.0, 0.0)
    Xc = X - x_mean
    u, imat, _, _ = stratum_sums(t, ev, Xc, gt, np.exp(Xc @ beta), efron=True)
    return u, imat


def evaluate_rows(t: np.ndarray, ev: np.ndarray, X: np.ndarray, beta: np.ndarray,
                  ties: str = "efron") -> tuple[float, np.ndarray, np.ndarray]:
    """(log-likelihood, score, information) of one stratum's rows at ``beta``, by ``coxph``'s own
    evaluation (:mod:`cartreg.stats.cox`: rows sorted once, risk sets as cumulative sums, Efron ties)."""
    p = X.shape[1]
    ev = np.asarray(ev, dtype=np.int8)
    if t.size == 0 or ev.sum() == 0:
        return 0.0, np.zeros(p), np.zeros((p, p))
    order = _cox._sort_rows(np.asarray(t, float), ev, None)
    xt = np.ascontiguousarray(np.asarray(X, float)[order].T)
    data = _cox._prepare(np.asarray(t, float)[order], ev[order], None, xt, ties)
    ll, u, imat = _cox._evaluate(data, np.asarray(beta, float))
    return float(ll), np.asarray(u, float), np.asarray(imat, float)


# --- the request handler ------------------------------------------------------------------------


def _refuse(reason: str) -> dict[str, Any]:
    return msg.response("refusal", reason=reason)


def handle(request: dict[str, Any], registry: str, settings: NodeSettings, organization: int,
           mapping: str | None = None) -> dict[str, Any]:
    """Answer one aggregator request on this node (refusals are messages, not exceptions).

    ``mapping``: the node's mapping TOML when its registry is a source in another layout (set by the
    node's administrator, never by the researcher).
    """
    out = _handle(request, registry, settings, organization, mapping)
    out.setdefault("organization", organization)
    return out


def _handle(request: dict[str, Any], registry: str, settings: NodeSettings, organization: int,
            mapping: str | None = None) -> dict[str, Any]:
    try:
        msg.check(request, "request")
        rounds = log_request(settings, request)
        if rounds > settings.max_rounds:
            return _refuse(f"more than {settings.max_rounds} requests in this session")
        plan = request.get("plan") or {}
        params = plan_params(plan)
        grid = plan.get("grid", "month")
        if not settings.allows_grid(grid):
            return _refuse(f"count tables on a {grid} grid are not allowed by this node (it allows: "
                           + ", ".join(g for g in ("day", "week", "month") if settings.allows_grid(g)) + ")")
        if plan.get("cox", "stratified") == "pooled" and not settings.allow_pooled_risk_sets:
            return _refuse("a Cox model on pooled risk sets is not allowed by this node (its per-time sums "
                           "would be released); use the default model stratified by registry")
        orgs = [int(o) for o in request.get("organizations", [])]
        if len(set(orgs)) < settings.min_organizations or organization not in orgs:
            return _refuse(f"this node takes part only with at least {settings.min_organizations} organisations "
                           f"(the request names {len(set(orgs))})")
        ep, c = _study_columns(registry, params, mapping)
        if c.n < settings.min_patients:
            return _refuse(f"this node has fewer infused patients than its minimum of {settings.min_patients} "
                           "(its exact number is not disclosed)")
        session = str(request["session"])
        priv = secure.private_key(settings.secret, session)
        method = request["method"]
        if method == "hello":
            texts = None
            if plan.get("regimen_texts", True) and settings.allow_regimen_texts:
                texts = regimen_texts(ep, c)
            return msg.response("hello", organization=organization, n_registered=int(ep.registered),
                                n_infused=int(c.n), data_cutoff=_data_cutoff(registry, params, mapping)[0],
                                data_cutoff_inferred=_data_cutoff(registry, params, mapping)[1],
                                public_key=secure.public_key(priv), settings=settings.public(),
                                regimen_texts=texts)
        if method == "tables":
            value_tables = bool(plan.get("value_tables", True))
            if value_tables and not settings.allow_value_tables:
                return _refuse("value tables (medians, quartiles, ranges) are not allowed by this node")
            keys = {int(k): v for k, v in request["public_keys"].items()}
            if sorted(keys) != sorted(set(orgs)):
                return _refuse("the public keys do not match the organisations of the request")
            counts = node_counts(ep, c, params)
            texts = request.get("regimen_texts")
            if texts is not None and not settings.allow_regimen_texts:
                return _refuse("per-regimen counts are not allowed by this node")
            tables = node_tables(c, params, grid, value_tables, texts, ep)
            keys_, shapes, digest = layout_of(counts, tables)
            me = orgs.index(organization)
            seeds = {orgs.index(o): secure.pair_seed(priv, k, session) for o, k in keys.items() if o != organization}
            vec = secure.masked(vector_of(counts, tables), me, seeds)
            return msg.response("tables", organization=organization, layout=digest, grid=grid,
                                layout_keys=keys_, layout_shapes=shapes,
                                masked=msg.encode_array(vec))
        if method == "cox":
            if plan.get("cox", "stratified") != "stratified":
                return _refuse("per-node Cox evaluations are only given for the model stratified by registry")
            out = []
            for model in request["models"]:
                if "zph" in model:  # the proportional-hazards test of the final fit: this stratum's sums
                    u, imat = zph_sums(c, grid, model)
                    out.append({"endpoint": model["endpoint"], "u": u.tolist(), "imat": imat.tolist()})
                    continue
                ll, u, imat = cox_evaluate(c, grid, model)
                out.append({"endpoint": model["endpoint"], "loglik": ll, "score": u.tolist(),
                            "information": imat.tolist()})
            return msg.response("cox", organization=organization, evaluations=out)
        return _refuse(f"unknown method {method!r}")
    except CartregError as exc:
        return _refuse(str(exc))
    except (KeyError, TypeError, ValueError, IndexError) as exc:  # a malformed request: refuse, say what
        return _refuse(f"malformed request ({type(exc).__name__}: {str(exc)[:200]})")
