"""Where values are, per format: rules that know a value's position (not only its key's name).

``FORMAT_RULES`` hold anchors like every built-in rule (they run on anchored lines of any file);
``FILE_RULES`` run on every line of files known by name (.pgpass, .netrc, htpasswd, chap-secrets …);
``CONFIG_RULES`` run on every line of configuration files (not logs): positional shapes and
generated values under innocuous names. Every pattern runs in linear time (possessive
quantifiers, look-ahead key tests, no nested unbounded repeats).
"""

from __future__ import annotations

import re

from redaction.rules import KEY, SECRET_ANCHORS, SECRET_WORDS, Rule, rule
from redaction.shape import HEX, ID_KEY, is_setting, looks_generated, secretish

_QV = rb"(?:\"(?P<dq>[^\"\n]*+)\"|'(?P<sq>[^'\n]*+)'|(?P<s>[^\s\"';,]++))"  # a quoted or bare value


# name="…password…" / key="…" attribute (XML property and entry elements)
_NAMED = rb"\b(?:name|key)[ \t]*+=[ \t]*+[\"'](?P<k>(?=[^\"'\n]*?(?:" + SECRET_WORDS + rb"))[^\"'\n]*+)"


def _hexlike(value: bytes) -> bool:
    return looks_generated(value) or (len(value) >= 20 and HEX.fullmatch(value) is not None)


VENDOR_RULES: tuple[Rule, ...] = (
    rule("slack-token", rb"\b(?P<s>xapp-\d-[A-Za-z0-9-]{10,}+|xox[abposre]\.[\w.-]{10,}+)", (b"xapp-", b"xox"),
         flags=0),
    rule("stripe-key", rb"\b(?P<s>whsec_[0-9a-zA-Z]{24,}+|(?:rk|sk)_(?:live|test)_[0-9a-zA-Z]{24,}+)",
         (b"whsec_", b"rk_live_", b"sk_live_", b"rk_test_", b"sk_test_"), flags=0),
    # Twilio SK…/AC… + 32 hex: no rare literal, so searched over whole blocks (anchors ()); each pattern
    # starts with its literal so that `re` can skip ahead to it; with hyperscan, a block where the prefilter
    # (the literal + 32 hex, every match holds it) is absent skips that pass
    rule("twilio-key", rb"SK(?<![\w-]SK)(?P<s>[0-9a-f]{32})(?![\w-])", (), flags=0, prefilter=rb"SK[0-9a-f]{32}"),
    rule("twilio-key", rb"AC(?<![\w-]AC)(?P<s>[0-9a-f]{32})(?![\w-])", (), flags=0, prefilter=rb"AC[0-9a-f]{32}"),
    rule("mailgun-key", rb"(?<![\w-])(?P<s>key-[0-9a-zA-Z]{32})(?![\w-])", b"key-", flags=0),
    rule("anthropic-key", rb"\b(?P<s>sk-ant-[\w-]{32,}+)", b"sk-ant-", flags=0),
    rule("square-token", rb"\b(?P<s>sq0(?:atp|csp)-[\w-]{22,}+|EAAA[\w-]{60,}+)", (b"sq0", b"eaaa"), flags=0),
    rule("azure-conn", rb"\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)=(?P<s>[^;\s\"']++)", b"key", ),
    rule("telegram-token", rb"\b\d{8,10}:(?P<s>AA[\w-]{33})\b", b":aa", flags=0),
    rule("newrelic-key", rb"\b(?P<s>NRAK-[A-Z0-9]{27}|NRJS-[a-f0-9]{19})\b", (b"nrak-", b"nrjs-"), flags=0),
    rule("atlassian-token", rb"\b(?P<s>ATATT3[\w=-]{100,}+)", b"atatt3", flags=0),
)

