"""Stream log files into signatures and a timeline: one pass, bounded memory.

Lines are read in 1 MiB chunks and capped at ``MAX_LINE`` bytes (the rest of a longer
line is skipped without being held). Continuation lines — indented lines (``\tat …``),
``Caused by:``, ``Traceback …``, a bare ``pkg.SomeException: …`` line — fold into the
entry before them, which is counted once, when it ends.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from collector.report.signatures import SignatureTable, line_level, normalise
from collector.report.timeline import Timeline
from collector.timefmt import line_time

MAX_LINE = 64 << 10
CHUNK = 1 << 20
EXAMPLE_LINES = 8
_CONT_PREFIX = (b"Caused by:", b"Traceback", b"... ", b"Suppressed:")
_EXC_LINE = re.compile(rb"^[A-Za-z_][\w.$]*(?:Error|Exception|Exit|Interrupt|Warning|Throwable)\b")
_ISO = re.compile(rb"^\[?(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)")


def iter_lines(f: BinaryIO, cap: int = MAX_LINE) -> Iterator[tuple[bytes, bool]]:
    """``(line without newline, truncated)``; never holds more than one chunk plus ``cap``."""
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
        m = _ISO.match(line)
        if m is None:
            return line_time(line, self.year)
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
    message: str
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
    def __init__(self, year: int, table: SignatureTable | None = None, timeline: Timeline | None = None) -> None:
        self.table = table or SignatureTable()
        self.timeline = timeline or Timeline()
        self.stats = ScanStats()
        self.clock = _Clock(year)

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

    def _scan(self, f: BinaryIO, host: str, name: str) -> None:
        cur: _Entry | None = None
        st = self.stats
        no = 0
        for no, (line, truncated) in enumerate(iter_lines(f), 1):  # noqa: B007 - no is used after the loop
            st.bytes += len(line) + 1
            if truncated:
                st.truncated_lines += 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if cur is not None and line and (line[0] in (9, 32) or line.startswith(_CONT_PREFIX)
                                             or _EXC_LINE.match(line)):
                if len(cur.lines) < EXAMPLE_LINES:
                    cur.lines.append(line[:500].decode("utf-8", "replace"))
                if cur.traceback and line[0] not in (9, 32) and not line.startswith(b"Traceback"):
                    cur.message, cur.traceback = line[:2000].decode("utf-8", "replace"), False
                continue
            if cur is not None:
                self._finish(cur, host, name)
                cur = None
            level, end = line_level(line)
            if level is not None:
                text = line.decode("utf-8", "replace")
                cur = _Entry(level, line[end:].decode("utf-8", "replace"), no, self.clock(line), [text[:2000]])
            elif line.startswith(b"Traceback"):  # an uncaught Python exception without a log line before it
                cur = _Entry("ERROR", "Traceback", no, None, [line[:500].decode("utf-8", "replace")], True)
        if cur is not None:
            self._finish(cur, host, name)
        st.lines += no

    def _finish(self, e: _Entry, host: str, name: str) -> None:
        self.table.add(e.level, normalise(e.message), host, name, e.line_no, e.ts, "\n".join(e.lines))
        self.timeline.add(host, e.level, e.ts)
