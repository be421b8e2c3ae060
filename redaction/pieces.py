"""Where to cut a stream so that no secret straddles a cut.

* A line longer than the engine's piece size is cut at a delimiter some way before the end of
  the data at hand; if any rule (or known secret) matches across that point, the cut moves to
  the match's start so that the whole match — key and value — is seen by the next piece.
* Base64-looking lines at the end of a block are held back for the next block: they may be
  the body of a private key whose ``END`` line follows (a tail cut off its ``BEGIN`` line).
"""

from __future__ import annotations

import re
from typing import Any

OVERLAP = 64 << 10  # a cut is placed at least this far before the end of the data at hand
CONTEXT = 8 << 10  # bytes either side of a cut searched for a straddling match
BODY = re.compile(rb"[A-Za-z0-9+/]{16,100}={0,2}\r?")
LAST = re.compile(rb"[A-Za-z0-9+/]{2,100}={0,2}\r?")  # a body's last line may be short
HOLD_LINES = 256
DELIMS = (b" ", b"\t", b",", b";", b"&", b"\"", b"'")


def _crossing(stream: Any, data: bytes, cut: int) -> int | None:
    """The start of the earliest match that straddles ``cut``, or None."""
    lo, hi = max(0, cut - CONTEXT), min(len(data), cut + CONTEXT)
    window = data[lo:hi]
    low = window.lower()
    red = stream.redactor
    best: int | None = None
    patterns = [r.pattern for r in red.rules + stream._line_rules if not r.anchors or any(a in low for a in r.anchors)]
    if red.literal_re is not None:
        patterns.append(red.literal_re)
    for pattern in patterns:
        for m in pattern.finditer(window):
            start, end = lo + m.start(), lo + m.end()
            if start >= cut:
                break
            if end > cut and (best is None or start < best):
                best = start
    return best


def safe_cut(stream: Any, data: bytes) -> tuple[int, bool]:
    """(where to cut this overlong line, whether a secret runs past the cut unresolved)."""
    n = len(data)
    target = max(1, n - OVERLAP)
    lo = max(0, target - 4096)
    j = max(data.rfind(d, lo, target) for d in DELIMS)
    cut = j + 1 if j >= 0 else target
    first = cut
    for _ in range(16):
        start = _crossing(stream, data, cut)
        if start is None:
            return cut, False
        if start < n // 4:  # a match of most of the line: redact on past the cut
            return first, True
        cut = start
    return cut, _crossing(stream, data, cut) is not None


def hold_back(data: bytes, cut: int, limit: int) -> int:
    """Move ``cut`` (just after a newline) back over trailing base64-looking lines (bounded)."""
    if len(data) - cut > limit:
        return cut
    hold = cut
    for _ in range(HOLD_LINES):
        if hold == 0:
            break
        prev = data.rfind(b"\n", 0, hold - 1) + 1
        if not (BODY if hold < cut else LAST).fullmatch(data, prev, hold - 1):
            break
        hold = prev
    if hold == 0 and cut > limit // 4:  # too much held: let it go
        return cut
    return hold
