"""Each built-in service probe against a real directory layout and stand-in binaries on PATH.

The probes' own TOML (paths, variables, commands, checks) is what runs: only the programs are
stand-ins, printing what the real ones print.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

CASEPACK = shutil.which("casepack")
pytestmark = pytest.mark.skipif(CASEPACK is None, reason="casepack is not installed (pip install -e .)")

BINARIES = {
    "redis-server": 'echo "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=abc"',
    "redis-cli": 'case "$*" in *PING) echo PONG;; *INFO*) printf "# Server\\nredis_version:7.0.15\\n";; esac',
    "nginx": 'conf=/etc/nginx/nginx.conf; prev=; for a; do [ "$prev" = -c ] && conf=$a; prev=$a; done;'
             ' case "$1" in -V) echo "nginx version: nginx/1.22.1";'
             ' echo "configure arguments: --with-http_ssl_module";;'
             ' -t) echo "nginx: the configuration file $conf syntax is ok";'
             ' echo "nginx: configuration file $conf test is successful";;'
             ' -T) for f in "$conf" "${conf%/*}"/conf.d/*.conf; do echo "# configuration file $f:"; cat "$f"; done;;'
             ' esac',
    "postgres": 'echo "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"',
    "pg_isready": 'echo "/var/run/postgresql:5432 - accepting connections"',
    "psql": 'echo "shared_buffers|128MB|8kB|configuration file"',
}

LAYOUTS = {
    "redis": ({"etc/redis/redis.conf": "port 6379\nrequirepass R3disSecretPw\nmaxmemory 2gb\n"
                                       "logfile {root}/log/redis/redis-server.log\n",
               "log/redis/redis-server.log": "1:M 24 Nov 2026 07:00:00.000 # Server initialized\n"},
              {"redis_conf": "{root}/etc/redis/redis.conf"},
              "Redis server v=7.0.15", "R3disSecretPw"),
    "nginx": ({"etc/nginx/nginx.conf": "worker_processes auto;\nerror_log {root}/log/nginx/error.log;\n",
               "etc/nginx/conf.d/api.conf":
                   "location / { proxy_set_header Authorization \"Bearer ngxT0kenValue123\"; }\n",
               "log/nginx/error.log": "2026/11/24 07:00:00 [error] 12#12: *1 connect() failed\n"},
              {"nginx_conf": "{root}/etc/nginx/nginx.conf"},
              "nginx version: nginx/1.22.1", "ngxT0kenValue123"),
    "postgresql": ({"etc/postgresql/15/main/postgresql.conf": "password_encryption = scram-sha-256\nport = 5432\n"
                    "logging_collector = on\nlog_directory = '{root}/log/postgresql'\n"
                    "log_filename = 'postgresql-15-main.log'\n",
                    "etc/postgresql/15/main/pg_hba.conf": "host all all 10.0.0.0/8 scram-sha-256\n",
                    "log/postgresql/postgresql-15-main.log":
                        "2026-11-24 07:00:00.000 UTC [1] LOG:  connection authorized: user=app password=PgLeakPw9\n"},
                   {"pg_conf_root": "{root}/etc/postgresql"},
                   "postgres (PostgreSQL) 15.18", "PgLeakPw9"),
    "app": ({"etc/app/app.conf": "api_key = AppK3yValue0001\nthreads = 8\n",
             "log/app/app.log": "2026-11-24T07:00:00 ERROR boom\n", "log/app/app.log.1.gz": None},
            {"app_version_command": "echo myapp 3.1.4", "app_config": "{root}/etc/app/*.conf",
             "app_logs": "{root}/log/app/*.log*", "app_stats": "{root}/stats/*.db"},
            "myapp 3.1.4", "AppK3yValue0001"),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_builtin_probe_collects_its_layout(tmp_path: Path, name: str) -> None:
    import gzip

    files, variables, version, secret = LAYOUTS[name]
    root = tmp_path / "root"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            path.write_bytes(gzip.compress(b"2026-11-23T07:00:00 WARN rotated\n"))
        else:
            path.write_text(text.replace("{root}", str(root)))
    if name == "app":
        (root / "stats").mkdir()
        db = sqlite3.connect(root / "stats" / "metrics.db")
        db.execute("create table m (ts, v)")
        db.execute("insert into m values (1, 2)")
        db.commit()
        db.close()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for binary, body in BINARIES.items():
        (bindir / binary).write_text(f"#!/bin/sh\n{body}\n")
        (bindir / binary).chmod(0o755)
    args = [CASEPACK, "collect", "-p", name, "-o", str(tmp_path), "--no-input", "--json"]
    for key, value in variables.items():
        args += ["--var", f"{key}={value.format(root=root)}"]
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode in (0, 3), proc.stderr
    manifest = json.loads(proc.stdout)["manifest"]
    arts = manifest["artifacts"]
    by = {}
    for a in arts:
        by.setdefault(a["artifact"], []).append(a)
    assert by["version"][0]["status"] == "ok" and by["version"][0]["version"].startswith(version)
    configs = [a for a in arts if a["kind"] == "config" and a["status"] == "ok"]
    assert any(str(root) in a["source"] for a in configs)  # (the machine's own files may match too)
    logs = [a for a in arts if a["kind"] == "log" and a["status"] == "ok"]
    assert logs, arts
    for a in arts:
        # psql/pg_isready run through `sudo -u postgres` (secure_path): the stand-ins are not used there;
        # tests/test_services_postgresql.py checks them against real clusters
        if a["check"] and name != "postgresql":
            assert a["check"]["result"] == "pass", a
    if name == "app":
        assert {a["source"].rsplit("/", 1)[1] for a in logs} == {"app.log", "app.log.1.gz"}
        assert by["stats"][0]["status"] == "ok"
    bundle = Path(json.loads(proc.stdout)["bundle"])
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(bundle), "-C", str(out)], check=True)
    text = "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file() and p.suffix != ".sqlite"
                   and p.name != "index.sqlite")
    assert secret not in text
    assert manifest["redaction"]["total"] >= 1
