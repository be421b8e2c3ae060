"""Built-in ``postgresql`` probe: every cluster, its config-derived files and its runtime views.

Clusters come from ``pg_lsclusters`` (with ``PG_CLUSTER_CONF_ROOT`` = ``pg_conf_root``), else from
``pg_conf_root/*/*/postgresql.conf``. For each: ``postgresql.conf`` and every ``include``,
``include_if_exists`` and ``include_dir`` file, ``hba_file``/``ident_file``, Debian's ``start.conf``,
``pg_ctl.conf``, ``environment``, ``postgresql.auto.conf`` in the (0700) data directory; the log
file pg_lsclusters names and, with ``logging_collector``, ``log_directory``/``log_filename``.
Runtime views run as ``pg_user`` (``sudo -n -u postgres psql``, peer authentication) on the
cluster's socket and port, so no ``FATAL: role "root" does not exist`` lands in the log.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, replace

from probes.configref import ArtifactList, expand_glob, include_dir, resolve
from probes.loader import BUILTIN_DIR, probe_from_toml
from probes.spec import Artifact, Check, DiscoveryContext, Probe

HELP = ("Finds every cluster (pg_lsclusters, else pg_conf_root/*/*/postgresql.conf); per cluster: config files "
        "with includes, postgresql.auto.conf, logs, and settings/activity/locks/replication/databases/"
        "pg_stat_database/pg_isready via `sudo -n -u pg_user psql` on the cluster's socket.")
ERRORS = r"^(psql: )?(error: )?.*\b(ERROR|FATAL|PANIC):|^psql: error:"
QUERIES = {
    "settings": "select name, setting, unit, source, sourcefile, sourceline from pg_settings "
                "where source not in ('default', 'override') order by name",
    "activity": "select pid, usename, datname, application_name, client_addr, backend_type, state, wait_event_type,"
                " wait_event, now() - xact_start as xact_age, now() - query_start as query_age,"
                " left(query, 300) as query from pg_stat_activity order by query_start nulls last",
    "locks": "select a.pid, pg_blocking_pids(a.pid) as blocked_by, a.usename, a.state,"
             " now() - a.query_start as waiting, l.locktype, l.mode, l.granted, l.relation::regclass,"
             " left(a.query, 200) as query from pg_locks l join pg_stat_activity a on a.pid = l.pid"
             " where not l.granted or cardinality(pg_blocking_pids(a.pid)) > 0;"
             " select mode, granted, count(*) from pg_locks group by 1, 2 order by 1, 2",
    "replication": "select * from pg_stat_replication; select * from pg_stat_wal_receiver;"
                   " select * from pg_replication_slots",
    "databases": "select datname, pg_size_pretty(pg_database_size(datname)) as size,"
                 " pg_database_size(datname) as bytes from pg_database order by 3 desc",
    "stat-database": "select * from pg_stat_database",
}
EXPANDED = {"replication", "stat-database"}  # wide rows: one field per line


@dataclass
class Cluster:
    version: str
    name: str
    port: str = "5432"
    status: str = ""
    owner: str = "postgres"
    data_dir: str = ""
    log_file: str = ""

    @property
    def tag(self) -> str:
        return f"{self.version}-{self.name}"


def parse_lsclusters(text: str) -> list[Cluster]:
    """``pg_lsclusters -h`` lines: ver, cluster, port, status, owner, data directory, log file."""
    out = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 6 and re.fullmatch(r"\d+(\.\d+)?", f[0]):
            out.append(Cluster(f[0], f[1], f[2], f[3], f[4], f[5], f[6] if len(f) > 6 else ""))
    return out


def parse_conf(text: str) -> list[tuple[str, str]]:
    """``(name, value)`` per setting line of postgresql.conf (quotes removed, comments dropped)."""
    out = []
    for line in text.splitlines():
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:=\s*|\s+)('(?:[^']|'')*'|[^\s#]+)", line)
        if m:
            value = m.group(2)
            if value.startswith("'"):
                value = value[1:-1].replace("''", "'")
            out.append((m.group(1).lower(), value))
    return out


def strftime_glob(pattern: str) -> str:
    return re.sub(r"\*+", "*", re.sub(r"%.", "*", pattern))


def discover(ctx: DiscoveryContext) -> list[Artifact]:
    root = ctx.variables.get("pg_conf_root") or "/etc/postgresql"
    user = ctx.variables.get("pg_user") or "postgres"
    env = f"PG_CLUSTER_CONF_ROOT={shlex.quote(root)} " if root != "/etc/postgresql" else ""
    clusters = parse_lsclusters(ctx.run(f"{env}pg_lsclusters -h", timeout=30, privileged=True) or "")
    if not clusters:
        for conf in expand_glob(ctx, f"{root}/*/*/postgresql.conf"):
            version, name = conf.split("/")[-3:-1]
            clusters.append(Cluster(version, name, data_dir=f"/var/lib/postgresql/{version}/{name}"))
    found = ArtifactList()
    if not clusters:
        found.file("config", "config", f"{root}/*/*/postgresql.conf", "no PostgreSQL cluster found under pg_conf_root")
    for c in clusters:
        _cluster(ctx, found, root, user, c)
    return found.items


def _cluster(ctx: DiscoveryContext, found: ArtifactList, root: str, user: str, c: Cluster) -> None:
    conf_dir = f"{root}/{c.version}/{c.name}"
    role = f"config-{c.tag}"
    settings: dict[str, str] = {}

    def visit(path: str, why: str, required: bool = True) -> None:
        text = ctx.read_text(path)
        if text is None and not required:
            return
        found.file(role, "config", path, why)
        for key, value in parse_conf(text or ""):
            base = posixpath.dirname(path)
            if key in ("include", "include_if_exists"):
                visit(resolve(value, base), f"{key} in {path}", key == "include")
            elif key == "include_dir":
                d = resolve(value, base)
                for m in include_dir(ctx, found, role, d, "*.conf", f"include_dir in {path}"):
                    visit(m, f"include_dir in {path}")
            else:
                settings[key] = value

    visit(f"{conf_dir}/postgresql.conf", f"cluster {c.tag}")
    for name in ("start.conf", "pg_ctl.conf", "environment"):  # Debian's per-cluster control files
        if ctx.read_text(f"{conf_dir}/{name}") is not None:
            found.file(role, "config", f"{conf_dir}/{name}", f"Debian cluster control file ({c.tag})")
    for key, default in (("hba_file", "pg_hba.conf"), ("ident_file", "pg_ident.conf")):
        found.file(role, "config", settings.get(key) or f"{conf_dir}/{default}", f"{key} of {c.tag}")
    data_dir = settings.get("data_directory") or c.data_dir
    if data_dir:
        found.file(role, "config", f"{data_dir}/postgresql.auto.conf", f"ALTER SYSTEM settings of {c.tag}")
    # Debian's startup/stderr log: the conf dir's `log` symlink, else /var/log/postgresql/postgresql-V-C.log
    link = (ctx.run(f"readlink -- {shlex.quote(conf_dir + '/log')}", privileged=True) or "").strip()
    stderr_log = resolve(link, conf_dir) if link else f"/var/log/postgresql/postgresql-{c.tag}.log"
    found.file(f"log-{c.tag}", "log", stderr_log, f"server log of {c.tag} (pg_ctlcluster's log file)")
    if c.log_file and data_dir:
        listed = resolve(strftime_glob(c.log_file), data_dir)
        found.file(f"log-{c.tag}", "log", listed, f"log file of {c.tag} named by pg_lsclusters")
    collector_on = settings.get("logging_collector", "off").lower() in ("on", "true", "yes", "1")
    if collector_on and (data_dir or settings.get("log_directory", "").startswith("/")):
        log_dir = resolve(settings.get("log_directory", "log"), data_dir)
        pattern = strftime_glob(settings.get("log_filename", "postgresql-%Y-%m-%d_%H%M%S.log"))
        found.file(f"log-{c.tag}", "log", f"{log_dir}/{pattern}", f"logging_collector of {c.tag}")
    socket = (settings.get("unix_socket_directories") or "/var/run/postgresql").split(",")[0].strip()
    port = settings.get("port") or c.port
    conn = f"-h {shlex.quote(socket)} -p {shlex.quote(port)}"
    as_user = f"cd / && sudo -n -u {shlex.quote(user)} "
    for name, sql in QUERIES.items():
        flags = "-X -P pager=off" + (" -x" if name in EXPANDED else "")
        found.add(Artifact(name=f"{name}-{c.tag}", kind="command", description=f"{name} of cluster {c.tag}",
                           command=f"{as_user}psql {flags} {conn} -d postgres -c {shlex.quote(sql)}",
                           needs_root=True, error_output=ERRORS, timeout=20, requires=("psql",)))
    found.add(Artifact(name=f"accepting-connections-{c.tag}", kind="check", needs_root=True,
                       description=f"cluster {c.tag} accepts connections",
                       command=f"{as_user}pg_isready {conn}", requires=("pg_isready",),
                       check=Check(expect_output="accepting connections", remedy=f"start the cluster "
                                   f"(pg_ctlcluster {c.version} {c.name} start) and read its log")))


def load() -> Probe:
    probe = probe_from_toml((BUILTIN_DIR / "postgresql.toml").read_text(), "built-in probe postgresql")
    return replace(probe, discover=discover, discover_help=HELP)
