"""A spool for a log cut to its tail once it is read whole, written compressed as it arrives.

A gunzipped log, or one kept to its last N lines, has a size (and a line count) known only at its
end, so where its tail begins cannot be decided before it is read. Its redacted bytes go into
segments of about :data:`SEGMENT` bytes; each becomes a zstd frame of its own in a private temp file,
compressed on a helper thread while the next segment fills (so every byte is written once, compressed).
The newest :data:`HELD` segments wait in memory: one that is certainly before the cut (more than the
byte cap, or more than N newlines, after it) is dropped without being compressed at all. At the end
the cut is found exactly as on the whole output (the last ``cap`` bytes moved to a line start, the
last N lines); the member is the cut segment compressed again from the cut, then the later frames
copied as they are. ``sha256`` is taken while writing, or, once a cut is certain, over the kept bytes.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import zstandard

from collector.bundle.writer import Piece, compressor
from collector.engine.stream import SpoolFile

SEGMENT = 4 << 20  # plain bytes per frame
HELD = 2  # newest segments kept in memory (uncompressed) while it is not yet known whether they are needed
IN_FLIGHT = 2  # segments being compressed at once
LOOK = 1 << 16  # a byte cut moves to the next line start only if one is this close (else it cuts mid-line)


@dataclass
class _Segment:
    start: int  # offset of its first byte in the output
    size: int
    nl_before: int  # newlines in the output before it
    newlines: int
    data: bytes | None  # plain, while it waits in memory
    future: Future | None = None  # its frame, while being compressed
    frame: tuple[int, int] | None = None  # (offset, length) of its frame in the spool file
    dropped: bool = False

    @property
    def end(self) -> int:
        return self.start + self.size


class TailSpool(SpoolFile):
    """Receives a log's redacted bytes; :meth:`finish` cuts it to the last ``cap`` bytes / ``lines`` lines."""

    def __init__(self, directory: str, cap: int | None, lines: int | None) -> None:
        super().__init__(directory)
        self.cap = cap
        self.lines = lines if lines is not None and lines > 0 else None
        self.size = 0  # plain bytes received
        self.truncated = False  # set by finish: the member starts after the output's first byte
        self._newlines = 0
        self._last = b""
        self._hash: hashlib._Hash | None = hashlib.sha256()  # dropped once a cut is certain
        self._chunks: list[bytes | memoryview] = []
        self._filled = 0
        self._segments: list[_Segment] = []
        self._held: deque[_Segment] = deque()
        self._flight: deque[_Segment] = deque()
        self._pool: ThreadPoolExecutor | None = None
        self._zc = compressor(threads=0)  # used by the helper thread only, until finish

    # -- receiving --------------------------------------------------------------------------------
    def write(self, data: bytes | memoryview) -> None:
        if not data:
            return
        if self._hash is not None:
            self._hash.update(data)
        self.size += len(data)
        self._last = bytes(data[-1:])  # not a view: it would keep its whole read chunk
        self._chunks.append(data)
        self._filled += len(data)
        if self._filled >= SEGMENT:
            self._seal_segment()

    write_all = write

    def _seal_segment(self, final: bool = False) -> None:
        data = b"".join(self._chunks)
        self._chunks, self._filled = [], 0
        newlines = data.count(b"\n") if self.lines is not None else 0
        start = self._segments[-1].end if self._segments else 0
        seg = _Segment(start, len(data), self._newlines, newlines, data)
        self._newlines += newlines
        self._segments.append(seg)
        self._held.append(seg)
        if self._hash is not None and self._cut_after(0, 0):
            self._hash = None  # the member will not start at 0: its digest is taken over the kept bytes
        while not final and len(self._held) > HELD:
            old = self._held.popleft()
            if self._cut_after(old.end, old.nl_before + old.newlines):
                old.data, old.dropped = None, True
                continue
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="casepack-spool")
            old.future = self._pool.submit(self._zc.compress, old.data)
            old.data = None
            self._flight.append(old)
            while len(self._flight) > IN_FLIGHT:
                self._land(self._flight.popleft())

    def _cut_after(self, pos: int, newlines_before: int) -> bool:
        """Whether the cut is already known to lie after output offset ``pos`` (more data only moves it on).

        More than ``cap`` bytes after it, or more than ``lines`` newlines (so at least ``lines`` before
        a final newline): the tail starts past ``pos`` whatever comes next.
        """
        if self.cap is not None and self.size - pos > self.cap:
            return True
        return self.lines is not None and self._newlines - newlines_before > self.lines

    def _land(self, seg: _Segment) -> None:
        assert seg.future is not None
        frame = seg.future.result()
        seg.future = None
        seg.frame = (self._f.tell(), len(frame))
        self._f.write(frame)

    # -- the end --------------------------------------------------------------------------------
    def finish(self) -> tuple[int, str, list[Piece]]:
        """Cut the output; return the member's size, sha256 and its compressed pieces (in order)."""
        if self._chunks:
            self._seal_segment(final=True)
        while self._flight:
            self._land(self._flight.popleft())
        self._f.flush()
        cut = self._cut()
        self.truncated = cut > 0
        kept = [s for s in self._segments if s.end > cut]
        if any(s.dropped for s in kept):
            raise AssertionError("a segment after the cut was dropped")
        big = compressor(threads=-1)
        pieces: list[Piece] = []
        for seg in kept:
            if seg.start < cut:
                pieces.append(big.compress(self._plain(seg)[cut - seg.start:]))
            elif seg.frame is not None:
                pieces.append((self.path, *seg.frame))
            else:
                pieces.append(big.compress(self._plain(seg)))
        if cut == 0 and self._hash is not None:
            digest = self._hash.hexdigest()
        else:
            h = hashlib.sha256()
            for part in self._kept_bytes(kept, cut):
                h.update(part)
            digest = h.hexdigest()
        return self.size - cut, digest, pieces

    def _cut(self) -> int:
        """Where the kept tail starts: the same answer as cutting the whole output on disk."""
        size = self.size
        start = 0 if self.cap is None or size <= self.cap else size - self.cap
        if self.lines is not None:
            wanted = self._newlines - (self._last == b"\n") - self.lines  # index of the newline before the tail
            if wanted >= 0:
                pos = self._newline_at(wanted)
                if pos >= start:
                    return pos + 1
        if start:
            nl = self._find(b"\n", start - 1, start - 1 + LOOK)
            if nl is not None and nl + 1 < size:
                return nl + 1
        return start

    def _newline_at(self, index: int) -> int:
        """Output offset of newline number ``index`` (-1 if in a dropped segment: those end before the cut)."""
        seg = next(s for s in self._segments if s.nl_before + s.newlines > index)
        if seg.dropped:
            return -1
        data, pos = self._plain(seg), -1
        for _ in range(index - seg.nl_before + 1):
            pos = data.index(b"\n", pos + 1)
        return seg.start + pos

    def _find(self, needle: bytes, lo: int, hi: int) -> int | None:
        for seg in self._segments:
            if seg.end <= lo or seg.start >= hi:
                continue
            data = self._plain(seg)
            i = data.find(needle, max(0, lo - seg.start), hi - seg.start)
            if i >= 0:
                return seg.start + i
        return None

    def _plain(self, seg: _Segment) -> bytes:
        if seg.data is not None:
            return seg.data
        if seg.frame is None:
            raise AssertionError("a dropped segment was needed")
        offset, length = seg.frame
        with open(self.path, "rb") as f:
            f.seek(offset)
            return zstandard.ZstdDecompressor().decompress(f.read(length))

    def _kept_bytes(self, kept: list[_Segment], cut: int) -> Iterator[bytes]:
        for seg in kept:
            data = self._plain(seg)
            yield data[cut - seg.start:] if seg.start < cut else data

    def _end(self) -> None:
        if self._pool is not None:  # an interrupted read: wait for the frame being compressed, then go
            self._pool.shutdown(wait=True, cancel_futures=True)
