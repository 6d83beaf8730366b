"""Languages of the plan report: one message catalogue per language (``report/i18n/<lang>.toml``).

:class:`Lang` looks messages up and formats numbers for its language: decimal comma and a leading
zero on P values in French (``P<0,001``, ``0,04``), journal style in English (``P<.001``, ``.04``), as
:mod:`cartreg.report.format` does. Formatting only: nothing is computed here.

>>> fr = Lang("fr")
>>> fr.p(0.0004, prefix=True), fr.p(0.0412), fr.num(3.25, 1), fr.hr(0.812, [0.45, 1.463])
('P<0,001', '0,04', '3,3', '0,81 (0,45-1,46)')
>>> Lang("en").p(0.0412), Lang("en").pct_ci(0.7712, [0.51, 0.912])
('.04', '77 (51-91)')
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib.resources import files
from typing import Any

from cartreg.errors import CartregError
from cartreg.report.format import fmt_est_ci_pct, fmt_hr, fmt_num, fmt_p, is_missing

LANGS = ("en", "fr")


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, dict[str, str]]:
    """The message catalogue of ``lang`` (sections of key -> text)."""
    if lang not in LANGS:
        raise CartregError(f"unknown language {lang!r}; languages are {', '.join(LANGS)}", exit_code=2)
    text = (files("cartreg.report") / "i18n" / f"{lang}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


_POINT = re.compile(r"(?<![\d])\.(?=\d)")  # ".04" -> needs a leading zero
_DEC = re.compile(r"(?<=\d)\.(?=\d)")


class Lang:
    """Messages and number formats of one language."""

    def __init__(self, lang: str = "en") -> None:
        self.lang = lang
        self.m = catalogue(lang)
        self.comma = self.m["format"]["decimal"] == ","

    # --- messages ---------------------------------------------------------------------------------
    def t(self, key: str, **kw: Any) -> str:
        text = self.m["text"][key]
        return text.format(**kw) if kw else text

    def column(self, name: str) -> str:
        return self.m["columns"].get(name, name)

    def level(self, value: Any, column: str | None = None) -> str:
        if value is None:
            return self.m["format"]["dash"]
        s = str(value)
        return self.m["levels"].get(s, s)

    def cause(self, name: str) -> str:
        return self.m["causes"].get(name, name)

    def endpoint(self, name: str) -> str:
        return self.m["endpoints"].get(name, name)

    def origin(self, name: str) -> str:
        return self.m["origins"].get(name, name)

    def parameter(self, name: str) -> str:
        return self.m["parameters"].get(name, name)

    # --- numbers -------------------------------------------------------------------------------------
    def loc(self, s: str) -> str:
        """English-formatted number text in this language (decimal comma, leading zeros)."""
        if not self.comma:
            return s
        return _DEC.sub(",", _POINT.sub("0.", s))

    def num(self, x: Any, digits: int = 1) -> str:
        return self.loc(fmt_num(x, digits))

    def p(self, p: Any, prefix: bool = False) -> str:
        """``.04``/``P<.001`` in English; ``0,04``/``P<0,001`` in French."""
        return self.loc(fmt_p(p, prefix=prefix))

    def hr(self, hr: Any, ci: Any = None) -> str:
        """``0.81 (0.45-1.46)``: two decimals, three below 0.1 (format.fmt_hr compact)."""
        if is_missing(hr):
            return self.m["text"]["not_estimable"]
        return self.loc(fmt_hr(hr, ci, compact=True))

    def pct_ci(self, est: Any, ci: Any = None) -> str:
        """A proportion 0-1 as ``77 (51-91)`` (format.fmt_est_ci_pct compact)."""
        return self.loc(fmt_est_ci_pct(est, ci, compact=True))

    def median(self, median: Any, ci: Any) -> str:
        """``4.2 (3.4-6.0)``; ``NR`` / ``NA`` bounds when not reached."""
        nr = self.m["format"]["not_reached"]
        lo, hi = (None, None) if ci is None else ci
        med = nr if is_missing(median) else self.num(median, 1)
        if is_missing(lo) and is_missing(hi):
            return med
        lo_s = nr if is_missing(lo) else self.num(lo, 1)
        hi_s = nr if is_missing(hi) else self.num(hi, 1)
        return f"{med} ({lo_s}-{hi_s})"

    def p_eq(self, p: Any) -> str:
        """``=.04`` or ``<.001`` (for "P{...}" in notes)."""
        s = self.p(p, prefix=True)
        return s[1:] if s.startswith("P") else s


__all__ = ["LANGS", "Lang", "catalogue"]
