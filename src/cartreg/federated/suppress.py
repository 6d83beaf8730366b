"""Small-cell suppression of released counts: a count from 1 to ``n - 1`` is shown as ``"<n"``.

Applied to a results dictionary before it is written (results.json) and reported. Counts are the
values of count keys (``n``, ``N``, ``events``, ``n_risk``, ``n_event``, ``n_censor``,
``cum_events``, ``cum_censored``, ``events_pfs2``, ``events_os2``, ``late_n``, ``n_missing``,
``registered``, ``infused``, ``n_rows``, and the CIF risk table's ``cum_failures`` and
``cum_deaths_without_failure``) and of value-count tables (``products``, ``regimens``,
``ignored_records`` with its nested ``after_cutoff``). A percentage whose count was suppressed is
withheld too (``None``), since it would give the count back. 0 is not suppressed (it discloses no
patient).

Counts also appear in texts: a warning's ``message`` and the reasons of
``late.comparisons.not_compared`` ("3 treated patient(s), fewer than ..."). In those texts every
whole number from 1 to ``n - 1`` outside quotes (a quoted regimen text is left as it is) becomes
``"<n"`` as well.
"""

from __future__ import annotations

import re
from typing import Any

COUNT_KEYS = {"n", "N", "events", "n_risk", "n_event", "n_censor", "cum_events", "cum_censored", "events_pfs2",
              "events_os2", "late_n", "n_missing", "registered", "infused", "n_rows", "cum_failures",
              "cum_deaths_without_failure"}
TALLY_KEYS = {"products", "regimens", "ignored_records", "after_cutoff"}
TEXT_KEYS = {"message"}  #: texts that may hold counts (plus the values of ``not_compared``)
PCT_OF = {"pct": "n", "late_pct": "late_n"}


def _small(v: Any, n: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 < v < n


def _tally(d: dict, n: int) -> dict:
    """A value-count table (``{text: count}``, possibly nested: ``first_treatment.regimens{class: {text: n}}``)."""
    label = f"<{n}"
    return {k: label if _small(v, n) else _tally(v, n) if isinstance(v, dict) else v for k, v in d.items()}


def suppress_text(text: str, n: int) -> str:
    """``text`` with every whole number from 1 to ``n - 1`` outside single quotes replaced by ``"<n"``.

    >>> suppress_text("class 'adc': 3 treated patient(s), fewer than min_class_size = 5", 5)
    "class 'adc': <5 treated patient(s), fewer than min_class_size = 5"
    """
    parts = re.split(r"('[^']*')", text)  # odd parts: quoted texts (regimens, classes), kept as they are
    small = re.compile(r"(?<![\w.\-/:])(\d+)(?![\w.\-/:%]|\.\d)")

    def sub(m: re.Match) -> str:
        return f"<{n}" if 0 < int(m.group(1)) < n else m.group(1)

    return "".join(p if i % 2 else small.sub(sub, p) for i, p in enumerate(parts))


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
                out[k] = _tally(v, n)
            elif (k in TEXT_KEYS or _key == "not_compared") and isinstance(v, str):
                out[k] = suppress_text(v, n)
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
