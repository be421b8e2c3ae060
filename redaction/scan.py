"""Find the lines worth a closer look: those holding an anchor (case-insensitive literal).

Two interchangeable scanners return the same sorted line starts: :class:`PureScanner`
(one ``re`` pass keyed on each anchor's rarest byte, plus ``bytes.find`` for the few anchors
made of common bytes, over the lower-cased block) and, when the native ``hyperscan``
package is installed, :class:`HyperScanner` (more than ten times faster).
Which lines are looked at never changes the output (every rule match holds an
anchor), and the tests check both give identical results.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

ALL = -1  # a survey mask: every extra expression may be present


class Scanner(Protocol):
    name: str

    def line_starts(self, block: bytes) -> list[int]: ...

    def survey(self, block: bytes) -> tuple[list[int], int]: ...


def _starts_from_hits(block: bytes, hits: Iterable[int]) -> list[int]:
    """Sorted, unique line starts of the lines holding the (ascending) offsets ``hits``."""
    starts: list[int] = []
    line_end = -1
    for hit in hits:
        if hit <= line_end:
            continue
        starts.append(block.rfind(b"\n", 0, hit) + 1)
        line_end = block.find(b"\n", hit)
        if line_end < 0:
            break
    return starts


# rough byte frequencies (per mille) in logs and configs, to pick each anchor's rarest byte
_FREQ = dict.fromkeys(range(256), 30)
_FREQ.update(zip(b"etaoinsrhldcumfpgwybvkxjqz", (90, 65, 55, 50, 52, 50, 54, 45, 24, 35, 26, 29, 21, 19, 18, 19, 12, 9,
                                                  12, 11, 8, 4, 3, 2, 1, 1), strict=True))
_FREQ.update(dict.fromkeys(b"0123456789", 60))
_FREQ.update({32: 170, 45: 24, 46: 21, 58: 28, 47: 8, 95: 5, 34: 5, 61: 10, 36: 1, 123: 2, 125: 2})
FIND_ABOVE = 25  # an anchor with no byte rarer than this is looked for with bytes.find instead


class PureScanner:
    """``re`` over the lower-cased block, entering each anchor at its rarest byte.

    ``re`` only tries a match where the first byte can start one, so the alternation is keyed on
    each anchor's rarest byte and the rest is checked around it (look-behind for what comes before).
    Anchors made of common bytes only are cheaper to find with ``bytes.find``.
    """

    name = "re"

    def __init__(self, anchors: Iterable[bytes]) -> None:
        anchors = sorted(set(anchors))
        entries: dict[int, list[tuple[bytes, bytes]]] = {}
        self._finds: list[bytes] = []
        for a in anchors:
            i = min(range(len(a)), key=lambda j: (_FREQ[a[j]], j))
            if _FREQ[a[i]] > FIND_ABOVE and len(a) > 2:
                self._finds.append(a)
            else:
                entries.setdefault(a[i], []).append((a[:i + 1], a[i + 1:]))
        alts = []
        for c, items in sorted(entries.items()):
            sub = sorted({re.escape(after) + (b"(?<=" + re.escape(upto + after) + b")" if len(upto) > 1 else b"")
                          for upto, after in items}, key=lambda x: (-len(x), x))
            alts.append(re.escape(bytes([c])) + (b"(?:" + b"|".join(sub) + b")" if sub != [b""] else b""))
        self._re = re.compile(b"|".join(alts)) if alts else None

    def survey(self, block: bytes) -> tuple[list[int], int]:
        """The line starts, and every extra expression marked "maybe present" (the caller checks them itself)."""
        return self.line_starts(block), ALL

    def line_starts(self, block: bytes) -> list[int]:
        low = block.lower()
        hits: list[int] = []
        for word in self._finds:
            find, at = low.find, low.find(word)
            while at >= 0:
                hits.append(at)
                end = block.find(b"\n", at)
                if end < 0:
                    break
                at = find(word, end)
        if self._re is not None:
            search, pos = self._re.search, 0
            while (m := search(low, pos)) is not None:
                hits.append(m.start())
                pos = block.find(b"\n", m.start()) + 1
                if not pos:
                    break
        hits.sort()
        return _starts_from_hits(block, hits)


def _literal(word: bytes) -> bytes:
    """``word`` as a hyperscan expression matching exactly it."""
    return b"".join(b"\\x%02x" % c for c in word)


class HyperScanner:
    """The anchors (caseless literals) and, in the same pass, ``extras``: case-sensitive hyperscan expressions.

    The extras are what the engine would otherwise look for with a pass of its own over every
    block (the end line of a private key whose start was cut off, the unanchored rules' prefilters):
    in the same scan they cost next to nothing (measured: 23 µs per 64 KiB either way, against ~65 µs
    for the separate ``in`` and ``re`` passes they save).
    """

    name = "hyperscan"

    def __init__(self, anchors: Iterable[bytes], extras: Sequence[bytes] = ()) -> None:
        import hyperscan

        words = sorted(set(anchors))
        self._n = len(words)
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        if extras:
            exprs = [_literal(w) for w in words] + list(extras)
            self._db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs),
                             flags=[hyperscan.HS_FLAG_CASELESS] * len(words) + [0] * len(extras))
        else:
            self._db.compile(expressions=words, ids=list(range(len(words))), elements=len(words),
                             flags=hyperscan.HS_FLAG_CASELESS, literal=True)
        self._proto = hyperscan.Scratch(self._db)
        self._local = threading.local()  # a scratch space per thread

    def line_starts(self, block: bytes) -> list[int]:
        return self.survey(block)[0]

    def survey(self, block: bytes) -> tuple[list[int], int]:
        """Starts of the lines holding an anchor, and a mask: bit ``i`` set when ``extras[i]`` matched."""
        ends: list[int] = []
        add = ends.append
        n = self._n
        mask = [0]

        def on_match(i: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            if i < n:
                add(end - 1)
            else:
                mask[0] |= 1 << (i - n)

        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._proto.clone()
        self._db.scan(block, match_event_handler=on_match, scratch=scratch)
        ends.sort()
        return _starts_from_hits(block, ends), mask[0]


def make_scanner(anchors: Iterable[bytes], prefer: str | None = None, extras: Sequence[bytes] = ()) -> Scanner:
    """The fastest available scanner; ``prefer`` (or $CASEPACK_SCANNER) = "re" forces the pure one.

    ``extras``: hyperscan expressions :meth:`HyperScanner.survey` reports (the pure scanner reports all of them).
    """
    anchors = list(anchors)
    choice = prefer or os.environ.get("CASEPACK_SCANNER", "auto")
    if choice != "re":
        try:
            return HyperScanner(anchors, extras)
        except ImportError:
            if choice == "hyperscan":
                raise
    return PureScanner(anchors)
