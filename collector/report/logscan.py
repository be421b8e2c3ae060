"""Stream log files into signatures and a timeline: one pass, bounded memory, little per-line work.

A file is read in 4 MiB blocks of whole lines (``blocks.read_blocks``: lines capped at ``MAX_LINE``
bytes, the rest of a longer line skipped without being held). The line count and byte count of a
block are taken in C; a prefilter (``prefilter``: hyperscan, or ``bytes.find``) names the lines
that may start an entry, and only those are looked at in Python: level word, timestamp, signature
(memoised, ``signatures.Normaliser``). Continuation lines — indented lines (``\tat …``),
``Caused by:``, ``Traceback …``, a bare ``pkg.SomeException: …`` line — fold into the entry before
them, which is counted once, when it ends; they are read only after an entry. The result is the
same as reading every line (tests/test_report_scan.py compares with the line-by-line scanner).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from collector.report.blocks import BLOCK, read_blocks
from collector.report.prefilter import Finder, make_finder
from collector.report.signatures import LEVEL_RE, LEVEL_WINDOW, LEVELS, Normaliser, SignatureTable, normalise
from collector.report.timeline import Timeline
from collector.timefmt import line_time

MAX_LINE = 64 << 10
CHUNK = 1 << 20
EXAMPLE_LINES = 8
_CONT_PREFIX = (b"Caused by:", b"Traceback", b"... ", b"Suppressed:")
_CONT_FIRST = frozenset(b"\t ._CTS") | frozenset(range(65, 91)) | frozenset(range(97, 123))  # can start one
_EXC_LINE = re.compile(rb"[A-Za-z_][\w.$]*(?:Error|Exception|Exit|Interrupt|Warning|Throwable)\b")
_ISO = re.compile(rb"\[?(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)")


def iter_lines(f: BinaryIO, cap: int = MAX_LINE) -> Iterator[tuple[bytes, bool]]:
    """``(line without newline, truncated)``, line by line; never holds more than one chunk plus ``cap``.

    The line semantics the block scanner keeps (a line over ``cap`` is cut, counted as truncated).
    """
    pending = b""
    skipping = False
    while data := f.read(CHUNK):
        if skipping:
            nl = data.find(b"\n")
            if nl < 0:
                continue
            data, skipping = data[nl + 1:], False
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        for line in lines:
            yield (line[:cap], True) if len(line) > cap else (line, False)
        if len(pending) > cap:
            yield pending[:cap], True
            pending, skipping = b"", True
    if pending:
        yield pending, False


class _Clock:
    """Timestamps of lines; ISO ones fast (cached per minute), others via ``collector.timefmt.line_time``."""

    def __init__(self, year: int) -> None:
        self.year = year
        self._minutes: dict[bytes, int] = {}

    def __call__(self, line: bytes) -> float | None:
        return self.at(line, 0, len(line))

    def at(self, block: bytes, start: int, end: int) -> float | None:
        """The time of the line ``block[start:end]``."""
        p = start + 1 if block[start] == 91 else start  # "[2026-…"
        base = self._minutes.get(block[start:p + 16])  # only minutes that matched _ISO are there
        if base is not None and p + 19 <= end and block[p + 16] == 58 and (sec := block[p + 17:p + 19]).isdigit():
            return float(base + min(int(sec), 59))
        m = _ISO.match(block, start, end)
        if m is None:
            return line_time(block[start:end], self.year)
        key = m.group(0)[:-3]
        base = self._minutes.get(key)
        if base is None:
            try:
                y, mo, d, h, mi = (int(m.group(i)) for i in range(1, 6))
                if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60):
                    return None
                base = calendar.timegm((y, mo, d, h, mi, 0, 0, 0, 0))
            except (ValueError, OverflowError):
                return None
            if len(self._minutes) > 100_000:
                self._minutes.clear()
            self._minutes[key] = base
        return float(base + min(int(m.group(6)), 59))


@dataclass
class _Entry:
    level: str
    message: bytes | str  # bytes: the raw text after the level word; str: a traceback's exception line
    line_no: int
    ts: float | None
    lines: list[str] = field(default_factory=list)
    traceback: bool = False


@dataclass
class ScanStats:
    files: int = 0
    lines: int = 0
    bytes: int = 0
    truncated_lines: int = 0
    unreadable: list[str] = field(default_factory=list)


class LogScanner:
    """Entries of log files, block by block: a prefilter finds the candidate lines, only those are read."""

    def __init__(self, year: int, table: SignatureTable | None = None, timeline: Timeline | None = None,
                 finder: Finder | None = None) -> None:
        self.table = table or SignatureTable()
        self.timeline = timeline or Timeline()
        self.stats = ScanStats()
        self.clock = _Clock(year)
        self.finder = finder or make_finder()
        self.normalise = Normaliser()
        self._cur: _Entry | None = None

    def scan_file(self, path: Path, host: str, name: str) -> None:
        """Scan one log file (``name``: its path in the bundle)."""
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            self.stats.unreadable.append(f"{name}: {exc.strerror}")
            return
        with f:
            self.stats.files += 1
            self._scan(f, host, name)

    def _scan(self, f: BinaryIO, host: str, name: str, block_size: int = BLOCK) -> None:
        st = self.stats
        lines = 0
        self._cur = None
        for block, cut in read_blocks(f, MAX_LINE, block_size):
            st.bytes += len(block)
            st.truncated_lines += cut
            self._block(block, lines, host, name)
            lines += block.count(b"\n")
        if self._cur is not None:
            self._finish(self._cur, host, name)
            self._cur = None
        st.lines += lines

    def _block(self, block: bytes, base: int, host: str, name: str) -> None:
        """The entries starting in ``block`` (whole lines; ``base`` lines before it in the file)."""
        n = len(block)
        pos = 0  # lines before pos are done
        if self._cur is not None:
            pos = self._follow(block, 0, self._cur)
            if pos == n:
                return
            self._finish(self._cur, host, name)
            self._cur = None
        find, count, level_at, clock = block.find, block.count, LEVEL_RE.search, self.clock.at
        levels_get = LEVELS.get
        add, timeline, norm = self.table.add, self.timeline.add, self.normalise
        full_get = self.table.full.get
        keys: list[tuple[str, str]] = []  # one-line entries of signatures that take no more locations …
        stamps: list[float | None] = []  # … counted together at the end of the block
        seen, seen_nl = 0, base  # newlines before offset `seen`
        for s in self.finder(block):
            if s < pos:
                continue  # inside the previous entry's stack trace
            e = find(b"\n", s)
            end = e - 1 if e > s and block[e - 1] == 13 else e
            w = s + LEVEL_WINDOW
            m = level_at(block, s, w if w < end else end)
            level = None  # also for a level below WARN
            if m is not None:
                word = m.group(1)
                level = levels_get(word) or levels_get(word.lower())  # lower() only for "ERROR", "Warn" …
            if level is None and not block.startswith(b"Traceback", s):
                continue
            pos = e + 1
            if m is not None and level is not None:
                ts = clock(block, s, end)
                if pos < n and block[pos] not in _CONT_FIRST:  # one line: the usual case, no entry object
                    text = norm(block[m.end():end])
                    key = (level, text)
                    if full_get(key) is not None:
                        keys.append(key)
                        stamps.append(ts)
                        continue
                    seen_nl += count(b"\n", seen, s)
                    seen = s
                    add(level, text, host, name, seen_nl + 1, ts,
                        lambda s=s, end=end: block[s:end].decode("utf-8", "replace"))
                    timeline(host, level, ts)
                    continue
            seen_nl += count(b"\n", seen, s)
            seen = s
            line_no = seen_nl + 1
            if level is not None:
                cur = _Entry(level, block[m.end():end], line_no, ts,
                             [block[s:end].decode("utf-8", "replace")[:2000]])
            else:  # an uncaught Python exception without a log line before it
                cur = _Entry("ERROR", "Traceback", line_no, None, [block[s:end][:500].decode("utf-8", "replace")],
                             True)
            pos = self._follow(block, pos, cur)
            if pos == n:
                self._cur = cur  # its stack trace may go on in the next block
                break
            self._finish(cur, host, name)
        if keys:
            self.table.count_many(keys, stamps, host)
            self.timeline.add_many(host, [k[0] for k in keys], stamps)

    def _follow(self, block: bytes, p: int, cur: _Entry) -> int:
        """Fold the continuation lines from ``p`` into ``cur``; the start of the first other line."""
        n = len(block)
        find = block.find
        while p < n:
            e = find(b"\n", p)
            end = e - 1 if e > p and block[e - 1] == 13 else e
            if end == p:
                break
            first = block[p]
            if not (first in (9, 32) or block.startswith(_CONT_PREFIX, p) or _EXC_LINE.match(block, p, end)):
                break
            line = block[p:end]
            if len(cur.lines) < EXAMPLE_LINES:
                cur.lines.append(line[:500].decode("utf-8", "replace"))
            if cur.traceback and first not in (9, 32) and not line.startswith(b"Traceback"):
                cur.message, cur.traceback = line[:2000].decode("utf-8", "replace"), False
            p = e + 1
        return p

    def _finish(self, e: _Entry, host: str, name: str) -> None:
        text = self.normalise(e.message) if isinstance(e.message, bytes) else normalise(e.message)
        self.table.add(e.level, text, host, name, e.line_no, e.ts, "\n".join(e.lines))
        self.timeline.add(host, e.level, e.ts)
