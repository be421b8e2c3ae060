"""A log file as blocks of whole lines, each line at most ``cap`` bytes: bounded memory, no per-line Python.

A line longer than ``cap`` is cut to its first ``cap`` bytes (the rest is skipped, never held:
a 200 MB line without a newline costs one block of memory). A last line without a newline gets
one, so every block ends with ``\\n`` and ``block.count(b"\\n")`` is its number of lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

BLOCK = 4 << 20
SKIP_CHUNK = 1 << 20


def read_blocks(f: BinaryIO, cap: int, size: int = BLOCK) -> Iterator[tuple[bytes, int]]:
    """``(block, lines cut)`` for the whole file."""
    carry = b""
    while True:
        data = f.read(size)
        if carry:
            data, carry = carry + data, b""
        if not data:
            return
        cut = 0
        if data[-1] != 10:
            data += f.readline(cap + 1)
            if data[-1] != 10:
                start = data.rfind(b"\n") + 1
                if len(data) - start > cap:  # a long last line: keep its head, skip to its end
                    data = data[:start + cap] + b"\n"
                    cut = 1
                    carry = _skip_line(f)
                else:  # the end of the file
                    data += b"\n"
        if len(data) > cap + 1:
            data, more = _cap_lines(data, cap)
            cut += more
        yield data, cut


def _skip_line(f: BinaryIO) -> bytes:
    """Read past the next newline; what follows it in the chunk read."""
    while chunk := f.read(SKIP_CHUNK):
        nl = chunk.find(b"\n")
        if nl >= 0:
            return chunk[nl + 1:]
    return b""


def _cap_lines(block: bytes, cap: int) -> tuple[bytes, int]:
    """``block`` (whole lines) with every line over ``cap`` bytes cut to ``cap``; and how many were cut."""
    parts: list[bytes] = []
    seg = p = 0
    n = len(block)
    rfind, find = block.rfind, block.find
    while n - p > cap + 1:
        q = rfind(b"\n", p, p + cap + 1)  # the lines starting in [p, q] all end by q
        if q >= 0:
            p = q + 1
            continue
        end = find(b"\n", p + cap)
        parts.append(block[seg:p + cap])
        seg, p = end, end + 1
    if not parts:
        return block, 0
    parts.append(block[seg:])
    return b"".join(parts), len(parts) - 1
