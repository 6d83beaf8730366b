"""Privacy rules, enforced at the node: proven on the messages each node sends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import local_transport, settings, split_registry

from cartreg.endpoints import CLASSES
from cartreg.errors import CartregError
from cartreg.federated import messages as msg
from cartreg.federated.central import FederatedOptions, run_federated
from cartreg.federated.grid import time_axis
from cartreg.federated.node import _study_columns, node_counts, node_tables, plan_params, vector_of
from cartreg.federated.privacy import NodeSettings


def _tables_messages(transport):
    return [(org, got) for org, sent, got in transport.log if sent["method"] == "tables"]



@pytest.fixture
def split(plain_split):
    """One split is enough here (the exactness tests run every split)."""
    return plain_split


@pytest.fixture
def full_registry(full_plain):
    return full_plain


def test_default_grid_is_months_and_no_single_node_table_reaches_the_aggregator(split, tmp_path):
    tr = local_transport(split, [settings(tmp_path, k) for k in range(3)])
    run = run_federated(tr, FederatedOptions())
    assert run.results["federated"]["grid"] == "month"
    month_bins = time_axis("month").size
    params = plan_params(FederatedOptions().plan())
    plain_sum = None
    texts = [sent for _, sent, _ in tr.log if sent["method"] == "tables"][0]["regimen_texts"]
    assert texts["regimens"]  # the per-text counts are in the summed vector too
    for (org, got), reg in zip(_tables_messages(tr), split):
        assert got["grid"] == "month"
        assert ["pfs2", [len(CLASSES), 2, month_bins]] in got["layout_shapes"]  # no per-day table
        assert all(shape[-1] != time_axis("day").size for _, shape in got["layout_shapes"])
        masked = msg.decode_array(got["masked"])
        ep, c = _study_columns(str(reg), params)
        plain = vector_of(node_counts(ep, c, params),
                          node_tables(c, params, "month", True, texts, ep))
        assert masked.size == plain.size
        # masked values look uniform on [0, 2^64): almost none equals the node's count
        assert np.mean(masked == plain.astype(np.uint64)) < 1e-3
        assert np.median(masked.astype(float)) > 2.0**60
        plain_sum = plain if plain_sum is None else plain_sum + plain
    # ... while their sum is exactly the pooled table
    with np.errstate(over="ignore"):
        total = sum(msg.decode_array(got["masked"]) for _, got in _tables_messages(tr))
    assert np.array_equal(total.astype(np.int64), plain_sum)
    # no message from a node holds a plain table or any patient-level field
    for _, _, got in tr.log:
        text = json.dumps({k: v for k, v in got.items() if k != "masked"})  # masked: random base64
        assert "patient_id" not in text and "SYN0" not in text


def test_day_grid_only_when_every_node_allows_it(split, tmp_path):
    sets = [settings(tmp_path, 0, allow_day_grid=True), settings(tmp_path, 1, allow_day_grid=True),
            settings(tmp_path, 2)]
    tr = local_transport(split, sets)
    with pytest.raises(CartregError) as exc:
        run_federated(tr, FederatedOptions(grid="day"))
    assert exc.value.exit_code == 2 and "organisation 12 refused" in str(exc.value) and "day grid" in str(exc.value)
    assert not _tables_messages(tr) or all(got["kind"] == "refusal" for _, got in _tables_messages(tr)
                                           if _ == 12)


def test_pooled_risk_sets_only_when_every_node_allows_it(split, tmp_path):
    sets = [settings(tmp_path, k, allow_pooled_risk_sets=k != 1) for k in range(3)]
    tr = local_transport(split, sets)
    with pytest.raises(CartregError, match="organisation 11 refused: a Cox model on pooled risk sets"):
        run_federated(tr, FederatedOptions(pooled_risk_sets=True))
    # the default (stratified) model sends per-node evaluations, never per-time sums
    tr = local_transport(split, [settings(tmp_path, k) for k in range(3)])
    run = run_federated(tr, FederatedOptions())
    cox = [got for _, sent, got in tr.log if sent["method"] == "cox"]
    evals = [e for got in cox for e in got["evaluations"]]
    # Newton steps: log-likelihood, score, information; the PH test (cox.zph, one round after the fit):
    # the stratum's score-test sums u (2p) and information (2p x 2p). Sizes depend on p only, not on time.
    assert cox and all(set(e) in ({"endpoint", "loglik", "score", "information"}, {"endpoint", "u", "imat"})
                       for e in evals)
    zph = [e for e in evals if "u" in e]
    assert len(zph) == 2 * 3  # PFS-2 and OS-2, from each of the 3 nodes
    for e in zph:
        p = len(e["u"]) // 2
        assert len(e["u"]) == 2 * p and np.asarray(e["imat"]).shape == (2 * p, 2 * p)
    ph = run.results["late"]["ph_test"]
    assert {len(e["u"]) // 2 for e in zph} == {ph["pfs2"]["df"], ph["os2"]["df"]}
    assert run.rounds <= 30


def test_two_registries_are_refused_before_any_request(split, tmp_path):
    tr = local_transport(split[:2], [settings(tmp_path, k) for k in range(2)])
    with pytest.raises(CartregError, match="at least 3 organisations") as exc:
        run_federated(tr, FederatedOptions())
    assert exc.value.exit_code == 2 and tr.log == []


def test_a_node_refuses_a_request_naming_fewer_than_three_organisations(split, tmp_path):
    from cartreg.federated.node import handle

    req = msg.request("hello", "s", plan=FederatedOptions().plan(), organizations=[1, 2])
    got = handle(req, str(split[0]), settings(tmp_path, 0), 1)
    assert got["kind"] == "refusal" and "at least 3 organisations" in got["reason"]


def test_a_node_with_five_patients_refuses(full_registry, split, tmp_path):
    small = split_registry(full_registry, tmp_path / "small", [595, 5], 0)[1]
    tr = local_transport([split[0], split[1], small], [settings(tmp_path, k) for k in range(3)])
    with pytest.raises(CartregError, match=r"organisation 12 refused: this node has fewer infused patients than its minimum of 10") as exc:
        run_federated(tr, FederatedOptions())
    assert exc.value.exit_code == 2
    assert [sent["method"] for _, sent, _ in tr.log] == ["hello"] * 3  # nothing computed


def test_rounds_are_capped_and_every_request_is_logged(split, tmp_path):
    sets = [settings(tmp_path, k, max_rounds=3) for k in range(3)]
    tr = local_transport(split, sets)
    with pytest.raises(CartregError, match="more than 3 requests in this session"):
        run_federated(tr, FederatedOptions())
    for k, s in enumerate(sets):
        lines = [json.loads(x) for x in Path(s.log_path).read_text().splitlines()]
        received = [sent for org, sent, _ in tr.log if org == 10 + k]
        assert len(lines) == len(received) >= 4
        assert [x["method"] for x in lines] == [r["method"] for r in received]
        assert all("masked" not in json.dumps(x) for x in lines)


def test_settings_can_only_be_tightened():
    for kw in ({"min_organizations": 2}, {"min_patients": 5}, {"max_rounds": 31}):
        with pytest.raises(CartregError):
            NodeSettings(secret=b"x", log_path="l", **kw)
    s = NodeSettings.from_mapping({"CARTREG_NODE_SECRET": "s", "CARTREG_NODE_LOG": "l",
                                   "CARTREG_NODE_ALLOW_DAY_GRID": "yes", "CARTREG_NODE_MIN_PATIENTS": "50"})
    assert s.allow_day_grid and s.min_patients == 50 and not s.allow_pooled_risk_sets
    assert s.allows_grid("month") and not NodeSettings(secret=b"x").allows_grid("day")


def test_messages_are_versioned(split, tmp_path):
    tr = local_transport(split, [settings(tmp_path, k) for k in range(3)])
    run_federated(tr, FederatedOptions())
    assert all(sent["version"] == msg.VERSION and got["version"] == msg.VERSION for _, sent, got in tr.log)
    from cartreg.federated.node import handle

    bad = msg.request("hello", "s", organizations=[1, 2, 3]) | {"version": 99}
    got = handle(bad, str(split[0]), settings(tmp_path, 0), 1)
    assert got["kind"] == "refusal" and "version 99" in got["reason"]


def test_engine_package_does_not_import_vantage6():
    import cartreg.federated as pkg

    for f in Path(pkg.__file__).parent.glob("*.py"):
        assert "vantage6" not in "".join(l for l in f.read_text().splitlines(True) if l.lstrip().startswith(("import", "from")))


def test_regimen_texts_only_with_every_nodes_permission(split, tmp_path):
    sets = [settings(tmp_path, k, allow_regimen_texts=k != 0) for k in range(3)]
    tr = local_transport(split, sets)
    run = run_federated(tr, FederatedOptions())
    hello = {org: got for org, sent, got in tr.log if sent["method"] == "hello"}
    assert hello[10]["regimen_texts"] is None and hello[11]["regimen_texts"]["regimens"]
    assert all(sent["regimen_texts"] is None for _, sent, _ in tr.log if sent["method"] == "tables")
    assert all(v == {} for v in run.results["late"]["first_treatment"]["regimens"].values())
    # with every node's permission, the pooled per-text counts add up to the class counts
    run = run_federated(local_transport(split, [settings(tmp_path, k) for k in range(3)]), FederatedOptions())
    for cls, v in run.results["late"]["by_class"].items():
        assert sum(v["regimens"].values()) == v["n"]


def test_a_node_refuses_what_the_plan_cannot_ask(split, tmp_path):
    from cartreg.federated.node import handle

    orgs = [1, 2, 3]
    for plan, why in (({"study": "other"}, "unknown federated study"),
                      ({"params": {"class_map": "/home/researcher/map.csv"}}, "packaged class map"),
                      ({"grid": "hour"}, "not allowed by this node")):
        got = handle(msg.request("hello", "s", plan=plan, organizations=orgs), str(split[0]), settings(tmp_path, 0), 1)
        assert got["kind"] == "refusal" and why in got["reason"], got
    got = handle(msg.request("tables", "s", plan={}, organizations=orgs), str(split[0]), settings(tmp_path, 0), 1)
    assert got["kind"] == "refusal" and "malformed request" in got["reason"]


def test_a_node_without_value_tables_leaves_out_medians_not_the_analysis(split, tmp_path):
    sets = [settings(tmp_path, k, allow_value_tables=k != 2) for k in range(3)]
    tr = local_transport(split, sets)
    run = run_federated(tr, FederatedOptions())
    assert run.results["federated"]["value_tables"] is False
    age = run.results["late"]["baseline"]["age"]
    assert age["median"] is None and age["min"] is None and age["n"] > 0
    assert run.results["late"]["first_treatment"]["gap_days"]["median"] is None
    assert all(not any(name.startswith(("late.", "early.", "ttf", "gap")) for name, _ in got["layout_shapes"])
               for _, sent, got in tr.log if sent["method"] == "tables")
    assert any("value tables" in w["message"] for w in run.results["warnings"])
    assert len(run.results["late"]["curves"]["os2"]["overall"]["time"]) > 10  # the survival estimates are still there


def test_masks_that_do_not_cancel_are_an_error_not_a_wrong_sum(split, tmp_path):
    """Masks that do not cancel (e.g. a node keyed to another session) leave a random sum: detected, exit 2.

    (Secure aggregation gives no integrity against a small deliberate change; only gross mismatch.)"""
    tr = local_transport(split, [settings(tmp_path, k) for k in range(3)])
    real = tr.run

    def tampered(request):
        answers = real(request)
        if request["method"] == "tables":
            v = msg.decode_array(answers[1]["masked"])
            answers[1]["masked"] = msg.encode_array(v ^ np.uint64(1 << 63))
        return answers

    tr.run = tampered
    with pytest.raises(CartregError, match="secure aggregation failed") as exc:
        run_federated(tr, FederatedOptions())
    assert exc.value.exit_code == 2
