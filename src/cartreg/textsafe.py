"""Showing untrusted text (registry values, file names, group labels) on a terminal, safely.

Registry files come from elsewhere. A value is shown as what it is: never interpreted as Rich
markup (``[/]`` would crash the printer, ``[link=...]DLBCL[/link]`` would display as ``DLBCL``), and
never sent raw to the terminal (``\\x1b[2J`` would clear the screen, ``\\x1b]0;...`` set the title).

:func:`printable` escapes control characters, invisible format characters (bidirectional
overrides, zero-width spaces) and lone surrogates as Python escapes (``\\x1b``, ``\\u202e``);
:func:`markup_safe` also escapes Rich markup, for text given to ``console.print``. Both are
identity on ordinary text.

>>> printable("DLBCL\\x1b[2J")
'DLBCL\\\\x1b[2J'
>>> markup_safe("[link=https://x]DLBCL[/link]")
'\\\\[link=https://x]DLBCL\\\\[/link]'
"""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls, DEL, and the invisible/bidi format characters most used to disguise text.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ud800-\udfff]")
_UNSAFE_KEEP_NL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
                             r"\ud800-\udfff]")


def _escape(m: re.Match) -> str:
    ch = m.group(0)
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def printable(text: object, keep_newlines: bool = False) -> str:
    """``text`` with every control or invisible format character written as an escape (``\\x1b``).

    Other format characters (category Cf) are escaped too. With ``keep_newlines``, ``\\n`` stays
    (multi-line messages).
    """
    s = str(text)
    pattern = _UNSAFE_KEEP_NL if keep_newlines else _UNSAFE
    s = pattern.sub(_escape, s)
    if any(unicodedata.category(ch) == "Cf" for ch in s if ord(ch) > 0x7f):
        s = "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch) == "Cf" else ch for ch in s)
    return s


def markup_safe(text: object, keep_newlines: bool = False) -> str:
    """:func:`printable`, then Rich markup escaped (for ``console.print`` of a string)."""
    from rich.markup import escape

    return escape(printable(text, keep_newlines))


def printable_tree(obj: object) -> object:
    """A copy of a JSON-like structure with every string passed through :func:`printable`
    (render a results dict on a terminal without letting its labels drive the terminal)."""
    if isinstance(obj, str):
        return printable(obj)
    if isinstance(obj, dict):
        return {printable_tree(k): printable_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(printable_tree(v) for v in obj)
    return obj


def terminal_console(**kwargs):
    """A Rich console that never interprets markup or highlights (for data-bearing output)."""
    from rich.console import Console

    return Console(markup=False, highlight=False, **kwargs)
