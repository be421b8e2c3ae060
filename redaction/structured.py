"""Structured multi-line values: JSON objects under secret keys, Kubernetes Secret data, PEM bodies,
YAML block scalars and INI continuation lines — a mixin of :class:`redaction.engine.RedactionStream`."""

from __future__ import annotations

import re

from redaction.rules import NOT_SECRET, NOT_SECRET_SUFFIX, PEM_END, SECRET_WORDS

KDATA = re.compile(rb"^([ \t]*)(data|stringData|binaryData):[ \t]*\r?$")
JDATA = re.compile(rb"^[ \t]*\"(data|stringData)\"[ \t]*:[ \t]*\{[ \t]*\r?$")
KENTRY = re.compile(rb"^([ \t]*+(?:\"[^\"]++\"|[\w.-]++)[ \t]*+:[ \t]*+)(\"?)([^\n]*+)")
SETTING = re.compile(rb"[\w.-]++[ \t]*+(?:=|:(?:[ \t]|$))")  # a `key = …` / `key: …` line ends a continuation
BASE64 = re.compile(rb"^(?=.{8})[A-Za-z0-9+/]+={0,2}$")
# a JSON object under a secret-named key ("credentials": {"pin": 123456, ...}): its scalar values are secrets
SECRET_OBJ = re.compile(rb'"(?=[^"\n]*?(?:' + SECRET_WORDS + rb'))(?P<k>[^"\n]*+)"[ \t]*+:[ \t]*+\{', re.IGNORECASE)
JSON_TOKEN = re.compile(rb'"(?:[^"\\\n]|\\.)*+"|[{}]')
JSON_ENTRY = re.compile(rb'("(?P<key>(?:[^"\\\n]|\\.)*+)"[ \t]*+:[ \t]*+)(?:"(?P<str>(?:[^"\\\n]|\\.)*+)"'
                        rb'|(?P<num>-?\d[\d.eE+-]*+)(?=[ \t]*+(?:[,}\r\n]|$)))')
PLAIN_KEY = re.compile(rb"(?:^|[_.-])(?:host|hostname|port|server|address|region|scheme|version|realm|domain)$",
                       re.IGNORECASE)


class StructuredMixin:
    _mode: tuple | None
    redactor: object

    def _mark(self, rule: str, secret: bytes) -> bytes:  # provided by the stream
        raise NotImplementedError

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
        return m.group(1) + b'"' + self._mark("secret-object", value) + b'"'

    def _in_block(self, line: bytes, mode: tuple) -> bytes | None:
        """Lines inside a multi-line secret; ``None`` when the block has ended (process normally)."""
        kind = mode[0]
        if kind == "pem":
            end = PEM_END.search(line)
            if end is None:
                return b""
            self._mode = None
            return line[end.start():]
        if kind in ("yblock", "icont"):
            body = line.strip()
            indent = len(line) - len(line.lstrip())
            if not body and kind == "yblock":
                return line
            if not body or indent <= mode[1] or (kind == "icont" and (body[:1] in (b"#", b";", b"[")
                                                                         or SETTING.match(body))):
                self._mode = None
                return None
            return line[:indent] + self._mark(mode[2], body) + line[len(line.rstrip(b"\r\n")):]
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
            return line[:indent] + self._mark("k8s-secret", stripped) + b"\n"
        return self._data_entry(line, strings, quote=True)

    def _data_entry(self, line: bytes, strings: bool, quote: bool) -> bytes:
        body = line.rstrip(b"\n")
        m = KENTRY.match(body)
        if not m:
            return line
        rest = m.group(3)
        end = len(rest.rstrip(b" \t\r"))
        if rest[:end].endswith(b","):
            end = len(rest[:end - 1].rstrip(b" \t"))
        close = b'"' if m.group(2) and rest[:end].endswith(b'"') else b""
        value = rest[:end - len(close)]
        if not value or value in (b"|", b"|-", b">", b">-") or NOT_SECRET.match(value) and not strings:
            return line
        if not strings and not (BASE64.match(value) and len(value) % 4 == 0):
            return line
        marker = self._mark("k8s-secret", value)
        if quote and not m.group(2):
            marker = b'"' + marker + b'"'
        return m.group(1) + m.group(2) + marker + close + rest[end:] + line[len(body):]
