"""Built-in secret rules. Each rule names the secret's group ``s``; the rest is kept.

This is the first rule set, applied by :mod:`redaction.engine`; lines are only
matched when they contain one of ``TRIGGERS`` (searched case-insensitively on the
whole chunk first, so clean data costs one ``bytes.lower`` and a few ``find``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SECRET_NAMES = (
    rb"password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    rb"|credentials?|client[_-]?secret|auth[_-]?key|session[_-]?key|requirepass|masterauth"
)

# values that look like settings, not secrets (password_encryption = scram-sha-256)
NOT_SECRET = re.compile(
    rb"^(?:\d+[a-z]{0,3}|true|false|yes|no|on|off|none|null|nil|empty|required|optional|disabled|enabled"
    rb"|md5|scram-sha-256|sha256|sha512|plain|trust|peer|ident|cert|bcrypt|argon2|prompt"
    rb"|\*+|x+|\$\{[^}]*\}|%\([^)]*\)s|<[^>]*>|\[REDACTED:[^\]]*\])$",
    re.IGNORECASE,
)

TRIGGERS = (
    b"pass", b"pwd", b"secret", b"token", b"key", b"credential", b"auth", b"cookie", b"://",
    b"akia", b"ghp_", b"gho_", b"ghs_", b"github_pat_", b"xox", b"sk_live", b"eyj",
)


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[bytes]
    check_value: bool = False  # skip values that match NOT_SECRET


def _r(name: str, pattern: bytes, check_value: bool = False, flags: int = re.IGNORECASE) -> Rule:
    return Rule(name, re.compile(pattern, flags), check_value)


RULES: tuple[Rule, ...] = (
    _r("url-credentials", rb"[a-z][a-z0-9+.-]*://[^/\s:@]+:(?P<s>[^/\s@]+)@"),
    _r("auth-header", rb"\bauthorization:\s*(?:basic|bearer|token|digest|negotiate)\s+(?P<s>[^\s\"']+)"),
    _r("cookie", rb"\b(?:set-)?cookie:\s*(?P<s>[^\r\n]+)"),
    _r("aws-access-key", rb"\b(?P<s>(?:AKIA|ASIA)[0-9A-Z]{16})\b", flags=0),
    _r("github-token", rb"\b(?P<s>(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,}))"),
    _r("slack-token", rb"\b(?P<s>xox[abposr]-[A-Za-z0-9-]{10,})"),
    _r("stripe-key", rb"\b(?P<s>[sr]k_live_[0-9a-zA-Z]{16,})"),
    _r("jwt", rb"\b(?P<s>eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,})"),
    _r("xml-secret", rb"<(?P<tag>[\w:.-]*(?:" + SECRET_NAMES + rb")[\w:.-]*)(?:\s[^>]*)?>(?P<s>[^<]+)</(?P=tag)>",
       check_value=True),
    _r("cli-secret", rb"(?:^|\s)--?(?:" + SECRET_NAMES + rb")(?:=|\s+)(?P<s>[^\s\"']+)", check_value=True),
    _r("key-value", rb"(?:^|[^\w])[\w.-]*(?:" + SECRET_NAMES + rb")[\w.-]*[\"']?\s*(?::|=|=>)\s*[\"']?"
       rb"(?P<s>[^\s\"',;<>]+)", check_value=True),
)

PEM_BEGIN = re.compile(rb"-----BEGIN [A-Z0-9 ]*(?:PRIVATE KEY|OpenVPN Static key V1)[A-Z0-9 ]*-----")
PEM_END = re.compile(rb"-----END [A-Z0-9 ]*(?:PRIVATE KEY|OpenVPN Static key V1)[A-Z0-9 ]*-----")
