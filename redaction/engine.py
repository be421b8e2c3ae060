"""The redaction engine: a streaming, line-aware filter with keyed-hash markers.

A block of complete lines is scanned once for anchors (:mod:`redaction.scan`); only
lines holding one — or lines inside a multi-line secret (key block, continued value,
Kubernetes Secret ``data``, YAML block scalar) — go through the rules. Configuration
files (not logs) have every line looked at, for positional formats and generated values.
Known secrets (:meth:`Redactor.add_literal`) are removed from every block first.
A line longer than ``MAX_LINE`` is processed in pieces cut where no match straddles.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
from collections import Counter

from redaction import casekey
from redaction.config import RedactionConfig
from redaction.lines import LineMixin, secret_anchors
from redaction.pieces import hold_back, safe_cut
from redaction.pseudonym import Pseudonymizer
from redaction.rules import CONFIG_ONLY_ANCHORS, PEM_ANCHOR, Rule, rule
from redaction.scan import Scanner, make_scanner

MAX_LINE = 1 << 20  # a line longer than this is processed in pieces
VALUE_GROUPS = ("s", "t", "dq", "sq", "cd")
DATA_ANCHORS = (b"data:", b'data"')
LONG_LINES = 64  # bytes per line on average above which newlines are counted with replace, not count
YAML_HOLD = 4 << 20  # a YAML file up to this size is read whole before it is redacted
MIN_LITERAL = 4  # shorter known secrets are ignored: they would hit ordinary words
# what LineMixin._headless_keys looks for first (bit 0 of a scanner survey): without it a block has no key end line
KEY_END_SURVEY = rb"PRIVATE KEY-----|Static key V1-----"


class Redactor:
    """Holds the per-bundle salt, rules, pseudonyms, known secrets and the report; makes one stream per artifact."""

    def __init__(self, rules: tuple[Rule, ...] | None = None, salt: bytes | None = None, *,
                 config: RedactionConfig | None = None, pseudonymize: bool = False,
                 scanner: str | None = None, pseudonym_key: bytes | None = None) -> None:
        """``pseudonym_key``: the case key; None: :func:`redaction.casekey.resolve` (else a random run key)."""
        from redaction.formats import CONFIG_RULES, FILE_RULES, FORMAT_RULES

        config = config or RedactionConfig()
        self.rules = rules if rules is not None else FORMAT_RULES + config.all_rules()
        self.allow = config.allow
        key = pseudonym_key or (casekey.resolve(config.case_key) if pseudonymize else None)
        self.pseudonymizer = Pseudonymizer(config.keywords, scanner=scanner, key=key) if pseudonymize else None
        if config.keywords and not pseudonymize:
            words = b"|".join(re.escape(k.encode()) for k in sorted(config.keywords, key=len, reverse=True))
            self.rules += (rule("keyword", rb"(?<!\w)(?P<s>" + words + rb")(?!\w)",
                                tuple(k.lower().encode() for k in config.keywords)),)
        self._salt = salt or os.urandom(16)
        self.report: dict[str, dict[str, int]] = {}
        self.audit: dict[str, list[dict[str, object]]] = {}
        self._lock = threading.Lock()
        self._literals: dict[bytes, str] = {}
        self._plans: dict[tuple[Rule, ...], RulePlan] = {}
        self.literal_re: re.Pattern[bytes] | None = None
        from redaction.argv import ANCHORS as ARGV_ANCHORS
        from redaction.lines import LINE_ANCHORS

        anchors = {PEM_ANCHOR, *DATA_ANCHORS, *ARGV_ANCHORS, *LINE_ANCHORS}
        for r in self.rules:
            anchors.update(r.anchors)
        self.unanchored = tuple(r for r in self.rules if not r.anchors)
        anchors -= CONFIG_ONLY_ANCHORS
        # surveyed in the scanner's pass: bit 0 a cut-off key's end line, then each unanchored rule's prefilter
        prefilters = [r.prefilter for r in self.unanchored if r.prefilter is not None]
        self.unanchored_bits = tuple(0 if r.prefilter is None else 1 << (1 + prefilters.index(r.prefilter))
                                     for r in self.unanchored)
        self.scanner: Scanner = make_scanner(_minimal(anchors), scanner, (KEY_END_SURVEY, *prefilters))
        self._scanner_choice = scanner
        self.config_rules = CONFIG_RULES
        self.file_rules = FILE_RULES
        self._groups = {r.pattern: [g for g in VALUE_GROUPS if g in r.pattern.groupindex] or [0]
                        for r in self.rules + CONFIG_RULES + tuple(r for _, rs in FILE_RULES for r in rs)}

    # -- known secrets -------------------------------------------------------------------------
    def add_literal(self, secret: str | bytes, rule: str = "known") -> None:
        """Remove ``secret`` wherever it appears (every stream, value and metadata string from now on).

        Literals shorter than 4 bytes (after stripping) are ignored; a multi-line literal is also
        added line by line.
        """
        data = secret.encode() if isinstance(secret, str) else bytes(secret)
        with self._lock:
            for piece in {data, *data.splitlines()}:
                if len(piece.strip()) >= MIN_LITERAL:
                    self._literals[piece] = rule
            if self._literals:
                alts = b"|".join(re.escape(k) for k in sorted(self._literals, key=len, reverse=True))
                self.literal_re = re.compile(alts)

    def literal_rule(self, literal: bytes) -> str:
        return self._literals.get(literal, "known")

    def redact_text(self, text: str, name: str = "metadata") -> str:
        """A metadata string (manifest field, stderr, check message): secrets and known secrets removed."""
        if not text:
            return text
        out, _ = self.redact_value(text.encode("utf-8", "surrogateescape"), name)
        return out.decode("utf-8", "surrogateescape")

    # -- markers, records ------------------------------------------------------------------------
    def tag(self, secret: bytes) -> str:
        return hmac.new(self._salt, secret, hashlib.sha256).hexdigest()[:6]

    def marker(self, rule: str, secret: bytes) -> bytes:
        return f"[REDACTED:{rule}:{self.tag(secret)}]".encode()

    def stream(self, name: str) -> RedactionStream:
        return RedactionStream(self, name)

    def record(self, name: str, counts: Counter, audit: list[dict[str, object]] | None = None) -> None:
        with self._lock:
            if counts:
                merged = Counter(self.report.get(name, {})) + counts
                self.report[name] = dict(sorted(merged.items()))
            if audit is not None:
                self.audit.setdefault(name, []).extend(audit)

    def redact_value(self, data: bytes, name: str = "-") -> tuple[bytes, Counter]:
        """A whole value at once (SQLite cells, metadata, tests): the redacted bytes and the counts (not recorded)."""
        stream = RedactionStream(self, name, record=False)
        out = stream.feed(data) + stream.close()
        return out, stream.counts

    def plan(self, extra: tuple[Rule, ...]) -> RulePlan:
        """The rules a stream runs (built-ins, then its file/config rules) indexed by anchor; cached."""
        with self._lock:
            plan = self._plans.get(extra)
            if plan is None:
                plan = self._plans[extra] = RulePlan(self.rules + extra, self._scanner_choice)
            return plan

    def allowed(self, secret: bytes) -> bool:
        return any(a.search(secret) for a in self.allow)


def _minimal(anchors: set[bytes]) -> set[bytes]:
    """A line holding "sshpass" holds "pass": a scanner needs only the anchors containing no other."""
    return {a for a in anchors if not any(b != a and b in a for b in anchors)}


class RulePlan:
    """Rules in order, and which of them a line's anchors select (one ``in`` test per distinct anchor)."""

    def __init__(self, rules: tuple[Rule, ...], scanner: str | None = None) -> None:
        self.rules = rules
        self._scanner_choice = scanner
        self._scanner: Scanner | None = None
        self.anchors: dict[bytes, list[int]] = {}
        self.always = [i for i, r in enumerate(rules) if not r.anchors]
        self.always_rules = [rules[i] for i in self.always]
        for i, r in enumerate(rules):
            for a in r.anchors:
                self.anchors.setdefault(a, []).append(i)
        words = sorted(self.anchors, key=lambda a: (-len(a), a))
        # at each position the longest anchor is reported; the anchors inside it are implied
        self._find = re.compile(b"(?=(" + b"|".join(re.escape(a) for a in words) + b"))") if words else None
        self._implied = {a: sorted({i for b in words if b in a for i in self.anchors[b]}) for a in words}
        self._cache: dict[frozenset[bytes], list[Rule]] = {}


    def anchored(self, block: bytes) -> set[int]:
        """Starts of the lines of ``block`` holding any of these rules' anchors (configuration files)."""
        if self._scanner is None:
            self._scanner = make_scanner(_minimal(set(self.anchors)), self._scanner_choice)
        return set(self._scanner.line_starts(block))

    def select(self, low: bytes) -> list[Rule]:
        if len(low) > 2048:  # long lines: one substring test per anchor beats a look-ahead at every byte
            found = frozenset(a for a in self.anchors if a in low)
        else:
            found = frozenset(self._find.findall(low)) if self._find is not None else frozenset()
        rules = self._cache.get(found)
        if rules is None:
            picked = set(self.always)
            for a in found:
                picked.update(self._implied[a])
            if len(self._cache) > 4096:
                self._cache.clear()
            rules = self._cache[found] = [self.rules[i] for i in sorted(picked)]
        return rules


