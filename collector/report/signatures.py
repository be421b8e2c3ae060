"""Error signatures: a log entry's message with its variable parts normalised away.

Two lines that differ only in numbers, ids, addresses, timestamps, quoted values or
redaction markers get the same signature. The table of signatures is bounded: past
``MAX_SIGNATURES`` distinct ones, new signatures are counted in one "other" bucket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_SIGNATURES = 10_000
MAX_LOCATIONS = 100  # per signature, for the index's error_lines
MAX_LOCATIONS_TOTAL = 50_000
MAX_SIGNATURE_CHARS = 300
MAX_EXAMPLE_CHARS = 2000
OTHER = "(other: more distinct signatures than the report keeps)"

# the first level-like word of a line decides its level ("info: no error" is info)
LEVEL_RE = re.compile(
    rb"(?<![\w./-])(trace|debug|fine|finer|finest|info|notice|warn|warning|error|err|severe|fatal|crit|critical"
    rb"|emerg|alert|panic)(?![\w/-])", re.IGNORECASE)
LEVELS = {b"warn": "WARN", b"warning": "WARN", b"error": "ERROR", b"err": "ERROR", b"severe": "ERROR",
          b"fatal": "FATAL", b"crit": "FATAL", b"critical": "FATAL", b"emerg": "FATAL", b"alert": "FATAL",
          b"panic": "FATAL"}
LEVEL_WINDOW = 160  # the level word must appear in a line's first bytes
RANK = {"FATAL": 0, "ERROR": 1, "WARN": 2}

_CODE = re.compile(r"^(?:[A-Z]{2,8}-?\d{2,6}|\d{2}-\d{4})(?=\s|:|$)")  # ORA-00600, ERR1234, AMPS 07-0013
_SUBS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\[REDACTED:[^\]]*\]"), "[REDACTED]"),
    (re.compile(r'"[^"]*"'), '"<q>"'),
    (re.compile(r"'[^']*'"), "'<q>'"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<ts>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<ts>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b"), "<ip>"),
    (re.compile(r"\b(?:[0-9a-fA-F]{1,4}:){3,7}[0-9a-fA-F]{1,4}\b"), "<ip>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"\b(?=\w*\d)(?=\w*[A-Za-z])\w{8,}\b"), "<id>"),
    (re.compile(r"\d+(?:\.\d+)*"), "<n>"),
    (re.compile(r"\s+"), " "),
)
_LEAD = " \t:]|>-=,"


def normalise(message: str) -> str:
    """The signature of one message (the text after the level word)."""
    message = message.lstrip(_LEAD)
    code = _CODE.match(message)
    head, rest = (code.group(0), message[code.end():]) if code else ("", message)
    for pattern, repl in _SUBS:
        rest = pattern.sub(repl, rest)
    text = (head + rest).strip()
    return text[:MAX_SIGNATURE_CHARS] or "(empty message)"


def line_level(line: bytes) -> tuple[str | None, int]:
    """``(level, end of the level word)``; level None for lines below WARN or without a level."""
    m = LEVEL_RE.search(line, 0, LEVEL_WINDOW)
    if m is None:
        return None, 0
    return LEVELS.get(m.group(1).lower()), m.end()


@dataclass
class Signature:
    id: int
    level: str
    text: str
    count: int = 0
    hosts: dict[str, int] = field(default_factory=dict)
    first_seen: float | None = None
    last_seen: float | None = None
    example: str = ""
    example_at: tuple[str, str, int] = ("", "", 0)  # host, file, line number
    locations: list[tuple[str, str, int, float | None]] = field(default_factory=list)


class SignatureTable:
    """Per-signature aggregates only: memory is bounded whatever the log volume."""

    def __init__(self, max_signatures: int = MAX_SIGNATURES) -> None:
        self.max = max_signatures
        self.by_key: dict[tuple[str, str], Signature] = {}
        self.locations = 0
        self.entries = 0

    def add(self, level: str, text: str, host: str, file: str, line_no: int, ts: float | None,
            example: str) -> Signature:
        self.entries += 1
        key = (level, text)
        sig = self.by_key.get(key)
        if sig is None:
            if len(self.by_key) >= self.max:
                key = ("ERROR" if level != "WARN" else "WARN", OTHER)
                sig = self.by_key.get(key)
            if sig is None:
                sig = Signature(len(self.by_key) + 1, key[0], key[1], example=example[:MAX_EXAMPLE_CHARS],
                                example_at=(host, file, line_no))
                self.by_key[key] = sig
        sig.count += 1
        sig.hosts[host] = sig.hosts.get(host, 0) + 1
        if ts is not None:
            if sig.first_seen is None or ts < sig.first_seen:
                sig.first_seen = ts
            if sig.last_seen is None or ts > sig.last_seen:
                sig.last_seen = ts
        if len(sig.locations) < MAX_LOCATIONS and self.locations < MAX_LOCATIONS_TOTAL:
            sig.locations.append((host, file, line_no, ts))
            self.locations += 1
        return sig

    def ranked(self) -> list[Signature]:
        """Errors (FATAL, ERROR) before warnings; within each, the most frequent first."""
        return sorted(self.by_key.values(),
                      key=lambda s: (RANK.get(s.level, 1) == 2, -s.count, s.first_seen or 0.0, s.id))
