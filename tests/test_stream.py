"""Streaming stages: time-window filter, gunzip (tails: test_tailspool.py)."""

from __future__ import annotations

import gzip

from collector.engine.stream import Gunzip, SinceFilter, line_time

T0 = line_time(b"2026-11-20 00:00:00", 2026)


def feed_all(stage, data: bytes, size: int) -> bytes:
    out = b"".join(stage(data[i:i + size]) for i in range(0, len(data), size))
    return out + stage.finish()


def test_since_drops_old_entries_with_their_continuations() -> None:
    data = (b"2026-11-19T10:00:00 old error\n  at frame 1\n"
            b"2026-11-20T10:00:00 new error\n  at frame 2\n2026-11-19T00:00:00 out of order stays\n")
    for size in (1, 5, 1000):
        f = SinceFilter(T0)
        assert feed_all(f, data, size) == data[data.index(b"2026-11-20"):]


def test_since_keeps_files_without_timestamps() -> None:
    data = b"no timestamp here\n" * 3000
    assert feed_all(SinceFilter(T0), data, 4096) == data
    assert feed_all(SinceFilter(T0), b"short\nfile", 3) == b"short\nfile"


def test_timestamp_formats() -> None:
    year = 2026
    for line in (b"2026-11-20T01:02:03.123+0000 x", b"[2026-11-20 01:02:03] x", b"2026/11/20 01:02:03 [error] x",
                 b"1.2.3.4 - - [20/Nov/2026:01:02:03 +0000] GET", b"Nov 20 01:02:03 host sshd[1]: x"):
        assert line_time(line if not line.startswith(b"1.2") else line[line.index(b"[") :], year) == T0 + 3723
    assert line_time(b"no time", year) is None


def test_gunzip_multi_member_in_small_chunks() -> None:
    data = gzip.compress(b"first\n") + gzip.compress(b"second\n")
    g = Gunzip()
    assert b"".join(g(data[i:i + 3]) for i in range(0, len(data), 3)) == b"first\nsecond\n"


def test_since_never_holds_an_overlong_line() -> None:
    """A 64 MiB newline-free line is decided on its start and dropped in pieces, not held in memory."""
    f = SinceFilter(T0)
    held = []
    old = b"2026-11-19 00:00:00 " + b"x" * (1 << 20)
    out = f(b"2026-11-19 00:00:00 older\n")
    for i in range(64):
        out += f(old if i == 0 else b"y" * (1 << 20))
        held.append(len(f._pending) + sum(map(len, f._held)))
    out += f(b"tail of the long line\n2026-11-21 00:00:00 new\n") + f.finish()
    assert out == b"2026-11-21 00:00:00 new\n"
    assert max(held) <= 2 << 20
    new = SinceFilter(T0)
    assert new(b"2026-11-21 00:00:00 " + b"z" * (2 << 20)).startswith(b"2026-11-21 00:00:00 zzz")
