"""Small-cell suppression of released counts: a count from 1 to ``n - 1`` is shown as ``"<n"``.

Applied to a results dictionary before it is written (results.json) and reported. Counts are the
values of count keys (``n``, ``N``, ``events``, ``n_risk``, ``n_event``, ``n_censor``,
``cum_events``, ``cum_censored``, ``events_pfs2``, ``events_os2``, ``late_n``, ``n_missing``,
``registered``, ``infused``, ``n_rows``) and of value-count tables (``products``, ``regimens``,
``ignored_records``). A percentage whose count was suppressed is withheld too (``None``), since it
would give the count back. 0 is not suppressed (it discloses no patient).
"""

from __future__ import annotations

from typing import Any

COUNT_KEYS = {"n", "N", "events", "n_risk", "n_event", "n_censor", "cum_events", "cum_censored", "events_pfs2",
              "events_os2", "late_n", "n_missing", "registered", "infused", "n_rows"}
TALLY_KEYS = {"products", "regimens", "ignored_records"}
PCT_OF = {"pct": "n", "late_pct": "late_n"}


def _small(v: Any, n: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 < v < n


def suppress_small_cells(results: Any, n: int, _key: str | None = None) -> Any:
    """A copy of ``results`` with every released count in ``1 .. n-1`` replaced by ``"<n"``."""
    label = f"<{n}"
    if isinstance(results, dict):
        out = {}
        for k, v in results.items():
            if k in COUNT_KEYS and _small(v, n):
                out[k] = label
            elif k in COUNT_KEYS and isinstance(v, list):
                out[k] = [label if _small(x, n) else x for x in v]
            elif k in TALLY_KEYS and isinstance(v, dict):
                out[k] = {kk: (label if _small(vv, n) else suppress_small_cells(vv, n, kk)) for kk, vv in v.items()}
            else:
                out[k] = suppress_small_cells(v, n, k)
        for pct, cnt in PCT_OF.items():
            if pct in out and out.get(cnt) == label:
                out[pct] = None
        if "n" in out and out["n"] == label and "N" in out and "pct" in out:
            out["pct"] = None
        return out
    if isinstance(results, list):
        return [suppress_small_cells(v, n, _key) for v in results]
    return results


def for_report(suppressed: Any, n: int) -> Any:
    """The suppressed results as the report reads them: each ``"<n"`` becomes ``None`` (shown as a dash)."""
    label = f"<{n}"
    if isinstance(suppressed, dict):
        return {k: for_report(v, n) for k, v in suppressed.items()}
    if isinstance(suppressed, list):
        return [for_report(v, n) for v in suppressed]
    return None if suppressed == label else suppressed
