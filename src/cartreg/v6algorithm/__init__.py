"""The vantage6 4.x algorithm of cartreg's federated analysis (central and partial functions).

``central`` runs a whole study (``late-failure``) through :func:`cartreg.federated.central.run_federated`
and returns results.json; ``partial`` answers one request at a node with
:func:`cartreg.federated.node.handle` (the node's privacy settings come from its own environment,
``CARTREG_NODE_*``, set by the node administrator in the node configuration's ``algorithm_env``).

A node's registry is its first database (``{LABEL}_DATABASE_URI``: a cartreg ``.duckdb`` file, a
CSV directory or an ``.xlsx`` workbook of the exchange format, or a source in any layout read through
the mapping TOML named by the node's ``CARTREG_NODE_MAPPING``, docs/mapping.md). Under vantage6's
``MockAlgorithmClient`` the "database" is a one-row data frame naming the registry and the mock
node's settings (:func:`mock_dataset`).

Only this module imports vantage6; :mod:`cartreg.federated` is engine-agnostic.
"""

from __future__ import annotations

import os
from functools import wraps
from typing import Any

from vantage6.algorithm.tools.decorators import algorithm_client

from cartreg.errors import CartregError
from cartreg.federated.central import FederatedOptions, run_federated
from cartreg.federated.node import handle
from cartreg.federated.privacy import NodeSettings

__all__ = ["central", "partial", "mock_dataset", "V6Transport"]


def _node_registry(func):
    """Give ``func`` the node's registry and settings (the vantage6 ``@data`` protocol, for a registry)."""

    @wraps(func)
    def wrapper(*args, mock_data=None, **kwargs):
        if mock_data is not None:
            row = {k: v for k, v in mock_data[0].iloc[0].to_dict().items()}
            registry = str(row.pop("registry"))
            mapping = row.pop("mapping", None)
            settings = NodeSettings.from_mapping(row)
        else:
            labels = os.environ.get("USER_REQUESTED_DATABASE_LABELS", "default").split(",")
            registry = os.environ[f"{labels[0].upper()}_DATABASE_URI"]
            mapping = os.environ.get("CARTREG_NODE_MAPPING")
            settings = NodeSettings.from_env()
        mapping = str(mapping) if isinstance(mapping, str) and mapping.strip() else None
        return func(*args, registry=registry, mapping=mapping, settings=settings, **kwargs)

    wrapper.wrapped_in_data_decorator = True  # the mock client then passes the mock node's data
    return wrapper


@_node_registry
@algorithm_client
def partial(client, request: dict[str, Any], *, registry: str, settings: NodeSettings,
            mapping: str | None = None) -> dict[str, Any]:
    """One node's answer to one aggregator request (aggregates or a refusal; never rows)."""
    return handle(request, registry, settings, int(client.organization_id), mapping)


class V6Transport:
    """Sends a request as a vantage6 subtask to every organisation and collects the answers in order."""

    def __init__(self, client, organizations: list[int]):
        self.client = client
        self.organizations = [int(o) for o in organizations]

    def run(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        task = self.client.task.create(input_={"method": "partial", "kwargs": {"request": request}},
                                       organizations=self.organizations, name=f"cartreg {request['method']}",
                                       description="cartreg federated analysis (aggregates only)")
        answers = self.client.wait_for_results(task_id=task["id"])
        by_org = {}
        for a in answers:
            if isinstance(a, dict) and "organization" in a:
                by_org[int(a["organization"])] = a
        # refusals carry no organisation: keep the order of the answers for them
        out = []
        for i, org in enumerate(self.organizations):
            out.append(by_org.get(org, answers[i] if i < len(answers) else {"version": 1, "kind": "refusal",
                                                                            "reason": "no answer"}))
        return out


@algorithm_client
def central(client, study: str = "late-failure", grid: str = "month", pooled_risk_sets: bool = False,
            value_tables: bool = True, params: dict[str, Any] | None = None,
            organizations: list[int] | None = None) -> dict[str, Any]:
    """Run ``study`` over the collaboration's organisations; returns the results.json dictionary."""
    orgs = organizations or sorted(int(o["id"]) for o in client.organization.list())
    options = FederatedOptions(study=study, grid=grid, pooled_risk_sets=pooled_risk_sets,
                               value_tables=value_tables, params=params)
    try:
        return run_federated(V6Transport(client, orgs), options).results
    except CartregError as exc:
        return {"error": str(exc), "exit_code": exc.exit_code}


def mock_dataset(registry: str, **settings: Any) -> list[dict[str, Any]]:
    """A mock node's datasets for ``MockAlgorithmClient``: its registry and its own settings."""
    import pandas as pd

    row = {"registry": str(registry)} | {k: (v.decode() if isinstance(v, bytes) else v) for k, v in settings.items()}
    return [{"database": pd.DataFrame([row])}]
