"""One line at a time: rules, value checks, and the per-format states (CSV columns, nginx maps,
JSON values on the next line, YAML block scalars, INI continuations, headless key bodies)."""

from __future__ import annotations

import functools
import re

from redaction.argv import ANCHORS as ARGV_ANCHORS
from redaction.argv import argv_spans
from redaction.formats import (
    CONFIG_LIMIT,
    CONFIG_NAME,
    CSV_SECRET_COL,
    DANGLING_KEY,
    GENERIC_KV,
    HISTORY_NAME,
    INI_EMPTY,
    LOG_NAME,
    MAP_ENTRY,
    MAP_FIRST,
    MAP_SOURCE,
    MAP_START,
    NEXT_VALUE,
    WRAP_TOKEN,
    XML_NAME,
    XML_VALUE,
    YAML_ALIAS,
    YAML_ANCHOR,
    YAML_BLOCK,
    generic_ok,
)
from redaction.pieces import BODY, LAST
from redaction.rules import (
    FLAG_VALUE,
    NOT_SECRET,
    NOT_SECRET_SUFFIX,
    PEM_ANCHOR,
    PEM_BEGIN,
    PEM_END,
    PW_END,
    SECRET_ID,
    STRONG_KEY,
    Rule,
)
from redaction.shape import is_setting, looks_generated, not_secret, secretish
from redaction.structured import JDATA, KDATA, SECRET_OBJ, StructuredMixin

ARGV_HINT = re.compile(b"|".join(re.escape(a) for a in ARGV_ANCHORS))
LINE_ANCHORS = (b"map ", b"map\t", b"-----end")
CSV_FIELD = re.compile(rb'"(?:[^"]|"")*+"|[^,\r\n]*+')
CONFIG_EXT = re.compile(r"\.(?:ya?ml|json|xml|csv|tsv)$", re.IGNORECASE)


