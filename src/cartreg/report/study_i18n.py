"""The built-in late-failure report in another language (issue 13).

The late-failure report's tables (:mod:`cartreg.report.tables`), figures (:mod:`cartreg.report.figures`)
and HTML headings are written in English in code. :class:`StudyTranslator` maps that English text
through the message catalogue of the language (``report/i18n/<lang>.toml``, sections ``[study]``:
whole strings, and ``[study_phrases]``: parts of strings, replaced longest first in one pass, at word
boundaries), then gives the numbers a decimal comma (``P<0,001``) with :meth:`Lang.loc`. English is
left untouched (byte for byte). Formatting only: nothing is computed here.

>>> tr = StudyTranslator("fr")
>>> tr("HR (95% CI)"), tr("0.81 (0.45-1.46)"), tr("P<.001"), tr("Not treated")
('HR (IC à 95 %)', '0,81 (0,45-1,46)', 'P<0,001', 'Non traités')
>>> StudyTranslator("en")("HR (95% CI)")
'HR (95% CI)'
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache
from typing import Any

from cartreg.report.i18n import Lang


def _bounded(phrase: str) -> str:
    pat = re.escape(phrase)
    if phrase[:1].isalnum():
        pat = r"(?<!\w)" + pat
    if phrase[-1:].isalnum():
        pat = pat + r"(?!\w)"
    return pat


@lru_cache(maxsize=None)
def _compiled(lang: str) -> tuple[dict[str, str], dict[str, str], re.Pattern | None]:
    m = Lang(lang).m
    exact = dict(m.get("study", {}))
    phrases = dict(m.get("study_phrases", {}))
    if not phrases:
        return exact, phrases, None
    keys = sorted(phrases, key=len, reverse=True)
    return exact, phrases, re.compile("|".join(_bounded(k) for k in keys))


@lru_cache(maxsize=None)
def _translated_formatter_class():
    """The tick formatter class, made on first use (``--no-report`` must not import matplotlib)."""
    from matplotlib.ticker import Formatter

    class _TranslatedFormatter(Formatter):
        """A tick formatter whose labels are another formatter's, translated (decimal comma)."""

        def __init__(self, inner, tr) -> None:
            self.inner, self.tr = inner, tr

        def set_axis(self, axis) -> None:
            super().set_axis(axis)
            self.inner.set_axis(axis)

        def set_locs(self, locs) -> None:
            self.inner.set_locs(locs)

        def __call__(self, x, pos=None) -> str:
            return self.tr(self.inner(x, pos))

        def format_ticks(self, values) -> list[str]:
            return [self.tr(s) for s in self.inner.format_ticks(values)]

    return _TranslatedFormatter


class StudyTranslator:
    """English text of the late-failure report -> the text of ``lang`` (identity for English)."""

    def __init__(self, lang: str = "en") -> None:
        self.lang = Lang(lang)
        self.identity = lang == "en"
        self.exact, self.phrases, self.pattern = _compiled(lang)

    def __call__(self, text: Any) -> Any:
        if self.identity or not isinstance(text, str) or not text:
            return text
        out = self.exact.get(text)
        if out is None:
            out = text if self.pattern is None else self.pattern.sub(lambda mo: self.phrases[mo.group(0)], text)
        return self.lang.loc(out)

    def table(self, t):
        """A :class:`cartreg.report.tables.Table` with every label, cell and footnote translated."""
        if self.identity:
            return t
        return replace(t, title=self(t.title), columns=[self(c) for c in t.columns],
                       rows=[[self(c) for c in row] for row in t.rows], footnotes=[self(f) for f in t.footnotes])

    def figure(self, fig):
        """A :class:`cartreg.report.figures.ReportFigure` with its title, caption and every text of its
        matplotlib figure (labels, legends, risk tables, tick labels) translated."""
        if self.identity:
            return fig
        from matplotlib.text import Text

        mfig = fig.figure
        for ax in mfig.get_axes():  # tick labels: the axis' own formatter, its text translated
            for axis in (ax.xaxis, ax.yaxis):
                for get, put in ((axis.get_major_formatter, axis.set_major_formatter),
                                 (axis.get_minor_formatter, axis.set_minor_formatter)):
                    put(_translated_formatter_class()(get(), self))
        for obj in mfig.findobj(Text):
            s = obj.get_text()
            if s:
                obj.set_text(self(s))
        return replace(fig, title=self(fig.title), caption=self(fig.caption))


__all__ = ["StudyTranslator"]