FORMAT_RULES: tuple[Rule, ...] = VENDOR_RULES + (
    # cloud credential JSON: these fields are secrets whatever their suffix (private_key_id ends in _id)
    rule("cloud-credential", rb"[\"'](?:private_key_id|private_key|client_secret|refresh_token|secret_access_key"
                             rb"|aws_secret_access_key|aws_session_token|client_x509_key)[\"'][ \t]*+:[ \t]*+"
                             rb"\"(?P<dq>(?:[^\"\\\n]|\\.)*+)\"", (b"private_key", b"secret", b"refresh_token",
                                                                  b"session_token", b"x509_key")),
    # SQL in database logs: CREATE/ALTER ROLE|USER … PASSWORD '…', IDENTIFIED [WITH plugin] BY '…', PASSWORD('…')
    rule("sql-password", rb"(?<![\w\"'.-])(?:password(?:[ \t]*+=[ \t]*+|[ \t]*+\([ \t]*+|[ \t]++)"
                         rb"|identified[ \t]++(?:with[ \t]++[\w'\"]++"
                         rb"[ \t]++)?(?:by|as)[ \t]++(?:password[ \t]*+)?(?:\([ \t]*+)?)"
                         rb"(?:''(?P<cd>[^'\n]++)''|'(?P<sq>(?:[^'\\\n]|\\.|'')*+)'"
                         rb"|\"(?P<dq>(?:[^\"\\\n]|\\.)*+)\"|E'(?P<s>[^'\n]*+)')",
         (b"password", b"identified"), check_value=True),
    # ssl_passphrase_command = 'echo secret', a password command that prints the secret
    rule("passphrase-command", rb"pass\w*?_(?:command|cmd)[\"']?[ \t]*+[=:][ \t]*+[\"']?[^\"'\n]*?"
                               rb"\b(?:echo|printf)[ \t]++(?:-[neE]++[ \t]++)?[\"']?(?P<s>[^\"'\s|;]++)",
         (b"_command", b"_cmd")),
    # request headers set by nginx/apache/haproxy/envoy whose name says secret: the value (after a scheme)
    rule("header-directive", rb"\b(?:proxy_set_header|grpc_set_header|add_header|more_set_(?:input_)?headers"
                             rb"|(?:Request)?Header[ \t]++(?:always[ \t]++)?(?:set|append|add|merge)"
                             rb"|http-(?:request|response)[ \t]++(?:set|add)-header|reqadd|rspadd)[ \t]++[\"']?"
                             rb"(?=[\w-]*?(?:key|token|auth|secret|pass|signature|session|cookie|credential))[\w-]++"
                             rb":?[\"']?[ \t]++[\"']?(?:(?:basic|bearer|token|digest|apikey)[ \t]++)?"
                             rb"(?P<s>[^\s\"';]++)", (b"_header", b"-header", b"header ", b"reqadd", b"rspadd"),
         check=lambda v: not v.startswith(b"$") and not is_setting(v)),
    # ('Authorization', 'Bearer x') and other Python-repr'd header tuples
    rule("header-tuple", rb"\([ \t]*+b?['\"](?=[\w-]*?(?:auth|token|key|secret|cookie|sessionid|pass))[\w-]++['\"]"
                         rb"[ \t]*+,[ \t]*+b?['\"](?:(?:basic|bearer|token|digest)[ \t]++)?(?P<sq>[^'\"\n]++)['\"]",
         (b"auth", b"token", b"key", b"secret", b"cookie", b"sessionid", b"pass"), check_value=True),
    # URL userinfo that is a generated key (Sentry DSN https://KEY@host/1) and Oracle user/pass@host
    rule("url-key", rb"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*+://(?P<s>[^/\s:@\"'<>]{16,}+)(?::[^/\s@\"'<>]*+)?@",
         b"://", check=_hexlike),
    rule("jdbc-credentials", rb"jdbc:oracle:\w++:(?:[\w$#]++)/(?P<s>[^@\s\"']++)@", b"jdbc:oracle"),
    rule("oracle-cli", rb"\b(?:sqlplus|rman|expdp|impdp|sqlldr|exp|imp)(?:[ \t]++-\w++)*+[ \t]++[\w$#]++/"
                       rb"(?P<s>[^@\s/\"']++)", (b"sqlplus", b"rman", b"expdp", b"impdp", b"sqlldr", b"exp ", b"imp ")),
    # BIND/named: secret "base64";  snmpd: rocommunity SECRET, com2sec name source SECRET
    rule("bind-secret", rb"(?:^|(?<=[\s{;]))secret[ \t]++\"(?P<dq>[^\"\n]++)\"", b"secret"),
    rule("snmp-community", rb"^[ \t]*+(?:r[ow]community6?|trapcommunity)[ \t]++(?P<s>[^\s#]++)",
         b"community", flags=re.IGNORECASE | re.MULTILINE, check_value=True),
    rule("snmp-community", rb"^[ \t]*+com2sec6?[ \t]++(?:-Cn[ \t]++\S++[ \t]++)?\S++[ \t]++\S++[ \t]++(?P<s>[^\s#]++)",
         b"com2sec", flags=re.IGNORECASE | re.MULTILINE),
    rule("snmp-community", rb"^[ \t]*+(?:trap2?sink|informsink)[ \t]++\S++[ \t]++(?P<s>[^\s#]++)",
         (b"trapsink", b"trap2sink", b"informsink"), flags=re.IGNORECASE | re.MULTILINE),
    # XML key/value pairs: <entry key="db.password" value="x"/>, <property name="password">x</property>
    rule("xml-named-value", _NAMED +
                            rb"[\"'][ \t]++(?:[\w:.-]++[ \t]*+=[ \t]*+(?:\"[^\"\n]*+\"|'[^'\n]*+')[ \t]++)*?"
                            rb"value[ \t]*+=[ \t]*+(?:\"(?P<dq>[^\"\n]*+)\"|'(?P<sq>[^'\n]*+)')", SECRET_ANCHORS,
         check_value=True),
    rule("xml-named-text", _NAMED +
                           rb"[\"'][^>\n]*+(?<!/)>(?P<s>[^<\n]++)<", SECRET_ANCHORS, check_value=True),
    # PHP arrays: $config['smtp_pass'] = '…'; $conf['a']['UpdatePass'] = "…"
    rule("php-array", rb"\[[ \t]*+['\"](?P<k>" + KEY + rb")['\"][ \t]*+\][ \t]*+=>?[ \t]*+"
                      rb"(?:\"(?P<dq>(?:[^\"\\\n]|\\.)*+)\"|'(?P<sq>(?:[^'\\\n]|\\.)*+)')", SECRET_ANCHORS,
         check_value=True),
    # JSON {"key": "smtp_password", "value": "…"} and any quoted key naming a secret ("a:b-password:c": "…")
    rule("json-key-value", rb"\"(?:key|name)\"[ \t]*+:[ \t]*+\"(?P<k>" + KEY + rb")\"[ \t]*+,[ \t]*+\"value\"[ \t]*+:"
                           rb"[ \t]*+\"(?P<dq>(?:[^\"\\\n]|\\.)*+)\"", SECRET_ANCHORS, check_value=True),
    rule("json-key-value", rb"\"(?P<k>(?=[^\"\n]*?(?:" + SECRET_WORDS + rb"))[^\"\n]*+)\"[ \t]*+:[ \t]*+"
                           rb"\"(?P<dq>(?:[^\"\\\n]|\\.)*+)\"", SECRET_ANCHORS, check_value=True,
         check=lambda v: secretish(v) or looks_generated(v)),
    # <name>…Password</name><value>…</value> on one line (Hadoop style; the next-line form is a stream state)
    rule("xml-name-value", rb"<name>[ \t]*+(?P<k>" + KEY + rb")[ \t]*+</name>[ \t]*+<value>(?P<s>[^<\n]++)</value>",
         SECRET_ANCHORS, check_value=True),
    # Apache SetEnv / nginx env / *_param directives naming a secret variable
    rule("env-directive", rb"\b(?:SetEnv|SetEnvIf\w*+|env|fastcgi_param|uwsgi_param|scgi_param)[ \t]++[\"']?"
                          rb"(?P<k>" + KEY
                          + rb")[\"']?[ \t]++" + _QV, (b"setenv", b"env ", b"_param"), check_value=True),
    # proftpd SQLConnectInfo db@host user PASSWORD; net-snmp createUser name SHA AUTHPASS AES PRIVPASS
    rule("sqlconnectinfo", rb"\bSQLConnectInfo[ \t]++\S++[ \t]++\S++[ \t]++" + _QV, b"sqlconnectinfo",
         check_value=True),
    rule("snmp-user", rb"\bcreateUser[ \t]++(?:-e[ \t]++\S++[ \t]++)?\S++[ \t]++(?:MD5|SHA\S*+)[ \t]++(?P<s>\S++)",
         b"createuser"),
    rule("snmp-user", rb"\bcreateUser[ \t]++(?:-e[ \t]++\S++[ \t]++)?\S++[ \t]++(?:MD5|SHA\S*+)[ \t]++\S++[ \t]++"
                      rb"(?:DES|AES\S*+)[ \t]++(?P<s>\S++)", b"createuser"),
    # a URL with userinfo URL-encoded inside another URL's query: https%3A%2F%2Fuser%3Apass%40host
    rule("url-credentials", rb"%3A%2F%2F[^\s&\"'/%:@]*+%3A(?P<s>(?:(?!%40)[^\s&\"'/@])++)%40", b"%2f%2f"),
    # .netrc style (also one-line in scripts): machine h login u password p
    rule("netrc", rb"\bmachine[ \t]++\S++(?:[ \t]++(?:login|account)[ \t]++\S++)*+[ \t]++password[ \t]++(?P<s>\S++)",
         b"machine"),
)

