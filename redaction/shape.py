"""What a value looks like: generated (a secret under any name), a setting, or an identifier.

All checks run on one value (bounded by its line) with linear-time regexes.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from redaction.rules import NOT_SECRET

# keys whose values are identifiers, hashes of public things or settings, even when they look generated
ID_KEY = re.compile(
    rb"(?:^|[_.-])(?:id|uuid|guid|uid|gid|checksum|hash|sha\d*|md5|digest|commit|rev|revision|fingerprint|etag"
    rb"|version|ver|serial|build|path|file|dir|url|uri|host|hostname|name|user|username|login|email|dn|ssid"
    rb"|mac|ip|address|addr|port|region|zone|bucket|topic|queue|channel|cluster|node|instance|image|tag|ref"
    rb"|branch|sum|cn|ou|dc|domain|realm|issuer|audience|scope|type|mode|format|locale|lang|charset"
    rb"|timezone|tz|cipher|ciphers|algorithm|curve|class|classname|listener|handler|driver)s?$",
    re.IGNORECASE,
)
UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
HEX = re.compile(rb"[0-9a-fA-F]+")
PATHLIKE = re.compile(rb"(?:/|\./|\.\./|~/)[\w./\\-]*+")
HOSTPORT = re.compile(rb"(?:[\w-]+\.)*[\w-]+:\d{1,5}")
VERSION = re.compile(rb"v?\d+(?:\.\d+)+(?:[-+.][\w.]+)?")
DATEISH = re.compile(rb"\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d)?(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)?")
CIPHERS = re.compile(rb"[!+-]?[\w.@=+-]++(?:[:,][!+-]?[\w.@=+-]++)*+")
CIPHER_WORD = re.compile(rb"AES|CHACHA|ECDHE|ECDSA|RSA|SHA\d|GCM|HIGH|MEDIUM|NULL|CBC|DHE|PSK-|TLS_|SECP|X25519")
DOTTED = re.compile(rb"[A-Za-z_][\w$-]*+(?:\.[\w$-]++)++")
TOKEN_CHARS = re.compile(rb"[A-Za-z0-9+/=_.~!@#$%^&*?-]+")


def entropy(value: bytes) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values()) if n else 0.0


def classes(value: bytes) -> int:
    """How many of lower, upper, digit, symbol the value mixes."""
    return (any(97 <= c <= 122 for c in value) + any(65 <= c <= 90 for c in value)
            + any(48 <= c <= 57 for c in value) + any(not (c < 128 and chr(c).isalnum()) for c in value))


def is_setting(value: bytes) -> bool:
    """Numbers, durations, booleans, placeholders, paths, host:port, versions, dates, cipher lists."""
    v = value.strip()
    return (not v or NOT_SECRET.match(v) is not None or PATHLIKE.fullmatch(v) is not None
            or HOSTPORT.fullmatch(v) is not None or VERSION.fullmatch(v) is not None
            or DATEISH.fullmatch(v) is not None
            or ((b":" in v or b"," in v or v.startswith(b"TLS_")) and CIPHER_WORD.search(v) is not None
                and CIPHERS.fullmatch(v) is not None))


def looks_generated(value: bytes, min_len: int = 16) -> bool:
    """A machine-made secret: long, one token, mixed classes (or long hex/base64), high entropy."""
    v = value.strip()
    if len(v) < min_len or len(v) > 4096 or not TOKEN_CHARS.fullmatch(v) or is_setting(v):
        return False
    if UUID.fullmatch(v):
        return False
    if HEX.fullmatch(v):
        return len(v) >= 32 and entropy(v) >= 3.0
    if DOTTED.fullmatch(v):
        return False
    mixed = classes(v)
    has_digit = any(48 <= c <= 57 for c in v)
    if mixed < 2 or not (has_digit or (any(97 <= c <= 122 for c in v) and any(65 <= c <= 90 for c in v))):
        return False  # _DBC_BASEPATH_/_DBC_DBNAME_: no digit and one case only is a name
    if v.isalpha():  # CamelCase words are names; random letters switch case often
        switches = sum((a < 97) != (b < 97) for a, b in zip(v, v[1:], strict=False))
        if switches * 3 < len(v):
            return False
    return entropy(v) >= 3.3


def _wordmix(word: bytes) -> bool:
    return any(48 <= c <= 57 for c in word) and any(c >= 65 and chr(c).isalpha() for c in word)


def secretish(value: bytes) -> bool:
    """Under a weak secret word (auth, key, pin) or in a comment: not a setting, not a plain word or prose.

    One token: mixed classes with a digit or a capital (``ctrl+c``, ``rule:admin`` are not); several words
    (a passphrase): a word mixing letters and digits (prose has none).
    """
    v = value.strip()
    if len(v) < 6 or is_setting(v):
        return False
    if b" " in v or b"\t" in v:
        words = v.split()
        return 2 <= len(words) <= 8 and len(v) >= 10 and any(_wordmix(w) for w in words)
    if not TOKEN_CHARS.fullmatch(v) or v.isdigit():
        return False
    has_digit_or_upper = any(48 <= c <= 57 or 65 <= c <= 90 for c in v)
    return (classes(v) >= 2 and not v.isalpha() and has_digit_or_upper) or looks_generated(v, 12)


EXT = re.compile(rb"\.[A-Za-z0-9]{1,5}$")


def plausible_path(value: bytes) -> bool:
    """A path is made of names; a leading '/' in base64 or a crypt hash (``/9/kOk…``, ``/ihSAE1V8taZ6``) is not."""
    if b"+" in value or b"=" in value:
        return False
    for seg in value.split(b"/"):
        if len(seg) >= 8 and classes(seg) >= 3 and not EXT.search(seg):
            return False
    return True


def not_secret(value: bytes) -> bool:
    """A placeholder, a setting word, a masked value or a path (NOT_SECRET), but not a secret that starts with '/'."""
    v = value.strip()
    if NOT_SECRET.match(v) is None:
        return False
    return not (v[:1] == b"/" and not plausible_path(v))
