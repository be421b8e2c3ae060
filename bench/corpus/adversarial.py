"""Generators of adversarial files, one per leak class of issue 12, with their ground truth.

Each generator takes a random source and an instance number and returns a ``Doc``: a file name, its
format, the text, the planted secrets (value, shape) and the look-alikes (a needle that must survive
byte for byte). ``generate`` writes ``n`` instances of every class under ``DIR/CLASS/``.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import textwrap
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.corpus.shapes import ALNUM, SECRET_SHAPES, WORDS, _alnum, _s, lookalike, passphrase, secret
from bench.corpus.slots import parses


@dataclass
class Doc:
    name: str
    fmt: str
    text: str = ""
    secrets: list[tuple[str, str]] = field(default_factory=list)
    lookalikes: list[str] = field(default_factory=list)


SHAPE_OF: dict[str, str] = {}  # generic secrets' real shapes, for the ground truth


def _pw(rng: random.Random, forbid: str = " \"'#;:,\\`$&<>=!%", shape: str | None = None) -> str:
    """A generic secret (random alnum, base64 without padding, hex, DES crypt) for the structural classes."""
    shape = shape or rng.choice(["alnum", "alnum", "alnum", "base64", "hex", "des-crypt"])
    name, value = secret(rng, forbid + "\n\t", shape)
    SHAPE_OF[value] = name
    return value


def _user(rng: random.Random) -> str:
    return rng.choice(["app", "svc", "backup", "deploy", "report", "alice", "bob", "etl"]) + str(rng.randrange(1, 99))


def _host(rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}{rng.randrange(1, 9)}.example.net"


def _case(rng: random.Random, s: str) -> str:
    return rng.choice([s.upper(), s.lower(), s.title()])


GENERATORS: dict[str, Callable[[random.Random, int], Doc]] = {}


def gen(name: str):
    def deco(f):
        GENERATORS[name] = f
        return f
    return deco


# ---- positional credential files ------------------------------------------------------------------------

@gen("pgpass")
def _(rng, i):
    d = Doc(f"home/{_user(rng)}/.pgpass", "positional")
    lines = []
    for _ in range(3):
        pw = _pw(rng)
        d.secrets.append((pw, "alnum"))
        lines.append(f"{_host(rng)}:{rng.choice(['5432', '*', '6432'])}:{rng.choice(['*', 'app', 'sales'])}:"
                     f"{_user(rng)}:{pw}")
    d.text = "\n".join(lines) + "\n"
    return d


@gen("netrc")
def _(rng, i):
    d = Doc(f"home/{_user(rng)}/.netrc", "positional")
    a, b = _pw(rng), _pw(rng)
    d.secrets += [(a, "alnum"), (b, "alnum")]
    d.text = (f"machine {_host(rng)} login {_user(rng)} password {a}\n"
              f"machine {_host(rng)}\n  login {_user(rng)}\n  password {b}\n")
    return d


@gen("htpasswd")
def _(rng, i):
    d = Doc(f"etc/apache2/.htpasswd{i}", "positional")
    des = _s(rng, "./0123456789" + ALNUM, 13)
    bc = SECRET_SHAPES["bcrypt"](rng)
    apr = "$apr1$" + _s(rng, ALNUM, 8) + "$" + _s(rng, "./" + ALNUM, 22)
    sha = "{SHA}" + base64.b64encode(rng.randbytes(20)).decode()
    d.secrets += [(des, "des-crypt"), (bc, "bcrypt"), (apr, "apr1"), (sha, "sha1")]
    d.text = f"{_user(rng)}:{des}\n{_user(rng)}:{bc}\n{_user(rng)}:{apr}\n{_user(rng)}:{sha}\n"
    return d


@gen("pgbouncer-userlist")
def _(rng, i):
    d = Doc("etc/pgbouncer/userlist.txt", "positional")
    pw = _pw(rng)
    md5 = "md5" + rng.randbytes(16).hex()
    scram = (f"SCRAM-SHA-256$4096:{base64.b64encode(rng.randbytes(16)).decode()}$"
             f"{base64.b64encode(rng.randbytes(32)).decode()}:{base64.b64encode(rng.randbytes(32)).decode()}")
    d.secrets += [(pw, "alnum"), (md5, "md5"), (scram, "scram")]
    d.text = f'"{_user(rng)}" "{pw}"\n"{_user(rng)}" "{md5}"\n"{_user(rng)}" "{scram}"\n'
    return d


@gen("chap-secrets")
def _(rng, i):
    d = Doc(rng.choice(["etc/ppp/chap-secrets", "etc/ppp/pap-secrets"]), "positional")
    d.text = "# Secrets for authentication using CHAP\n# client\tserver\tsecret\t\t\tIP addresses\n"
    for _ in range(2):
        pw = _pw(rng)
        d.secrets.append((pw, "alnum"))
        d.text += f"{_user(rng)}\t*\t{pw}\t*\n"
    return d


@gen("snmpd-community")
def _(rng, i):
    d = Doc("etc/snmp/snmpd.conf", "positional")
    c1, c2, c3, a, p = (_pw(rng) for _ in range(5))
    d.secrets += [(c1, "alnum"), (c2, "alnum"), (c3, "alnum"), (a, "alnum"), (p, "alnum")]
    d.text = (f"agentAddress udp:161\nrocommunity {c1} 10.0.0.0/8\nrwcommunity6 {c2} fd00::/8\n"
              f"com2sec readonly default {c3}\ncreateUser {_user(rng)} SHA {a} AES {p}\n"
              "sysLocation    Sitting on the Dock of the Bay\n")
    d.lookalikes.append("agentAddress udp:161")
    return d


@gen("bind-secret")
def _(rng, i):
    d = Doc(f"etc/bind/keys/{rng.choice(WORDS)}.key", "directive")
    s = base64.b64encode(rng.randbytes(32)).decode()
    d.secrets.append((s, "base64"))
    d.text = f'key "{rng.choice(WORDS)}-key" {{\n\talgorithm hmac-sha256;\n\tsecret "{s}";\n}};\n'
    d.lookalikes.append("algorithm hmac-sha256;")
    return d


@gen("sssd-authtok")
def _(rng, i):
    d = Doc("etc/sssd/sssd.conf", "ini")
    s = _pw(rng, " \"'#;\\")
    d.secrets.append((s, "alnum"))
    d.text = (f"[domain/example]\nid_provider = ldap\nldap_uri = ldaps://{_host(rng)}\n"
              f"ldap_default_bind_dn = cn=sssd,dc=example,dc=net\nldap_default_authtok_type = password\n"
              f"ldap_default_authtok = {s}\n")
    d.lookalikes.append("ldap_default_authtok_type = password")
    return d


@gen("wpa-psk")
def _(rng, i):
    d = Doc("etc/wpa_supplicant/wpa_supplicant.conf", "directive")
    a = passphrase(rng).replace('"', "")
    b = rng.randbytes(32).hex()
    d.secrets += [(a, "passphrase"), (b, "hex")]
    d.text = (f'network={{\n\tssid="{rng.choice(WORDS)}"\n\tpsk="{a}"\n}}\nnetwork={{\n\tssid="lab"\n\tpsk={b}\n'
              "\tkey_mgmt=WPA-PSK\n}\n")
    d.lookalikes.append("key_mgmt=WPA-PSK")
    return d


# ---- key names ---------------------------------------------------------------------------------------------

@gen("short-key-names")
def _(rng, i):
    d = Doc(f"etc/app{i}/settings.ini", "ini")
    a, b, c = _pw(rng), _pw(rng), _pw(rng)
    d.secrets += [(a, "alnum"), (b, "alnum"), (c, "alnum")]
    d.text = f"[db]\nuser = {_user(rng)}\npw = {a}\n_pw = {b}\n[wifi]\npsk = {c}\nretries = 5\n"
    d.lookalikes.append("retries = 5")
    return d


@gen("innocuous-names")
def _(rng, i):
    d = Doc(f"etc/app{i}/app.env", "env")
    vals = [("value", _alnum(rng, 32)), ("seed", rng.randbytes(20).hex()),
            ("salt", base64.b64encode(rng.randbytes(24)).decode()), ("conn", _alnum(rng, 28)),
            ("GITHUB_PAT", "github_pat_" + _alnum(rng, 22) + "_" + _alnum(rng, 59))]
    d.text = "LOG_LEVEL=info\n" + "".join(f"{k}={v}\n" for k, v in vals) + "WORKERS=8\n"
    d.secrets += [(v, "generated") for _, v in vals]
    d.lookalikes += ["LOG_LEVEL=info", "WORKERS=8"]
    return d


@gen("ssl-passphrase-command")
def _(rng, i):
    d = Doc("etc/postgresql/15/main/postgresql.conf", "kv")
    s = _pw(rng)
    d.secrets.append((s, "alnum"))
    d.text = (f"ssl = on\nssl_cert_file = '/etc/ssl/certs/{i}.pem'\nssl_passphrase_command = 'echo {s}'\n"
              "ssl_passphrase_command_supports_reload = on\npassword_encryption = scram-sha-256\n")
    d.lookalikes += ["password_encryption = scram-sha-256", "ssl_passphrase_command_supports_reload = on"]
    return d


# ---- directives ----------------------------------------------------------------------------------------------

@gen("auth-headers")
def _(rng, i):
    a, b, c, e = _pw(rng), _pw(rng), _pw(rng), _pw(rng)
    up1 = f"http://10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}:{rng.randrange(1024, 65535)}"
    kind = i % 3
    if kind == 0:
        d = Doc(f"etc/nginx/sites-enabled/api{i}", "nginx")
        d.text = (f"server {{\n  listen 443 ssl;\n  ssl_certificate_key /etc/ssl/private/api{i}.key;\n"
                  f"  ssl_session_timeout 10m;\n  location / {{\n    proxy_set_header X-Api-Key {a};\n"
                  f"    proxy_set_header X-Auth-Token \"{b}\";\n    proxy_pass {up1};\n  }}\n"
                  f"  location /php {{ fastcgi_pass unix:/run/php/php8.2-fpm.sock; }}\n"
                  f"  location /u {{ uwsgi_pass 127.0.0.1:{rng.randrange(3000, 4000)}; }}\n"
                  f"  location /g {{ grpc_pass grpc://{_host(rng)}:50051; }}\n"
                  f"  location /m {{ add_header X-Api-Key {c}; }}\n  auth_basic_user_file /etc/nginx/.htpasswd;\n}}\n")
        d.secrets += [(a, "alnum"), (b, "alnum"), (c, "alnum")]
        d.lookalikes += [f"proxy_pass {up1};", "fastcgi_pass unix:/run/php/php8.2-fpm.sock;",
                         f"ssl_certificate_key /etc/ssl/private/api{i}.key;", "ssl_session_timeout 10m;",
                         "auth_basic_user_file /etc/nginx/.htpasswd;"]
        d.lookalikes += [ln.strip().split("{ ")[1].rstrip(" }") for ln in d.text.splitlines()
                         if "uwsgi_pass" in ln or "grpc_pass" in ln]
    elif kind == 1:
        d = Doc(f"etc/haproxy/haproxy{i}.cfg", "haproxy")
        d.text = (f"backend api\n  http-request set-header X-Auth-Token {a}\n  http-request set-header X-Api-Key {b}\n"
                  f"  server s1 {up1.removeprefix('http://')} check\n  timeout server 30s\n"
                  f"  ssl-default-bind-ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256\n"
                  f"userlist admins\n  user admin insecure-password {e}\n")
        d.secrets += [(a, "alnum"), (b, "alnum"), (e, "alnum")]
        d.lookalikes += [f"server s1 {up1.removeprefix('http://')} check", "timeout server 30s",
                         "ssl-default-bind-ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"]
    else:
        d = Doc(f"etc/apache2/sites-enabled/api{i}.conf", "apache")
        d.text = (f"<VirtualHost *:443>\n  RequestHeader set X-Api-Key \"{a}\"\n  RequestHeader set X-Auth-Token {b}\n"
                  f"  ProxyPass /api {up1}/\n  ProxyPassReverse /api {up1}/\n  SSLCipherSuite HIGH:!aNULL:!MD5\n"
                  f"  SetEnv DB_PASSWORD {c}\n</VirtualHost>\n")
        d.secrets += [(a, "alnum"), (b, "alnum"), (c, "alnum")]
        d.lookalikes += [f"ProxyPass /api {up1}/", "SSLCipherSuite HIGH:!aNULL:!MD5"]
    return d


@gen("nginx-map")
def _(rng, i):
    d = Doc(f"etc/nginx/conf.d/apikeys{i}.conf", "nginx")
    keys = [_alnum(rng, 32) for _ in range(3)]
    d.text = "map $http_x_api_key $api_client {\n    default \"\";\n" + "".join(
        f'    "{k}" "client_{n}";\n' for n, k in enumerate(keys)) + "}\n"
    d.secrets += [(k, "alnum") for k in keys]
    d.lookalikes.append('default "";')
    return d


# ---- SQL in database logs --------------------------------------------------------------------------------

@gen("sql-password")
def _(rng, i):
    d = Doc(f"var/log/{rng.choice(['postgresql/postgresql-15-main.log', 'mysql/mysql.log'])}", "sql-log")
    lines = []
    forms = [
        lambda u, p: f"{_case(rng, 'create role')} {u} {_case(rng, 'with login encrypted password')} '{p}';",
        lambda u, p: f"{_case(rng, 'alter user')} {u} {_case(rng, 'password')} '{p}';",
        lambda u, p: f"{_case(rng, 'create user')} '{u}'@'%' {_case(rng, 'identified by')} '{p}';",
        lambda u, p: f"{_case(rng, 'alter user')} '{u}'@'localhost' {_case(rng, 'identified with')} "
                     f"mysql_native_password {_case(rng, 'by')} '{p}';",
        lambda u, p: f"{_case(rng, 'set password for')} '{u}'@'%' = {_case(rng, 'password')}('{p}');",
        lambda u, p: f"{_case(rng, 'alter role')} {u} {_case(rng, 'password')} '{p}' VALID UNTIL '2030-01-01';",
        lambda u, p: f"{_case(rng, 'grant all on')} *.* TO '{u}'@'%' {_case(rng, 'identified by')} '{p}';",
    ]
    for n, form in enumerate(forms):
        p = _pw(rng)
        d.secrets.append((p, "alnum"))
        stmt = form(_user(rng), p)
        if "postgresql" in d.name:
            lines.append(f"2024-05-0{n + 1} 10:1{n}:00.123 UTC [{1000 + n}] postgres@app LOG:  statement: {stmt}")
        else:
            lines.append(f"2024-05-0{n + 1}T10:1{n}:00.123456Z\t{10 + n} Query\t{stmt}")
    lines.append("2024-05-09 10:20:00.000 UTC [1200] LOG:  duration: 0.532 ms")
    d.lookalikes.append("duration: 0.532 ms")
    d.text = "\n".join(lines) + "\n"
    return d


# ---- structure -------------------------------------------------------------------------------------------

@gen("yaml-block-anchor")
def _(rng, i):
    d = Doc(f"etc/app{i}/config.yml", "yaml")
    a, b, c, e = _pw(rng), _pw(rng), _pw(rng), _pw(rng)
    key = "\n".join("    " + ln for ln in textwrap.wrap(base64.b64encode(rng.randbytes(96)).decode(), 64))
    d.secrets += [(a, "alnum"), (b, "alnum"), (c, "alnum"), (e, "alnum")]
    d.secrets += [(ln.strip(), "base64") for ln in key.splitlines()]
    d.text = (f"common: &creds\n  user: app\n  password: {a}\nproduction:\n  <<: *creds\n  host: db.internal\n"
              f"api_token: |\n  {b}\nwebhook_secret: >-\n  {c}\nsigning_key: |-\n{key}\n"
              f"shared: &sh {e}\nbackup_password: *sh\npool_size: 20\ntimeout: 30s\n")
    d.lookalikes += ["pool_size: 20", "timeout: 30s", "host: db.internal"]
    return d


@gen("json-structure")
def _(rng, i):
    d = Doc(f"etc/app{i}/config.json", "json")
    a, b, c, e = _pw(rng), _pw(rng), _pw(rng), _pw(rng)
    d.secrets += [(a, "alnum"), (b, "alnum"), (c, "alnum"), (e, "alnum")]
    d.text = ('{\n  "database": {\n    "password":\n      "' + a + '",\n    "port": 5432\n  },\n'
              '  "users": [\n    {"name": "alice", "password": "' + b + '"},\n    {"name": "bob", "token": "' + c
              + '"}\n  ],\n  "settings": [\n    {"key": "smtp_password", "value": "' + e + '"},\n'
              '    {"key": "token_ttl_seconds", "value": "3600"}\n  ],\n  "retry_max": 7\n}\n')
    d.lookalikes += ['"port": 5432', '"retry_max": 7', '{"key": "token_ttl_seconds", "value": "3600"}']
    return d


@gen("xml-entry-property")
def _(rng, i):
    d = Doc(f"etc/app{i}/context.xml", "xml")
    a, b, c, e = _pw(rng), _pw(rng), _pw(rng), _pw(rng)
    d.secrets += [(a, "alnum"), (b, "alnum"), (c, "alnum"), (e, "alnum")]
    d.text = ('<?xml version="1.0"?>\n<configuration>\n'
              f'  <entry key="db.password" value="{a}"/>\n'
              f'  <property name="password">{b}</property>\n'
              '  <property>\n    <name>javax.jdo.option.ConnectionPassword</name>\n'
              f'    <value>{c}</value>\n  </property>\n'
              f'  <Resource name="jdbc/app" username="app" password="{e}" maxTotal="20"/>\n'
              '  <entry key="password.encoder.iterations" value="4096"/>\n</configuration>\n')
    d.lookalikes += ['<entry key="password.encoder.iterations" value="4096"/>']
    return d


@gen("ini-continuation")
def _(rng, i):
    d = Doc(f"etc/app{i}/app.ini", "ini")
    a, b, c = _alnum(rng, 24), _alnum(rng, 20), _alnum(rng, 20)
    d.secrets += [(a, "alnum"), (b, "alnum"), (c, "alnum")]
    d.text = f"[auth]\nsecret_key =\n    {a}\npassword_hash_rounds = 656000\n[ldap]\nbind_password = {b}\n    {c}\n"
    d.lookalikes.append("password_hash_rounds = 656000")
    return d


@gen("properties-continuation")
def _(rng, i):
    d = Doc(f"etc/app{i}/application.properties", "properties")
    a, b = _alnum(rng, 20), _alnum(rng, 20)
    d.secrets += [(a, "alnum"), (b, "alnum")]
    d.text = f"spring.datasource.password={a}\\\n    {b}\npassword.encoder.iterations=4096\nserver.port=8443\n"
    d.lookalikes += ["password.encoder.iterations=4096", "server.port=8443"]
    return d


@gen("log-wrapped")
def _(rng, i):
    d = Doc(f"var/log/app{i}/app.log", "log")
    tok = _alnum(rng, 64)
    a, b = tok[:30], tok[30:]
    d.secrets += [(a, "alnum"), (b, "alnum")]
    d.text = (f"2024-05-01T10:00:00Z app[12]: connecting to api with token={a}\n"
              f"2024-05-01T10:00:00Z app[12]: {b} (continued)\n"
              "2024-05-01T10:00:01Z app[12]: TOKEN_TTL_SECONDS=3600 retry in 5s\n")
    d.lookalikes.append("TOKEN_TTL_SECONDS=3600")
    return d


@gen("sentry-dsn")
def _(rng, i):
    d = Doc(f"etc/app{i}/sentry.env", "env")
    k1, k2 = rng.randbytes(16).hex(), rng.randbytes(16).hex()
    d.secrets += [(k1, "hex"), (k2, "hex")]
    d.text = (f"SENTRY_DSN=https://{k1}@o{rng.randrange(10**5, 10**6)}.ingest.sentry.io/{rng.randrange(10**6)}\n"
              f"raven_url: https://{k2}@sentry.{_host(rng)}/{rng.randrange(100)}\n")
    return d


@gen("url-encoded")
def _(rng, i):
    d = Doc(f"var/log/nginx/access{i}.log", "log")
    a, b = _alnum(rng, 20), _alnum(rng, 24)
    d.secrets += [(a, "alnum"), (b, "alnum")]
    inner = urllib.parse.quote(f"https://{_user(rng)}:{a}@{_host(rng)}/cb", safe="")
    inner2 = urllib.parse.quote(f"/cb?x=1&access_token={b}", safe="")
    d.text = (f'10.0.0.{i} - - [01/May/2024:10:00:00 +0000] "GET /login?next={inner} HTTP/1.1" 302 0\n'
              f'10.0.0.{i} - - [01/May/2024:10:00:01 +0000] "GET /sso?redirect_uri={inner2} HTTP/1.1" 200 12\n')
    return d


@gen("oracle-jdbc")
def _(rng, i):
    d = Doc(f"etc/app{i}/db.conf", "kv")
    a, b = _pw(rng), _pw(rng)
    d.secrets += [(a, "alnum"), (b, "alnum")]
    d.text = (f"url = jdbc:oracle:thin:scott/{a}@{_host(rng)}:1521/ORCL\n"
              f"# sqlplus system/{b}@//{_host(rng)}:1521/XE\nmax_connections = 40\n")
    d.lookalikes.append("max_connections = 40")
    return d


@gen("python-repr-headers")
def _(rng, i):
    d = Doc(f"var/log/app{i}/debug.log", "log")
    a, b, c = _alnum(rng, 32), _alnum(rng, 32), _alnum(rng, 40)
    d.secrets += [(a, "alnum"), (b, "alnum"), (c, "alnum")]
    d.text = (f"DEBUG send: headers=[('Content-Type', 'application/json'), ('Authorization', 'Bearer {a}'), "
              f"('X-Api-Key', '{b}')]\nDEBUG retry headers={{'X-Auth-Token': '{c}', 'Accept': '*/*'}}\n")
    d.lookalikes.append("('Content-Type', 'application/json')")
    return d


@gen("cloud-credential-json")
def _(rng, i):
    d = Doc(f"etc/app{i}/service-account.json", "json")
    kid = rng.randbytes(20).hex()
    body = base64.b64encode(rng.randbytes(600)).decode()
    chunks = textwrap.wrap(body, 64)
    pem = "-----BEGIN PRIVATE KEY-----\\n" + "\\n".join(chunks) + "\\n-----END PRIVATE KEY-----\\n"
    cs = _alnum(rng, 34)
    d.secrets += [(kid, "hex"), (cs, "alnum")] + [(c, "base64") for c in chunks[1:4]]
    d.text = json.dumps({"type": "service_account", "project_id": f"proj-{i}", "private_key_id": kid,
                         "private_key": "PEM", "client_email": f"svc{i}@proj-{i}.iam.gserviceaccount.com",
                         "client_id": str(rng.randrange(10**20, 10**21)), "clientSecret": cs,
                         "token_uri": "https://oauth2.googleapis.com/token"}, indent=2).replace('"PEM"', f'"{pem}"')
    d.lookalikes.append('"token_uri": "https://oauth2.googleapis.com/token"')
    return d


@gen("csv-export")
def _(rng, i):
    d = Doc(f"home/ops/export{i}.csv", "csv")
    rows = ["username,password,url,last_login"]
    for _ in range(3):
        p = _pw(rng)
        d.secrets.append((p, "alnum"))
        rows.append(f"{_user(rng)},{p},https://{_host(rng)}/,2024-05-01")
    k = _alnum(rng, 40)
    d.secrets.append((k, "alnum"))
    rows += ["", "name,api_key,created", f"ci,{k},2024-01-01"]
    d.text = "\n".join(rows) + "\n"
    return d


@gen("command-lines")
def _(rng, i):
    d = Doc(f"home/{_user(rng)}/.bash_history" if i % 2 else f"var/log/audit/ps{i}.txt", "shell-history")
    pws = [_pw(rng) for _ in range(9)]
    d.secrets += [(p, "alnum") for p in pws]
    h = _host(rng)
    d.text = "\n".join([
        f"sshpass -p {pws[0]} ssh root@{h}",
        f"htpasswd -b /etc/nginx/.htpasswd {_user(rng)} {pws[1]}",
        f"mysql -h {h} -P 3306 -uroot -p{pws[2]} sales",
        f"curl -u {_user(rng)}:{pws[3]} https://{h}/api",
        f"backup-tool --password {pws[4]} --verbose",
        f"backup-tool --password={pws[5]} --retries=3",
        f"PGPASSWORD={pws[6]} psql -h {h} -U app",
        f"echo {pws[7]} | sudo -S systemctl restart app",
        f"echo '{pws[8]}' | passwd --stdin {_user(rng)}",
        "ls -la /etc/nginx/.htpasswd",
    ]) + "\n"
    d.lookalikes += ["ls -la /etc/nginx/.htpasswd", f"mysql -h {h} -P 3306"]
    return d


VENDOR = ("slack-xapp", "stripe-whsec", "twilio-sk", "mailgun-key", "slack-xoxb", "github-ghp", "github-pat",
          "stripe-sk_live", "gitlab-glpat", "sendgrid", "google-aiza", "npm", "aws-akia")


@gen("vendor-tokens")
def _(rng, i):
    d = Doc(f"var/log/app{i}/worker.log", "log")
    lines = []
    extra = {"slack-xoxp": lambda r: f"xoxp-{r.randrange(10**11, 10**12)}-{r.randrange(10**11, 10**12)}-"
                                     f"{r.randrange(10**12, 10**13)}-{r.randbytes(16).hex()}",
             "stripe-rk_live": lambda r: "rk_live_" + _alnum(r, 40),
             "github-ghs": lambda r: "ghs_" + _alnum(r, 36)}
    for n, shape in enumerate(VENDOR + tuple(extra)):
        v = (SECRET_SHAPES.get(shape) or extra[shape])(rng)
        d.secrets.append((v, shape))
        lines.append(rng.choice([f"2024-05-01T10:00:{n:02d}Z worker: using {v} for upload",
                                 f"2024-05-01T10:00:{n:02d}Z worker: value={v}",
                                 f"2024-05-01T10:00:{n:02d}Z worker: client({v!r}) ready"]))
    d.text = "\n".join(lines) + "\n"
    return d


@gen("boundary-1mib")
def _(rng, i):
    d = Doc(f"var/log/app{i}/events.jsonl", "log")
    tok = _alnum(rng, 48)
    prefix = '{"events":["' + "x" * ((1 << 20) - 40 - i * 7) + '"],"password":"'
    d.secrets.append((tok, "alnum"))
    d.text = prefix + tok + '","n":1}\n' + "tail line\n"
    return d


@gen("pem-cut")
def _(rng, i):
    d = Doc(f"var/log/app{i}/tail.log", "log")
    body = textwrap.wrap(base64.b64encode(rng.randbytes(900)).decode(), 64)
    keep = body[rng.randrange(3, 6):]
    d.secrets += [(ln, "pem-body") for ln in keep[1:3]]
    d.text = "\n".join(keep) + "\n-----END RSA PRIVATE KEY-----\n2024-05-01 app started\n"
    d.lookalikes.append("2024-05-01 app started")
    return d


@gen("gzip-rotated-log")
def _(rng, i):
    """A rotated, gzipped database log (``casepack redact`` keeps gzip as gzip): the scorer gunzips it."""
    d = GENERATORS["sql-password"](rng, i)
    d.name = d.name.replace(".log", f".log.{i + 1}.gz")
    return d


@gen("lookalikes")
def _(rng, i):
    d = Doc(f"etc/app{i}/tuning.conf", "kv")
    up = lookalike(rng, "upstream")
    lines = ["TOKEN_TTL_SECONDS=3600", "password.encoder.iterations=4096", "password_hash_rounds = 656000",
             "PASS_MAX_DAYS\t99999", "db_password = ${DB_PASSWORD}", "smtp_password = %(smtp_password)s",
             f"upstream_url = {up}", "ssl_ciphers = " + lookalike(rng, "cipher"), "session_timeout = 15m",
             "secret_file = /run/secrets/db_password", "api_key_header = X-Api-Key", "min_password_length = 12"]
    d.text = "\n".join(lines) + "\n"
    d.lookalikes += [ln.strip() for ln in lines]
    return d


def generate(root: Path, rng: random.Random, n: int = 6, only: list[str] | None = None) -> list[dict]:
    """Write ``n`` instances of each class (2 of the 1 MiB one) under ``root``; the ground truth items."""
    items: list[dict] = []
    for cls, g in GENERATORS.items():
        if only and cls not in only:
            continue
        for i in range(2 if cls == "boundary-1mib" else n):
            doc = g(rng, i)
            rel = f"adversarial/{cls}/{i}/{doc.name}"
            path = root / cls / str(i) / doc.name
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".gz":
                path.write_bytes(gzip.compress(doc.text.encode(), mtime=0))
            else:
                path.write_text(doc.text)
            lines = doc.text.split("\n")
            ok = parses(doc.fmt, doc.text)

            def line_of(s: str, lines: list[str] = lines) -> int:
                return next((k + 1 for k, ln in enumerate(lines) if s in ln), 0)
            for value, shape in doc.secrets:
                assert value in doc.text, (cls, value)
                shape = SHAPE_OF.get(value, shape)
                it = {"file": rel, "line": line_of(value), "format": doc.fmt, "role": "secret", "shape": shape,
                      "class": f"adv:{cls}", "value": value}
                if ok is not None:
                    it["parses"] = ok
                items.append(it)
            for needle in doc.lookalikes:
                assert needle in doc.text, (cls, needle)
                it = {"file": rel, "line": line_of(needle), "format": doc.fmt, "role": "lookalike",
                      "shape": "lookalike", "class": f"adv:{cls}", "value": needle, "needle": needle}
                if ok is not None:
                    it["parses"] = ok
                items.append(it)
    return items
