"""Consistent pseudonyms for identifiers, and ``unmask`` to turn them back.

One scan of a block (hyperscan, or cheap ``re``/``find`` gates) marks the lines that may
hold e-mail addresses, host names (FQDNs), IPv6 (full, compressed, IPv4-embedding) and MAC
addresses, user names (``user=bob``, ``/home/bob``) or the user's keywords; only those
lines go through the exact patterns. IPv4 addresses — the bulk of most logs — are replaced
in the whole block at once with one ``re.split`` and C-level maps over a dict of known
values. Each distinct value gets one pseudonym for the whole bundle: its kind and a keyed hash,
``ip-`` + the first 16 hex digits (64 bits) of HMAC-SHA256(case key, kind NUL value), the
value normalised first (host names, e-mail, IPv6 and MAC lower-cased, IPv6 compressed, MAC with
``:``). With the same case key (:mod:`redaction.casekey`) every shard of a case maps a value to
the same pseudonym without coordination; without one, a random per-run key keeps pseudonyms
unlinkable across unrelated runs. 64 bits: among 10^6 distinct values of one kind the chance of
any collision is n²/2^65 ≈ 2.7e-8 (a collision is detected when the mapping is written). The HMAC
is computed once per distinct value (values are cached). The mapping — and a per-run key — stays
with the customer (:func:`save_mapping` writes it 0600) and never enters the bundle.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import threading
from binascii import hexlify
from collections.abc import Callable, Iterable
from itertools import chain, filterfalse, repeat
from operator import itemgetter

# the mapping file lives in redaction/mapping.py; these names stay importable from here
from redaction.mapping import (
    PSEUDONYM,
    PseudonymMap,
    load_mapping,
    load_run_key,
    merge_mappings,
    save_mapping,
    unmask,
)

TLDS = (b"com|net|org|edu|gov|mil|int|io|co|biz|info|local|localdomain|internal|intranet|intra|lan|corp|home|cloud"
        b"|example|test|invalid|arpa|de|uk|fr|nl|ch|at|be|se|no|dk|fi|it|es|pl|cz|ie|us|ca|au|nz|jp|cn|in|br|ru|eu")
SYSTEM_USERS = {b"root", b"nobody", b"daemon", b"www-data", b"postgres", b"mysql", b"redis", b"haproxy", b"tomcat",
                b"postfix", b"prometheus", b"syslog", b"admin", b"user", b"users", b"none", b"null", b"true", b"false"}


def trie(words: Iterable[bytes]) -> bytes:
    """A regex matching exactly the literal ``words``, shaped as a trie (``re`` tries alternatives one by one)."""
    tree: dict = {}
    for w in words:
        node = tree
        for c in w:
            node = node.setdefault(c, {})
        node[None] = {}

    def emit(node: dict) -> bytes:
        ends = None in node
        alts = [re.escape(bytes([c])) + emit(child)
                for c, child in sorted((k, v) for k, v in node.items() if k is not None)]
        if not alts:
            return b""
        body = alts[0] if len(alts) == 1 else b"(?:" + b"|".join(alts) + b")"
        if ends:
            return (b"(?:" + body + b")?") if len(alts) == 1 else body + b"?"
        return body

    return emit(tree)


HEX = rb"[0-9A-Fa-f]"
# (kind, pure gate, pattern): a pattern runs on the lines holding its gate (a cheap search); IPv4 runs on all
_PASSES = [
    ("email", b"@", rb"(?<![\w.+-])(?P<email>[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"),
    ("host", rb"\.(?:" + trie(TLDS.split(b"|")) + rb")(?![\w-])",
     rb"(?<![\w.-])(?P<host>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?:" + TLDS + rb"))(?![\w-]|\.\w)"),
    # full, compressed and IPv4-embedding forms; ipaddress has the last word
    ("ip6", rb"::|:" + HEX + rb"{1,4}:" + HEX + rb"{1,4}:" + HEX + rb"{1,4}:",
     rb"(?<![\w:.])(?P<ip6>" + HEX + rb"{0,4}(?::" + HEX + rb"{0,4}){2,7}(?:\.\d{1,3}){0,3})(?![\w:]|\.\d)"),
    ("mac", (b":" + HEX + b"{2}:" + HEX + b"{2}:", b"-" + HEX + b"{2}-" + HEX + b"{2}-"),
     rb"(?<![\w:-])(?P<mac>" + HEX + rb"{2}(?P<sep>[:-])" + HEX + rb"{2}(?:(?P=sep)" + HEX + rb"{2}){4})(?![\w:-])"),
    ("user", (b"user", b"login", b"owner", b"uid", b"account", b"/home/"),
     rb"(?:\b(?:user(?:name)?|login|owner|uid|account)[=: ]\s*\"?|/home/)(?P<user>[A-Za-z_][\w.-]{0,31})(?![\w@])"),
]
# IPv4, found from its first dot (a literal: ``re`` skips to it at memchr speed) with the first octet captured
# by a look-behind: octets 0-255, not 0.x or 127.x, no [\w.-] before, no \w or .digit after
_OCTET = rb"(?:25[0-5]|2[0-4]\d|[01]\d\d|\d\d?)"
IP4 = re.compile(rb"\.(?=\d{1,3}\.\d{1,3}\.\d)(?:(?<=[^\w.-](\d\d\.))"
                 rb"|(?<=[^\w.-]((?!127)(?:25[0-5]|2[0-4]\d|[01]\d\d)\.))|(?<=[^\w.-]([1-9]\.)))"
                 rb"(" + _OCTET + rb"\." + _OCTET + rb"\." + _OCTET + rb")(?!\w|\.\d)")
DIGITS = b"0123456789"
PREFIX = {"email": "email", "ip4": "ip", "ip6": "ip6", "mac": "mac", "host": "host", "user": "user", "kw": "name"}
DIGEST_BYTES = 8  # of the HMAC kept, shown as 16 hex digits: 64 bits
_FIRST = itemgetter(slice(0, DIGEST_BYTES))


def hmac_sha256(key: bytes) -> Callable[[bytes], bytes]:
    """HMAC-SHA256 under ``key`` (RFC 2104) with the padded key states computed once: ~1 µs a value, where
    ``hmac.digest`` (OpenSSL 3 looks the algorithm up on every call) takes ~7 µs."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    inner_copy = hashlib.sha256(bytes(b ^ 0x36 for b in block)).copy
    outer_copy = hashlib.sha256(bytes(b ^ 0x5C for b in block)).copy

    def mac(message: bytes) -> bytes:
        inner, outer = inner_copy(), outer_copy()
        inner.update(message)
        outer.update(inner.digest())
        return outer.digest()

    return mac


