"""Real Debian daemons for the service-probe tests: redis, nginx, PostgreSQL (two clusters), MariaDB.

Each fixture is session-scoped: it checks the Debian package is installed (installing it as root
when missing; the test is skipped only when that is impossible), writes a configuration the way
admins do (auth on, includes, per-site logs, planted secrets) under one private temp directory,
starts the daemon itself (no systemd), waits until it answers (a readiness probe, not a sleep),
and stops it at teardown. Ports are free loopback ports; nothing outside the temp directory is
touched (PostgreSQL clusters live under ``PG_CLUSTER_CONF_ROOT`` inside it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGES = {"redis-server": "redis-server", "nginx": "nginx", "pg_createcluster": "postgresql",
            "mariadbd": "mariadb-server"}
PG_VERSION = "15"

# planted secrets: none of them may appear in a bundle
REDIS_PASSWORD = "RedisReqPassw0rd7731"
REDIS_MASTERAUTH = "RedisMasterAuth5512x"
NGINX_TOKEN = "ngxB3arerT0ken4477abc"
NGINX_BASIC = "ngxUpstreamPw88123"
PG_REPL_PASSWORD = "PgReplic8Secret991"
PG_CONFD_PASSWORD = "PgConfdPassw0rd4410"
MARIADB_ROOT_PASSWORD = "MariaR00tPassw0rd662"
MARIADB_DUMP_PASSWORD = "MariaDumpS3cret5150"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, ready: Callable[[], bool], timeout: float = 60.0, proc: subprocess.Popen | None = None,
               log: Path | None = None) -> None:
    """Poll ``ready`` until it is true; fail with the daemon's log tail when it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise RuntimeError(f"{what} did not become ready in {timeout:g}s\n{tail}")


def ensure_installed(binary: str) -> None:
    """Install the Debian package providing ``binary`` when missing (as root); skip if impossible."""
    if shutil.which(binary, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/lib/postgresql/15/bin"):
        return
    package = PACKAGES[binary]
    if os.geteuid() != 0:
        pytest.skip(f"{package} is not installed and installing needs root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    res = subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, capture_output=True, text=True,
                         timeout=600)
    if res.returncode != 0 or not shutil.which(binary, path="/usr/bin:/usr/sbin"):
        pytest.skip(f"cannot install {package}: {res.stderr.strip()[-300:]}")


def run(*args: str, user: str | None = None, env: dict[str, str] | None = None, check: bool = True,
        timeout: float = 120) -> subprocess.CompletedProcess:
    argv = ["runuser", "-u", user, "--", *args] if user else list(args)
    res = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout,
                         cwd="/")
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({res.returncode}): {res.stderr.strip()[-1500:]}")
    return res


def owned_dir(path: Path, user: str, mode: int = 0o755) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    shutil.chown(path, user, user)
    path.chmod(mode)
    return path


@dataclass
class Service:
    """A started daemon: where its configuration and logs are, how to reach it, what is secret."""

    name: str
    root: Path
    variables: dict[str, str]  # --var NAME=VALUE for the probe (secret ones included)
    configs: list[Path]  # every config file, includes too
    logs: list[Path]  # every log file the configuration names
    secrets: list[str]
    version: str  # expected start of the version line
    extra: dict[str, object] = field(default_factory=dict)

    def log_state(self) -> dict[str, tuple[int, str]]:
        """(line count, sha256) of every file under the service's log and run dirs."""
        state = {}
        for base in self.watched():
            for p in sorted(base.rglob("*")) if base.is_dir() else [base]:
                if p.is_file() and not p.is_socket():
                    data = p.read_bytes()
                    state[str(p)] = (data.count(b"\n"), hashlib.sha256(data).hexdigest())
        return state

    def watched(self) -> list[Path]:
        return [Path(p) for p in self.extra.get("watch", [])] + list(self.logs)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def service_root() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("starting the Debian services as their own users needs root")
    root = Path(tempfile.mkdtemp(prefix="casepack-services-"))
    root.chmod(0o755)  # the daemons' users must traverse it
    yield root
    shutil.rmtree(root, ignore_errors=True)


