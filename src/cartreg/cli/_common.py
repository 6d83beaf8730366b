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


def parse_columns(text: str | None) -> list[str]:
    """A comma-separated column list, ``a,b,c`` -> ``["a", "b", "c"]`` (blanks dropped; empty when not given)."""
    return [c.strip() for c in text.split(",") if c.strip()] if text else []


def parse_reference_levels(items: list[str] | None) -> dict[str, str]:
    """``--reference-level COL=LEVEL`` (repeatable) as a dict; the level is the text after the
    first ``=``."""
    out: dict[str, str] = {}
    for item in items or []:
        col, sep, level = item.partition("=")
        if not sep or not col.strip() or level == "":
            raise CartregError(f"--reference-level {item!r}: write COL=LEVEL, e.g. ecog=0")
        out[col.strip()] = level.strip()
    return out


def fmt_p(p: float | None) -> str:
    """A P value for the terminal tables (``P<.001``, ``P=0.042``; NA when missing)."""
    if p is None:
        return "NA"
    return "P<.001" if p < 0.001 else f"P={p:.3f}"
