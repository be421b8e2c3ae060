# ruff: noqa: E501  (a table of test inputs: one case per line reads best)
"""Redaction by value position: per format and class, planted secrets go, look-alikes stay byte for byte.

``python3 -m tests.test_redaction_positional`` prints recall per class and look-alike retention
(the figures in docs/redaction.md).
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest

from redaction import Redactor

try:
    import yaml
except ImportError:  # pragma: no cover - yaml is a test extra
    yaml = None


@dataclass
class Case:
    cls: str
    name: str
    text: str
    secrets: tuple[str, ...]
    keep: tuple[str, ...] = ()
    parse: str | None = None


C = Case
CASES: list[Case] = [
    # -- positional credential files ------------------------------------------------------------
    C("positional", ".pgpass", "db1.internal:5432:orders:app:PgPassF1le#77\n*:*:*:replicator:Repl1caT0rPw\n",
      ("PgPassF1le#77", "Repl1caT0rPw"), ("db1.internal:5432:orders:app:", "*:*:*:replicator:")),
    C("positional", "root/.netrc", "machine ftp.example.com login deploy password NetrcPw-9931\n"
      "machine api.example.com\n  login bot\n  password N3trcMultiLine\n",
      ("NetrcPw-9931", "N3trcMultiLine"), ("machine ftp.example.com login deploy", "login bot")),
    C("positional", "etc/nginx/.htpasswd", "alice:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/\nbob:rX9.kQ2mZpLwE\n"
      "carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", ("HqJZimcKQFAMYayBlzkrA/", "rX9.kQ2mZpLwE", "W6ph5Mm5Pz8GgiULbPgzG37mj9g="),
      ("alice:", "bob:", "carol:")),
    C("positional", "etc/pgbouncer/userlist.txt", '"appuser" "PgbUserl1stPw"\n"admin" "Adm1nPgbPassw"\n',
      ("PgbUserl1stPw", "Adm1nPgbPassw"), ('"appuser"', '"admin"')),
    C("positional", "etc/ppp/chap-secrets", "# client\tserver\tsecret\tIP addresses\n"
      "vpnuser\t*\tChapS3cretVal\t*\n\"bob\" pptpd \"B0bChapSecret\" 10.0.0.5\n",
      ("ChapS3cretVal", "B0bChapSecret"), ("# client\tserver\tsecret\tIP addresses", "vpnuser\t*\t", "10.0.0.5")),
    C("positional", "etc/snmp/snmpd.conf", "rocommunity Sn1mpRoComm  default -V systemonly\n"
      "rwcommunity6 Rw6CommSecret\ncom2sec readonly  default  C0m2SecCommty\nsysLocation    Sitting on the Dock\n",
      ("Sn1mpRoComm", "Rw6CommSecret", "C0m2SecCommty"), ("default -V systemonly", "sysLocation    Sitting on the Dock")),
    C("positional", "etc/bind/rndc.key", 'key "rndc-key" {\n\talgorithm hmac-sha256;\n'
      '\tsecret "bG9uZ0JpbmRTZWNyZXRLZXlWYWx1ZT0=";\n};\n', ("bG9uZ0JpbmRTZWNyZXRLZXlWYWx1ZT0=",),
      ('key "rndc-key" {', "algorithm hmac-sha256;")),
    C("positional", "etc/sssd/sssd.conf", "[domain/example]\nldap_default_bind_dn = cn=svc,dc=ex\n"
      "ldap_default_authtok = SssdAuthT0k!\nldap_default_authtok_type = password\n",
      ("SssdAuthT0k!",), ("ldap_default_authtok_type = password", "ldap_default_bind_dn = cn=svc,dc=ex"), "ini"),
    C("positional", "etc/wpa_supplicant/wpa_supplicant.conf", 'network={\n\tssid="HomeNet"\n\tpsk="WpaPskPhrase42"\n'
      "\tkey_mgmt=WPA-PSK\n}\nnetwork={\n\tssid=\"Raw\"\n\tpsk=4f2a9c0e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f\n}\n",
      ("WpaPskPhrase42", "4f2a9c0e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f"), ("key_mgmt=WPA-PSK", 'ssid="HomeNet"')),
    # -- short / abbreviated key names -----------------------------------------------------------
    C("abbrev-keys", "app.env", "DB_PW=ShortKeyPw77\nsmtp_pw: Smtp-Pw-1234\nREDIS_PASS=RedisPassV4l\n"
      "admin_passwd=AdmPasswdZ9\nVPN_PSK=VpnPsk-Secret1\nsim_pin=Pn839201\nAPIKEY=ApiKeyAbbrev55\n"
      "ldap_authtok=LdapAuthtokQ2\nsvc_cred=SvcCredValue8\nsnmp_community=SnmpCommEnv1\nauth=AuthEnvValue77\n",
      ("ShortKeyPw77", "Smtp-Pw-1234", "RedisPassV4l", "AdmPasswdZ9", "VpnPsk-Secret1", "Pn839201", "ApiKeyAbbrev55",
       "LdapAuthtokQ2", "SvcCredValue8", "SnmpCommEnv1", "AuthEnvValue77")),
    # -- generated values under innocuous names ------------------------------------------------
    C("generated", "service.conf", "value = k8Jq2LmX9vT4pR7wZ3nB\nseed=Qm9vZ2xlU2VlZFZhbHVlMTIz\n"
      "salt: 7fA2kL9mQ4xW8zR1tY6u\nconn = aZ4kT9wQ2mX7pL3vB8nR1sJ6\nGITHUB_PAT=Xk29dLq8Wm3Zp7Rt4Vn6Yb1c\n"
      "name = production-cluster-east\nmode = readwrite\n",
      ("k8Jq2LmX9vT4pR7wZ3nB", "Qm9vZ2xlU2VlZFZhbHVlMTIz", "7fA2kL9mQ4xW8zR1tY6u", "aZ4kT9wQ2mX7pL3vB8nR1sJ6",
       "Xk29dLq8Wm3Zp7Rt4Vn6Yb1c"), ("name = production-cluster-east", "mode = readwrite")),
    # -- directives whose key is not secret-named ---------------------------------------------
    C("directives", "etc/nginx/sites-enabled/api", "server {\n  location / {\n"
      "    proxy_set_header X-Api-Key Ng1nxApiKeyVal;\n    proxy_set_header X-Auth-Token \"NgxAuthTok3n99\";\n"
      "    proxy_pass http://127.0.0.1:8080;\n    fastcgi_pass unix:/run/php/php8.2-fpm.sock;\n"
      "    uwsgi_pass 10.0.3.7:3031;\n    grpc_pass grpc://backend;\n  }\n}\n"
      "map $http_x_client $client_token {\n  default \"\";\n  mobile \"MapT0kenMobile77x\";\n}\n",
      ("Ng1nxApiKeyVal", "NgxAuthTok3n99", "MapT0kenMobile77x"),
      ("proxy_pass http://127.0.0.1:8080;", "fastcgi_pass unix:/run/php/php8.2-fpm.sock;", "uwsgi_pass 10.0.3.7:3031;",
       "grpc_pass grpc://backend;")),
    C("directives", "etc/haproxy/haproxy.cfg", "backend api\n  http-request set-header Authorization \"Bearer HapB3arerTok\"\n"
      "  http-request set-header X-Api-Key HapXApiKey001\n  server s1 10.0.0.2:80 check\n",
      ("HapB3arerTok", "HapXApiKey001"), ("server s1 10.0.0.2:80 check",)),
    C("directives", "etc/apache2/sites-enabled/app.conf", "<VirtualHost *:443>\n"
      "  RequestHeader set X-Api-Key \"ApacheApiK3y9\"\n  RequestHeader set Authorization \"Basic QXBhY2hlQmFzaWNQdw==\"\n"
      "  ProxyPass / http://10.1.1.1:8080/\n</VirtualHost>\n", ("ApacheApiK3y9", "QXBhY2hlQmFzaWNQdw=="),
      ("ProxyPass / http://10.1.1.1:8080/",)),
    C("directives", "etc/postgresql/16/main/postgresql.conf",
      "ssl_passphrase_command = 'echo PgSslPassphr4se'\nport = 5432\npassword_encryption = scram-sha-256\n",
      ("PgSslPassphr4se",), ("port = 5432", "password_encryption = scram-sha-256")),
    # -- SQL in database logs -----------------------------------------------------------------------
    C("sql", "var/log/postgresql/postgresql-16-main.log",
      "2026-11-20 10:00:00 UTC LOG:  statement: CREATE ROLE app WITH LOGIN PASSWORD 'SqlCreateRole1';\n"
      "2026-11-20 10:00:01 UTC LOG:  statement: alter user bob with encrypted password 'SqlAlterUser2';\n"
      "2026-11-20 10:00:02 UTC LOG:  statement: CREATE USER carol PASSWORD 'SqlCreateUsr3'\n",
      ("SqlCreateRole1", "SqlAlterUser2", "SqlCreateUsr3"), ("CREATE ROLE app WITH LOGIN PASSWORD", "UTC LOG:")),
    C("sql", "var/log/mysql/general.log",
      "2026-11-20T10:00:00 12 Query\tCREATE USER 'u'@'%' IDENTIFIED BY 'MyIdentBy44';\n"
      "2026-11-20T10:00:01 12 Query\tSET PASSWORD FOR 'u'@'%' = PASSWORD('MySetPassw55')\n"
      "2026-11-20T10:00:02 12 Query\tgrant all on *.* to 'v'@'%' identified by \"MyGrantIdent6\"\n"
      "2026-11-20T10:00:03 12 Query\tALTER USER 'w'@'localhost' IDENTIFIED WITH mysql_native_password BY 'MyNativePw77'\n",
      ("MyIdentBy44", "MySetPassw55", "MyGrantIdent6", "MyNativePw77"), ("12 Query\tCREATE USER 'u'@'%'",)),
    # -- shell / argv -----------------------------------------------------------------------------
    C("argv", "root/.bash_history", "sshpass -p Sshp4ssSecret ssh admin@host\nhtpasswd -b /etc/nginx/.htpasswd admin HtpwdCli99\n"
      "mysql -uroot -pMysqlCliPw1 orders\ncurl -u api:CurlUserPw22 https://x.example.com/\n"
      "backup --password BackupPw-333 --verbose\nrestore --password=RestorePw444\nPGPASSWORD=PgEnvCliPw5 psql -U app\n"
      "echo SudoEchoPw66 | sudo -S systemctl restart x\necho 'PasswdStdin7' | passwd --stdin bob\n"
      "ls -la /var/lib/postgresql\n",
      ("Sshp4ssSecret", "HtpwdCli99", "MysqlCliPw1", "CurlUserPw22", "BackupPw-333", "RestorePw444", "PgEnvCliPw5",
       "SudoEchoPw66", "PasswdStdin7"), ("ls -la /var/lib/postgresql", "ssh admin@host", "psql -U app")),
    # -- structure --------------------------------------------------------------------------------------
    C("structure", "app/config.yml", "db:\n  password: |\n    YamlBlockPw1\n    SecondLineOfIt\n  host: db.local\n"
      "smtp:\n  secret: >-\n    YamlFoldedSecret2\n  port: 587\nbase: &creds\n  token: YamlAnch0rTok3\nother:\n  <<: *creds\n"
      "  timeout: 30s\n", ("YamlBlockPw1", "SecondLineOfIt", "YamlFoldedSecret2", "YamlAnch0rTok3"),
      ("host: db.local", "port: 587", "timeout: 30s", "<<: *creds"), "yaml"),
    C("structure", "app/settings.json", '{\n  "password":\n    "JsonNextLinePw1",\n  "users": [\n'
      '    {"name": "a", "password": "JsonArrPw22"},\n    {"name": "b", "token": "JsonArrTok333"}\n  ],\n'
      '  "retries": 5\n}\n', ("JsonNextLinePw1", "JsonArrPw22", "JsonArrTok333"), ('"retries": 5', '"name": "a"'), "json"),
    C("structure", "app/context.xml", '<?xml version="1.0"?>\n<config>\n  <password>XmlElemPw11</password>\n'
      '  <property name="password">XmlPropPw22</property>\n  <property name="timeout">30</property>\n'
      '  <entry key="db.password" value="XmlEntryPw33"/>\n  <entry key="db.host" value="db.local"/>\n</config>\n',
      ("XmlElemPw11", "XmlPropPw22", "XmlEntryPw33"), ('<property name="timeout">30</property>',
                                                      '<entry key="db.host" value="db.local"/>'), "xml"),
    C("structure", "etc/app/app.ini", "[db]\npassword = IniFirstLine1\n    IniContLine22\nhost = db.local\n",
      ("IniFirstLine1", "IniContLine22"), ("host = db.local",), "ini"),
    C("structure", "etc/app/urls.conf", "sentry_dsn = https://a1b2c3d4e5f60718293a4b5c6d7e8f90@o1.ingest.sentry.io/1\n"
      "callback = https://sso.example.com/login?next=https%3A%2F%2Fapp%2Fcb%3Ftoken%3DEncodedTok3nV\n"
      "jdbc_url = jdbc:oracle:thin:scott/OracleTig3r@db.example.com:1521/ORCL\n"
      "upstream = http://10.0.0.8:8080/health\n",
      ("a1b2c3d4e5f60718293a4b5c6d7e8f90", "EncodedTok3nV", "OracleTig3r"),
      ("upstream = http://10.0.0.8:8080/health", "@o1.ingest.sentry.io/1", "@db.example.com:1521/ORCL")),
    C("structure", "var/log/app/requests.log",
      "2026-11-20 DEBUG headers=[('Authorization', 'Bearer PyReprB3arerTok'), ('Accept', 'application/json')]\n",
      ("PyReprB3arerTok",), ("('Accept', 'application/json')",)),
    C("structure", "etc/gcp/sa.json", '{\n  "type": "service_account",\n  "project_id": "proj-1",\n'
      '  "private_key_id": "0123456789abcdef0123456789abcdef01234567",\n'
      '  "client_secret": "GcpClientS3cretX",\n  "client_email": "svc@proj-1.iam.gserviceaccount.com"\n}\n',
      ("0123456789abcdef0123456789abcdef01234567", "GcpClientS3cretX"), ('"project_id": "proj-1"',), "json"),
    C("structure", "exports/users.csv", "user,email,password,api_secret,created\nalice,a@x.org,CsvPassw0rd1,CsvApiSecr3t,2026-01-01\n"
      "bob,b@x.org,CsvPassw0rd2,CsvApiSecr4t,2026-01-02\n",
      ("CsvPassw0rd1", "CsvApiSecr3t", "CsvPassw0rd2", "CsvApiSecr4t"), ("alice,a@x.org,", "2026-01-02")),
    # -- vendor token shapes ----------------------------------------------------------------------
    C("tokens", "var/log/app/tokens.log", "slack xapp-1-A0123456789-1234567890123-abcdefabcdef0123\n"
      "slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\nstripe whsec_AbCdEfGhIjKlMnOpQrStUvWxYz012345\n"
      "stripe sk_live_51AbCdEfGhIjKlMnOpQrStUv\nstripe rk_live_51AbCdEfGhIjKlMnOpQrStZz\n"
      "twilio SK0123456789abcdef0123456789abcdef\ntwilio AC0123456789abcdef0123456789abcdee\n"
      "mailgun key-0123456789abcdef0123456789abcdef\ngh ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789\n"
      "gh github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz\ngl glpat-AbCdEfGhIjKlMnOpQrSt\n"
      "aws AKIAIOSFODNN7EXAMPLE\ngoogle AIzaSyA-1234567890abcdefghijklmnopqrstu\nnpm npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789\n"
      "sg SG.AbCdEfGhIjKlMnOpQrStUv.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfG\n"
      "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n",
      ("xapp-1-A0123456789-1234567890123-abcdefabcdef0123", "AbCdEfGhIjKlMnOpQrStUvWx", "whsec_AbCdEfGhIjKlMnOpQrStUvWxYz012345",
       "sk_live_51AbCdEfGhIjKlMnOpQrStUv", "rk_live_51AbCdEfGhIjKlMnOpQrStZz", "SK0123456789abcdef0123456789abcdef",
       "AC0123456789abcdef0123456789abcdee", "key-0123456789abcdef0123456789abcdef",
       "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
       "glpat-AbCdEfGhIjKlMnOpQrSt", "AKIAIOSFODNN7EXAMPLE", "AIzaSyA-1234567890abcdefghijklmnopqrstu",
       "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfG",
       "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"), ("slack ", "stripe ", "twilio ", "mailgun ")),
    C("structure", "etc/app/aliases.yaml", "shared: &sh 6SwmaGw86zN\nblock: &bk |\n  BlockAnchorLine1\n  BlockAnchorLine2\n"
      "hostname: &hn db.local\ndb:\n  password: *sh\n  token: *bk\n  host: *hn\n",
      ("6SwmaGw86zN", "BlockAnchorLine1", "BlockAnchorLine2"), ("hostname: &hn db.local", "host: *hn", "password: *sh"), "yaml"),
    # -- regressions from the Debian-conffile corpus (held-out seed) --------------------------------------
    C("structure", "etc/app/regress.ini", "_pw = /gz1OkI5wyaz/ck8Yh7qn7QUdSQ+IAh+\nsecret_key =\n    cE5MyXJC0Inrxk0QLcXON8h6\n"
      "#HTTPProxyPassword io./SDIIZ8vyt\nSensorPassword      \"qzIvtinP32txtgIuf\"\nrootpw  zxzAqkQd12st7GeM6BLuM1B7\n"
      "approle_secret_id = a6HX9cWwQOlivoTn7MPViRtM\nkey_file = /etc/ssl/private/Server2024Key.pem\n",
      ("/gz1OkI5wyaz/ck8Yh7qn7QUdSQ+IAh+", "cE5MyXJC0Inrxk0QLcXON8h6", "io./SDIIZ8vyt", "qzIvtinP32txtgIuf", "zxzAqkQd12st7GeM6BLuM1B7",
       "a6HX9cWwQOlivoTn7MPViRtM"), ("key_file = /etc/ssl/private/Server2024Key.pem",)),
    C("lookalikes", "usr/share/doc/app/README.rst", "  Cleartext-Password := \"@@SMTP_PASSWORD@@\"\n"
      "define( 'DB_PASSWORD', '%(db_password)s' );\nmy $post=\"target=${path}&secret=%(db_password)s\";\n"
      "  # Password hashing is described below\nmem_only_psk=99999\n", (),
      ("Cleartext-Password := \"@@SMTP_PASSWORD@@\"", "define( 'DB_PASSWORD', '%(db_password)s' );",
       "secret=%(db_password)s", "# Password hashing is described below", "mem_only_psk=99999")),
    # -- look-alikes only --------------------------------------------------------------------------
    C("lookalikes", "etc/app/settings.env", "TOKEN_TTL_SECONDS=3600\nDB_PASSWORD=${DB_PASSWORD}\n"
      "SMTP_PASSWORD=%(smtp_password)s\nAPI_TOKEN={{ api_token }}\nADMIN_PASSWORD=<changeme>\nSESSION_SECRET_FILE=/run/secrets/s\n"
      "AUTH_ENABLED=true\nTOKEN_LIFETIME=15m\nPASSWORD_MIN_LENGTH=12\n", (),
      ("TOKEN_TTL_SECONDS=3600", "DB_PASSWORD=${DB_PASSWORD}", "SMTP_PASSWORD=%(smtp_password)s", "API_TOKEN={{ api_token }}",
       "ADMIN_PASSWORD=<changeme>", "SESSION_SECRET_FILE=/run/secrets/s", "AUTH_ENABLED=true", "TOKEN_LIFETIME=15m",
       "PASSWORD_MIN_LENGTH=12")),
    C("lookalikes", "etc/app/security.properties", "password.encoder.iterations=4096\npassword_hash_rounds = 656000\n"
      "ssl.cipher.suites=TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256\ntoken.cache.size=1024\n", (),
      ("password.encoder.iterations=4096", "password_hash_rounds = 656000",
       "ssl.cipher.suites=TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256", "token.cache.size=1024")),
    C("lookalikes", "etc/login.defs", "PASS_MAX_DAYS\t99999\nPASS_MIN_DAYS\t0\nPASS_WARN_AGE\t7\nENCRYPT_METHOD SHA512\n", (),
      ("PASS_MAX_DAYS\t99999", "PASS_MIN_DAYS\t0", "PASS_WARN_AGE\t7", "ENCRYPT_METHOD SHA512")),
    C("lookalikes", "etc/nginx/conf.d/up.conf", "location /a { proxy_pass http://10.0.0.5:8080; }\n"
      "location /b { proxy_pass http://upstream_pool; }\nssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;\n"
      "auth_basic_user_file /etc/nginx/.htpasswd;\n", (),
      ("proxy_pass http://10.0.0.5:8080;", "proxy_pass http://upstream_pool;",
       "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;", "auth_basic_user_file /etc/nginx/.htpasswd;")),
    C("lookalikes", "etc/app/id.conf", "instance_id = 550e8400-e29b-41d4-a716-446655440000\n"
      "commit = 3f9a2c1b7e8d6f5a4b3c2d1e0f9a8b7c6d5e4f3a\nchecksum = sha256:9f86d081884c7d659a2feaa0c55ad015\n"
      "log_dir = /var/log/app/2026-11-20/node01\nversion = 2.14.3-rc1\n", (),
      ("instance_id = 550e8400-e29b-41d4-a716-446655440000", "commit = 3f9a2c1b7e8d6f5a4b3c2d1e0f9a8b7c6d5e4f3a",
       "checksum = sha256:9f86d081884c7d659a2feaa0c55ad015", "log_dir = /var/log/app/2026-11-20/node01",
       "version = 2.14.3-rc1")),
]


def parse_error(kind: str | None, text: str) -> str | None:
    try:
        if kind == "json":
            json.loads(text)
        elif kind == "yaml" and yaml is not None:
            yaml.safe_load(text)
        elif kind == "xml":
            ET.fromstring(text)
        elif kind == "ini":
            import configparser

            configparser.ConfigParser(interpolation=None).read_string(text)
    except Exception as exc:  # noqa: BLE001 - any failure to parse counts
        return f"{type(exc).__name__}: {exc}"
    return None


def redact(case: Case, chunk: int = 0) -> str:
    stream = Redactor(salt=b"t").stream(case.name)
    data = case.text.encode()
    step = chunk or len(data) or 1
    out = b"".join(stream.feed(data[i:i + step]) for i in range(0, len(data), step)) + stream.close()
    return out.decode()


def leaked(secret: str, out: str) -> bool:
    """The whole secret, or (for long ones) any 12-character piece of it, is still in the output."""
    if secret in out:
        return True
    return len(secret) > 12 and any(secret[i:i + 12] in out for i in range(len(secret) - 11))


def score(cases: list[Case] = CASES, chunk: int = 0) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for case in cases:
        out = redact(case, chunk)
        row = result.setdefault(case.cls, {"secrets": 0, "found": 0, "lookalikes": 0, "kept": 0, "parse_fail": 0})
        row["secrets"] += len(case.secrets)
        row["found"] += sum(not leaked(s, out) for s in case.secrets)
        row["lookalikes"] += len(case.keep)
        row["kept"] += sum(k in out for k in case.keep)
        row["parse_fail"] += parse_error(case.parse, out) is not None
    return result


@pytest.mark.parametrize("case", CASES, ids=[f"{c.cls}:{c.name}" for c in CASES])
def test_case(case: Case) -> None:
    for chunk in (0, 5):
        out = redact(case, chunk)
        assert [s for s in case.secrets if leaked(s, out)] == [], out
        assert [k for k in case.keep if k not in out] == [], out
        assert parse_error(case.parse, out) is None, out


def test_structured_files_parse_before_redaction() -> None:
    for case in CASES:
        assert parse_error(case.parse, case.text) is None, case.name


def main() -> int:
    rows = score()
    total = {"secrets": 0, "found": 0, "lookalikes": 0, "kept": 0, "parse_fail": 0}
    print(f"{'class':<14}{'recall':>16}{'look-alikes kept':>20}{'parse fails':>13}")
    for cls, row in rows.items():
        for k in total:
            total[k] += row[k]
        print(f"{cls:<14}{row['found']:>8}/{row['secrets']:<7}{row['kept']:>12}/{row['lookalikes']:<7}{row['parse_fail']:>13}")
    print(f"{'total':<14}{total['found']:>8}/{total['secrets']:<7}{total['kept']:>12}/{total['lookalikes']:<7}"
          f"{total['parse_fail']:>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