class RedactionStream(LineMixin):
    """Feed bytes in, get redacted bytes out; ``close`` flushes and records counts and the audit."""

    def __init__(self, redactor: Redactor, name: str, record: bool = True) -> None:
        self.redactor = redactor
        self.name = name
        self.counts: Counter = Counter()
        self.audit: list[dict[str, object]] = []
        self._record = record
        self._pending = b""
        self._ln = 1  # line number of the next byte processed
        self._midline = False  # the last block processed ended inside a line (an overlong one)
        self._long_lines = False  # the last block's lines averaged over LONG_LINES bytes (how to count newlines)
        self._init_lines(name)
        self._hold: list[bytes] | None = [] if self._yaml and self._config else None
        self._held = 0

    def feed(self, data: bytes) -> bytes:
        if self._hold is not None:  # a YAML file is read whole first: aliases name the anchors to redact
            self._hold.append(data)
            self._held += len(data)
            if self._held <= YAML_HOLD:
                return b""
            data, self._hold = b"".join(self._hold), None
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) < MAX_LINE:
            self._pending = data
            return b""
        if cut == 0:  # one long line: a piece, cut where no match straddles
            cut, rest_secret = safe_cut(self, data)
            self._pending = data[cut:]
            out = self._piece(data[:cut])
            self._midline = True
            if rest_secret:
                self._mode = ("rest",)
            return out
        cut = hold_back(data, cut, MAX_LINE)  # base64 lines at the end may be a key body cut from its END
        self._pending = data[cut:]
        if not cut:
            return b""
        out = self._piece(data[:cut])
        self._midline = False
        return out

    def _piece(self, block: bytes) -> bytes:
        """Process ``block``; when it continues a line cut before, its start is not a line start."""
        if not self._midline:
            return self._process(block)
        out = self._process(b"\x00" + block)
        return out[1:] if out[:1] == b"\x00" else out

    def close(self) -> bytes:
        out = b""
        if self._hold is not None:
            whole, self._hold = b"".join(self._hold), None
            self._secret_anchors = secret_anchors(whole)
            out = self.feed(whole)
        out += self._piece(self._pending) if self._pending else b""
        self._pending = b""
        out += self._flush_lines()
        if self._record:
            self.redactor.record(self.name, self.counts, self.audit)
        return out

    def _mark(self, rule: str, secret: bytes) -> bytes:
        tag = self.redactor.tag(secret)
        self.counts[rule] += 1
        self.audit.append({"line": self._ln, "rule": rule, "tag": tag})
        return f"[REDACTED:{rule}:{tag}]".encode()

    def _literals(self, block: bytes) -> bytes:
        pattern = self.redactor.literal_re
        if pattern is None:
            return block
        out: list[bytes] = []
        pos, ln = 0, self._ln
        for m in pattern.finditer(block):
            ln += block.count(b"\n", pos, m.start())
            out += [block[pos:m.start()]]
            self._ln, saved = ln, self._ln
            out.append(self._mark(self.redactor.literal_rule(m.group()), m.group()))
            self._ln = saved
            pos = m.end()
        if not out:
            return block
        out.append(block[pos:])
        return b"".join(out)

    def _newlines(self, block: bytes, start: int, end: int) -> int:
        """``block.count(b"\\n", start, end)``. ``count`` tests every byte (~2.7 GB/s); ``replace`` finds each
        newline with memchr and is ~3x faster on log lines, ~10x slower on very short ones: the last block's
        average line length decides (measured, 64 KiB of log: 26 µs against 8 µs)."""
        if not self._long_lines:
            return block.count(b"\n", start, end)
        part = block[start:end]
        return len(part) - len(part.replace(b"\n", b""))

    def _process(self, block: bytes) -> bytes:
        """Redact complete lines: those holding an anchor, every line of config files, lines inside a secret."""
        block = self._literals(block)
        red = self.redactor
        survey = None
        if self._all_lines:
            block = self._headless_keys(block)
        else:  # one scanner pass: the anchored lines, and whether the key-end and unanchored passes can find anything
            survey = red.scanner.survey(block)
            if survey[1] & 1:
                keyed = self._headless_keys(block)
                if keyed is not block:
                    block, survey = keyed, red.scanner.survey(keyed)
        self._count_config(len(block))
        anchored = None
        if self._all_lines:
            starts = [0] + [m.end() for m in re.finditer(b"\n", block) if m.end() < len(block)]
            anchored = self._plan.anchored(block)
        else:
            starts, seen = survey or red.scanner.survey(block)
            if red.unanchored:
                pairs = zip(red.unanchored, red.unanchored_bits, strict=True)
                extra = {block.rfind(b"\n", 0, m.start()) + 1 for r, bit in pairs if not bit or seen & bit
                         for m in r.pattern.finditer(block)}
                if extra:
                    starts = sorted(extra.union(starts))
        out: list[bytes] = []
        pos, n, i, first_line = 0, len(block), 0, self._ln
        while pos < n:
            if self._mode is None:
                while i < len(starts) and starts[i] < pos:
                    i += 1
                if i == len(starts):
                    out.append(block[pos:])
                    self._ln += self._newlines(block, pos, n)
                    break
                out.append(block[pos:starts[i]])
                self._ln += self._newlines(block, pos, starts[i])
                pos = starts[i]
            end = block.find(b"\n", pos)
            end = n if end < 0 else end + 1
            self._anchored = anchored is None or pos in anchored
            out.append(self._line(block[pos:end]))
            if block[end - 1:end] == b"\n":
                self._ln += 1
            pos = end
        self._long_lines = n > LONG_LINES * (self._ln - first_line)
        text = b"".join(out)
        pseudo = self.redactor.pseudonymizer
        if pseudo is not None and text:
            counts: dict[str, int] = {}
            text = pseudo.apply(text, counts)
            self.counts.update(counts)
        return text
