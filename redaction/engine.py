"""The redaction engine: a streaming, line-aware filter with keyed-hash markers."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections import Counter

from redaction.rules import NOT_SECRET, PEM_BEGIN, PEM_END, RULES, TRIGGERS, Rule

MAX_LINE = 1 << 20  # a line longer than this is processed in pieces


class Redactor:
    """Holds the per-bundle salt and the report; makes one stream per artifact."""

    def __init__(self, rules: tuple[Rule, ...] = RULES, salt: bytes | None = None) -> None:
        self.rules = rules
        self._salt = salt or os.urandom(16)
        self.report: dict[str, dict[str, int]] = {}

    def marker(self, rule: str, secret: bytes) -> bytes:
        tag = hmac.new(self._salt, secret, hashlib.sha256).hexdigest()[:6]
        return f"[REDACTED:{rule}:{tag}]".encode()

    def stream(self, name: str) -> RedactionStream:
        return RedactionStream(self, name)

    def record(self, name: str, counts: Counter) -> None:
        if counts:
            self.report[name] = dict(sorted(counts.items()))


class RedactionStream:
    """Feed bytes in, get redacted bytes out; ``close`` flushes and records counts."""

    def __init__(self, redactor: Redactor, name: str) -> None:
        self.redactor = redactor
        self.name = name
        self.counts: Counter = Counter()
        self._pending = b""
        self._in_pem = False

    def feed(self, data: bytes) -> bytes:
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) < MAX_LINE:
            self._pending = data
            return b""
        if cut == 0:
            cut = len(data)
        self._pending = data[cut:]
        return self._process(data[:cut])

    def close(self) -> bytes:
        out = self._process(self._pending) if self._pending else b""
        self._pending = b""
        self.redactor.record(self.name, self.counts)
        return out

    def _process(self, block: bytes) -> bytes:
        """Redact complete lines; only lines holding a trigger (or inside a key block) are matched."""
        if self._in_pem:
            return b"".join(self._line(line) for line in block.splitlines(keepends=True))
        low = block.lower()
        spans = _trigger_lines(block, low)
        if not spans:
            return block
        out, pos = [], 0
        for start, end in spans:
            out.append(block[pos:start])
            if self._in_pem:  # a key block opened on an earlier line: take everything up to here
                out.append(b"".join(self._line(ln) for ln in block[start:end].splitlines(keepends=True)))
            else:
                out.append(self._line(block[start:end]))
            pos = end
        if self._in_pem:
            out.append(b"".join(self._line(ln) for ln in block[pos:].splitlines(keepends=True)))
        else:
            out.append(block[pos:])
        return b"".join(out)

    def _line(self, line: bytes) -> bytes:
        if self._in_pem:
            end = PEM_END.search(line)
            if end is None:
                return b""
            self._in_pem = False
            return line[end.start():]
        begin = PEM_BEGIN.search(line)
        if begin is not None:
            end = PEM_END.search(line, begin.end())
            self.counts["private-key"] += 1
            marker = self.redactor.marker("private-key", line[begin.end():end.start() if end else None])
            if end is None:
                self._in_pem = True
                return line[: begin.end()] + b"\n" + marker + b"\n"
            return line[: begin.end()] + marker + line[end.start():]
        low = line.lower()
        if not any(t in low for t in TRIGGERS):
            return line
        spans: list[tuple[int, int, bytes]] = []  # (start, end, marker), first rule wins
        for rule in self.redactor.rules:
            for m in rule.pattern.finditer(line):
                start, end = m.span("s")
                secret = m.group("s")
                if rule.check_value and NOT_SECRET.match(secret):
                    continue
                if any(start < e and s < end for s, e, _ in spans):
                    continue
                self.counts[rule.name] += 1
                spans.append((start, end, self.redactor.marker(rule.name, secret)))
        if not spans:
            return line
        out, pos = [], 0
        for start, end, marker in sorted(spans):
            out += [line[pos:start], marker]
            pos = end
        out.append(line[pos:])
        return b"".join(out)


def _trigger_lines(block: bytes, low: bytes) -> list[tuple[int, int]]:
    """Sorted, merged ``(start, end)`` spans of the lines of ``block`` that contain a trigger."""
    starts: set[int] = set()
    for trigger in TRIGGERS + (b"-----begin",):
        i = low.find(trigger)
        while i >= 0:
            line_start = block.rfind(b"\n", 0, i) + 1
            starts.add(line_start)
            line_end = block.find(b"\n", i)
            i = low.find(trigger, len(block) if line_end < 0 else line_end + 1)
    spans: list[tuple[int, int]] = []
    for start in sorted(starts):
        end = block.find(b"\n", start)
        end = len(block) if end < 0 else end + 1
        spans.append((start, end))
    return spans
