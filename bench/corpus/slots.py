"""Find the credential slots of a real configuration file by parsing it by format.

A *slot* is the place of one value on one line: a value under a secret-like key, a positional
credential field (``.pgpass``, chap-secrets, htpasswd, ...) — including commented-out example lines,
which admins uncomment — or a *look-alike* slot: a value beside it that must survive redaction
(numbers and durations under ``*_ttl``/``*_max_days`` keys, paths under ``*_key_file``, upstreams of
``proxy_pass``, cipher lists, and values of plain keys next to a secret).

    python3 -m bench.corpus.slots [--cache /work/corpus/debs] [--list]     # counts per format
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

MAX_FILE = 512 * 1024

SECRET_TOKENS = {
    "password", "passwd", "pass", "pwd", "pw", "passphrase", "passwort", "secret", "secrets", "token",
    "apikey", "credential", "credentials", "authtok", "psk", "community", "requirepass", "masterauth",
    "rootpw", "bindpw", "hmac", "authpass", "privpass", "passwords", "sharedkey",
}
KEY_QUALIFIERS = {"api", "access", "secret", "private", "auth", "shared", "master", "encryption", "session",
                  "signing", "license", "client", "app", "application", "webhook", "consumer", "sign"}
# a secret-like key with one of these tokens holds a setting about the secret, not the secret
NOT_SECRET_TOKENS = {
    "file", "files", "path", "dir", "directory", "length", "len", "size", "bits", "type", "algorithm", "algo",
    "method", "mode", "timeout", "ttl", "lifetime", "expire", "expires", "expiry", "age", "days", "max", "min",
    "iterations", "rounds", "count", "encoder", "cmd", "command", "program", "prompt", "policy", "format",
    "scheme", "encryption", "enabled", "enable", "required", "require", "attempts", "retries", "tries",
    "charset", "prefix", "complexity", "level", "url", "uri", "host", "server", "port", "user", "username",
    "login", "name", "field", "column", "attribute", "attr", "env", "var", "plugin", "module", "backend",
    "provider", "realm", "cache", "db", "database", "table", "query", "mech", "mechanisms", "list",
    "interval", "period", "check", "verify", "expiration", "param", "delay", "store", "keystore", "location",
    "storage", "header", "source", "helper", "warn", "inactive", "digest", "hash", "crypt", "chars", "lock",
    "reset", "change", "history", "minlen", "maxlen", "quality", "strength", "cost", "memory",
    "threads", "parallelism", "salt", "log", "logging", "debug", "auth", "authentication", "only", "allow",
    "deny", "sasl", "ssl", "tls", "bind", "dn", "permit", "empty", "use", "cleanup", "exchange", "mapping",
    "base", "filter", "scope", "options", "option", "flags",
    "pass_env", "on", "off", "alg", "params", "opts", "args", "uuid", "identity", "endpoint", "notify",
    "return", "bcc", "pin", "id_type", "accept", "life", "duration", "enforce", "kpasswd", "lifespan", "validity",
    "default", "fallback", "show", "hide", "dialog", "reminder", "recovery",
}
UPSTREAM_PASS = {"proxy_pass", "fastcgi_pass", "uwsgi_pass", "grpc_pass", "scgi_pass", "memcached_pass"}

TOKEN_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def key_tokens(key: str) -> list[str]:
    return [t.lower() for t in TOKEN_SPLIT.split(key.strip("$@%'\"[]")) if t]


def classify_key(key: str) -> str | None:
    """'secret', 'setting' (secret word + a setting token: a look-alike slot), or None."""
    low = key.lower().strip("$@%'\"")
    if low in UPSTREAM_PASS or low.endswith("_pass") and low.split("_")[0] in {"proxy", "fastcgi", "uwsgi",
                                                                                 "grpc", "scgi", "memcached"}:
        return "upstream"
    toks = key_tokens(key)
    if not toks:
        return None
    joined = "".join(toks)
    secretish = any(t in SECRET_TOKENS for t in toks) or any(
        w in joined for w in ("password", "passwd", "passphrase", "secret", "apikey", "authtoken", "accesstoken"))
    if not secretish and "key" in toks:
        i = toks.index("key")
        secretish = i > 0 and toks[i - 1] in KEY_QUALIFIERS or (i + 1 < len(toks) and toks[i + 1] == "id"
                                                                 and i > 0 and toks[i - 1] in KEY_QUALIFIERS)
    if not secretish:
        return None
    setting = [t for t in toks if t in NOT_SECRET_TOKENS]
    if "cipher" in toks and not any(t.startswith("pass") or t in ("secret", "key") for t in toks):
        setting.append("cipher")  # TLSCipherPSK: the cipher list for PSK, not the key
    # 'auth_pass', 'ssl_key_password', 'bind_pw' are secrets: only non-qualifier setting tokens count
    setting = [t for t in setting if t not in {"auth", "authentication", "sasl", "ssl", "tls", "bind", "db",
                                               "database", "user", "server", "client", "ldap", "smtp"}]
    if setting:
        return "setting"
    return "secret"


@dataclass
class Slot:
    path: str          # relative path inside the package tree
    fmt: str           # file format
    line: int          # 0-based line number
    start: int         # value span on the line (without quotes)
    end: int
    key: str
    role: str          # "secret" or "lookalike"
    kind: str          # secret: key-value | directive | positional | attribute ...; look-alike: value shape
    quote: str = ""    # the quote around the value, if any
    comment: int = -1  # index of the comment char when the line is commented out, else -1


# ---- format detection ------------------------------------------------------------------------------------

POSITIONAL_NAMES = {
    "chap-secrets": "chap", "pap-secrets": "chap", "userlist.txt": "pgbouncer", "passwd.client": "exim",
    "sasl_passwd": "sasl", ".pgpass": "pgpass", "pgpass": "pgpass", ".netrc": "netrc", "netrc": "netrc",
    "htpasswd": "htpasswd", ".htpasswd": "htpasswd", "rsyncd.secrets": "colon", "ipsec.secrets": "ipsec",
    "snmpd.conf": "snmpd", "snmptrapd.conf": "snmpd", "secrets": "chap", "users.passwd": "colon",
}


def detect_format(rel: str, text: str) -> str:
    low = rel.lower()
    name = low.rsplit("/", 1)[-1]
    for suffix in (".gz", ".example", ".sample", ".dist", ".default", ".orig", ".tmpl", ".template", ".in"):
        if name.endswith(suffix) and name != suffix:
            name = name[: -len(suffix)]
    if name in POSITIONAL_NAMES or name.endswith(("chap-secrets", "pap-secrets", ".htpasswd", "htpasswd")):
        return "positional"
    head = text.lstrip()[:200]
    if name.endswith(".json") or (head.startswith("{") and name.endswith((".conf", ".cfg"))):
        return "json"
    if name.endswith((".yml", ".yaml")):
        return "yaml"
    if name.endswith((".xml", ".xml.dist")) or head.startswith("<?xml"):
        return "xml"
    if name.endswith(".properties"):
        return "properties"
    if name.endswith((".php", ".inc.php")) or head.startswith("<?php"):
        return "php"
    if "/nginx/" in low or name == "nginx.conf":
        return "nginx"
    if "/apache2/" in low or "/httpd/" in low:
        return "apache"
    if "haproxy" in low and name.endswith(".cfg"):
        return "haproxy"
    if name.endswith(".env") or name == "environment" or "/default/" in low or "/sysconfig/" in low:
        return "env"
    if name.endswith((".sh", ".bash")) or head.startswith("#!") and ("sh" in head.split("\n", 1)[0]):
        return "shell"
    if name.endswith((".ini", ".cnf")) or re.search(r"(?m)^\s*\[[\w .:\"-]+\]\s*$", text):
        return "ini"
    eq = len(re.findall(r"(?m)^\s*#?\s*[\w.-]+\s*[=:]\s*\S", text))
    sp = len(re.findall(r"(?m)^\s*#?\s*[\w.-]+[ \t]+[^\s=:]", text))
    return "kv" if eq >= sp else "directive"


# ---- per-format line recognisers --------------------------------------------------------------------------

COMMENT = r"(?P<c>(?:#|;|//|!)[ \t]*)?"
QVAL = r"(?:\"(?P<dq>[^\"\n]*)\"|'(?P<sq>[^'\n]*)'|(?P<bare>[^\s\"'#;][^\n]*?))"

KV = re.compile(r"^[ \t]*" + COMMENT + r"(?:export[ \t]+|set[ \t]+)?(?P<k>[A-Za-z_$@][\w.\-\[\]'$@]*)"
                r"[ \t]*(?:=|:=|=>|:)[ \t]*" + QVAL.replace(r"*?))", r"*?|))") + r"[ \t]*[;,]?[ \t]*\r?$")
# a password inside a value: libpq/dovecot conninfo "host=db user=x password=y", "SQLConnectInfo db user pass"
INLINE = re.compile(r"(?P<c>^[ \t]*#[ \t]*)?.*?(?<![\w./-])(?P<k>password|passwd|pwd|pass|secret)[ \t]*=[ \t]*"
                    r"(?:'(?P<sq>[^'\n]*)'|(?P<bare>[^\s'\";#]+))", re.IGNORECASE)
SQLCONNECT = re.compile(r"^[ \t]*(?P<c>#[ \t]*)?(?P<k>SQLConnectInfo)[ \t]+\S+[ \t]+\S+[ \t]+(?P<bare>[^\s#]+)")
DIRECTIVE = re.compile(r"^[ \t]*" + COMMENT + r"(?P<k>[A-Za-z_][\w.\-]*)[ \t]+" + QVAL + r"[ \t]*;?[ \t]*\r?$")
YAML_KV = re.compile(r"^[ \t]*" + COMMENT + r"(?:-[ \t]+)?(?P<k>[\"']?[A-Za-z_][\w.\- ]*?[\"']?):[ \t]+"
                     r"(?:\"(?P<dq>[^\"\n]*)\"|'(?P<sq>[^'\n]*)'|(?P<bare>[^\s\"'|>&*!{\[#][^#\n]*?))"
                     r"[ \t]*(?:#.*)?\r?$")
JSON_KV = re.compile(r"\"(?P<k>[^\"\n]+)\"[ \t]*:[ \t]*(?:\"(?P<dq>(?:[^\"\\\n]|\\.)*)\"|(?P<bare>null|-?\d+))")
XML_TAG = re.compile(r"<(?P<k>[\w:.-]+)(?:\s[^>]*)?>(?P<bare>[^<\n]*)</(?P=k)>")
XML_ATTR = re.compile(r"(?P<k>[\w:.-]+)=(?:\"(?P<dq>[^\"\n]*)\"|'(?P<sq>[^'\n]*)')")
XML_PAIR = re.compile(r"<(?:entry|property|param|add|setting|parameter)\s+(?:key|name)=\"(?P<k>[^\"]+)\"\s+"
                      r"value=\"(?P<dq>[^\"\n]*)\"")
XML_PROP = re.compile(r"<(?:property|entry|parameter|setting)\s+(?:key|name)=\"(?P<k>[^\"]+)\"\s*>"
                      r"(?P<bare>[^<\n]*)</")
PHP = re.compile(r"^[ \t]*" + COMMENT + r"(?:\$\w+(?:\[['\"](?P<k>[\w.-]+)['\"]\])+|\$(?P<k2>\w+)|define\(\s*['\"]"
                 r"(?P<k3>\w+)['\"]\s*,)[ \t]*=?[ \t]*(?:'(?P<sq>[^'\n]*)'|\"(?P<dq>[^\"\n]*)\")")
NGINX_HEADER = re.compile(r"^[ \t]*" + COMMENT + r"(?:proxy_set_header|add_header|more_set_headers|"
                          r"RequestHeader[ \t]+set|Header[ \t]+set|http-request[ \t]+set-header|"
                          r"http-response[ \t]+set-header|fastcgi_param|uwsgi_param|SetEnv|PassEnv)[ \t]+"
                          r"\"?(?P<k>[\w.-]+):?\"?[ \t]+" + QVAL + r"[ \t]*;?[ \t]*\r?$", re.IGNORECASE)

NUMBER = re.compile(r"^-?\d+$")
DURATION = re.compile(r"^\d+(?:\.\d+)?\s*(?:ms|s|sec|secs|seconds|m|min|mins|minutes|h|hr|hours|d|days|w)$", re.I)
PATH = re.compile(r"^(?:/|\./|~/)[\w./@+-]+$")
PATHISH = re.compile(r"^(?:\$\w+/|\$\{\w+\}/|file:|[\w.-]+\.(?:pem|key|crt|der|p12|jks|keytab)$)")
HOSTPORT = re.compile(r"^(?:[a-z]+://)?[\w.-]+:\d{2,5}/?$|^(?:https?|unix|tcp)://\S+$")
BOOL = re.compile(r"^(?:yes|no|true|false|on|off|enabled?|disabled?)$", re.I)
CIPHERS = re.compile(r"^!?[A-Z][A-Z0-9_+-]*(?::!?[A-Z0-9_+@=-]+)+$")
PLACEHOLDER = re.compile(r"^(?:\$\{\w+\}|%\(\w+\)s|\{\{.*\}\}|<[^>]+>|@\w+@|\$\w+)$")


def value_shape(v: str) -> str | None:
    """The look-alike shape of a plain setting's value, or None when it is not one we plant."""
    v = v.strip()
    if not v:
        return None
    for name, rx in (("number", NUMBER), ("duration", DURATION), ("path", PATH), ("path", PATHISH),
                     ("upstream", HOSTPORT), ("cipher", CIPHERS), ("placeholder", PLACEHOLDER)):
        if rx.match(v):
            return name
    return None


