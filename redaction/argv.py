"""Command lines (ps output, shell history, audit logs): per-tool password options and positions.

A line holding a tool's name is cut into shell words once (linear), then each tool's rule
picks the words that are secrets: ``sshpass -p X``, ``htpasswd -b FILE USER X``, ``mysql -pX``,
``curl -u user:X``, ``redis-cli -a X``, ``ldapsearch -w X``, ``smbclient -U user%X``, and
``echo X | sudo -S`` / ``| passwd --stdin`` / ``| chpasswd``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

TOOLS = re.compile(rb"(?<![\w.-])(sshpass|htpasswd|htdigest|mysql\w*+|mariadb\w*+|curl|wget|redis-cli"
                   rb"|ldap\w++|smbclient|rpcclient|mount\.cifs|psql|pg_dump|mongo\w*+|rabbitmqctl)(?![\w-])",
                   re.IGNORECASE)
WORD = re.compile(rb"[ \t]*+(?:'([^'\n]*+)'|\"((?:[^\"\\\n]|\\.)*+)\"|([^\s|;&'\"]++))")
PIPE_IN = re.compile(rb"\b(?:echo|printf)[ \t]++(?:-[neE]++[ \t]++)?(?:'([^'\n]*+)'|\"((?:[^\"\\\n]|\\.)*+)\"|"
                     rb"([^\s|;&'\"]++))[ \t]*+\|[ \t]*+(?:sudo[ \t]++(?:-\w++[ \t]++)*?-\w*S|sudo[ \t]++--stdin"
                     rb"|passwd[ \t]++(?:[^|;\n ]++[ \t]++)*?--stdin|chpasswd|(?:\S*/)?passwd[ \t]++--stdin)",
                     re.IGNORECASE)
ANCHORS = (b"sshpass", b"htpasswd", b"htdigest", b"mysql", b"mariadb", b"curl", b"wget", b"redis-cli", b"ldap",
           b"smbclient", b"rpcclient", b"cifs", b"mongo", b"rabbitmqctl", b"echo", b"printf", b"psql",
           b"pg_dump")
MAX_WORDS = 64


def _words(line: bytes, pos: int) -> list[tuple[int, int]]:
    """Spans of the shell words of one command starting at ``pos`` (up to | ; & or the line's end)."""
    spans = []
    while len(spans) < MAX_WORDS:
        m = WORD.match(line, pos)
        if m is None or m.end() == pos:
            break
        g = next(i for i in (1, 2, 3) if m.group(i) is not None)
        spans.append(m.span(g))
        pos = m.end()
    return spans


def _tool_spans(tool: bytes, line: bytes, words: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    texts = [line[s:e] for s, e in words]
    for i, (w, (s, e)) in enumerate(zip(texts, words, strict=True)):
        nxt = words[i + 1] if i + 1 < len(words) else None
        low = w.lower()
        if tool == b"sshpass" and w.startswith(b"-p"):
            yield (s + 2, e) if len(w) > 2 else (nxt or (e, e))
        elif tool.startswith((b"mysql", b"mariadb")) and w.startswith(b"-p") and len(w) > 2 \
                and not w.startswith(b"-p-"):
            yield s + 2, e
        elif tool in (b"curl", b"wget") and (w in (b"-u", b"--user", b"-U", b"--proxy-user") or w.startswith(b"-u")):
            value = (nxt if len(w) <= 2 or w.startswith(b"--") else (s + 2, e))
            if value and b":" in line[value[0]:value[1]]:
                yield line.index(b":", value[0]) + 1, value[1]
        elif tool in (b"curl", b"wget") and low.startswith((b"--user=", b"--proxy-user=")) and b":" in w[7:]:
            yield line.index(b":", line.index(b"=", s) + 1) + 1, e
        elif tool == b"redis-cli" and w in (b"-a", b"--pass", b"--askpass") and nxt:
            yield nxt
        elif tool.startswith(b"ldap") and w in (b"-w", b"-y") and nxt and w == b"-w":
            yield nxt
        elif tool in (b"smbclient", b"rpcclient", b"mount.cifs") and b"%" in w and i and \
                texts[i - 1] in (b"-U", b"--user"):
            yield line.index(b"%", s) + 1, e
        elif tool in (b"smbclient", b"rpcclient") and w.lower().startswith((b"-u", b"--user=")) and b"%" in w:
            yield line.index(b"%", s) + 1, e
        elif tool.startswith(b"mongo") and w in (b"-p", b"--password") and nxt:
            yield nxt
        elif tool == b"rabbitmqctl" and low in (b"add_user", b"change_password") and i + 2 < len(words):
            yield words[i + 2]
    if tool in (b"htpasswd", b"htdigest"):
        flags = b"".join(t[1:] for t in texts if t.startswith(b"-") and len(t) > 1)
        if b"b" in flags:
            args = [sp for t, sp in zip(texts, words, strict=True) if not t.startswith(b"-")]
            need = 2 if b"n" in flags else 3
            if len(args) >= need:
                yield args[need - 1]


def argv_spans(line: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each secret argument on this line."""
    pos = 0
    while (m := TOOLS.search(line, pos)) is not None:
        words = _words(line, m.end())
        yield from _tool_spans(m.group(1).lower(), line, words)
        pos = max(m.end(), words[-1][1] if words else 0)  # a tool's own words are not searched again
    for m in PIPE_IN.finditer(line):
        g = next(i for i in (1, 2, 3) if m.group(i) is not None)
        yield m.span(g)