def key_id(key: bytes) -> str:
    """A short public name of a key (not the key): equal ids = pseudonyms comparable across shards."""
    return hashlib.sha256(b"casepack-case-key-id\0" + key).hexdigest()[:16]


class PureGates:
    """Which lines hold a pass's gate: ``re`` searches with a literal first byte, and ``bytes.find``."""

    name = "re"

    def __init__(self, gates: list[tuple[int, bytes | tuple[bytes, ...], bool]]) -> None:
        self._regexes: list[tuple[int, re.Pattern[bytes]]] = []
        self._finds: list[tuple[int, bytes]] = []  # on the lower-cased block
        for bit, gate, literal in gates:
            if literal:
                self._finds += [(bit, g) for g in gate]
            else:
                self._regexes += [(bit, re.compile(g)) for g in ((gate,) if isinstance(gate, bytes) else gate)]

    def lines(self, block: bytes) -> dict[int, int]:
        marks: dict[int, int] = {}
        n = len(block)
        for bit, pattern in self._regexes:
            search, pos = pattern.search, 0
            while (m := search(block, pos)) is not None:
                start = block.rfind(b"\n", 0, m.start()) + 1
                marks[start] = marks.get(start, 0) | bit
                pos = block.find(b"\n", m.start()) + 1 or n
        if self._finds:
            low = block.lower()
            for bit, word in self._finds:
                find, pos = low.find, 0
                while (at := find(word, pos)) >= 0:
                    start = block.rfind(b"\n", 0, at) + 1
                    marks[start] = marks.get(start, 0) | bit
                    pos = block.find(b"\n", at) + 1 or n
        return marks