def _span(m: re.Match[str]) -> tuple[int, int, str]:
    for g, q in (("dq", '"'), ("sq", "'"), ("bare", "")):
        if g in m.re.groupindex and m.group(g) is not None:
            return m.start(g), m.end(g), q
    raise ValueError("no value group")


def _key(m: re.Match[str]) -> str:
    for g in ("k", "k2", "k3"):
        if g in m.re.groupindex and m.group(g):
            return m.group(g).strip("\"' ")
    return ""


POSITIONAL_FIELDS = {
    # kind: (separator regex, index of the secret field, minimum fields)
    "chap": (r"[ \t]+", 2, 3), "pgbouncer": (r"[ \t]+", 1, 2), "exim": (r":", 2, 3), "pgpass": (r":", 4, 5),
    "htpasswd": (r":", 1, 2), "colon": (r":", 1, 2),
}
SNMPD = re.compile(r"^[ \t]*(?P<c>#[ \t]*)?(?:(?P<k>r[ow]community6?|trapcommunity|trap2?sink|informsink)[ \t]+"
                   r"(?P<bare>[^\s#]+)|(?P<k2>com2sec6?)[ \t]+(?:-Cn[ \t]+\S+[ \t]+)?\S+[ \t]+\S+[ \t]+"
                   r"(?P<v2>[^\s#]+)|(?P<k3>createUser)[ \t]+\S+[ \t]+\w+[ \t]+(?P<v3>[^\s#]+))")