# -- redis --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def redis_service(service_root: Path) -> Iterator[Service]:
    ensure_installed("redis-server")
    base = owned_dir(service_root / "redis", "redis")
    conf_dir, log_dir, data_dir = (owned_dir(base / d, "redis") for d in ("etc", "log", "data"))
    port = free_port()
    extra = conf_dir / "redis-local.conf"
    extra.write_text(f"# site overrides\nmaxmemory 64mb\nmaxmemory-policy allkeys-lru\nmasterauth {REDIS_MASTERAUTH}\n"
                     "slowlog-log-slower-than 0\nslowlog-max-len 64\nlatency-monitor-threshold 1\n")
    conf = conf_dir / "redis.conf"
    log = log_dir / "redis-server.log"
    conf.write_text(
        f"bind 127.0.0.1 -::1\nprotected-mode yes\nport {port}\ndaemonize no\nsupervised no\n"
        f"pidfile {base}/redis-server.pid\nloglevel notice\nlogfile {log}\ndir {data_dir}\n"
        f"dbfilename dump.rdb\nrequirepass {REDIS_PASSWORD}\ninclude {extra}\n"
    )
    for f in (conf, extra):
        shutil.chown(f, "redis", "redis")
        f.chmod(0o640)
    proc = subprocess.Popen(["runuser", "-u", "redis", "--", "redis-server", str(conf)], cwd="/",
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    auth = {"REDISCLI_AUTH": REDIS_PASSWORD}

    def cli(*args: str) -> str:
        return run("redis-cli", "-h", "127.0.0.1", "-p", str(port), *args, env=auth, check=False).stdout

    wait_until("redis-server", lambda: cli("PING").strip() == "PONG", proc=proc, log=log)
    for i in range(20):  # a little data, slowlog and latency history
        cli("SET", f"key:{i}", "x" * 100)
    cli("DEBUG", "SLEEP", "0.01")
    version = run("redis-server", "--version").stdout.split()[2]  # v=7.0.15
    yield Service("redis", base, {"redis_conf": str(conf), "redis_password": REDIS_PASSWORD},
                  [conf, extra], [log], [REDIS_PASSWORD, REDIS_MASTERAUTH], "Redis server " + version,
                  {"port": port, "watch": [log_dir, data_dir]})
    proc.terminate()
    proc.wait(30)


# -- nginx --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def nginx_service(service_root: Path) -> Iterator[Service]:
    ensure_installed("nginx")
    base = service_root / "nginx"
    snippets = base / "snippets"
    logs = owned_dir(base / "log", "www-data")
    tmp = owned_dir(base / "tmp", "www-data")
    snippets.mkdir(parents=True)
    shutil.copy("/etc/nginx/mime.types", base / "mime.types")
    port_a, port_b, dead = free_port(), free_port(), free_port()
    (snippets / "proxy-auth.conf").write_text(
        f'proxy_set_header Authorization "Bearer {NGINX_TOKEN}";\nproxy_set_header X-Forwarded-For $remote_addr;\n')
    (snippets / "timeouts.conf").write_text("proxy_connect_timeout 2s;\nproxy_read_timeout 5s;\n")
    site_logs = {s: (logs / f"{s}.access.log", logs / f"{s}.error.log") for s in ("shop", "static")}
    conf = base / "nginx.conf"
    conf.write_text(f"""user www-data;
worker_processes 1;
pid {base}/nginx.pid;
error_log {logs}/error.log warn;
events {{ worker_connections 64; }}
http {{
    include {base}/mime.types;
    default_type application/octet-stream;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    access_log {logs}/access.log;
    include {snippets}/*.conf;
    upstream shop_backend {{
        server 127.0.0.1:{dead};
    }}
    server {{
        listen 127.0.0.1:{port_a};
        server_name shop.example.test;
        access_log {site_logs['shop'][0]};
        error_log {site_logs['shop'][1]};
        location / {{
            proxy_pass http://shop_backend;
            proxy_set_header Proxy-Authorization "Basic {NGINX_BASIC}";
        }}
    }}
    server {{
        listen 127.0.0.1:{port_b};
        server_name static.example.test;
        access_log {site_logs['static'][0]};
        error_log {site_logs['static'][1]};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
""")
    conf.chmod(0o640)
    log = logs / "error.log"
    res = run("nginx", "-c", str(conf), check=False)  # daemonizes; the master stays root
    if res.returncode != 0:
        raise RuntimeError(f"nginx did not start: {res.stderr}")

    def get(port: int) -> int:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            return int(s.recv(64).split()[1])

    wait_until("nginx", lambda: get(port_b) == 200, log=log)
    assert get(port_a) == 502  # the upstream is down: the per-site error log gets the reason
    all_logs = [log, logs / "access.log", *[p for pair in site_logs.values() for p in pair]]
    version = run("nginx", "-v").stderr.strip().split(": ", 1)[1]  # nginx/1.22.1
    yield Service("nginx", base, {"nginx_conf": str(conf)}, [conf, base / "mime.types", *sorted(snippets.glob("*"))],
                  all_logs, [NGINX_TOKEN, NGINX_BASIC], "nginx version: " + version,
                  {"ports": (port_a, port_b), "watch": [logs]})
    run("nginx", "-c", str(conf), "-s", "quit", check=False)
    pidfile = base / "nginx.pid"
    wait_until("nginx stop", lambda: not pidfile.exists(), timeout=20)


# -- PostgreSQL ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def postgresql_service(service_root: Path) -> Iterator[Service]:
    ensure_installed("pg_createcluster")
    base = owned_dir(service_root / "postgresql", "postgres")
    conf_root = owned_dir(base / "etc", "postgres")
    sockets = owned_dir(base / "run", "postgres", 0o2775)
    logs = owned_dir(base / "log", "postgres")
    env = {"PG_CLUSTER_CONF_ROOT": str(conf_root)}
    clusters = {}
    configs: list[Path] = []
    all_logs: list[Path] = []
    for name in ("alpha", "beta"):
        port = free_port()
        data = base / name / "data"
        owned_dir(data.parent, "postgres")
        log = logs / f"postgresql-{PG_VERSION}-{name}.log"
        run("pg_createcluster", PG_VERSION, name, "-p", str(port), "-d", str(data), "-l", str(log),
            "-s", str(sockets), "-u", "postgres", "--", "--auth-local=peer", "--auth-host=scram-sha-256",
            env=env)
        cdir = conf_root / PG_VERSION / name
        confd = cdir / "conf.d"
        confd.mkdir(exist_ok=True)
        tuning = confd / "10-tuning.conf"
        tuning.write_text("shared_buffers = 32MB\nmax_connections = 30\nlog_min_duration_statement = 1000\n"
                          "checkpoint_timeout = 1h\n")  # no timed checkpoint line while the tests measure
        extra = cdir / "extra.conf"  # pulled in by an `include` line, outside conf.d
        extra.write_text(f"# archive credentials\narchive_mode = off\n"
                         f"archive_command = 'PGPASSWORD={PG_CONFD_PASSWORD} /bin/true %p'\n")
        with open(cdir / "postgresql.conf", "a") as f:
            f.write("include_if_exists = 'extra.conf'\n")
        if name == "beta":  # the logging collector: logs inside the 0700 data directory
            (confd / "20-logging.conf").write_text(
                "logging_collector = on\nlog_directory = 'pg_log'\nlog_filename = 'postgresql-%a.log'\n")
        auto = data / "postgresql.auto.conf"
        auto.write_text("# Do not edit this file manually!\n# It will be overwritten by the ALTER SYSTEM command.\n"
                        f"primary_conninfo = 'host=10.9.8.7 port=5432 user=replicator password={PG_REPL_PASSWORD}'\n"
                        "work_mem = '8MB'\n")
        for p in cdir.rglob("*"):
            shutil.chown(p, "postgres", "postgres")
        shutil.chown(auto, "postgres", "postgres")
        auto.chmod(0o600)
        run("pg_ctlcluster", PG_VERSION, name, "start", env=env)
        psql = ["psql", "-X", "-h", str(sockets), "-p", str(port), "-d", "postgres", "-Atc"]
        wait_until(f"postgresql {name}", lambda p=psql: run(*p, "select 1", user="postgres",
                                                            check=False).stdout.strip() == "1", log=log)
        run(*psql, "create database shop", user="postgres")
        configs += [cdir / "postgresql.conf", cdir / "pg_hba.conf", cdir / "pg_ident.conf", cdir / "start.conf",
                    cdir / "pg_ctl.conf", cdir / "environment", tuning, extra, auto]
        if name == "beta":
            configs.append(confd / "20-logging.conf")
            wait_until("beta log", lambda d=data: any((d / "pg_log").glob("*.log")))
            all_logs += sorted((data / "pg_log").glob("*.log"))
        all_logs.append(log)
        clusters[name] = {"port": port, "data": data, "conf_dir": cdir}
    version = run(f"/usr/lib/postgresql/{PG_VERSION}/bin/postgres", "--version").stdout.strip()
    yield Service("postgresql", base, {"pg_conf_root": str(conf_root)}, configs, all_logs,
                  [PG_REPL_PASSWORD, PG_CONFD_PASSWORD], version,
                  {"clusters": clusters, "sockets": sockets, "watch": [logs, *(c["data"] / "pg_log" for c in
                                                                              clusters.values())]})
    for name in clusters:
        run("pg_ctlcluster", PG_VERSION, name, "stop", "-m", "fast", env=env, check=False)


# -- MariaDB ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def mariadb_service(service_root: Path) -> Iterator[Service]:
    ensure_installed("mariadbd")
    base = service_root / "mariadb"
    etc = base / "etc"
    confd, mconfd, extra_dir = etc / "conf.d", etc / "mariadb.conf.d", etc / "private"
    for d in (confd, mconfd, extra_dir):
        d.mkdir(parents=True)
    data = owned_dir(base / "data", "mysql", 0o700)
    run_dir = owned_dir(base / "run", "mysql")
    logs = owned_dir(base / "log", "mysql", 0o750)
    sock = run_dir / "mysqld.sock"
    port = free_port()
    err, slow, general = logs / "error.log", logs / "mariadb-slow.log", logs / "general.log"
    conf = etc / "my.cnf"
    conf.write_text(f"[client-server]\nsocket = {sock}\nport = {port}\n\n"
                    f"!includedir {confd}/\n!includedir {mconfd}/\n!include {extra_dir}/backup.cnf\n")
    (confd / "mysql.cnf").write_text("[mysql]\n")
    (mconfd / "50-server.cnf").write_text(
        f"[mysqld]\nuser = mysql\npid-file = {run_dir}/mysqld.pid\nbasedir = /usr\ndatadir = {data}\n"
        f"tmpdir = {run_dir}\nbind-address = 127.0.0.1\nskip-name-resolve\n"
        f"log_error = {err}\nslow_query_log = 1\nslow_query_log_file = {slow}\nlong_query_time = 0.2\n"
        f"general_log_file = {general}\ngeneral_log = 0\n"
        "innodb_buffer_pool_size = 32M\ninnodb_log_file_size = 16M\n"
        "character-set-server = utf8mb4\ncollation-server = utf8mb4_general_ci\n")
    (extra_dir / "backup.cnf").write_text(f"[mysqldump]\nuser = backup\npassword = {MARIADB_DUMP_PASSWORD}\n")
    for p in etc.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    (extra_dir / "backup.cnf").chmod(0o600)
    run("mariadb-install-db", f"--defaults-file={conf}", "--user=mysql", f"--datadir={data}",
        "--auth-root-authentication-method=socket", "--skip-test-db", timeout=180)
    proc = subprocess.Popen(["mariadbd", f"--defaults-file={conf}", "--user=mysql"], cwd="/",
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = ["mariadb", f"--defaults-file={conf}", "-uroot"]
    wait_until("mariadbd", lambda: run(*client, "-Ne", "select 1", check=False).stdout.strip() == "1",
               proc=proc, log=err)
    run(*client, "-e", f"ALTER USER root@localhost IDENTIFIED VIA unix_socket OR mysql_native_password "
        f"USING PASSWORD('{MARIADB_ROOT_PASSWORD}'); CREATE DATABASE shop; SELECT SLEEP(0.3);"
        "SET GLOBAL general_log = 1; SELECT 1; SET GLOBAL general_log = 0;")
    version = run("mariadbd", "--version").stdout.split()[2]  # 10.11.19-MariaDB-0+deb12u1
    yield Service("mariadb", base, {"mysql_conf": str(conf), "mysql_password": MARIADB_ROOT_PASSWORD},
                  [conf, confd / "mysql.cnf", mconfd / "50-server.cnf", extra_dir / "backup.cnf"],
                  [err, slow, general], [MARIADB_ROOT_PASSWORD, MARIADB_DUMP_PASSWORD], version,
                  {"socket": sock, "port": port, "data": data, "watch": [logs]})
    proc.terminate()
    proc.wait(60)


# -- collecting through the CLI and reading the bundle -------------------------------------------
@dataclass
class Bundle:
    exit_code: int
    manifest: dict
    root: Path  # extracted bundle
    stderr: str

    def artifacts(self, probe: str) -> list[dict]:
        return [a for a in self.manifest["artifacts"] if a["probe"] == probe]

    def by_source(self, probe: str) -> dict[str, dict]:
        return {a["source"]: a for a in self.artifacts(probe)}

    def named(self, probe: str, name: str) -> dict:
        found = [a for a in self.artifacts(probe) if a["artifact"] == name]
        assert len(found) == 1, (name, [a["artifact"] for a in self.artifacts(probe)])
        return found[0]

    def text(self, member: str) -> str:
        return (self.root / member).read_text(errors="replace")

    def secrets_found(self, secrets: list[str]) -> dict[str, list[str]]:
        """{secret: [bundle members holding it]} over every member, manifest and index included."""
        hits: dict[str, list[str]] = {}
        for p in self.root.rglob("*"):
            if p.is_file():
                data = p.read_bytes()
                for s in secrets:
                    if s.encode() in data:
                        hits.setdefault(s, []).append(str(p.relative_to(self.root)))
        return hits


def collect(tmp: Path, probes: list[str], variables: dict[str, str], *extra: str,
            env: dict[str, str] | None = None) -> Bundle:
    """``casepack collect`` in-process through click's CliRunner; the manifest read from the bundle."""
    from click.testing import CliRunner

    from collector.cli import main

    out = tmp / "out"
    out.mkdir(exist_ok=True)
    args = ["collect", "-o", str(out), "--no-input", "--json", *extra]
    for p in probes:
        args += ["-p", p]
    for key, value in variables.items():
        args += ["--var", f"{key}={value}"]
    runner = CliRunner()
    with runner.isolation(env=env) as streams:
        try:
            main(args)
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        stdout = streams[0].getvalue().decode()
        stderr = streams[1].getvalue().decode() if len(streams) > 2 else ""
    assert code in (0, 3), f"exit {code}: {stderr}\n{stdout[-2000:]}"
    bundle = Path(json.loads(stdout)["bundle"])
    root = tmp / "bundle"
    root.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(bundle), "-C", str(root)], check=True)
    manifest = json.loads((root / "manifest.json").read_text())
    return Bundle(code, manifest, root, stderr)


def check_service_bundle(service: Service, bundle: Bundle, runtime: list[str]) -> None:
    """What every service probe must deliver (see issue 11's 'Done when')."""
    arts = bundle.artifacts(service.name)
    version = [a for a in arts if a["kind"] == "version"]
    assert version and version[0]["status"] == "ok" and service.version in version[0]["version"], version
    by_source = bundle.by_source(service.name)
    for conf in service.configs:
        a = by_source.get(str(conf))
        assert a is not None, f"config {conf} not in the manifest: {sorted(by_source)}"
        assert a["status"] == "ok" and a["path"], a
    for log in service.logs:
        a = by_source.get(str(log))
        assert a is not None, f"log {log} not in the manifest: {sorted(by_source)}"
        assert a["status"] == "ok" or a["error"], a
    for name in runtime:
        a = bundle.named(service.name, name)
        assert a["status"] == "ok" and a["size"] > 0, a
    assert bundle.secrets_found(service.secrets) == {}
