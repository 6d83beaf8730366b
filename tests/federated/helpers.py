"""Test helpers: split a synthetic registry at random into registries, run mock federations."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np

from cartreg.federated.central import LocalTransport
from cartreg.federated.node import handle
from cartreg.federated.privacy import NodeSettings

TABLES = ("patients", "infusions", "responses", "treatments")


def split_registry(src: Path, out: Path, weights: list[float], seed: int) -> list[Path]:
    """Assign each patient of the CSV registry ``src`` to one of ``len(weights)`` registries at random."""
    con = duckdb.connect()
    ids = [r[0] for r in con.execute(
        "SELECT patient_id FROM read_csv(?, all_varchar=true) ORDER BY patient_id", [str(src / "patients.csv")]).fetchall()]
    rng = np.random.default_rng(seed)
    part = rng.choice(len(weights), size=len(ids), p=np.asarray(weights) / np.sum(weights))
    con.execute("CREATE TABLE part(patient_id VARCHAR, k INTEGER)")
    con.executemany("INSERT INTO part VALUES (?, ?)", list(zip(ids, part.tolist())))
    dirs = []
    for k in range(len(weights)):
        d = out / f"registry_{k}"
        d.mkdir(parents=True, exist_ok=True)
        for t in TABLES:
            con.execute(
                f"COPY (SELECT x.* FROM read_csv(?, all_varchar=true) x JOIN part USING (patient_id) WHERE part.k = ?) "
                f"TO '{d / (t + '.csv')}' (HEADER, DELIMITER ',')", [str(src / f"{t}.csv"), k])
        dirs.append(d)
    return dirs


def settings(tmp: Path, k: int, **kw) -> NodeSettings:
    return NodeSettings(secret=f"node-secret-{k}".encode(), log_path=str(tmp / f"node{k}.log"), **kw)


def local_transport(registries: list[Path], node_settings: list[NodeSettings], orgs: list[int] | None = None):
    orgs = orgs or [10 + k for k in range(len(registries))]
    nodes = [(lambda req, r=str(r), s=s, o=o: handle(req, r, s, o))
             for r, s, o in zip(registries, node_settings, orgs)]
    return LocalTransport(nodes, orgs)
