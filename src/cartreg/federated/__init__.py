"""Exact federated analysis: several registries, one analysis, no patient data moved (docs/federated.md).

Engine-agnostic (no vantage6 import here; :mod:`cartreg.v6algorithm` wraps it for vantage6):

>>> from cartreg.federated import FederatedOptions, run_federated, handle, NodeSettings
>>> FederatedOptions().plan()["grid"], FederatedOptions().plan()["cox"]
('month', 'stratified')

* node side: :func:`cartreg.federated.node.handle` answers one request on a local registry;
* aggregator: :func:`cartreg.federated.central.run_federated` drives the rounds through any
  transport and returns the results.json dictionary of ``cartreg analyze``.
"""

from cartreg.federated.central import FederatedOptions, FederatedRun, LocalTransport, Transport, run_federated
from cartreg.federated.node import handle
from cartreg.federated.privacy import NodeSettings

__all__ = ["FederatedOptions", "FederatedRun", "LocalTransport", "NodeSettings", "Transport", "handle",
           "run_federated"]
