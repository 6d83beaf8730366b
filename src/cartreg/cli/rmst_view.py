"""Rendering of the ``rmst`` block of ``cartreg survival --rmst TAU`` (formatting only)."""

from __future__ import annotations

from typing import Any

from cartreg.cli._common import fmt_p as _p


def _f(x: float | None) -> str:
    return "NA" if x is None else f"{x:.4g}"


def render_rmst(block: dict[str, Any]) -> None:
    """Print per-group RMST and the pairwise contrasts as rich tables."""
    from rich.table import Table

    from cartreg.textsafe import printable_tree, terminal_console

    block = printable_tree(block)  # labels are data: no markup, no raw control characters (issue 16)
    pct = f"{block['conf_level'] * 100:g}%"
    tab = Table(title=f"Restricted mean survival time up to tau = {block['tau']:g}")
    for col in ("group", "RMST", "SE"):
        tab.add_column(col, justify="left" if col == "group" else "right")
    for s in block["strata"]:
        tab.add_row("all" if s["group"] is None else str(s["group"]), _f(s["rmst"]), _f(s["se"]))
    console = terminal_console()
    console.print(tab)
    if block["contrasts"]:
        ct = Table(title="RMST contrasts (survRM2::rmst2)")
        for col in ("groups", f"difference ({pct} CI)", "P", f"ratio ({pct} CI)", "P "):
            ct.add_column(col, justify="left" if col == "groups" else "right")
        for c in block["contrasts"]:
            d, r = c["diff"], c["ratio"]
            ct.add_row(f"{c['groups'][0]} vs {c['groups'][1]}",
                       f"{_f(d['est'])} ({_f(d['ci'][0])} to {_f(d['ci'][1])})", _p(d["p"]),
                       f"{_f(r['est'])} ({_f(r['ci'][0])} to {_f(r['ci'][1])})", _p(r["p"]))
        console.print(ct)