class LineMixin(StructuredMixin):
    def _init_lines(self, name: str) -> None:
        low = name.lower()
        self._mode: tuple | None = None
        self._yaml = low.endswith((".yml", ".yaml")) or ".yml." in low or ".yaml." in low
        self._json = low.endswith(".json")
        self._csv: tuple[bytes, set[int]] | None = None
        self._csv_file = low.endswith((".csv", ".tsv"))
        self._first = True
        self._line_rules: tuple[Rule, ...] = tuple(r for pattern, rules in self.redactor.file_rules
                                                   if pattern.search(name) for r in rules)
        self._config = CONFIG_NAME.search(name) is not None and not LOG_NAME.search(name) \
            and not HISTORY_NAME.search(name)
        self._config_bytes = 0
        self._anchored = True  # the line being looked at holds an anchor (or anchors were not looked for)
        self._secret_anchors: frozenset[bytes] = frozenset()
        if self._config:
            self._line_rules += self.redactor.config_rules
        self._all_lines = self._config or bool(self._line_rules)
        self._plan = self.redactor.plan(self._line_rules)
        self._inicont = self._config and not self._yaml and not self._json and not CONFIG_EXT.search(low)

    def _flush_lines(self) -> bytes:
        return b""

    def _count_config(self, size: int) -> None:
        """A huge "configuration file" is a dump: look at it like a log (anchored lines only) from now on."""
        self._config_bytes += size
        if self._config and self._config_bytes > CONFIG_LIMIT:
            self._config = self._inicont = False
            self._line_rules = tuple(r for r in self._line_rules if r not in self.redactor.config_rules)
            self._all_lines = bool(self._line_rules)
            self._plan = self.redactor.plan(self._line_rules)

    # -- blocks -----------------------------------------------------------------------------------
    def _headless_keys(self, block: bytes) -> bytes:
        """A key body whose BEGIN line was cut off (a tail): base64 lines then an END … PRIVATE KEY line."""
        if b"PRIVATE KEY-----" not in block and b"Static key V1-----" not in block:
            return block
        out, pos = [], 0
        for end in PEM_END.finditer(block):
            ls = block.rfind(b"\n", 0, end.start()) + 1
            if ls != end.start():
                continue
            start = ls
            while start > pos:
                prev = block.rfind(b"\n", 0, start - 1) + 1
                if not (BODY if start < ls else LAST).fullmatch(block, prev, start - 1):
                    break
                start = prev
            if start == ls:
                continue
            before = block[block.rfind(b"\n", 0, max(0, start - 1)) + 1:start]
            if PEM_BEGIN.search(before) or self._mode == ("pem",) and not out:
                continue
            if start == 0 and self._mode is not None:
                continue
            self._ln += block.count(b"\n", 0, start)
            marker = self._mark("private-key", block[start:ls])
            self._ln -= block.count(b"\n", 0, start)
            out += [block[pos:start], marker, b"\n" * block.count(b"\n", start, ls)]
            pos = ls
        if not out:
            return block
        out.append(block[pos:])
        return b"".join(out)

    # -- one line ---------------------------------------------------------------------------------
    def _line(self, line: bytes) -> bytes:
        first, self._first = self._first, False
        mode = self._mode
        if self._csv_file and first:
            self._csv_header(line)
            return line
        if self._csv is not None:
            return self._csv_line(line)
        if mode is not None and mode[0] == "jobj":
            return self._secret_objects(self._rules(line, line.lower()), mode[1])
        if mode is not None:
            handled = self._special(line, mode)
            if handled is None:
                handled = self._in_block(line, mode)
            if handled is not None:
                return handled
        low = line.lower()
        if PEM_ANCHOR in low:
            begin = PEM_BEGIN.search(line)
            if begin is not None:
                end = PEM_END.search(line, begin.end())
                marker = self._mark("private-key", line[begin.end():end.start() if end else None])
                if end is None:
                    self._mode = ("pem",)
                    return line[: begin.end()] + b"\n" + marker + b"\n"
                return line[: begin.end()] + marker + line[end.start():]
        if self._secret_anchors and b"&" in line:
            a = YAML_ANCHOR.search(line)
            if a is not None and a.group(1) in self._secret_anchors and not NOT_SECRET.match(a.group(2).strip()):
                value = a.group(2).rstrip(b" \t\r\n")
                if value in (b"|", b">", b"|-", b">-"):
                    self._mode = ("yblock", len(line) - len(line.lstrip()), "yaml-anchor")
                    return line
                marker = self._mark("yaml-anchor", value.strip(b"\"'"))
                quoted = value[:1] in (b'"', b"'")
                new = (value[:1] + marker + value[-1:]) if quoted else b'"' + marker + b'"'
                return line[:a.start(2)] + new + line[a.start(2) + len(value):]
        y = YAML_BLOCK.match(line) if b":" in line else None
        if y is not None and not NOT_SECRET_SUFFIX.search(y.group("k")):
            self._mode = ("yblock", len(y.group(1)), "yaml-block")
            return line
        if b"{" in line and SECRET_OBJ.search(line):
            line = self._secret_objects(line)
        line = self._rules(line, low)
        if b"data" in low:
            k = KDATA.match(line)
            if k:
                self._mode = ("kdata", len(k.group(1)), None, k.group(2) != b"data")
            elif JDATA.match(line):
                self._mode = ("jdata", b"stringdata" in low)
        if b"map" in low and MAP_START.match(line):  # anchors: "map " / "map\t"
            self._mode = ("nmap", 2)
        elif b"map" in low and MAP_SOURCE.match(line):  # map $http_x_api_key $client { "KEY" name; }
            self._mode = ("nmap", 1)
        elif self._inicont and INI_EMPTY.match(line) and not NOT_SECRET_SUFFIX.search(INI_EMPTY.match(line)["k"]):
            self._mode = ("icont", len(line) - len(line.lstrip()), "key-value")  # the value is on the next lines
        elif b"<name>" in line and XML_NAME.match(line) and not NOT_SECRET_SUFFIX.search(XML_NAME.match(line)["k"]):
            self._mode = ("xmlnext",)
        elif b'"' in line and line.rstrip().endswith(b":"):
            d = DANGLING_KEY.search(line)
            if d is not None and not NOT_SECRET_SUFFIX.search(d.group("k")):
                self._mode = ("jnext",)
        return line

    def _special(self, line: bytes, mode: tuple) -> bytes | None:
        kind = mode[0]
        if kind == "rest":  # the rest of a secret cut at a piece boundary
            self._mode = None
            lead = 1 if line[:1] == b"\x00" else 0
            m = re.compile(rb"[^\s,;&\"']*+").match(line, lead)
            assert m is not None
            return line[:lead] + self._mark("piece-rest", m.group()) + line[m.end():] if m.end() > lead else line
        if kind == "xmlnext":
            if not line.strip():
                return line
            self._mode = None
            m = XML_VALUE.match(line)
            if m is None or NOT_SECRET.match(m.group(1).strip()):
                return None
            return line[:m.start(1)] + self._mark("xml-secret", m.group(1)) + line[m.end(1):]
        if kind == "wrap":  # a value wrapped onto the next log line: its first generated-looking word
            self._mode = None
            line = self._line(line)
            m = WRAP_TOKEN.search(line, 0, 200)
            if m is None or not looks_generated(m.group()):
                return line
            return line[:m.start()] + self._mark("wrapped", m.group()) + line[m.end():]
        if kind == "nmap":
            stripped = line.strip()
            if stripped.startswith(b"}"):
                self._mode = None
                return line
            m = MAP_ENTRY.match(line) if mode[1] == 2 else MAP_FIRST.match(line)
            if m is None or stripped.startswith(b"#") or stripped.split()[0] in (b"default", b"hostnames", b"include",
                                                                                  b"volatile"):
                return line
            g = (2 if m.group(2) is not None else 3) if mode[1] == 2 else (1 if m.group(1) is not None else 2)
            value = m.group(g)
            if not value or is_setting(value) or value.startswith(b"$"):
                return line
            return line[:m.start(g)] + self._mark("nginx-map", value) + line[m.end(g):]
        if kind == "jnext":
            if not line.strip():
                return line
            self._mode = None
            m = NEXT_VALUE.match(line)
            if m is None or NOT_SECRET.match(m.group(2)):
                return None
            return line[:m.start(2)] + self._mark("key-value", m.group(2)) + line[m.end(2):]
        return None

    def _csv_header(self, line: bytes) -> None:
        delim = b"\t" if self.name.lower().endswith(".tsv") else b","
        cols = {i for i, f in enumerate(line.rstrip(b"\r\n").split(delim))
                if CSV_SECRET_COL.search(f.strip(b'" ')) and not NOT_SECRET_SUFFIX.search(f.strip(b'" '))}
        self._csv = (delim, cols) if cols else None

    def _csv_line(self, line: bytes) -> bytes:
        delim, cols = self._csv  # type: ignore[misc]
        body = line.rstrip(b"\r\n")
        fields = body.split(delim) if delim == b"\t" or b'"' not in body else _split_csv(body)
        out = []
        for i, f in enumerate(fields):
            inner = f[1:-1] if len(f) >= 2 and f[:1] == b'"' == f[-1:] else f
            if i in cols and inner and not not_secret(inner):
                marker = self._mark("csv-secret", inner)
                f = b'"' + marker + b'"' if len(inner) != len(f) else marker
            out.append(f)
        return delim.join(out) + line[len(body):]

    # -- rules ------------------------------------------------------------------------------------
    def _value_ok(self, r: Rule, m: re.Match[bytes], secret: bytes) -> bool:
        value = secret.strip()
        if r.check is not None and not r.check(value):
            return False
        if not r.check_value:
            return True
        v = value.rstrip(b";,") if value[:1] not in (b'"', b"'") else value
        key = m.group("k") if "k" in r.pattern.groupindex else None
        if not_secret(v) or not_secret(v.split(b"#")[0].strip() or b"x"):
            return False  # a placeholder, a path (also "path# comment"), a setting word
        setting_name, strong, pw_end = _key_class(key) if key else (False, True, False)
        if setting_name:
            return False
        if FLAG_VALUE.fullmatch(v) and not pw_end:
            return False  # numbers are settings (iterations = 4096, PASS_MAX_DAYS 99999)
        if "c" in r.pattern.groupindex and m.group("c") is not None:
            return secretish(v)  # commented out: prose is common there
        if not strong:
            return secretish(v)  # a weak word (pin, auth, …key): the value must look like a secret
        return True

    def _rules(self, line: bytes, low: bytes) -> bytes:
        red = self.redactor
        spans: list[tuple[int, int, bytes]] = []  # sorted, disjoint (start, end, marker); first rule wins
        for r in self._plan.select(low) if self._anchored else self._plan.always_rules:
            cands = []
            for m in r.pattern.finditer(line):
                group = next((g for g in red._groups[r.pattern] if m.group(g) is not None), None)
                if group is None:
                    continue
                start, end = m.span(group)
                if group == "s":  # trailing blanks are not part of the value
                    end = start + len(line[start:end].rstrip(b" \t\r\n"))
                    if r.name == "key-value" and line[start - 1:start] == b"=" and m.group("k").isupper() \
                            and line[m.end("k"):start] == b"=":  # VAR=value command …: one shell word
                        cut = re.search(rb"[ \t]", line[start:end])
                        end = start + cut.start() if cut else end
                secret = line[start:end]
                if not secret or secret.startswith(b"[REDACTED:") or red.allowed(secret):
                    continue
                if self._json and r.name == "key-value" and "kq" in r.pattern.groupindex and m.group("kq") is None \
                        and b":" in line[m.end("k"):start]:
                    continue  # "os-server-password:show" is inside a JSON key, not a setting
                cont = group == "s" and r.name == "key-value" and (len(secret) - len(secret.rstrip(b"\\"))) % 2 == 1
                if cont:  # a .properties value continued on the next line: keep the backslash
                    end -= 1
                if self._value_ok(r, m, secret):
                    cands.append((start, end, (r, m, group, line[start:end], cont)))
            if cands:
                accepted = _free(spans, cands)
                spans = _merge(spans, [(s, e, self._rule_marker(line, s, *info)) for s, e, info in accepted])
        if ARGV_HINT.search(low):
            cands = [(s, e, line[s:e]) for s, e in sorted(argv_spans(line)) if e > s]
            cands = [c for c in cands if not c[2].startswith(b"[REDACTED:") and not red.allowed(c[2])
                     and not NOT_SECRET.match(c[2])]
            spans = _merge(spans, [(s, e, self._mark("cli-password", v)) for s, e, v in _free(spans, cands)])
        if self._config and (b"=" in line or b":" in line):
            cands = []
            for m in GENERIC_KV.finditer(line):
                g = next(x for x in ("dq", "sq", "s") if m.group(x) is not None)
                value = m.group(g)
                if not value.startswith(b"[REDACTED:") and generic_ok(m.group("k"), value) and not red.allowed(value):
                    cands.append((*m.span(g), (g, value)))
            quote = self._yaml or self._json
            spans = _merge(spans, [(s, e, self._quoted(self._mark("generated", v), g == "s" and quote))
                                   for s, e, (g, v) in _free(spans, cands)])
        if not spans:
            return line
        if not self._config and self._mode is None and spans[-1][1] >= len(line.rstrip(b"\r\n")) - 1 \
                and len(line) > 60:
            self._mode = ("wrap",)  # a long log line ending in a secret: it may go on on the next line
        out, pos = [], 0
        for start, end, marker in spans:
            out += [line[pos:start], marker]
            pos = end
        out.append(line[pos:])
        return b"".join(out)

    @staticmethod
    def _quoted(marker: bytes, quote: bool) -> bytes:
        return b'"' + marker + b'"' if quote else marker

    def _rule_marker(self, line: bytes, start: int, r: Rule, m: re.Match[bytes], group: str, secret: bytes,
                     cont: bool) -> bytes:
        if cont:
            self._mode = ("cont",)
        elif r.name == "key-value" and group == "s" and self._inicont and m.start() == 0 \
                and not ("c" in r.pattern.groupindex and m.group("c")) and not secret.endswith((b";", b"{", b",")):
            self._mode = ("icont", len(line) - len(line.lstrip()), "key-value")
        marker = self._mark(r.name, secret)
        quote = group in ("s", "t") and r.name == "key-value" and (self._yaml or self._json or (
            "kq" in r.pattern.groupindex and m.group("kq") is not None)) and line[start - 1:start] not in (b'"', b"'")
        return self._quoted(marker, quote)