class HyperGates:
    """The same lines (or more: gates here are looser) from one hyperscan pass."""

    name = "hyperscan"

    def __init__(self, gates: list[tuple[int, bytes | tuple[bytes, ...], bool]], keywords: tuple[bytes, ...]) -> None:
        import hyperscan

        exprs, ids, flags = [], [], []
        for bit, gate, literal in gates:
            if bit == 1 and keywords:  # keywords: literals, caseless
                for k in keywords:
                    exprs.append(re.escape(k))
                    ids.append(bit)
                    flags.append(hyperscan.HS_FLAG_CASELESS)
                continue
            for g in (gate,) if isinstance(gate, bytes) else gate:
                exprs.append(re.escape(g) if literal else _HS_GATES.get(g, g))
                ids.append(bit)
                flags.append(hyperscan.HS_FLAG_CASELESS if literal else 0)
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(expressions=exprs, ids=ids, elements=len(exprs), flags=flags)
        self._proto = hyperscan.Scratch(self._db)
        self._local = threading.local()

    def lines(self, block: bytes) -> dict[int, int]:
        hits: list[tuple[int, int]] = []
        add = hits.append

        def on_match(bit: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            add((end - 1, bit))

        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._proto.clone()
        self._db.scan(block, match_event_handler=on_match, scratch=scratch)
        marks: dict[int, int] = {}
        for at, bit in hits:
            start = block.rfind(b"\n", 0, at) + 1
            marks[start] = marks.get(start, 0) | bit
        return marks


# hyperscan has no look-around: the host gate checks the next byte instead (a superset is fine)
_HS_GATES = {_PASSES[1][1]: rb"\.(?:" + TLDS + rb")(?:[^\w-]|$)"}


def keyed_name(key: bytes, kind: str, value: str) -> str:
    """The pseudonym :class:`Pseudonymizer` with ``key`` gives ``value`` as a ``kind`` (e.g. a host's bundle
    name is ``keyed_name(key, "kw", name)``), computed alone: ``merge`` maps inventory names this way."""
    raw = value.encode()
    if kind in ("host", "email", "kw", "ip6", "mac"):
        raw = raw.lower()
    if kind == "mac":
        raw = raw.replace(b"-", b":")
    prefix = PREFIX[kind].encode()
    digest = hmac.digest(key, prefix + b"\0" + raw, "sha256")
    return (prefix + b"-" + hexlify(digest[:DIGEST_BYTES])).decode()


class Pseudonymizer:
    """Thread-safe; one per bundle so pseudonyms are consistent across files and hosts."""

    def __init__(self, keywords: list[str] | tuple[str, ...] = (), mapping: dict[str, str] | None = None,
                 scanner: str | None = None, key: bytes | None = None) -> None:
        """``key``: the case key (32 bytes); None: a random key for this run only (kept in the mapping file)."""
        passes: list[tuple[str, bytes | tuple[bytes, ...] | None, bytes]] = list(_PASSES)
        kws = tuple(k.encode() for k in keywords)
        if kws:
            words = b"|".join(re.escape(k) for k in sorted(kws, key=len, reverse=True))
            passes.insert(0, ("kw", rb"(?i:" + words + rb")", rb"(?P<kw>(?i:(?<!\w)(?:" + words + rb")(?!\w)))"))
        self._passes = [(1 << i, kind, re.compile(pattern, re.IGNORECASE if kind == "user" else 0))
                        for i, (kind, _gate, pattern) in enumerate(passes)]
        gates = [(1 << i, gate, kind == "user") for i, (kind, gate, _p) in enumerate(passes)]
        self.gates: PureGates | HyperGates = PureGates(gates)
        choice = scanner or os.environ.get("CASEPACK_SCANNER", "auto")
        if choice != "re":
            try:
                self.gates = HyperGates(gates, kws)
            except ImportError:
                if choice == "hyperscan":
                    raise
        self.random_key = key is None
        self.key = os.urandom(32) if key is None else key
        self._mac = hmac_sha256(self.key)
        self._forward: dict[bytes, bytes] = {}
        self._lock = threading.Lock()
        for pseudo, real in (mapping or {}).items():
            self._forward[real.encode()] = pseudo.encode()

    def mapping(self) -> PseudonymMap:
        """pseudonym → real value, carrying the key it was made with (a per-run key is saved with it)."""
        with self._lock:
            out = PseudonymMap({v.decode(): k.decode("utf-8", "replace") for k, v in sorted(self._forward.items(),
                                                                                           key=lambda kv: kv[1])})
            if len(out) != len(self._forward):
                raise ValueError("two values got the same pseudonym (a 64-bit hash collision); run again")
        out.key_id = key_id(self.key)
        out.key = self.key if self.random_key else None
        return out

    def pseudonym(self, kind: str, value: str) -> str:
        """The pseudonym of ``value`` as an identifier of ``kind`` (e.g. a host name for bundle paths)."""
        return self._name(kind, value.encode()).decode()

    def _name(self, kind: str, value: bytes) -> bytes:
        key = value.lower() if kind in ("host", "email", "kw", "ip6", "mac") else value
        if kind == "mac":
            key = key.replace(b"-", b":")
        found = self._forward.get(key)
        if found is not None:
            return found
        self._add(PREFIX[kind], [key])
        return self._forward[key]

    def _add(self, prefix: str, values: Iterable[bytes]) -> None:
        """Name the new ``values`` by their keyed hash (under the lock: other threads may be adding too)."""
        head = prefix.encode() + b"-"
        with self._lock:  # C-level maps: Python runs per block, not per value
            forward = self._forward
            new = list(filterfalse(forward.__contains__, values))
            digests = map(self._mac, map((head[:-1] + b"\0").__add__, new))
            forward.update(zip(new, map(head.__add__, map(hexlify, map(_FIRST, digests))), strict=True))

    def _replace(self, m: re.Match[bytes], kind: str, counts: dict[str, int]) -> bytes:
        value = m.group(kind)
        if value is None:
            return m.group(0)
        if kind == "ip6":
            try:
                addr = ipaddress.IPv6Address(value.decode())
            except ValueError:
                return m.group(0)
            if addr.is_loopback or addr.is_unspecified:
                return m.group(0)
            value = addr.compressed.encode()  # one pseudonym whatever the spelling
        elif kind == "user" and value.lower() in SYSTEM_USERS:
            return m.group(0)
        pseudo = self._name(kind, value)
        counts[f"pseudonym-{PREFIX[kind]}"] = counts.get(f"pseudonym-{PREFIX[kind]}", 0) + 1
        start, end = m.span(kind)
        whole = m.group(0)
        return whole[: start - m.start()] + pseudo + whole[end - m.start():]

    def apply(self, block: bytes, counts: dict[str, int]) -> bytes:
        """``block`` (whole lines) with every identifier replaced; ``counts`` gets one count per replacement."""
        marks = self.gates.lines(block)
        if marks:
            out: list[bytes] = []
            pos = 0
            for start in sorted(marks):
                mask = marks[start]
                end = block.find(b"\n", start) + 1 or len(block)
                line = block[start:end]
                for bit, kind, pattern in self._passes:
                    if mask & bit:
                        line = pattern.sub(lambda m, k=kind: self._replace(m, k, counts), line)
                out += [block[pos:start], line]
                pos = end
            out.append(block[pos:])
            block = b"".join(out)
        return self._ip4(block, counts)

    def _ip4(self, block: bytes, counts: dict[str, int]) -> bytes:
        """Every IPv4 address at once: ``re.split`` and C-level maps, Python only per new address."""
        parts = IP4.split(b"\n" + block)  # the newline stands for "nothing before"
        if len(parts) == 1:
            return block
        firsts = filter(None, chain.from_iterable(zip(parts[1::5], parts[2::5], parts[3::5], strict=True)))  # "10." …
        keys = list(map(bytes.__add__, firsts, parts[4::5]))
        try:
            names = list(map(self._forward.__getitem__, keys))
        except KeyError:
            self._add("ip", dict.fromkeys(keys))
            names = list(map(self._forward.__getitem__, keys))
        heads = parts[0::5]
        out: list[bytes] = [b""] * (2 * len(keys) + 1)
        out[0:-1:2] = map(bytes.rstrip, heads[:-1], repeat(DIGITS))  # the first octet ends each head
        out[-1] = heads[-1]
        out[0] = out[0][1:]
        out[1::2] = names
        counts["pseudonym-ip"] = counts.get("pseudonym-ip", 0) + len(keys)
        return b"".join(out)


__all__ = ["PSEUDONYM", "PseudonymMap", "Pseudonymizer", "keyed_name", "load_mapping", "load_run_key",
           "merge_mappings", "save_mapping", "unmask"]