# a name (whole path) pattern → rules for every line of such files
FILE_RULES: tuple[tuple[re.Pattern[str], tuple[Rule, ...]], ...] = (
    (re.compile(r"(?:^|/)\.?pgpass$"),
     (rule("pgpass", rb"^[ \t]*+(?!#)(?:(?:[^:\\\n]|\\.)*+:){4}(?P<s>.++)", ()),)),
    (re.compile(r"(?:^|/)[._]?netrc$"),
     (rule("netrc", rb"(?:^|(?<=\s))(?:password|passwd|account)[ \t]++(?P<s>\S++)", ()),)),
    (re.compile(r"htpasswd|htdigest|(?:^|/)(?:nginx|apache2?|httpd)/[^/]*passw"),
     (rule("htpasswd", rb"^[ \t]*+[^\s:#][^:\n]*+:(?:[^:\n]*+:)?(?P<s>[^:\s]++)[ \t\r]*+$", (),
           flags=re.IGNORECASE | re.MULTILINE),)),
    (re.compile(r"(?:^|/)(?:chap|pap|srp)-secrets$"),
     (rule("ppp-secret", rb"^[ \t]*+(?!#)(?:\"[^\"\n]*+\"|\S++)[ \t]++(?:\"[^\"\n]*+\"|\S++)[ \t]++" + _QV, (),
           flags=re.IGNORECASE | re.MULTILINE, check_value=True),
      rule("ppp-secret", rb"^[ \t]*+#[ \t]*+(?:\"[^\"\n]*+\"|\S++)[ \t]++(?:\"[^\"\n]*+\"|\S++)[ \t]++" + _QV, (),
           flags=re.IGNORECASE | re.MULTILINE, check=secretish))),
    (re.compile(r"(?:^|/)davfs2/secrets$"),
     (rule("davfs2-secret", rb"^[ \t]*+(?:#[ \t]*+)?(?:\"[^\"\n]*+\"|\S++)[ \t]++(?:\"[^\"\n]*+\"|\S++)[ \t]++"
           + _QV, (),
           flags=re.IGNORECASE | re.MULTILINE, check=lambda v: not is_setting(v) and len(v) >= 4),)),
    (re.compile(r"(?:^|/)sasl_passwd$"),
     (rule("sasl-passwd", rb"^[ \t]*[^\s#]\S*[ \t]+[^\s:#]+:(?P<s>\S(?:.*\S)?)[ \t\r]*$", (), check_value=True),)),
)