@functools.lru_cache(maxsize=4096)
def _key_class(key: bytes) -> tuple[bool, bool, bool]:
    """(names a setting about a secret, holds a strong secret word, ends in a password word)."""
    return (NOT_SECRET_SUFFIX.search(key) is not None and SECRET_ID.search(key) is None,
            STRONG_KEY.search(key) is not None, PW_END.search(key) is not None)


def secret_anchors(text: bytes) -> frozenset[bytes]:
    """YAML anchor names used as the value of a secret-named key (``password: *db_pw``)."""
    names = set()
    for m in YAML_ALIAS.finditer(text):
        if not NOT_SECRET_SUFFIX.search(m.group("k")):
            names.add(m.group("a"))
    return frozenset(names)


def _free(spans: list[tuple[int, int, bytes]], cands: list[tuple]) -> list[tuple]:
    """The candidates (sorted by start) overlapping neither ``spans`` (sorted, disjoint) nor each other."""
    out, j, last = [], 0, -1
    for c in cands:
        s, e = c[0], c[1]
        while j < len(spans) and spans[j][1] <= s:
            j += 1
        if (j < len(spans) and spans[j][0] < e) or s < last:
            continue
        out.append(c)
        last = e
    return out


def _merge(a: list[tuple[int, int, bytes]], b: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
    return sorted(a + b) if a and b else a or b


def _split_csv(body: bytes) -> list[bytes]:
    """Split one CSV line on commas outside double quotes (linear)."""
    fields, pos = [], 0
    while True:
        m = CSV_FIELD.match(body, pos)
        assert m is not None
        fields.append(m.group())
        pos = m.end()
        if pos >= len(body) or body[pos:pos + 1] != b",":
            break
        pos += 1
    return fields
