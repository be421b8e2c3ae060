"""Streaming stages between a transport and the bundle: gunzip, time window, spool.

Bytes flow ``source → [gunzip] → [since filter] → redaction → Spool``. Only
redacted bytes reach the spool file (a 0600 file in the run's private temp dir),
so memory stays bounded by the chunk size whatever the artifact's size.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import BinaryIO

from collector.bundle import compressor
from collector.transport import SinkFull

Stage = Callable[[bytes], bytes]

# timestamps at the start of a line (after a known prefix), most specific first
_TS_PATTERNS = (
    # ISO / PostgreSQL / MariaDB 10.x error log (`2026-12-02  2:00:23`) / MySQL 8 slow log (`# Time: 2026-…T…`)
    (re.compile(rb"^(?:# Time: )?\[?(\d{4}-\d{2}-\d{2})(?:T| +)(\d{1,2}:\d{2}:\d{2})"), "%Y-%m-%d %H:%M:%S"),
    (re.compile(rb"^\[?(\d{4}/\d{2}/\d{2})[ :](\d{2}:\d{2}:\d{2})"), "%Y/%m/%d %H:%M:%S"),  # nginx error log
    # Apache/nginx: at the start, or after `client ident user ` in the combined/common access log format
    (re.compile(rb"^(?:\S+ \S+ \S+ )?\[?(\d{2}/[A-Z][a-z]{2}/\d{4}):(\d{2}:\d{2}:\d{2})"), "%d/%b/%Y %H:%M:%S"),
    # redis: `12345:M 02 Dec 2026 02:00:23.152`
    (re.compile(rb"^(?:\d+:[A-Z] )?(\d{2} [A-Z][a-z]{2} \d{4}) (\d{2}:\d{2}:\d{2})"), "%d %b %Y %H:%M:%S"),
    # MariaDB/MySQL 5.x: error and general log `261202  2:00:23`, slow log `# Time: 261202  2:00:23`
    (re.compile(rb"^(?:# Time: )?(\d{6})\s+(\d{1,2}:\d{2}:\d{2})\b"), "%y%m%d %H:%M:%S"),
    (re.compile(rb"^([A-Z][a-z]{2} [ \d]\d) (\d{2}:\d{2}:\d{2})"), "%b %d %H:%M:%S"),  # syslog
)
_PROBE_LINES = 2000  # lines without a readable timestamp before the filter gives up


def line_time(line: bytes, year: int) -> float | None:
    """The UTC epoch of a timestamp at the start of ``line``, if one can be read."""
    for pattern, fmt in _TS_PATTERNS:
        m = pattern.match(line)
        if m:
            text = f"{m.group(1).decode()} {m.group(2).decode()}"
            try:
                dt = datetime.strptime(text, fmt)
            except ValueError:
                return None
            if "%Y" not in fmt:
                dt = dt.replace(year=year)
            return dt.replace(tzinfo=UTC).timestamp()
    return None


class SinceFilter:
    """Drops leading lines older than ``since`` (epoch); passes everything after the first newer line.

    Lines without a timestamp follow the entry before them. A file whose first
    lines carry no readable timestamp passes unfiltered. Timestamps are read as UTC.
    """

    def __init__(self, since: float) -> None:
        self.since = since
        self.year = datetime.fromtimestamp(since, UTC).year
        self.open = False
        self.dropped = 0
        self._held: list[bytes] = []  # leading lines before any timestamp was seen
        self._seen_ts = False
        self._pending = b""

    def __call__(self, data: bytes) -> bytes:
        if self.open:
            return data
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        self._pending, data = data[cut:], data[:cut]
        pos = 0
        for line in data.splitlines(keepends=True):
            ts = line_time(line, self.year)
            if ts is not None and ts >= self.since:
                return self._open(data[pos:])
            if ts is not None or self._seen_ts:
                self._seen_ts = True
                self.dropped += len(line) + sum(map(len, self._held))
                self._held.clear()
            else:
                self._held.append(line)
                if len(self._held) > _PROBE_LINES:  # no timestamps here: keep the file whole
                    held = b"".join(self._held)
                    self._held.clear()
                    return held + self._open(data[pos + len(line):])
            pos += len(line)
        return b""

    def _open(self, rest: bytes) -> bytes:
        self.open = True
        pending, self._pending = self._pending, b""
        return rest + pending

    def finish(self) -> bytes:
        if self.open:
            return b""
        if not self._seen_ts:  # never saw a timestamp: keep everything
            held = b"".join(self._held) + self._pending
            self._held.clear()
            self._pending = b""
            return held
        return b""


class SkipPartialLine:
    """Drops bytes up to and including the first newline (reading started mid-line)."""

    def __init__(self) -> None:
        self.done = False

    def __call__(self, data: bytes) -> bytes:
        if self.done:
            return data
        nl = data.find(b"\n")
        if nl < 0:
            return b""
        self.done = True
        return data[nl + 1:]


class Gunzip:
    """A streaming gzip decoder (multi-member files too)."""

    def __init__(self) -> None:
        self._d = zlib.decompressobj(wbits=47)

    def __call__(self, data: bytes) -> bytes:
        out = []
        while data:
            out.append(self._d.decompress(data))
            data = self._d.unused_data
            if data:
                self._d = zlib.decompressobj(wbits=47)
        return b"".join(out)


class Spool:
    """A private temp file receiving an artifact's redacted bytes, optionally head-capped.

    With ``compress`` the bytes are stored as one zstd frame (ready to be copied
    into the bundle as they are); otherwise plain, for artifacts that are cut to
    their tail afterwards. ``sha256`` and ``size`` describe the plain bytes.
    """

    def __init__(self, directory: str, cap: int | None = None, *, compress: bool = True, big: bool = False) -> None:
        fd, self.path = tempfile.mkstemp(dir=directory, prefix="art-")
        self._f: BinaryIO = os.fdopen(fd, "wb")
        self.compressed = compress
        self._z = compressor(threads=-1 if big else 0).stream_writer(self._f, closefd=False) if compress else None
        self._out = self._z or self._f
        self._hash = hashlib.sha256()
        self.size = 0
        self.cap = cap
        self.truncated = False
        self._closed = False

    def write(self, data: bytes) -> None:
        if self.cap is not None and self.size + len(data) > self.cap:
            data = data[: self.cap - self.size]
            self.truncated = True
        if data:
            self._out.write(data)
            self._hash.update(data)
            self.size += len(data)
        if self.truncated:
            raise SinkFull()

    def write_all(self, data: bytes) -> None:
        """Like :meth:`write`, but a full spool just drops the rest."""
        try:
            self.write(data)
        except SinkFull:
            pass

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._z is not None:
                self._z.close()
            self._f.close()

    def discard(self) -> None:
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def tail_offset(path: str, size: int, max_bytes: int | None, max_lines: int | None) -> int:
    """Offset in a spooled file where its last ``max_bytes`` / ``max_lines`` begin (at a line start)."""
    start = 0 if max_bytes is None or size <= max_bytes else size - max_bytes
    with open(path, "rb") as f:
        if max_lines is not None and max_lines >= 0:
            end, newlines = size, 0
            f.seek(max(0, size - 1))
            if f.read(1) == b"\n":
                end -= 1  # the final newline ends the last line, it does not start one
            pos = end
            while pos > start:
                step = min(1 << 20, pos - start)
                f.seek(pos - step)
                block = f.read(step)
                idx = len(block)
                while True:
                    idx = block.rfind(b"\n", 0, idx)
                    if idx < 0:
                        break
                    newlines += 1
                    if newlines == max_lines:
                        return max(start, pos - step + idx + 1)
                pos -= step
        if start:
            f.seek(start - 1)
            head = f.read(1 << 16)
            nl = head.find(b"\n")
            if nl >= 0 and start + nl < size:
                return start + nl
        return start