NETRC = re.compile(r"(?P<c>#[ \t]*)?.*?\bpassword[ \t]+(?P<bare>\S+)")
IPSEC = re.compile(r"^[ \t]*(?P<c>#[ \t]*)?.*?:[ \t]*(?P<k>PSK|EAP|XAUTH|NTLM|PIN|RSA[ \t]+\S+|ECDSA[ \t]+\S+)"
                   r"[ \t]+(?:\"(?P<dq>[^\"\n]+)\"|(?P<bare>[^\s\"]+))")
BIND_SECRET = re.compile(r"^[ \t]*(?P<c>(?://|#)[ \t]*)?(?P<k>secret)[ \t]+\"(?P<dq>[^\"\n]*)\"[ \t]*;")


def _positional(lines: list[str], kind: str, rel: str) -> list[Slot]:
    out = []
    for i, line in enumerate(lines):
        m = None
        if kind == "snmpd":
            m = SNMPD.match(line)
            if m:
                g = "bare" if m.group("bare") else "v2" if m.group("v2") else "v3"
                k = m.group("k") or m.group("k2") or m.group("k3")
                if m.group(g).lower() in {"public", "private"} or k.startswith("trap") and "sink" in k:
                    pass
                out.append(Slot(rel, "positional", i, m.start(g), m.end(g), k, "secret", "snmp-community",
                                comment=m.start("c") if m.group("c") else -1))
            continue
        if kind == "netrc":
            m = NETRC.match(line)
            if m:
                out.append(Slot(rel, "positional", i, m.start("bare"), m.end("bare"), "password", "secret",
                                "netrc", comment=m.start("c") if m.group("c") else -1))
            continue
        if kind == "ipsec":
            m = IPSEC.match(line)
            if m:
                s, e, q = _span(m)
                out.append(Slot(rel, "positional", i, s, e, m.group("k"), "secret", "ipsec", quote=q,
                                comment=m.start("c") if m.group("c") else -1))
            continue
        if kind == "sasl":
            m = re.match(r"^[ \t]*(?P<c>#[ \t]*)?\S+[ \t]+[^\s:]+:(?P<bare>\S+)[ \t]*$", line)
            if m:
                out.append(Slot(rel, "positional", i, m.start("bare"), m.end("bare"), "sasl_passwd", "secret",
                                "sasl", comment=m.start("c") if m.group("c") else -1))
            continue
        sep, idx, need = POSITIONAL_FIELDS[kind]
        cm = re.match(r"^[ \t]*(#[ \t]*)?", line)
        body_start = cm.end()
        body = line[body_start:].rstrip("\r")
        if not body or body.startswith("#"):
            continue
        fields = [(f.start(), f.end()) for f in re.finditer(r"\"[^\"]*\"|[^\s\"]+" if sep.startswith("[")
                                                         else r"[^:]*", body)]
        fields = [f for f in fields if sep.startswith("[") or f[1] > f[0] or True]
        if sep == ":":
            parts = body.split(":")
            if len(parts) < need:
                continue
            pos = sum(len(p) + 1 for p in parts[:idx])
            end = len(body) if idx == len(parts) - 1 else pos + len(parts[idx])
            if kind == "htpasswd" or idx == len(parts) - 1:
                end = len(body)
            s, e = pos, end
        else:
            if len(fields) < need:
                continue
            s, e = fields[idx]
        val = body[s:e]
        q = ""
        if val.startswith('"') and val.endswith('"') and len(val) >= 2:
            s, e, q = s + 1, e - 1, '"'
        if e <= s and not q:
            continue
        comment = cm.start(1) if cm.group(1) else -1
        if comment >= 0 and (not need <= len(fields) <= need + 1 or body.rstrip().endswith((".", "!", ",", ":", "?"))
                             or any(e - s > 60 for s, e in fields)):
            continue  # prose in a comment
        # commented header lines ("# client server secret IP addresses") are examples too: admins copy them
        out.append(Slot(rel, "positional", i, body_start + s, body_start + e, kind, "secret", kind, quote=q,
                        comment=comment))
    return out


