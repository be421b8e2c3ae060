"""Find the log lines that may start an error entry, a whole block at a time, before any per-line work.

A line may start one when a warning-or-worse level word begins in it (``warn…``, ``err…``,
``severe``, ``fatal``, ``crit…``, ``emerg``, ``alert``, ``panic``, any case, at a word start) or
when it starts with ``Traceback``. That is a superset: the scanner checks each candidate exactly
(``signatures.line_level``), so which finder runs never changes the report. Two finders give the
same line starts: :class:`HyperFinder` (the native ``hyperscan`` package, several hundred MB/s)
and :class:`PureFinder` (``bytes.find`` over the lower-cased block, for machines without it);
tests/test_report_scan.py checks they agree.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

WORDS = (b"warn", b"err", b"severe", b"fatal", b"crit", b"emerg", b"alert", b"panic")
TRACEBACK = b"Traceback"


class Finder(Protocol):
    name: str

    def __call__(self, block: bytes) -> list[int]: ...


class HyperFinder:
    """One hyperscan pass per block: level words at a word start (caseless), ``Traceback`` at a line start."""

    name = "hyperscan"

    def __init__(self) -> None:
        import hyperscan

        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        words = b"|".join(WORDS)
        self._db.compile(expressions=[rb"\b(?:" + words + rb")", b"^" + TRACEBACK], ids=[0, 1], elements=2,
                         flags=[hyperscan.HS_FLAG_CASELESS, hyperscan.HS_FLAG_MULTILINE])
        self._proto = hyperscan.Scratch(self._db)
        self._local = threading.local()

    def __call__(self, block: bytes) -> list[int]:
        ends: list[int] = []
        add = ends.append

        def on_match(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            add(end)

        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._proto.clone()
        self._db.scan(block, match_event_handler=on_match, scratch=scratch)
        ends.sort()  # a pattern's matches come in order, two patterns' interleaved
        return _line_starts(block, ends)


class PureFinder:
    """``bytes.find`` of each word in the lower-cased block, one hit per line and word."""

    name = "re"

    def __call__(self, block: bytes) -> list[int]:
        low = block.lower()
        hits: list[int] = []
        add = hits.append
        for word in WORDS:
            find, at = low.find, low.find(word)
            while at >= 0:
                add(at + 1)
                end = find(b"\n", at)
                if end < 0:
                    break
                at = find(word, end)
        if block.startswith(TRACEBACK):
            add(1)
        at = block.find(b"\n" + TRACEBACK)
        while at >= 0:
            add(at + 2)
            at = block.find(b"\n" + TRACEBACK, at + 1)
        hits.sort()
        return _line_starts(block, hits)


def _line_starts(block: bytes, ends: list[int]) -> list[int]:
    """Sorted unique starts of the lines holding the (ascending, > 0) match ends ``ends``."""
    starts: list[int] = []
    line_end = -1
    rfind, find = block.rfind, block.find
    for end in ends:
        if end <= line_end:
            continue
        start = rfind(b"\n", 0, end - 1) + 1
        starts.append(start)
        line_end = find(b"\n", start)
        if line_end < 0:
            break
    return starts


def make_finder(prefer: str | None = None) -> Finder:
    """hyperscan when installed; ``prefer`` (or $CASEPACK_SCANNER) = "re" forces the pure finder."""
    choice = prefer or os.environ.get("CASEPACK_SCANNER", "auto")
    if choice != "re":
        try:
            return HyperFinder()
        except ImportError:
            if choice == "hyperscan":
                raise
    return PureFinder()
