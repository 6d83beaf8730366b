"""Versioned JSON messages between the aggregator and the nodes (schema in docs/federated.md).

Every message is a JSON object with ``version`` (:data:`VERSION`) and ``kind``. Requests
(aggregator -> node) carry ``method`` and ``session``; responses (node -> aggregator) carry the
node's aggregates only. Integer tables travel as base64 little-endian ``uint64`` (masked) vectors.

>>> decode_array(encode_array(np.array([1, 2, 2**64 - 1], dtype=np.uint64))).tolist()
[1, 2, 18446744073709551615]
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from cartreg.errors import CartregError

VERSION = 1  #: bumped on any change of meaning of a field

__all__ = ["VERSION", "request", "response", "check", "encode_array", "decode_array", "roundtrip"]


def request(method: str, session: str, **fields: Any) -> dict[str, Any]:
    """An aggregator -> node message."""
    return {"version": VERSION, "kind": "request", "method": method, "session": session, **fields}


def response(kind: str, **fields: Any) -> dict[str, Any]:
    """A node -> aggregator message (``kind``: ``hello``, ``tables``, ``cox``, ``refusal``)."""
    return {"version": VERSION, "kind": kind, **fields}


def check(msg: Any, kind: str | None = None) -> dict[str, Any]:
    """Validate the envelope of a message (a version mismatch or a wrong kind is a clear error)."""
    if not isinstance(msg, dict) or "version" not in msg or "kind" not in msg:
        raise CartregError("federated message without version/kind: not a cartreg message", 2)
    if msg["version"] != VERSION:
        raise CartregError(f"federated message version {msg['version']!r}, this cartreg speaks {VERSION}: "
                           "every node and the researcher must run the same algorithm version", 2)
    if kind is not None and msg["kind"] != kind:
        raise CartregError(f"expected a {kind!r} message, got {msg['kind']!r}", 2)
    return msg


def encode_array(a: np.ndarray) -> dict[str, Any]:
    arr = np.ascontiguousarray(a, dtype="<u8")
    return {"dtype": "<u8", "size": int(arr.size), "b64": base64.b64encode(arr.tobytes()).decode("ascii")}


def decode_array(obj: dict[str, Any]) -> np.ndarray:
    if obj.get("dtype") != "<u8":
        raise CartregError("federated message: unknown array encoding", 2)
    arr = np.frombuffer(base64.b64decode(obj["b64"]), dtype="<u8").astype(np.uint64)
    if arr.size != obj["size"]:
        raise CartregError("federated message: array size mismatch", 2)
    return arr


def roundtrip(msg: dict[str, Any]) -> dict[str, Any]:
    """The message as the other side reads it (through JSON text): proves it is plain JSON."""
    return json.loads(json.dumps(msg, allow_nan=False))
