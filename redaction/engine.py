"""The redaction engine: a streaming, line-aware filter with keyed-hash markers.

A block of complete lines is scanned once for anchors (:mod:`redaction.scan`); only
lines holding one — or lines inside a multi-line secret (key block, continued
``.properties`` value, Kubernetes Secret ``data``) — go through the rules. With
pseudonymization, identifiers of the whole block are then replaced in one pass.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
from collections import Counter

from redaction.config import RedactionConfig
from redaction.pseudonym import Pseudonymizer
from redaction.rules import (
    FILE_RULES,
    FLAG_VALUE,
    MID_WORD,
    NOT_SECRET,
    NOT_SECRET_SUFFIX,
    PEM_ANCHOR,
    PEM_BEGIN,
    PEM_END,
    SECRET_WORDS,
    Rule,
    rule,
)
from redaction.scan import Scanner, make_scanner

MAX_LINE = 1 << 20  # a line longer than this is processed in pieces
VALUE_GROUPS = ("s", "dq", "sq", "cd")
KDATA = re.compile(rb"^([ \t]*)(data|stringData|binaryData):[ \t]*\r?$")
JDATA = re.compile(rb"^[ \t]*\"(data|stringData)\"[ \t]*:[ \t]*\{[ \t]*\r?$")
KENTRY = re.compile(rb"^([ \t]*(?:\"[^\"]+\"|[\w.-]+)[ \t]*:[ \t]*)(\"?)(.*?)(\"?)([ \t]*,?[ \t]*\r?)$")
BASE64 = re.compile(rb"^(?=.{8})[A-Za-z0-9+/]+={0,2}$")
DATA_ANCHORS = (b"data:", b'data"')
# a JSON object under a secret-named key ("credentials": {"pin": 123456, ...}): its scalar values are secrets
SECRET_OBJ = re.compile(rb'"(?P<k>[^"\n]*(?:' + SECRET_WORDS + rb')[^"\n]*)"[ \t]*:[ \t]*\{', re.IGNORECASE)
JSON_TOKEN = re.compile(rb'"(?:[^"\\\n]|\\.)*"|[{}]')
JSON_ENTRY = re.compile(rb'("(?P<key>(?:[^"\\\n]|\\.)*)"[ \t]*:[ \t]*)(?:"(?P<str>(?:[^"\\\n]|\\.)*)"'
                        rb'|(?P<num>-?\d[\d.eE+-]*)(?=[ \t]*(?:[,}\r\n]|$)))')
PLAIN_KEY = re.compile(rb"(?:^|[_.-])(?:host|hostname|port|server|address|region|scheme|version|realm|domain)$",
                       re.IGNORECASE)


class Redactor:
    """Holds the per-bundle salt, rules, pseudonyms and the report; makes one stream per artifact."""

    def __init__(self, rules: tuple[Rule, ...] | None = None, salt: bytes | None = None, *,
                 config: RedactionConfig | None = None, pseudonymize: bool = False,
                 scanner: str | None = None) -> None:
        config = config or RedactionConfig()
        self.rules = rules if rules is not None else config.all_rules()
        self.allow = config.allow
        self.pseudonymizer = Pseudonymizer(config.keywords, scanner=scanner) if pseudonymize else None
        if config.keywords and not pseudonymize:
            words = b"|".join(re.escape(k.encode()) for k in sorted(config.keywords, key=len, reverse=True))
            self.rules += (rule("keyword", rb"(?<!\w)(?P<s>" + words + rb")(?!\w)",
                                tuple(k.lower().encode() for k in config.keywords)),)
        self._salt = salt or os.urandom(16)
        self.report: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()
        anchors = {PEM_ANCHOR, *DATA_ANCHORS}
        for r in self.rules:
            anchors.update(r.anchors)
        self.unanchored = tuple(r for r in self.rules if not r.anchors)
        self.scanner: Scanner = make_scanner(anchors, scanner)
        self._groups = {r.pattern: [g for g in VALUE_GROUPS if g in r.pattern.groupindex] or [0]
                        for r in self.rules + tuple(r for _, rs in FILE_RULES for r in rs)}

    def marker(self, rule: str, secret: bytes) -> bytes:
        tag = hmac.new(self._salt, secret, hashlib.sha256).hexdigest()[:6]
        return f"[REDACTED:{rule}:{tag}]".encode()

    def stream(self, name: str) -> RedactionStream:
        return RedactionStream(self, name)

    def record(self, name: str, counts: Counter) -> None:
        if counts:
            with self._lock:
                merged = Counter(self.report.get(name, {})) + counts
                self.report[name] = dict(sorted(merged.items()))

    def redact_value(self, data: bytes, name: str = "-") -> tuple[bytes, Counter]:
        """A whole value at once (SQLite cells, tests): the redacted bytes and the counts (not recorded)."""
        stream = RedactionStream(self, name, record=False)
        out = stream.feed(data) + stream.close()
        return out, stream.counts

    def allowed(self, secret: bytes) -> bool:
        return any(a.search(secret) for a in self.allow)


class RedactionStream:
    """Feed bytes in, get redacted bytes out; ``close`` flushes and records counts."""

    def __init__(self, redactor: Redactor, name: str, record: bool = True) -> None:
        self.redactor = redactor
        self.name = name
        self.counts: Counter = Counter()
        self._record = record
        self._pending = b""
        self._mode: tuple | None = None  # ("pem",) ("cont",) ("kdata", indent, child, strings) ("jdata", strings)
        self._yaml = name.lower().endswith((".yml", ".yaml"))
        self._file_rules = tuple(r for suffix, rules in FILE_RULES if name.endswith(suffix) for r in rules)

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
        if self._record:
            self.redactor.record(self.name, self.counts)
        return out

    def _process(self, block: bytes) -> bytes:
        """Redact complete lines: those holding an anchor, and every line while inside a multi-line secret."""
        starts = self.redactor.scanner.line_starts(block)
        if self._file_rules:  # every line of such a file
            starts = [0] + [m.end() for m in re.finditer(b"\n", block) if m.end() < len(block)]
        if self.redactor.unanchored:
            extra = {block.rfind(b"\n", 0, m.start()) + 1 for r in self.redactor.unanchored
                     for m in r.pattern.finditer(block)}
            starts = sorted(extra.union(starts))
        out: list[bytes] = []
        pos, n, i = 0, len(block), 0
        while pos < n:
            if self._mode is None:
                while i < len(starts) and starts[i] < pos:
                    i += 1
                if i == len(starts):
                    out.append(block[pos:])
                    break
                out.append(block[pos:starts[i]])
                pos = starts[i]
            end = block.find(b"\n", pos)
            end = n if end < 0 else end + 1
            out.append(self._line(block[pos:end]))
            pos = end
        text = b"".join(out)
        pseudo = self.redactor.pseudonymizer
        if pseudo is not None and text:
            counts: dict[str, int] = {}
            text = pseudo.apply(text, counts)
            self.counts.update(counts)
        return text

    # -- one line ---------------------------------------------------------------------------
    def _line(self, line: bytes) -> bytes:
        mode = self._mode
        if mode is not None and mode[0] == "jobj":
            return self._secret_objects(self._rules(line, line.lower()), mode[1])
        if mode is not None:
            handled = self._in_block(line, mode)
            if handled is not None:
                return handled
        low = line.lower()
        if PEM_ANCHOR in low:
            begin = PEM_BEGIN.search(line)
            if begin is not None:
                end = PEM_END.search(line, begin.end())
                self.counts["private-key"] += 1
                marker = self.redactor.marker("private-key", line[begin.end():end.start() if end else None])
                if end is None:
                    self._mode = ("pem",)
                    return line[: begin.end()] + b"\n" + marker + b"\n"
                return line[: begin.end()] + marker + line[end.start():]
        line = self._rules(line, low)
        if b"{" in line and SECRET_OBJ.search(line):
            line = self._secret_objects(line)
        if b"data" in low:
            k = KDATA.match(line)
            if k:
                self._mode = ("kdata", len(k.group(1)), None, k.group(2) != b"data")
            elif JDATA.match(line):
                self._mode = ("jdata", b"stringdata" in low)
        return line

    def _rules(self, line: bytes, low: bytes) -> bytes:
        red = self.redactor
        spans: list[tuple[int, int, bytes]] = []  # (start, end, marker), first rule wins
        for r in red.rules + self._file_rules if self._file_rules else red.rules:
            if r.anchors and not any(a in low for a in r.anchors):
                continue
            for m in r.pattern.finditer(line):
                group = next((g for g in red._groups[r.pattern] if m.group(g) is not None), None)
                if group is None:
                    continue
                start, end = m.span(group)
                secret = m.group(group)
                if not secret or secret.startswith(b"[REDACTED:") or red.allowed(secret):
                    continue
                if r.check_value:
                    key = m.group("k") if "k" in r.pattern.groupindex else None
                    if NOT_SECRET.match(secret.strip()) or (key and NOT_SECRET_SUFFIX.search(key)):
                        continue
                    if key and FLAG_VALUE.fullmatch(secret.strip()) and MID_WORD.search(key):
                        continue  # net.bridge.bridge-nf-pass-vlan-input-dev = 0: a setting, not a password
                if any(start < e and s < end for s, e, _ in spans):
                    continue
                if group == "s" and secret.endswith(b"\\") and r.name == "key-value" \
                        and (len(secret) - len(secret.rstrip(b"\\"))) % 2:
                    end -= 1  # a .properties value continued on the next line: keep the backslash
                    self._mode = ("cont",)
                marker = red.marker(r.name, secret)
                if group == "s" and r.name == "key-value" and (
                        self._yaml or ("kq" in r.pattern.groupindex and m.group("kq"))):
                    marker = b'"' + marker + b'"'
                self.counts[r.name] += 1
                spans.append((start, end, marker))
        if not spans:
            return line
        out, pos = [], 0
        for start, end, marker in sorted(spans):
            out += [line[pos:start], marker]
            pos = end
        out.append(line[pos:])
        return b"".join(out)

    def _secret_objects(self, line: bytes, depth: int = 0) -> bytes:
        """Redact the scalar values of JSON objects under secret-named keys; ``depth`` > 0: inside one already."""
        out: list[bytes] = []
        pos = i = 0
        while True:
            if depth == 0:
                m = SECRET_OBJ.search(line, i)
                if m is None:
                    break
                i = m.end()
                if NOT_SECRET_SUFFIX.search(m.group("k")):
                    continue
                depth = 1
            begin, close = i, None
            for t in JSON_TOKEN.finditer(line, i):
                if t.group() == b"{":
                    depth += 1
                elif t.group() == b"}":
                    depth -= 1
                    if depth == 0:
                        close = t.start()
                        break
            end = len(line) if close is None else close
            out += [line[pos:begin], JSON_ENTRY.sub(self._object_entry, line[begin:end])]
            pos = end
            if close is None:
                break
            i = close + 1
        self._mode = ("jobj", depth) if depth else None
        if not out:
            return line
        out.append(line[pos:])
        return b"".join(out)

    def _object_entry(self, m: re.Match[bytes]) -> bytes:
        value = m.group("str") if m.group("str") is not None else m.group("num")
        key = m.group("key")
        if not value or NOT_SECRET.match(value) or NOT_SECRET_SUFFIX.search(key) or PLAIN_KEY.search(key) \
                or self.redactor.allowed(value):
            return m.group(0)
        self.counts["secret-object"] += 1
        return m.group(1) + b'"' + self.redactor.marker("secret-object", value) + b'"'

    def _in_block(self, line: bytes, mode: tuple) -> bytes | None:
        """Lines inside a multi-line secret; ``None`` when the block has ended (process normally)."""
        kind = mode[0]
        if kind == "pem":
            end = PEM_END.search(line)
            if end is None:
                return b""
            self._mode = None
            return line[end.start():]
        if kind == "cont":
            body = line.rstrip(b"\r\n")
            continued = (len(body) - len(body.rstrip(b"\\"))) % 2 == 1
            if not continued:
                self._mode = None
            indent = body[: len(body) - len(body.lstrip())]
            return indent + (b"\\" if continued else b"") + line[len(body):]
        stripped = line.strip()
        if kind == "jdata":
            if stripped.startswith(b"}"):
                self._mode = None
                return line
            return self._data_entry(line, mode[1], quote=False)
        _, base, child, strings = mode
        if not stripped or stripped.startswith(b"#"):
            return line
        indent = len(line) - len(line.lstrip())
        if indent <= base:
            self._mode = None
            return None
        if child is None:
            self._mode = mode = ("kdata", base, indent, strings)
            child = indent
        if indent > child:  # content of a block scalar (key: |)
            self.counts["k8s-secret"] += 1
            return line[:indent] + self.redactor.marker("k8s-secret", stripped) + b"\n"
        return self._data_entry(line, strings, quote=True)

    def _data_entry(self, line: bytes, strings: bool, quote: bool) -> bytes:
        m = KENTRY.match(line.rstrip(b"\n"))
        if not m:
            return line
        value = m.group(3)
        if not value or value in (b"|", b"|-", b">", b">-") or NOT_SECRET.match(value) and not strings:
            return line
        if not strings and not (BASE64.match(value) and len(value) % 4 == 0):
            return line
        self.counts["k8s-secret"] += 1
        marker = self.redactor.marker("k8s-secret", value)
        if quote and not m.group(2):
            marker = b'"' + marker + b'"'
        return m.group(1) + m.group(2) + marker + m.group(4) + m.group(5) + line[len(line.rstrip(b"\n")):]
