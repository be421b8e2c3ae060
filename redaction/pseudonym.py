"""Consistent pseudonyms for identifiers, and ``unmask`` to turn them back.

One compiled alternation finds IPv4/IPv6 and MAC addresses, e-mail addresses,
host names (FQDNs), user names (``user=bob``, ``/home/bob``) and the user's
keywords in a whole block at once; each distinct value gets one pseudonym
(``ip-0007``, ``host-0002`` …) for the whole bundle. The mapping stays with the
customer (:func:`save_mapping` writes it 0600) and never enters the bundle.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import threading
from pathlib import Path

TLDS = (b"com|net|org|edu|gov|mil|int|io|co|biz|info|local|localdomain|internal|intranet|intra|lan|corp|home|cloud"
        b"|example|test|invalid|arpa|de|uk|fr|nl|ch|at|be|se|no|dk|fi|it|es|pl|cz|ie|us|ca|au|nz|jp|cn|in|br|ru|eu")
SYSTEM_USERS = {b"root", b"nobody", b"daemon", b"www-data", b"postgres", b"mysql", b"redis", b"haproxy", b"tomcat",
                b"postfix", b"prometheus", b"syslog", b"admin", b"user", b"users", b"none", b"null", b"true", b"false"}

# (kind, gate, pattern): a pattern runs only on the lines where its gate (a cheap regex) matches; ip4 runs on all
_PASSES = [
    ("email", rb"@", rb"(?<![\w.+-])(?P<email>[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"),
    ("host", rb"\.(?:" + TLDS + rb")(?![\w-])",
     rb"(?<![\w.-])(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:" + TLDS + rb"))(?![\w-]|\.\w)"),
    ("ip6", rb"::|:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:",
     rb"(?<![\w:.])(?P<ip6>(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,6}|[0-9A-Fa-f]{1,4}))(?![\w:])"),
    ("mac", rb"[:-][0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}[:-]",
     rb"(?<![\w:-])(?P<mac>[0-9A-Fa-f]{2}(?P<sep>[:-])[0-9A-Fa-f]{2}(?:(?P=sep)[0-9A-Fa-f]{2}){4})(?![\w:-])"),
    ("user", None,
     rb"(?:\b(?:user(?:name)?|login|owner|uid|account)[=: ]\s*\"?|/home/)(?P<user>[A-Za-z_][\w.-]{0,31})(?![\w@])"),
]
IP4 = re.compile(rb"(?P<ip4>\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})")  # octets and boundaries checked on a hit
USER_GATES = (b"user", b"login", b"owner", b"uid", b"account", b"/home/")
PREFIX = {"email": "email", "ip4": "ip", "ip6": "ip6", "mac": "mac", "host": "host", "user": "user", "kw": "name"}
PSEUDONYM = re.compile(r"\b(?:email|ip|ip6|mac|host|user|name)-\d{4,}\b")


class Pseudonymizer:
    """Thread-safe; one per bundle so pseudonyms are consistent across files and hosts."""

    def __init__(self, keywords: list[str] | tuple[str, ...] = (), mapping: dict[str, str] | None = None) -> None:
        passes = list(_PASSES)
        if keywords:
            words = b"|".join(re.escape(k.encode()) for k in sorted(keywords, key=len, reverse=True))
            passes.insert(0, ("kw", rb"(?i:" + words + rb")", rb"(?P<kw>(?i:(?<!\w)(?:" + words + rb")(?!\w)))"))
        self._passes = [(kind, re.compile(gate) if gate else None,
                         re.compile(pattern, re.IGNORECASE if kind == "user" else 0)) for kind, gate, pattern in passes]
        self._forward: dict[bytes, bytes] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        for pseudo, real in (mapping or {}).items():
            self._forward[real.encode()] = pseudo.encode()
            kind, _, number = pseudo.rpartition("-")
            self._counts[kind] = max(self._counts.get(kind, 0), int(number))

    def mapping(self) -> dict[str, str]:
        with self._lock:
            return {v.decode(): k.decode("utf-8", "replace") for k, v in sorted(self._forward.items(),
                                                                               key=lambda kv: kv[1])}

    def _name(self, kind: str, value: bytes) -> bytes:
        key = value.lower() if kind in ("host", "email", "kw", "ip6", "mac") else value
        found = self._forward.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._forward.get(key)
            if found is None:
                prefix = PREFIX[kind]
                self._counts[prefix] = n = self._counts.get(prefix, 0) + 1
                found = self._forward[key] = f"{prefix}-{n:04d}".encode()
        return found

    def _replace(self, m: re.Match[bytes], kind: str, counts: dict[str, int]) -> bytes:
        value = m.group(kind)
        if value is None:
            return m.group(0)
        if kind == "ip4":  # the boundaries a look-around would check, kept out of the hot pattern
            text, start, end = m.string, m.start(), m.end()
            before, after = text[start - 1:start] if start else b"", text[end:end + 1]
            if before.isalnum() or before in (b".", b"_", b"-") and before or after.isalnum() or after == b"_" \
                    or (after == b"." and text[end + 1:end + 2].isdigit()) \
                    or any(int(o) > 255 for o in value.split(b".")):
                return value
        if kind == "ip6":
            if b"::" not in value and value.count(b":") != 7:
                return m.group(0)
            try:
                ipaddress.IPv6Address(value.decode())
            except ValueError:
                return m.group(0)
        elif kind == "user" and value.lower() in SYSTEM_USERS:
            return m.group(0)
        elif kind == "ip4" and value.startswith((b"127.", b"0.")):
            return m.group(0)
        pseudo = self._name(kind, value)
        counts[f"pseudonym-{PREFIX[kind]}"] = counts.get(f"pseudonym-{PREFIX[kind]}", 0) + 1
        start, end = m.span(kind)
        whole = m.group(0)
        return whole[: start - m.start()] + pseudo + whole[end - m.start():]

    def apply(self, block: bytes, counts: dict[str, int]) -> bytes:
        """``block`` (whole lines) with every identifier replaced; ``counts`` gets one count per replacement."""
        for kind, gate, pattern in self._passes:
            block = self._gated(block, kind, gate, pattern, counts)
        return IP4.sub(lambda m: self._replace(m, "ip4", counts), block)

    def _gated(self, block: bytes, kind: str, gate: re.Pattern[bytes] | None, pattern: re.Pattern[bytes],
               counts: dict[str, int]) -> bytes:
        out: list[bytes] = []
        pos = 0
        replace = self._replace
        low = block.lower() if gate is None else b""
        while True:
            if gate is None:  # literal gates on the lower-cased block: bytes.find is far faster than re here
                hits = [i for i in (low.find(g, pos) for g in USER_GATES) if i >= 0]
                if not hits:
                    break
                at = min(hits)
            else:
                hit = gate.search(block, pos)
                if hit is None:
                    break
                at = hit.start()
            start = block.rfind(b"\n", 0, at) + 1
            end = block.find(b"\n", at)
            end = len(block) if end < 0 else end + 1
            out += [block[pos:start], pattern.sub(lambda m: replace(m, kind, counts), block[start:end])]
            pos = end
        if not out:
            return block
        out.append(block[pos:])
        return b"".join(out)


def save_mapping(mapping: dict[str, str], path: str | os.PathLike[str]) -> None:
    """Write the pseudonym → real-value map readable by its owner only (0600, never into the bundle)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"format": "casepack-mapping/1", "pseudonyms": mapping}, f, indent=1, sort_keys=True)
        f.write("\n")


def load_mapping(path: str | os.PathLike[str]) -> dict[str, str]:
    try:
        data = json.loads(Path(path).read_text())
        mapping = data["pseudonyms"]
        assert isinstance(mapping, dict)
    except OSError as exc:
        raise ValueError(f"cannot read mapping {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError, AssertionError):
        raise ValueError(f"{path} is not a casepack mapping file") from None
    return {str(k): str(v) for k, v in mapping.items()}


def unmask(text: str, mapping: dict[str, str]) -> str:
    """Replace every pseudonym in ``text`` (a vendor's reply) with the real value."""
    return PSEUDONYM.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