# lines of configuration files, whatever their anchors
CONFIG_RULES: tuple[Rule, ...] = (
    # pgbouncer userlist and the like: a line of exactly two quoted strings, the second a password
    rule("userlist", rb"^[ \t]*+\"[^\"\n]++\"[ \t]++\"(?P<dq>[^\"\n]++)\"[ \t\r]*+$", (),
         flags=re.IGNORECASE | re.MULTILINE, check=lambda v: not is_setting(v)),
    # .pgpass shape in any file: host:port:database:user:password
    rule("pgpass", rb"^[ \t]*+[\w.*-]++:(?:\d++|\*):[\w.*-]++:[\w.*@-]++:(?P<s>(?:[^:\s\\]|\\.)++)[ \t\r]*+$", (),
         flags=re.IGNORECASE | re.MULTILINE, check=lambda v: not is_setting(v)),
    # htpasswd shape: user:$apr1$… / {SHA}… / 13-char DES crypt with mixed classes
    rule("htpasswd", rb"^[\w.@-]++:(?P<s>\$apr1\$\S++|\{SHA\}\S++|[./0-9A-Za-z]{13})[ \t\r]*+$", (),
         flags=re.MULTILINE, check=lambda v: not v[:1].isalpha() or looks_generated(v, 13) or secretish(v)),
)

# key = value / key: value / "key": "value" anywhere in a config line; the value decides (generated shape)
GENERIC_KV = re.compile(rb"(?:^|(?<=[\s,{;(#]))(?P<kq>[\"']?)(?P<k>[A-Za-z_][\w.-]*+)(?P=kq)[ \t]*+(?:=|:(?!//))[ \t]*+"
                        rb"(?:&[\w-]++[ \t]++)?(?:\"(?P<dq>[^\"\s]++)\"|'(?P<sq>[^'\s]++)'|(?P<s>[^\s\"',;}\]=]++))")


def generic_ok(key: bytes, value: bytes) -> bool:
    """An innocuous name holding a generated value: a secret, unless the name says it is an identifier."""
    return not ID_KEY.search(key) and looks_generated(value)


# nginx `map $in $out_token { … }`: the values of a map whose target names a secret
MAP_START = re.compile(rb"^[ \t]*+map[ \t]++\S++[ \t]++\$(?=[\w]*?(?:" + SECRET_WORDS + rb"))\w++[ \t]*+\{",
                       re.IGNORECASE)
