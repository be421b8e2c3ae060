"""Error signatures: a log entry's message with its variable parts normalised away.

Two lines that differ only in numbers, ids, addresses, timestamps, quoted values or
redaction markers get the same signature. The table of signatures is bounded: past
``MAX_SIGNATURES`` distinct ones, new signatures are counted in one "other" bucket.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice
from operator import le

MAX_SIGNATURES = 10_000
MAX_LOCATIONS = 100  # per signature, for the index's error_lines
MAX_LOCATIONS_TOTAL = 50_000
MAX_SIGNATURE_CHARS = 300
MAX_EXAMPLE_CHARS = 2000
OTHER = "(other: more distinct signatures than the report keeps)"

# the first level-like word of a line decides its level ("info: no error" is info)
LEVEL_RE = re.compile(  # the look-ahead only lets `re` skip ahead to a possible first letter (3x faster)
    rb"(?=[tdfinwescap])(?<![\w./-])(trace|debug|fine|finer|finest|info|notice|warn|warning|error|err|severe|fatal|crit|critical"
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


# A message's signature does not depend on (a) the values of its digits 1-9 outside a leading code
# (every digit after it becomes <n>; only "0x" names a digit), (b) what is between the quotes of a
# quoted value when it holds no redaction marker, (c) a run of 8+ hex digits holding a digit and a
# letter, bounded by non-word characters (and not by "-", nor preceded by ":.,+", where a UUID or a
# timestamp could take part of it): the run becomes <hex> whatever its content; (d) an IPv4 address
# (with port) so bounded: it becomes <ip>; (e) the length of a run of digits so bounded, or followed by
# letters in a word under 8 characters (it becomes <n>). So messages are looked
# up by a key with those parts masked; the first message with a key is normalised in full.
# tests/test_report_scan.py checks the equality on awkward generated messages against normalise().
_DIGITS = bytes.maketrans(b"23456789", b"11111111")
_LEAD_B = _LEAD.encode()
_QQ = re.compile(rb'"[^"]*"')
_Q = re.compile(rb"'[^']*'")
# (each pattern starts with a character class and looks behind after it: `re` then skips ahead fast)
_B = rb"[\w\-:.,+\x80-\xff]"  # next to these, a number or address may be part of something else
_HEXRUN = re.compile(rb"(?:[0-9](?<!%s[0-9])(?=[0-9a-fA-F]*[a-fA-F])|[a-fA-F](?<!%s[a-fA-F])(?=[0-9a-fA-F]*[0-9]))"
                     rb"[0-9a-fA-F]{7,}(?![\w\-\x80-\xff])" % (_B, _B))
_NUMRUN = re.compile(rb"[0-9](?<!%s[0-9])(?:[0-9]*(?!%s)|(?=[0-9A-Za-z]{0,6}(?!%s))[0-9]*(?=[a-wyzA-Z][A-Za-z]*(?!%s)))"
                     % (_B, _B, _B, _B))
_IPV4 = re.compile(rb"[0-9](?<!%s[0-9])[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}(?::[0-9]+)?(?!%s)" % (_B, _B))
# (f) a hex run as in (c) — a maximal run of 8+ hex digits holding a digit and a letter, so bounded —
# is masked the same wherever it stands (unless it starts the message, where it may be a code). Most
# misses of the first key are messages with a fresh hex id (a session, a request): their *shape* (every
# hex digit made "h") names where the candidate runs are, found once per shape; the third key is the
# first with those runs cut out, and where they were. No regular expression runs on a hit.
_HEXSHAPE = bytes.maketrans(b"0123456789abcdefABCDEF", b"h" * 22)
_CANDIDATE = re.compile(rb"(?<![\w\-:.,+\x80-\xff])[0-9a-fA-F]{8,}(?![\w\-\x80-\xff])")
MAX_CACHED = 50_000


class Normaliser:
    """``normalise`` of a raw message (bytes after the level word), memoised by masked keys.

    Two lookups: the message with its digits 1-9 made "1" (no regular expression: most messages
    that differ only in numbers meet here after a while), then the message with everything listed
    above masked (four regular-expression passes, on a miss only).
    """

    def __init__(self) -> None:
        self.digits: dict[bytes, tuple[int, str]] = {}  # key -> (length of the leading code, signature after it)
        self.masked: dict[bytes, tuple[int, str]] = {}
        self.shapes: dict[bytes, tuple[tuple[int, int], ...]] = {}  # shape -> candidate hex runs (none: no use)
        self.spanned: dict[tuple[tuple[int, ...], bytes], tuple[int, str]] = {}

    def __call__(self, raw: bytes) -> str:
        key = raw.translate(_DIGITS)
        hit = self.digits.get(key)
        if hit is None:
            hit = self._spanned(raw, key)
            if hit is None:
                return self._miss(raw, key)
        n, after = hit
        return raw.lstrip(_LEAD_B)[:n].decode() + after if n else after

    def _spanned(self, raw: bytes, key: bytes) -> tuple[int, str] | None:
        """The third key's entry (computed on its miss); None when the message has no hex run to cut."""
        if not raw.isascii():
            return None
        shape = raw.translate(_HEXSHAPE)
        runs = self.shapes.get(shape)
        if runs is None:
            runs = self._runs(raw)
            if len(self.shapes) >= MAX_CACHED:
                self.shapes.clear()
            self.shapes[shape] = runs
        if not runs:
            return None
        if len(runs) == 1:  # the usual case, spelled out
            a, b = runs[0]
            seg = raw[a:b]
            if seg.isdigit() or seg.isalpha():
                return None
            third: tuple[tuple[int, ...], bytes] = ((a,), key[:a] + key[b:])
        else:
            at: list[int] = []
            parts: list[bytes] = []
            prev = 0
            for a, b in runs:
                seg = raw[a:b]
                if seg.isdigit() or seg.isalpha():  # not a hex run here: stays in the key
                    continue
                at.append(a)
                parts.append(key[prev:a])
                prev = b
            if not at:
                return None
            parts.append(key[prev:])
            third = (tuple(at), b"".join(parts))
        hit = self.spanned.get(third)
        if hit is None:
            message = raw.decode()
            hit = self._masked_hit(message, key)
            if hit is None:
                return None
            if len(self.spanned) >= MAX_CACHED:
                self.spanned.clear()
            self.spanned[third] = hit
        return hit

    @staticmethod
    def _runs(raw: bytes) -> tuple[tuple[int, int], ...]:
        """The candidate hex runs of an ASCII message; none when one starts the message (it may be a code)."""
        start = len(raw) - len(raw.lstrip(_LEAD_B))
        runs = tuple(m.span() for m in _CANDIDATE.finditer(raw))
        return () if runs and runs[0][0] == start else runs

    def _miss(self, raw: bytes, key: bytes) -> str:
        message = raw.decode("utf-8", "replace")
        hit = self._masked_hit(message, key)
        if hit is None:
            return normalise(message)
        return message.lstrip(_LEAD)[:hit[0]] + hit[1] if hit[0] else hit[1]

    def _masked_hit(self, message: str, key: bytes) -> tuple[int, str] | None:
        """``(length of the leading code, signature after it)`` by the masked key; None: no key (normalise)."""
        code = _CODE.match(message.lstrip(_LEAD))
        n = code.end() if code else 0
        if code and not code.group(0).isascii():
            return None
        stripped = key.lstrip(_LEAD_B)
        rest = stripped[n:]
        if (b'"' in rest or b"'" in rest) and b"[REDACTED:" not in rest:
            rest = _Q.sub(b"'<q>'", _QQ.sub(b'"<q>"', rest))
        hexes = 0
        if b"hhhhhhhh" in rest.translate(_HEXSHAPE):  # else no run of 8 hex digits: the slow pattern need not run
            rest, hexes = _HEXRUN.subn(b"<hex>", rest)
        if rest.count(b".") >= 3:
            rest = _IPV4.sub(b"<ip>", rest)
        masked = key[:len(key) - len(stripped) + n] + _NUMRUN.sub(b"1", rest)
        hit = self.masked.get(masked)
        if hit is None:
            text = normalise(message)
            if len(self.masked) >= MAX_CACHED:
                self.masked.clear()
            hit = self.masked[masked] = (n, text[n:])
        if not hexes and len(self.digits) < MAX_CACHED:  # a hex id makes the first key unique: not worth keeping
            self.digits[key] = hit
        return hit


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
    """Per-signature aggregates only: memory is bounded whatever the log volume.

    ``log=True`` also keeps the locations in the order they were taken (at most
    ``MAX_LOCATIONS_TOTAL``), so that :meth:`merge` can replay them: a table made of one file in a
    worker process merges into the table of the files before it exactly as if scanned there.
    """

    def __init__(self, max_signatures: int = MAX_SIGNATURES, log: bool = False) -> None:
        self.max = max_signatures
        self.by_key: dict[tuple[str, str], Signature] = {}
        self.locations = 0
        self.entries = 0
        # signatures that take no more locations: an entry of one is only counted (count_many)
        self.full: dict[tuple[str, str], Signature] = {}
        self.log: list[tuple[tuple[str, str], tuple[str, str, int, float | None]]] | None = [] if log else None

    def _slot(self, level: str, text: str) -> tuple[tuple[str, str], Signature | None]:
        key = (level, text)
        sig = self.by_key.get(key)
        if sig is None and len(self.by_key) >= self.max:
            key = ("ERROR" if level != "WARN" else "WARN", OTHER)
            sig = self.by_key.get(key)
        return key, sig

    def add(self, level: str, text: str, host: str, file: str, line_no: int, ts: float | None,
            example: str | Callable[[], str]) -> Signature:
        """Count one entry; ``example`` (or what it returns, asked only for a new signature) is kept for a new one."""
        self.entries += 1
        key, sig = self._slot(level, text)
        if sig is None:
            text = example if isinstance(example, str) else example()
            sig = self.by_key[key] = Signature(len(self.by_key) + 1, key[0], key[1], example=text[:MAX_EXAMPLE_CHARS],
                                               example_at=(host, file, line_no))
        _tally(sig, {host: 1}, ts, ts)
        self._locate(sig, (host, file, line_no, ts))
        return sig

    def _locate(self, sig: Signature, where: tuple[str, str, int, float | None]) -> None:
        if len(sig.locations) < MAX_LOCATIONS and self.locations < MAX_LOCATIONS_TOTAL:
            sig.locations.append(where)
            self.locations += 1
            if self.log is not None:
                self.log.append(((sig.level, sig.text), where))
            if self.locations >= MAX_LOCATIONS_TOTAL:
                self.full.update((k, v) for k, v in self.by_key.items() if v.text != OTHER)
            elif len(sig.locations) >= MAX_LOCATIONS and sig.text != OTHER:
                self.full[(sig.level, sig.text)] = sig
        elif sig.text != OTHER:
            self.full[(sig.level, sig.text)] = sig

    def count(self, level: str, text: str, host: str, ts: float | None) -> bool:
        """Count one more entry of a known signature whose locations are full; False: use :meth:`add`."""
        sig = self.by_key.get((level, text))
        if sig is None or (len(sig.locations) < MAX_LOCATIONS and self.locations < MAX_LOCATIONS_TOTAL):
            return False
        self.entries += 1
        sig.count += 1  # (what _tally does, inline: this runs for nearly every entry)
        sig.hosts[host] = sig.hosts.get(host, 0) + 1
        if ts is not None:
            if sig.first_seen is None or ts < sig.first_seen:
                sig.first_seen = ts
            if sig.last_seen is None or ts > sig.last_seen:
                sig.last_seen = ts
        return True

    def count_many(self, keys: list[tuple[str, str]], stamps: list[float | None], host: str) -> None:
        """Count entries of signatures in :attr:`full` (``keys[i]`` at time ``stamps[i]``): :meth:`count` of each."""
        if None in stamps or not all(map(le, stamps, islice(stamps, 1, None))):  # not in time order: one by one
            for (level, text), ts in zip(keys, stamps, strict=True):
                self.count(level, text, host, ts)
            return
        self.entries += len(keys)
        first = dict(zip(reversed(keys), reversed(stamps), strict=True))  # in time order: the ends are enough
        last = dict(zip(keys, stamps, strict=True))
        for key, n in Counter(keys).items():
            _tally(self.full[key], {host: n}, first[key], last[key], n)

    def merge(self, other: SignatureTable) -> None:
        """Add ``other`` (a table with ``log=True`` and no "other" bucket, of files scanned after these)."""
        assert other.log is not None
        into: dict[tuple[str, str], Signature] = {}
        for sig in sorted(other.by_key.values(), key=lambda s: s.id):  # in order of first appearance
            key, mine = self._slot(sig.level, sig.text)
            if mine is None:
                mine = self.by_key[key] = Signature(len(self.by_key) + 1, key[0], key[1], example=sig.example,
                                                    example_at=sig.example_at)
            _tally(mine, sig.hosts, sig.first_seen, sig.last_seen, sig.count)
            into[(sig.level, sig.text)] = mine
        self.entries += other.entries
        for key, where in other.log:
            self._locate(into[key], where)

    @property
    def overflowed(self) -> bool:
        """Whether some signatures went to the "other" bucket."""
        return any(text == OTHER for _, text in self.by_key)

    def ranked(self) -> list[Signature]:
        """Errors (FATAL, ERROR) before warnings; within each, the most frequent first."""
        return sorted(self.by_key.values(),
                      key=lambda s: (RANK.get(s.level, 1) == 2, -s.count, s.first_seen or 0.0, s.id))


def _tally(sig: Signature, hosts: dict[str, int], first: float | None, last: float | None, count: int = 1) -> None:
    sig.count += count
    for host, n in hosts.items():
        sig.hosts[host] = sig.hosts.get(host, 0) + n
    if first is not None and (sig.first_seen is None or first < sig.first_seen):
        sig.first_seen = first
    if last is not None and (sig.last_seen is None or last > sig.last_seen):
        sig.last_seen = last
