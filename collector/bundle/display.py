"""Text from a bundle made safe for a terminal: the one function every text output uses.

A bundle's names, host names, case fields, check results and log lines are chosen by
whoever made the bundle. Printed raw, an escape sequence could recolour or rewrite the
screen and a newline could forge a line of casepack's own output ("signed by …").
:func:`safe` shows every control character (C0, DEL, C1), line and paragraph separator and
invisible format character (bidi overrides, zero-width) as a visible escape instead.
"""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")  # a tab stays: it cannot forge a line
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def safe(value: Any, limit: int | None = None) -> str:
    """``value`` as one printable line: control and format characters escaped, cut to ``limit`` characters."""
    text = "" if value is None else str(value)
    if limit is not None:
        text = text[:limit + 1]  # escaping never shortens: the rest could not be shown anyway
    text = _CONTROL.sub(lambda m: _escape(m.group(0)), text)
    if not text.isprintable():  # invisible format characters (Cf), unassigned, surrogates …
        text = "".join(c if c.isprintable() or c == "\t" else _escape(c) for c in text)
    return text if limit is None or len(text) <= limit else text[:limit - 1] + "…"