def find_slots(rel: str, text: str, fmt: str | None = None) -> list[Slot]:
    """Every secret and look-alike slot of one file (at most one per line)."""
    fmt = fmt or detect_format(rel, text)
    lines = text.split("\n")
    name = rel.lower().rsplit("/", 1)[-1]
    for suffix in (".gz", ".example", ".sample", ".dist", ".default"):
        name = name.removesuffix(suffix)
    if fmt == "positional":
        kind = POSITIONAL_NAMES.get(name) or ("htpasswd" if "htpasswd" in name else "chap")
        return _positional(lines, kind, rel)
    if fmt == "json":
        recognisers = [JSON_KV]
    elif fmt == "yaml":
        recognisers = [YAML_KV]
    elif fmt == "xml":
        recognisers = [XML_PAIR, XML_PROP, XML_TAG, XML_ATTR]
    elif fmt == "php":
        recognisers = [PHP]
    elif fmt in ("nginx", "apache", "haproxy", "directive"):
        recognisers = [NGINX_HEADER, SQLCONNECT, DIRECTIVE, KV, INLINE]
    else:
        recognisers = [KV, DIRECTIVE, INLINE]
    slots: list[Slot] = []
    plain: list[Slot] = []
    extra = []
    if "snmp" in name:
        extra = _positional(lines, "snmpd", rel)
    for s in extra:
        s.fmt = fmt
    taken = {s.line for s in extra}
    for i, line in enumerate(lines):
        if i in taken or len(line) > 4000:
            continue
        if fmt in ("directive", "nginx", "kv", "ini", "haproxy") and BIND_SECRET.match(line):
            m = BIND_SECRET.match(line)
            slots.append(Slot(rel, fmt, i, m.start("dq"), m.end("dq"), "secret", "secret", "bind-secret", '"',
                              m.start("c") if m.group("c") else -1))
            continue
        for rx in recognisers:
            found = False
            for m in rx.finditer(line) if rx in (XML_ATTR, XML_TAG, JSON_KV, XML_PAIR, XML_PROP) else [rx.match(line)]:
                if not m:
                    continue
                key = _key(m)
                if rx is JSON_KV and ":" in key:
                    continue  # a policy rule name ("os_compute_api:os-server-password"), not a setting
                s, e, q = _span(m)
                value = line[s:e]
                comment = m.start("c") if "c" in m.re.groupindex and m.group("c") else -1
                if fmt == "xml" and "<!--" in line[: m.start()]:
                    comment = line.index("<!--")
                if not q and fmt not in ("properties", "json", "xml"):
                    cut = re.search(r"[ \t]+[#;].*$", value)
                    if cut:
                        e = s + cut.start()
                        value = line[s:e]
                if not q and "#" in value and PATHISH.match(value):
                    e = s + value.index("#")
                    value = line[s:e]
                if key.endswith(".") or value.strip() in ("=", ":", "{", "(", "["):
                    continue
                if not value.strip() and (rx is not KV or classify_key(key) != "secret"):
                    continue
                if comment >= 0 and not q and re.search(r"\s", value.strip()):
                    continue  # prose in a comment, not an example setting
                if rx is DIRECTIVE and not q and re.search(r"\s", value.strip()):
                    continue  # a directive's secret is one token (or quoted); several words are prose
                if not q and re.search(r"[()]", value):
                    continue  # code, not a setting
                cls = classify_key(key)
                if cls == "secret" and (BOOL.match(value.strip()) or re.fullmatch(r"-?\d{1,3}", value.strip())):
                    continue  # a switch or a small number: a setting about the secret
                if cls == "secret" and (re.match(r"^(?:/|\./|~/|\$\w+/|\$\{\w+\}/|file:)", value)
                                        or re.search(r"\.(?:pem|key|crt|der|p12|jks|keytab)$", value)):
                    cls = "setting"
                if rx is NGINX_HEADER:
                    cls = "secret" if re.search(r"(?i)api[-_]?key|auth[-_]?token|token|secret|signature|authorization|"
                                                r"passw", key) else None
                    if cls:
                        slots.append(Slot(rel, fmt, i, s, e, key, "secret", "header", q, comment))
                        found = True
                        break
                    continue
                kind = {JSON_KV: "json", YAML_KV: "yaml", XML_TAG: "element", XML_ATTR: "attribute",
                        XML_PAIR: "entry", XML_PROP: "property", PHP: "php", KV: "key-value",
                        DIRECTIVE: "directive", INLINE: "inline", SQLCONNECT: "positional"}.get(rx, "key-value")
                if rx is SQLCONNECT:
                    cls = "secret"
                if cls == "secret":
                    if e - s > 300 or "\\" in value and fmt != "json":
                        continue
                    slots.append(Slot(rel, fmt, i, s, e, key, "secret", kind, q, comment))
                    found = True
                elif cls in ("setting", "upstream"):
                    shape = value_shape(value) or ("upstream" if cls == "upstream" else None)
                    if shape and shape != "placeholder":
                        slots.append(Slot(rel, fmt, i, s, e, key, "lookalike", shape, q, comment))
                        found = True
                elif cls is None and comment < 0:
                    shape = value_shape(value)
                    if shape in ("number", "duration", "path", "upstream", "cipher") and (
                            not plain or plain[-1].line != i):
                        plain.append(Slot(rel, fmt, i, s, e, key, "lookalike", shape, q, comment))
                if found:
                    break
            if found:
                break
    # plain settings next to a secret slot become look-alike slots (at most two per secret); a file with
    # no secret slot still gives a few of its plain settings (retention on every package's real settings)
    secret_lines = [s.line for s in slots if s.role == "secret"] + [s.line for s in extra]
    if not secret_lines and plain:
        step = max(1, len(plain) // 2)
        return sorted(slots + plain[::step][:2], key=lambda s: s.line)
    used = {s.line for s in slots} | taken
    for sl in secret_lines:
        near = [p for p in plain if abs(p.line - sl) <= 4 and p.line not in used]
        for p in near[:2]:
            slots.append(p)
            used.add(p.line)
    return sorted(extra + slots, key=lambda s: s.line)


# ---- the package trees --------------------------------------------------------------------------------

CONFIG_SUFFIXES = (".conf", ".cnf", ".cfg", ".ini", ".yml", ".yaml", ".json", ".xml", ".properties", ".env",
                   ".example", ".sample", ".dist", ".default", ".tmpl", ".template", ".php", ".rc", ".secrets",
                   ".local", ".config", ".inc")
SKIP_PARTS = ("/man/", "/locale/", "/i18n/", "/icons/", "/images/", "/fonts/", "/doc/html/", "/test/", "/tests/",
              "/node_modules/", "/vendor/", "/lib/python", "/perl5/", "/site-packages/", "/dist-packages/",
              "/javascript/", "/js/", "/css/", "/help/", "/mibs/", "/zoneinfo/", "/lintian/", "/bug/", "/locales/",
              "zabbix-frontend-php/templates/", "/lang/", "/language/", "/plugins/", "/wp-includes/", "/wp-admin/",
              "/libraries/classes/")
CONFIG_NAME = re.compile(r"conf|config|settings|default|sample|dist|local|example|secrets$|"
                         r"\.ini|\.cnf|\.cfg|\.env|\.properties|\.ya?ml|\.xml|rc$")


def wanted(rel: str) -> bool:
    """Config files: everything under etc/, examples and config-named files under usr/share/."""
    low = "/" + rel.lower()
    if any(p in low for p in SKIP_PARTS):
        return False
    name = low.rsplit("/", 1)[-1].removesuffix(".gz")
    if low.startswith("/etc/") and not name.endswith((".sql", ".py", ".pl", ".pm", ".rb", ".js")):
        return True
    if name.endswith((".php", ".inc", ".json", ".xml")) and not CONFIG_NAME.search(name):
        return False  # program source and data, not configuration
    if re.match(r"(?:readme|authors|changelog|changes|news|copyright|todo|install|upgrading|faq)", name):
        return False
    if name.endswith((".py", ".pl", ".pm", ".rb", ".c", ".h", ".js", ".html", ".htm", ".md", ".pod", ".po", ".go",
                      ".java", ".cpp", ".cc", ".ldif", ".schema", ".diff", ".patch",
                      ".sql", ".svg", ".png", ".gif", ".jpg", ".css", ".mo", ".tex", ".pdf", ".1", ".5", ".8")):
        return False
    if low.startswith("/usr/share/doc/"):
        if name.endswith(".txt") and name not in POSITIONAL_NAMES and not re.search(r"/examples?/", low):
            return False
        return bool(re.search(r"/(?:examples?|samples?|contrib|config|conf)/", low)) or bool(CONFIG_NAME.search(name))
    if low.startswith(("/usr/share/", "/usr/lib/", "/var/lib/", "/opt/")):
        return name.endswith(CONFIG_SUFFIXES) or name in POSITIONAL_NAMES
    return False


def read_text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if len(data) > MAX_FILE or b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def parses(fmt: str, text: str) -> bool | None:
    """Whether a structured file parses (None: not a structured format)."""
    try:
        if fmt == "json":
            json.loads(text)
        elif fmt == "yaml":
            list(yaml.safe_load_all(text))
        elif fmt == "xml":
            import xml.etree.ElementTree as ET
            ET.fromstring(text.encode())
        else:
            return None
    except Exception:  # noqa: BLE001 — any parser error means "does not parse"
        return False
    return True


def iter_config_files(tree: Path):
    """(package, relative path, text) for each config file of each unpacked package, sorted."""
    for pkgdir in sorted(p for p in tree.iterdir() if p.is_dir()):
        for path in sorted(pkgdir.rglob("*")):
            if not path.is_file() or path.is_symlink():
                continue
            rel = path.relative_to(pkgdir).as_posix()
            if not wanted(rel):
                continue
            text = read_text(path)
            if text is not None:
                yield pkgdir.name, rel.removesuffix(".gz"), text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path("/work/corpus/debs"))
    ap.add_argument("--list", action="store_true", help="print every slot as JSON lines")
    args = ap.parse_args(argv)
    per_fmt: Counter = Counter()
    files = Counter()
    pkgs = set()
    for pkg, rel, text in iter_config_files(args.cache / "tree"):
        slots = find_slots(rel, text)
        if not slots:
            continue
        fmt = slots[0].fmt
        files[fmt] += 1
        pkgs.add(pkg)
        for s in slots:
            per_fmt[(s.fmt, s.role)] += 1
            if args.list:
                print(json.dumps({"package": pkg, **asdict(s), "text": text.split("\n")[s.line]}))
    print(f"{len(pkgs)} packages with slots", file=sys.stderr)
    for fmt in sorted(files):
        print(f"{fmt:12} files {files[fmt]:5}  secret slots {per_fmt[(fmt, 'secret')]:5}  "
              f"look-alike slots {per_fmt[(fmt, 'lookalike')]:5}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
