"""Streaming stages between a transport and the bundle: gunzip, time window, spool.

Bytes flow ``source → [gunzip] → [since filter] → redaction → Spool`` (or TailSpool). Only
redacted bytes reach the spool file (a 0600 file in the run's private temp dir),
so memory stays bounded by the chunk size whatever the artifact's size.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import BinaryIO

from collector.bundle.writer import compressor
from collector.timefmt import line_time
from collector.transport.base import SinkFull

Stage = Callable[[bytes], bytes]

# measured (bench/write_path.py): redaction + sha256 + zstd over 1 MiB blocks cost ~25 % more CPU than over
# 64 KiB pieces of them (the pieces stay in the CPU caches from stage to stage); transports hand over up to 1 MiB
PIECE = 1 << 16
_PROBE_LINES = 2000  # lines without a readable timestamp before the filter gives up
_MAX_HELD = 1 << 20  # bytes held while deciding (an over-long line is decided on its start)


def pieces(data: bytes, size: int = PIECE) -> Iterator[bytes | memoryview]:
    """``data`` in pieces of at most ``size`` bytes (itself, when it is small enough).

    The pieces are views of ``data`` (immutable: a view stays valid): slicing bytes would copy every byte
    once more. Redaction makes bytes of them; a spool takes them as they are (zstd and sha256 read buffers).
    """
    if len(data) <= size:
        yield data
        return
    view = memoryview(data)
    for i in range(0, len(data), size):
        yield view[i:i + size]


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
        self._skipping = False  # inside an over-long line older than the window: drop up to its newline

    def __call__(self, data: bytes) -> bytes:
        if self.open:
            return data
        if self._skipping:
            nl = data.find(b"\n")
            if nl < 0:
                self.dropped += len(data)
                return b""
            self.dropped += nl + 1
            data, self._skipping = data[nl + 1:], False
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
                if len(self._held) > _PROBE_LINES or sum(map(len, self._held)) > _MAX_HELD:
                    held = b"".join(self._held)  # no timestamps here: keep the file whole
                    self._held.clear()
                    return held + self._open(data[pos + len(line):])
            pos += len(line)
        if len(self._pending) > _MAX_HELD:  # a line longer than the bound: decide on its start, never hold it
            return self._decide_long_line()
        return b""

    def _decide_long_line(self) -> bytes:
        ts = line_time(self._pending[:4096], self.year)
        if ts is not None and ts >= self.since:
            return self._open(b"")
        if ts is not None or self._seen_ts:
            self._seen_ts = True
            self.dropped += len(self._pending) + sum(map(len, self._held))
            self._held.clear()
            self._pending, self._skipping = b"", True
            return b""
        held = b"".join(self._held)
        self._held.clear()
        return held + self._open(b"")

    @property
    def seen_timestamp(self) -> bool:
        """Whether any line carried a timestamp the filter could read."""
        return self._seen_ts or self.open

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


class SpoolFile:
    """A private (0600) temp file in the run's spool directory; ``discard`` closes and removes it."""

    def __init__(self, directory: str) -> None:
        fd, self.path = tempfile.mkstemp(dir=directory, prefix="art-")
        self._f: BinaryIO = os.fdopen(fd, "wb")
        self._closed = False

    def _end(self) -> None:
        """What closing does before the file is closed (flush a compressor, stop a helper thread)."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._end()
            self._f.close()

    def discard(self) -> None:
        self.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class Spool(SpoolFile):
    """A private temp file receiving an artifact's redacted bytes as one zstd frame, optionally head-capped.

    The frame is copied into the bundle as it is (logs cut to a tail known only at
    their end use :class:`collector.engine.tailspool.TailSpool`). ``sha256`` and
    ``size`` describe the plain bytes.
    """

    def __init__(self, directory: str, cap: int | None = None, *, big: bool = False) -> None:
        super().__init__(directory)
        self._z = compressor(threads=-1 if big else 0).stream_writer(self._f, closefd=False)
        self._hash = hashlib.sha256()
        self.size = 0
        self.cap = cap
        self.truncated = False

    def write(self, data: bytes | memoryview) -> None:
        if self.cap is not None and self.size + len(data) > self.cap:
            data = data[: self.cap - self.size]
            self.truncated = True
        if data:
            self._z.write(data)
            self._hash.update(data)
            self.size += len(data)
        if self.truncated:
            raise SinkFull()

    def write_all(self, data: bytes | memoryview) -> None:
        """Like :meth:`write`, but a full spool just drops the rest."""
        try:
            self.write(data)
        except SinkFull:
            pass

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def _end(self) -> None:
        self._z.close()
