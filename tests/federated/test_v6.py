"""The vantage6 wrapper: a real node's data path (environment) and the transport."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cartreg.federated import messages as msg
from cartreg.federated.central import FederatedOptions

pytest.importorskip("vantage6.algorithm.tools.decorators")


def test_partial_reads_the_node_registry_and_settings_from_its_environment(plain_split, tmp_path, monkeypatch):
    from cartreg.v6algorithm import partial

    monkeypatch.setenv("USER_REQUESTED_DATABASE_LABELS", "default")
    monkeypatch.setenv("DEFAULT_DATABASE_URI", str(plain_split[0]))
    monkeypatch.setenv("CARTREG_NODE_SECRET", "s3cret")
    monkeypatch.setenv("CARTREG_NODE_LOG", str(tmp_path / "node.log"))
    monkeypatch.setenv("CARTREG_NODE_MIN_PATIENTS", "100000")  # the administrator's setting wins
    req = msg.request("hello", "sess", plan=FederatedOptions().plan(), organizations=[4, 5, 6])
    got = partial(request=req, mock_client=SimpleNamespace(organization_id=5))
    assert got["kind"] == "refusal" and "fewer infused patients than its minimum of 100000" in got["reason"]
    assert got["organization"] == 5
    monkeypatch.setenv("CARTREG_NODE_MIN_PATIENTS", "10")
    got = partial(request=req, mock_client=SimpleNamespace(organization_id=5))
    assert got["kind"] == "hello" and got["organization"] == 5 and got["n_infused"] > 10
    assert len((tmp_path / "node.log").read_text().splitlines()) == 2


def test_transport_orders_answers_by_organisation():
    from cartreg.v6algorithm import V6Transport

    class Client:
        def __init__(self):
            self.task = SimpleNamespace(create=self.create)
            self.created = []

        def create(self, input_, organizations, name, description):
            self.created.append((input_, organizations))
            return {"id": 7}

        def wait_for_results(self, task_id):
            return [{"kind": "hello", "organization": o} for o in (3, 1, 2)]

    c = Client()
    got = V6Transport(c, [1, 2, 3]).run(msg.request("hello", "s"))
    assert [a["organization"] for a in got] == [1, 2, 3]
    assert c.created[0][0]["method"] == "partial" and c.created[0][1] == [1, 2, 3]