MAP_SOURCE = re.compile(rb"^[ \t]*+map[ \t]++\$(?=\w*?(?:" + SECRET_WORDS + rb"))\w++[ \t]++\S++[ \t]*+\{",
                        re.IGNORECASE)
MAP_FIRST = re.compile(rb"^[ \t]*+(?:\"([^\"\n]*+)\"|([^\s;{}\"]++))")
INI_EMPTY = re.compile(rb"^([ \t]*+)(?P<k>" + KEY + rb")[ \t]*+[=:][ \t]*+\r?$", re.IGNORECASE)
XML_NAME = re.compile(rb"^[ \t]*+<name>[ \t]*+(?P<k>" + KEY + rb")[ \t]*+</name>[ \t]*+\r?$", re.IGNORECASE)
XML_VALUE = re.compile(rb"^[ \t]*+<value>([^<\n]++)</value>")
YAML_ALIAS = re.compile(rb"(?:^|(?<=[\s{,]))[\"']?(?P<k>" + KEY + rb")[\"']?[ \t]*+:[ \t]*+\*(?P<a>[\w.-]++)",
                        re.IGNORECASE | re.MULTILINE)
YAML_ANCHOR = re.compile(rb":[ \t]++&([\w.-]++)[ \t]++([^\s#][^\n#]*+)")
WRAP_TOKEN = re.compile(rb"(?<!\S)[A-Za-z0-9+/=_-]{16,}+(?!\S)")
MAP_ENTRY = re.compile(rb"^([ \t]*+(?:\"[^\"\n]*+\"|[^\s;{}]++)[ \t]++)(?:\"([^\"\n]*+)\"|([^\s;\"]++))")
# a YAML key (secret-named) introducing a block scalar: `password: |`, `secret: >-`, `key: &a |`
YAML_BLOCK = re.compile(rb"^([ \t]*+)(?:-[ \t]++)?(?P<k>" + rb"(?=[\w.-]*?(?:" + SECRET_WORDS + rb"))[\w.-]*+"
                        + rb")[\"']?[ \t]*+:[ \t]*+(?:&\S++[ \t]++)?[|>][-+0-9]*+[ \t]*+(?:#.*+)?\r?$", re.IGNORECASE)
# the value of a key on the next line (JSON `"password":` then the value)
DANGLING_KEY = re.compile(rb"(?:^|(?<=[\s{,]))\"(?=[^\"\n]*?(?:" + SECRET_WORDS + rb"))(?P<k>[^\"\n]++)\"[ \t]*+:"
                          rb"[ \t\r]*+$", re.IGNORECASE)
NEXT_VALUE = re.compile(rb"^([ \t]*+)\"((?:[^\"\\\n]|\\.)*+)\"")
CSV_SECRET_COL = re.compile(rb"(?:" + SECRET_WORDS + rb"|^(?:key|pin|hash)$)", re.IGNORECASE)
LOG_NAME = re.compile(r"(?:\.log(?:\.\d+)?(?:\.gz)?$|(?:^|/)log/|journal|syslog|(?:^|/)messages|audit|\.out$|\.err$)",
                      re.IGNORECASE)
HISTORY_NAME = re.compile(r"history$|\.sh$|(?:^|/)ps[-_.]|cmdline|environ", re.IGNORECASE)
# configuration files by name: every line of them is looked at (positional shapes, generated values)
CONFIG_NAME = re.compile(
    r"(?:^|/)(?:etc|conf|config|configs|doc|examples?|templates?|defaults|secrets?|sites-\w+|mods-\w+)/"
    r"|(?:^|/)\.[^/]+$|\.d/[^/]+$"
    r"|\.(?:conf|cnf|cfg|ini|properties|env|ya?ml|json|xml|toml|php|inc|rb|py|pl|px|service|socket|timer|network"
    r"|netdev|template|tmpl|sample|example|dist|default|rc|csv|tsv|j2|erb|key|pem|secrets?|htpasswd|htdigest"
    r"|credentials|tf|tfvars|hcl|plist|repo|list|rst)$"
    r"|passw|secret|credential|userlist|pgpass|netrc|authinfo|chap-|pap-|sasl|settings", re.IGNORECASE)
CONFIG_LIMIT = 4 << 20  # past this many bytes a "configuration file" is looked at like a log

__all__ = ["CONFIG_RULES", "FILE_RULES", "FORMAT_RULES", "GENERIC_KV", "SECRET_ANCHORS", "generic_ok"]
