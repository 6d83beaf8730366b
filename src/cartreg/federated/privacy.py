"""A node's privacy settings: set by the node's administrator, never by the researcher.

A researcher's request can only ask; the node checks it against these settings and refuses
(:class:`cartreg.errors.CartregError`, exit code 2) what they do not allow. The floors below
cannot be lowered, only raised (a node may be stricter than the protocol, never laxer):

* ``min_organizations`` >= 3: the node takes part only in a secure sum with at least 2 others;
* ``min_patients`` >= 10: a node with fewer infused patients refuses every request;
* ``max_rounds`` <= 30: requests per session (one analysis task);
* ``allow_day_grid``, ``allow_week_grid``: count tables on those grids (months always allowed);
* ``allow_pooled_risk_sets``: the Cox model on pooled risk sets (else stratified by registry);
* ``allow_value_tables``: securely summed value-count tables of baseline variables and times
  (medians, quartiles and ranges); without it those keys are left out;
* ``allow_regimen_texts``: the node tells the aggregator which regimen texts its treated late
  failures received (and which texts match no class), so that per-text counts can be securely
  summed; without it (on any node) the per-regimen counts are left out.

Every request is appended to the node's request log (``log_path``, JSON lines) before it is
answered, refused or not.

Environment variables (how a vantage6 node passes them: ``algorithm_env`` in its configuration):
``CARTREG_NODE_MIN_ORGANIZATIONS``, ``CARTREG_NODE_MIN_PATIENTS``, ``CARTREG_NODE_MAX_ROUNDS``,
``CARTREG_NODE_ALLOW_DAY_GRID``, ``CARTREG_NODE_ALLOW_WEEK_GRID``, ``CARTREG_NODE_ALLOW_POOLED_RISK_SETS``,
``CARTREG_NODE_ALLOW_VALUE_TABLES``, ``CARTREG_NODE_ALLOW_REGIMEN_TEXTS`` (``yes``/``no``), ``CARTREG_NODE_SECRET``, ``CARTREG_NODE_LOG``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from cartreg.errors import CartregError

MIN_ORGANIZATIONS = 3
MIN_PATIENTS = 10
MAX_ROUNDS = 30


@dataclass(frozen=True)
class NodeSettings:
    """The node administrator's privacy settings (see the module docstring)."""

    min_organizations: int = MIN_ORGANIZATIONS
    min_patients: int = MIN_PATIENTS
    max_rounds: int = MAX_ROUNDS
    allow_day_grid: bool = False
    allow_week_grid: bool = True
    allow_pooled_risk_sets: bool = False
    allow_value_tables: bool = True
    allow_regimen_texts: bool = True
    secret: bytes = field(default=b"", repr=False)
    log_path: str | None = None

    def __post_init__(self) -> None:
        if self.min_organizations < MIN_ORGANIZATIONS:
            raise CartregError(f"min_organizations cannot be below {MIN_ORGANIZATIONS}", 2)
        if self.min_patients < MIN_PATIENTS:
            raise CartregError(f"min_patients cannot be below {MIN_PATIENTS}", 2)
        if not 1 <= self.max_rounds <= MAX_ROUNDS:
            raise CartregError(f"max_rounds must be between 1 and {MAX_ROUNDS}", 2)
        if not self.secret:
            raise CartregError("the node has no secret (CARTREG_NODE_SECRET): secure aggregation needs one", 2)

    def allows_grid(self, grid: str) -> bool:
        return grid == "month" or (grid == "day" and self.allow_day_grid) or (grid == "week" and self.allow_week_grid)

    def public(self) -> dict[str, Any]:
        """What the node tells the aggregator about itself (no secret, no path)."""
        d = asdict(self)
        d.pop("secret")
        d.pop("log_path")
        return d

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> "NodeSettings":
        """From a dict or from ``os.environ``-style text (``CARTREG_NODE_*`` keys or bare names)."""
        def get(name: str) -> Any:
            for key in (name, "CARTREG_NODE_" + name.upper()):
                if key in m and m[key] is not None and m[key] != "":
                    return m[key]
            return None

        kw: dict[str, Any] = {}
        for name in ("min_organizations", "min_patients", "max_rounds"):
            v = get(name)
            if v is not None:
                try:
                    kw[name] = int(v)
                except (TypeError, ValueError):
                    raise CartregError(f"node setting {name} must be a whole number, got {v!r}", 2) from None
        for name in ("allow_day_grid", "allow_week_grid", "allow_pooled_risk_sets", "allow_value_tables",
                     "allow_regimen_texts"):
            v = get(name)
            if v is not None:
                kw[name] = _flag(name, v)
        secret = get("secret")
        if secret is not None:
            kw["secret"] = secret if isinstance(secret, bytes) else str(secret).encode()
        log = get("log") or get("log_path")
        if log is not None:
            kw["log_path"] = str(log)
        return cls(**kw)

    @classmethod
    def from_env(cls) -> "NodeSettings":
        return cls.from_mapping(os.environ)


def _flag(name: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in ("1", "yes", "true", "on"):
        return True
    if s in ("0", "no", "false", "off"):
        return False
    raise CartregError(f"node setting {name} must be yes or no, got {v!r}", 2)


def log_request(settings: NodeSettings, request: Mapping[str, Any]) -> int:
    """Append the request (method, session, parameters; never data) to the node's log.

    Returns the number of requests of this session so far, this one included. Without a log
    path the node keeps no log and cannot count rounds: it then refuses.
    """
    if not settings.log_path:
        raise CartregError("the node has no request log (CARTREG_NODE_LOG): it refuses to answer", 2)
    path = Path(settings.log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    session = str(request.get("session"))
    n = 0
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    n += json.loads(line).get("session") == session
                except ValueError:
                    continue
    entry = {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "session": session,
             "method": request.get("method"), "round": n + 1,
             "request": {k: v for k, v in request.items() if k not in ("version", "kind", "method", "session")}}
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
    return n + 1
