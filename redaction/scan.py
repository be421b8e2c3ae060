"""Find the lines worth a closer look: those holding an anchor (case-insensitive literal).

Two interchangeable scanners return the same sorted line starts: :class:`PureScanner`
(one ``re`` alternation over the lower-cased block) and, when the optional native
``hyperscan`` package is installed, :class:`HyperScanner` (several times faster).
Which lines are looked at never changes the output (every rule match holds an
anchor), and the tests check both give identical results.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import Protocol


class Scanner(Protocol):
    name: str

    def line_starts(self, block: bytes) -> list[int]: ...


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


class PureScanner:
    name = "re"

    def __init__(self, anchors: Iterable[bytes]) -> None:
        words = sorted(set(anchors), key=lambda a: (-len(a), a))
        self._re = re.compile(b"|".join(re.escape(a) for a in words))

    def line_starts(self, block: bytes) -> list[int]:
        low = block.lower()
        search = self._re.search
        starts: list[int] = []
        pos = 0
        while True:
            m = search(low, pos)
            if m is None:
                return starts
            hit = m.start()
            starts.append(block.rfind(b"\n", 0, hit) + 1)
            end = block.find(b"\n", hit)
            if end < 0:
                return starts
            pos = end + 1


class HyperScanner:
    name = "hyperscan"

    def __init__(self, anchors: Iterable[bytes]) -> None:
        import hyperscan

        words = sorted(set(anchors))
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(expressions=words, ids=list(range(len(words))), elements=len(words),
                         flags=hyperscan.HS_FLAG_CASELESS, literal=True)
        self._proto = hyperscan.Scratch(self._db)
        self._local = threading.local()  # a scratch space per thread

    def line_starts(self, block: bytes) -> list[int]:
        ends: list[int] = []
        add = ends.append

        def on_match(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            add(end - 1)

        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._proto.clone()
        self._db.scan(block, match_event_handler=on_match, scratch=scratch)
        ends.sort()
        return _starts_from_hits(block, ends)


def make_scanner(anchors: Iterable[bytes], prefer: str | None = None) -> Scanner:
    """The fastest available scanner; ``prefer`` (or $CASEPACK_SCANNER) = "re" forces the pure one."""
    anchors = list(anchors)
    choice = prefer or os.environ.get("CASEPACK_SCANNER", "auto")
    if choice != "re":
        try:
            return HyperScanner(anchors)
        except ImportError:
            if choice == "hyperscan":
                raise
    return PureScanner(anchors)
