"""TailSpool: a log cut to its tail at its end, spooled compressed; the cut equals the old plain-file cut."""

from __future__ import annotations

import hashlib
import io
import os
import random
from pathlib import Path

import pytest
import zstandard

from collector.engine import tailspool
from collector.engine.tailspool import TailSpool


def reference_cut(path: str, size: int, max_bytes: int | None, max_lines: int | None) -> int:
    """The cut as casepack made it until 8bf2126, on a plain spool file: the oracle for TailSpool."""
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


def spooled(tmp_path: Path, data: bytes, cap: int | None, lines: int | None, chunk: int) -> tuple[bytes, TailSpool,
                                                                                                   int, str]:
    spool = TailSpool(str(tmp_path), cap, lines)
    try:
        for i in range(0, len(data), chunk):
            spool.write(data[i:i + chunk])
        size, digest, pieces = spool.finish()
        frames = []
        for piece in pieces:
            if isinstance(piece, bytes):
                frames.append(piece)
            else:
                path, offset, length = piece
                with open(path, "rb") as f:
                    f.seek(offset)
                    frames.append(f.read(length))
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(b"".join(frames)), read_across_frames=True)
        return reader.read(), spool, size, digest
    finally:
        spool.discard()


def check(tmp_path: Path, data: bytes, cap: int | None, lines: int | None, chunk: int) -> None:
    ref = tmp_path / "plain"
    ref.write_bytes(data)
    want = reference_cut(str(ref), len(data), cap, lines) if cap is not None and len(data) > cap or lines else 0
    body, spool, size, digest = spooled(tmp_path, data, cap, lines, chunk)
    assert body == data[want:], (cap, lines, chunk, want)
    assert size == len(body) and digest == hashlib.sha256(body).hexdigest()
    assert spool.truncated == (want > 0)


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments of 100 bytes, so frames, dropped segments and cuts inside frames all happen."""
    monkeypatch.setattr(tailspool, "SEGMENT", 100)


def test_last_lines_and_bytes_like_the_plain_cut(tmp_path: Path) -> None:
    data = b"".join(b"%04d\n" % i for i in range(10000))
    body, *_ = spooled(tmp_path, data, None, 2, 4096)
    assert body == b"9998\n9999\n"
    body, *_ = spooled(tmp_path, data, 12, None, 4096)
    assert body == b"9998\n9999\n"
    body, spool, _, _ = spooled(tmp_path, data, None, 20000, 4096)
    assert body == data and not spool.truncated


def test_random_cuts_match_the_old_plain_cut(tmp_path: Path, small_segments: None) -> None:
    rnd = random.Random(7)
    for _ in range(300):
        lines = [b"x" * rnd.choice((0, 1, 5, 40, 90, 250)) for _ in range(rnd.randrange(0, 60))]
        data = b"\n".join(lines) + rnd.choice((b"", b"\n"))
        cap = rnd.choice((None, 1, 10, 150, 400, 5000))
        n = rnd.choice((None, 0, 1, 3, 20, 100))
        check(tmp_path, data, cap, n, rnd.choice((1, 7, 64, 333, 10000)))


def test_a_long_line_is_cut_mid_line_as_before(tmp_path: Path) -> None:
    data = b"head\n" + b"y" * (300 << 10) + b"\nlast line\n"
    check(tmp_path, data, 100 << 10, None, 1 << 16)
    check(tmp_path, data, 100 << 10, 5, 1 << 16)


def test_old_segments_are_dropped_uncompressed_and_frames_stay_small(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Last 10 lines of 20 MB: almost nothing is compressed; a byte cap keeps only frames near the tail."""
    monkeypatch.setattr(tailspool, "SEGMENT", 1 << 20)
    data = b"".join(b"2026-11-20 line %08d with some text to make it longer\n" % i for i in range(350000))
    spool = TailSpool(str(tmp_path), None, 10)
    try:
        for i in range(0, len(data), 1 << 16):
            spool.write(data[i:i + (1 << 16)])
        assert os.path.getsize(spool.path) == 0  # every segment left memory already known to be before the tail
        size, _, _ = spool.finish()
        assert size == len(b"".join(data.splitlines(keepends=True)[-10:]))
    finally:
        spool.discard()
    assert not os.path.exists(spool.path)
    check(tmp_path, data, 3 << 20, None, 1 << 16)


def test_memory_stays_bounded_on_a_long_newline_free_line(tmp_path: Path) -> None:
    """64 MiB without a newline, last 8 MiB kept: a few segments in memory, never the line."""
    import tracemalloc

    piece = b"x" * (1 << 20)
    tracemalloc.start()
    spool = TailSpool(str(tmp_path), 8 << 20, 3)
    try:
        for _ in range(64):
            spool.write(piece)
        size, _, pieces = spool.finish()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        spool.discard()
    assert size == 8 << 20 and spool.truncated  # no line start near the cut: cut mid-line, as before
    assert peak < 40 << 20, peak
