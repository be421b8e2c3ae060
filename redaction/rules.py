"""Built-in secret rules.

Each rule names the secret's group ``s`` (the rest of the match is kept) and the
lower-case *anchors* of which every match contains at least one.  The engine only
looks at lines holding an anchor (one scan per block, see :mod:`redaction.scan`),
and on such a line only at rules whose anchors occur in it — so the anchors are a
pure speed-up and never change the output.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# words that make a setting's name secret (password, db.pass, keystorePass, client_secret, api-key …)
STRONG_WORDS = (
    rb"pass(?:word|wd|phrase|code)?(?!ive|thr|enger|age|ed\b|es\b|ing|port|ed_)|pwd|(?<![a-z])pw(?![a-z])|secret|token"
    rb"|credentials?|(?<![a-z])creds?(?![a-z])|authtok|psk(?![a-z])|community|rootpw|bindpw|hmac[_-]?keys?"
    rb"|consumer[_-]?key"
    rb"|(?:api|access|account|shared[_-]?access|secret|private|session|signing|encryption|master|client|app"
    rb"|auth|subscription|storage|license|service)[_-]?key|masterauth|passkey"
)
# weak words: the value must also look like a secret (a PIN: digits; auth: not a plain word)
WEAK_WORDS = rb"(?<![a-z])(?:pin|auth)(?![a-z])|key(?![\w.\\-])"
SECRET_WORDS = STRONG_WORDS + rb"|" + WEAK_WORDS
STRONG_KEY = re.compile(STRONG_WORDS, re.IGNORECASE)
# a key name holding a secret word, matched in linear time (look ahead for the word, then take the name)
KEY = rb"(?=[\w.\\-]*?(?:" + SECRET_WORDS + rb"))[\w.\\-]*+"
SECRET_ANCHORS = (b"pass", b"pw", b"secret", b"token", b"credential", b"key", b"auth", b"psk", b"cred", b"community",
                  b"pin")
# anchors that select rules on a line but not lines of logs (configuration files have every line looked at):
# too common in logs to be worth a look there (ping, mapping, headers, sinks)
CONFIG_ONLY_ANCHORS = frozenset((
    b"pin", b":aa", b"eaaa", b"sessionid", b"env ", b"_param", b"setenv", b"createuser", b"sqlconnectinfo",
    b"_header", b"-header", b"header ", b"map ", b"map\t", b"machine", b"com2sec", b"trapsink", b"trap2sink",
    b"informsink", b"_command", b"_cmd", b"exp ", b"imp "))

# a name whose remainder says it is about a secret, not the secret itself (token_ttl, password_encryption)
NOT_SECRET_SUFFIX = re.compile(
    rb"[_.-]?(?:ttl|timeout|expir\w*+|lifetime|validity|size|length|len|min|max|count|file|files|path|dir|directory"
    rb"|type|encryption|method|algorithm|algo|format|mode|policy|url|uri|endpoint|header|name|id|prompt|reset"
    rb"|change|changed|required|enabled|enable|retries|interval|age|bits|strength|complexity|history|cmd"
    rb"|command|env|var|field|param|regex|pattern|provider|plugin|module|cache|buffer|limit|hint|label|store"
    rb"|location|source|ref|class|factory|maps?|query|user|username|login|iterations?|rounds|days|weeks|hours"
    rb"|minutes|seconds|secs|warn|warning|digits|chars|lower|upper|special|attempts|tries|lockout|delay|level"
    rb"|(?:proxy|fastcgi|uwsgi|grpc|scgi|memcached)_pass|proxypass(?:reverse\w*+|match)?|public_?key(?:_?token)?|generator"
    rb"|hash_rounds|rotation|refresh|ca|prefix|suffix|dn|realm|scope|audience|issuer)s?$",
    re.IGNORECASE,
)

# values that are settings, references or placeholders, never secrets
# a 0/1/small-number value under a key whose secret word is followed by more name segments
FLAG_VALUE = re.compile(rb"-?\d+(?:\.\d+)?")
# a name ending in a password word: only there is a bare number taken for a secret (password = 12)
PW_END = re.compile(rb"(?:password|passwd|passphrase|secret|pwd)$", re.IGNORECASE)
# an _id that is itself a secret (Vault secret_id, root_token_id; cloud private_key_id)
SECRET_ID = re.compile(rb"(?:secret|token|key)[_.-]?ids?$", re.IGNORECASE)
MID_WORD = re.compile(rb"(?i)(?:pass|secret|token|key)[_.-][a-z]")
NOT_SECRET = re.compile(
    rb"^(?:true|false|yes|no|on|off|none|null|nil|empty|required|optional|disabled|enabled|always|never|auto"
    rb"|md5|sha-?1|sha-?256|sha-?512|sha-?384|scram-sha-256|scram-sha-1|plain|plaintext|trust|peer|ident|cert"
    rb"|bcrypt|argon2\w*|pbkdf2\w*|pam|ldap|radius|gss|sspi|hba|any|reject|password|prompt|default|local"
    rb"|\d+(?:[kmgt]i?b?|ms|s|m|h|d|%)|\*+|\*[\w-]+|x{3,}|-+|\.+|@@[^@\s]*@@"
    rb"|\$\{[^}]*\}|\$\(\s*[^)]*\)|\$[A-Z_][A-Z0-9_]*|%\([^)]*\)s|%[A-Z_]+%|\{\{[^}]*\}\}|<[^>]*>"
    rb"|\[REDACTED:[^\]]*\]|(?:/|\./|\.\./|~/|file:|hash:|texthash:|lmdb:|btree:|classpath:|env:)\S*"
    rb"|[\w.-]+\.(?:key|pem|crt|cer|p12|pfx|jks|keystore|der|txt|conf|cnf|json|ya?ml|db|gpg|asc|csr))$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[bytes]
    anchors: tuple[bytes, ...]  # lower-case literals; every match contains one. () = run on every line
    check_value: bool = False  # skip values matching NOT_SECRET (and names with a NOT_SECRET_SUFFIX)
    check: Callable[[bytes], bool] | None = None  # the value must also pass this (its shape)
    # unanchored rules only: a hyperscan expression matching wherever ``pattern`` does (a superset), so that a
    # block it does not match skips the rule's ``re`` pass over the whole block (redaction.scan.HyperScanner.survey)
    prefilter: bytes | None = None


def rule(name: str, pattern: bytes, anchors: tuple[bytes, ...] | bytes, check_value: bool = False,
         flags: int = re.IGNORECASE, check: Callable[[bytes], bool] | None = None,
         prefilter: bytes | None = None) -> Rule:
    return Rule(name, re.compile(pattern, flags), (anchors,) if isinstance(anchors, bytes) else anchors, check_value,
                check, prefilter)


_Q = rb"(?:\"(?P<dq>(?:[^\"\\\n]|\\.)*)\"|'(?P<sq>[^'\n]*)')"  # quoted value (content is the secret)

TOKEN_RULES: tuple[Rule, ...] = (
    rule("aws-access-key", rb"(?<![A-Z0-9])(?P<s>(?:AKIA|ASIA)[0-9A-Z]{16})(?![A-Z0-9])", (b"akia", b"asia"),
         flags=0),
    rule("github-token", rb"\b(?P<s>gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,})",
         (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_"), flags=0),
    rule("gitlab-token", rb"\b(?P<s>gl(?:pat|ptt|dt|rt|soat|cbt)-[\w-]{20,}|gl(?:sa|c)_[\w]{32,})",
         (b"glpat-", b"glptt-", b"gldt-", b"glrt-", b"glsoat-", b"glcbt-", b"glsa_", b"glc_"), flags=0),
    rule("slack-token", rb"\b(?P<s>xox[abposre]-[A-Za-z0-9-]{10,})", b"xox", flags=0),
    rule("slack-webhook", rb"hooks\.slack\.com/(?:services|workflows)/(?P<s>[\w/]+)", b"hooks.slack.com"),
    rule("stripe-key", rb"\b(?P<s>(?:sk|rk)_(?:live|test)_[0-9a-zA-Z]{16,})", (b"sk_live_", b"rk_live_", b"sk_test_",
                                                                              b"rk_test_"), flags=0),
    rule("google-api-key", rb"\b(?P<s>AIza[\w-]{35})", b"aiza", flags=0),
    rule("jwt", rb"\b(?P<s>eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*)", b"eyj", flags=0),
    rule("npm-token", rb"\b(?P<s>npm_[A-Za-z0-9]{36})", b"npm_", flags=0),
    rule("vault-token", rb"\b(?P<s>hv[sbr]\.[\w-]{24,})", (b"hvs.", b"hvb.", b"hvr."), flags=0),
    rule("openai-key", rb"\b(?P<s>sk-(?:proj|svcacct|admin|ant(?:-api\d+)?)-[\w-]{32,}"
                       rb"|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})", b"sk-", flags=0),
    rule("sendgrid-key", rb"\b(?P<s>SG\.[\w-]{22}\.[\w-]{43})", b"sg.", flags=0),
    rule("digitalocean-token", rb"\b(?P<s>do[por]_v1_[a-f0-9]{64})", b"_v1_", flags=0),
    rule("shopify-token", rb"\b(?P<s>shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})", b"shp", flags=0),
    rule("huggingface-token", rb"\b(?P<s>hf_[A-Za-z]{34})", b"hf_", flags=0),
    rule("pypi-token", rb"\b(?P<s>pypi-AgEIcHlwaS5vcmc[\w-]{50,})", b"pypi-ag", flags=0),
    rule("dockerhub-token", rb"\b(?P<s>dckr_pat_[\w-]{27,})", b"dckr_pat_", flags=0),
    rule("databricks-token", rb"\b(?P<s>dapi[0-9a-f]{32})", b"dapi", flags=0),
    rule("age-secret-key", rb"\b(?P<s>AGE-SECRET-KEY-1[0-9A-Z]{58})", b"key", flags=0),
)

STRUCTURE_RULES: tuple[Rule, ...] = (
    rule("url-credentials", rb"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*+://[^/\s:@\"'<>]*:(?P<s>[^/\s@\"'<>]+)@", b"://"),
    rule("url-query-secret",
         rb"(?:[?&;]|%3f|%26)(?=[\w.-]*?(?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|apikey|sig|signature"
         rb"|access[_-]?key|auth|credential))[\w.-]*+(?:=|%3d)(?P<s>(?:(?!%26)[^&\s\"'#<>;])++)",
         (b"pass", b"pw", b"secret", b"token", b"key", b"sig", b"auth", b"credential"), check_value=True),
    rule("auth-header", rb"\b(?:proxy-)?authorization[\"']?(?:[ \t]*+[:=,][ \t]*+|[ \t]++)(?:b?[\"'])?"
                        rb"(?:basic|bearer|token|digest|negotiate|ntlm|aws4-hmac-sha256|apikey|sso-key)\s+"
                        rb"(?P<s>[^\s\"']++)", b"auth"),
    rule("api-key-header", rb"\bx-(?:api-key|auth-token|access-token|vault-token|amz-security-token)[\"']?"
                           rb"[ \t]*+[:=,][ \t]*+(?:b?[\"'])?"
                           rb"(?P<s>[^\s\"',]+)", (b"key", b"token")),
    rule("set-cookie", rb"\bset-cookie:\s*[^=\s;]+=(?P<s>[^;\r\n]+)", b"cookie"),
    rule("cookie", rb"\bcookie:\s*(?P<s>[^\r\n]+)", b"cookie"),
    rule("password-hash",
         rb"(?:^|[\s:\"'=,(])(?P<s>\$(?:1|2[abxy]?|5|6|y|gy|7|apr1|md5|sha1|argon2(?:id|i|d)|pbkdf2[\w-]*+|scrypt)"
         rb"\$[^\s:\"',;)]{8,}+)", b"$"),
    rule("password-hash", rb"(?P<s>\{(?:ssha|sha|ssha256|ssha512|sha256|sha512|smd5|md5|crypt|pbkdf2[\w-]*|bcrypt)\}"
                          rb"[^\s\"',;]{4,})",
         (b"{ss", b"{sh", b"{smd5}", b"{md5}", b"{crypt}", b"{pbkdf2", b"{bcrypt}")),
    rule("password-hash", rb"(?P<s>scram-sha-(?:1|256)\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+)",
         b"scram-sha-"),
    rule("password-hash", rb"(?:^|[\s\"'=])(?P<s>md5[0-9a-f]{32})\b", b"md5"),
    rule("password-hash", rb"(?:^|[\s\"'=(])(?P<s>\*[0-9A-F]{40})\b", (b"pass", b"auth"), flags=0),
    rule("redis-acl", rb"^\s*(?:acl\s+setuser|user)\s+\S+\s(?:[^\n>#]*\s)?[>#](?P<s>[^\s]+)", b"user "),
    rule("haproxy-auth", rb"\b(?:stats\s+auth\s+[^:\s]+:|user\s+\S+\s+(?:insecure-)?password\s+)(?P<s>[^\s]+)",
         (b"auth", b"pass")),
    rule("jaas-user", rb"(?<![\w.])user_[\w.-]+\s*=\s*\"(?P<s>[^\"]*)\"", b"user_"),
    rule("docker-auth", rb"\"auth\"\s*:\s*\"(?P<s>[^\"]+)\"", b"auth"),
    # postfix sasl_passwd & co: "[relay.example.com]:587 user:password" — no key name (other forms: formats.FILE_RULES)
    rule("sasl-passwd", rb"^[ \t]*\[[\w-]+(?:\.[\w-]+)+\]:\w+[ \t]+[^\s:#]+:(?P<s>\S(?:.*\S)?)[ \t\r]*$", b"]:",
         check_value=True),
    rule("cli-secret", rb"(?:^|(?<=\s))--?(?=[\w.-]*?(?:" + SECRET_WORDS + rb")(?:=|\s))(?P<k>[\w.-]*+)(?:=|\s++)"
                       rb"(?P<s>[^\s\"'`-][^\s\"'`]*+)",
         SECRET_ANCHORS, check_value=True),
    rule("xml-secret", rb"<(?=[\w:.-]*?(?:" + SECRET_WORDS + rb"))(?P<k>[\w:.-]*+)(?:\s[^>]*+)?>\s*+"
                       rb"(?:<!\[CDATA\[(?P<cd>(?:[^\]]++|\](?!\]>))*+)\]\]>|(?P<s>[^<\s][^<]*+))</(?P=k)>",
         SECRET_ANCHORS,
         check_value=True),
    # a setting at the start of a line: the value runs to the end of it (INI, .cnf, .properties, YAML, .env)
    # (also commented out: "# requirepass x", "#hmac_keys = x": then the value must look like a secret)
    rule("key-value", rb"^[ \t]*+(?P<c>(?:#|;|//)[ \t]*+)?(?:-[ \t]+)?(?:export[ \t]+|set[ \t]+|-D)?(?P<k>" + KEY
         + rb")(?:[ \t]*+(?>:=|=>|:|=)[ \t]*+(?:&[\w-]++[ \t]++)?(?P<s>[^\s\"'\[{&*|>=].*+)"
         rb"|[ \t]++(?P<t>[^\s\"'\[{&*|>=:]\S*+)[ \t\r]*+$"
         rb"|[ \t]++(?:\"(?P<dq>[^\"\n]*+)\"|'(?P<sq>[^'\n]*+)')[ \t]*+;?[ \t\r]*+$)", SECRET_ANCHORS,
         check_value=True, flags=re.IGNORECASE | re.MULTILINE),
    # anywhere: key=value, key: value, "key": "value", key="value", -Dkey=value
    rule("key-value", rb"(?:^|(?<=[^\w.\\-]))(?P<kq>\")?(?P<k>" + KEY + rb")[\"']?"
                      rb"[ \t]*+(?>:=|=>|:|=)[ \t]*+(?:" + _Q + rb"|(?P<s>\$\{[^}\n]*+\}|[^\s\"',;<>{}\[\]]++))",
         SECRET_ANCHORS,
         check_value=True),
)

PEM_BEGIN = re.compile(rb"-----BEGIN [A-Z0-9 ]*(?:PRIVATE KEY(?: BLOCK)?|OpenVPN Static key V1)-----")
PEM_END = re.compile(rb"-----END [A-Z0-9 ]*(?:PRIVATE KEY(?: BLOCK)?|OpenVPN Static key V1)-----")
PEM_ANCHOR = b"-----begin"

BUILTIN_RULES: tuple[Rule, ...] = TOKEN_RULES + STRUCTURE_RULES
