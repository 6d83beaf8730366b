"""Small helpers shared by the CLI commands."""

from __future__ import annotations

import math
from typing import Any

from cartreg.errors import CartregError


def json_number(x: Any) -> float | None:
    """A JSON number or null (NaN/inf/None are null)."""
    if x is None:
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def parse_at(at: str | None) -> list[float]:
    """``--at T1,T2``: finite, non-negative times (empty when not given)."""
    if not at:
        return []
    out = []
    for part in at.split(","):
        p = part.strip()
        if not p:
            continue
        try:
            v = float(p)
        except ValueError:
            raise CartregError(f"--at: {p!r} is not a number") from None
        if not math.isfinite(v) or v < 0:
            raise CartregError(f"--at: {p!r} is not a finite time >= 0")
        out.append(v)
    return out
