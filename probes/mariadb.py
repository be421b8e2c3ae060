"""Built-in ``mariadb`` probe (MariaDB and MySQL): the TOML plan plus every file the options name.

Discovery reads ``mysql_conf`` and follows ``!include FILE`` and ``!includedir DIR`` (its ``*.cnf``
files, sorted, as the server does) recursively; each file is a ``config`` artifact. From the server
groups (``[mysqld]``, ``[server]``, ``[mariadb]``, ``[mariadbd]``, ``[mysqld-X.Y]`` …) it takes
``datadir``, ``log_error``, ``slow_query_log_file`` and ``general_log_file`` (relative names against
``datadir``, last one wins) as ``log`` artifacts, and ``datadir/grastate.dat`` (Galera; optional).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import replace

from probes.configref import ArtifactList, include_dir, resolve, walk_configs
from probes.loader import BUILTIN_DIR, probe_from_toml
from probes.spec import Artifact, DiscoveryContext, Probe

HELP = ("Reads mysql_conf with every !include/!includedir; each option file, the error/slow/general logs the "
        "server groups name and datadir/grastate.dat become artifacts (unreadable ones with a reason).")
SERVER_GROUPS = re.compile(r"^(mysqld|server|mariadb|mariadbd|galera|mysqld-[\d.]+|mariadb-[\d.]+)$")
LOG_OPTIONS = {"log_error": "error-log", "slow_query_log_file": "slow-log", "general_log_file": "general-log"}
DEFAULT_DATADIR = "/var/lib/mysql"


def parse_options(text: str) -> list[tuple[str, str, str]]:
    """``(group, option, value)`` per line; directives come as group ``!`` (``!include``/``!includedir``)."""
    out, group = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("!"):
            word, _, arg = line.partition(" ")
            out.append(("!", word[1:].lower(), arg.strip()))
        elif line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip().lower()
        else:
            key, _, value = line.partition("=")
            value = re.sub(r"\s+#.*$", "", value).strip().strip("\"'")
            out.append((group, key.strip().lower().replace("-", "_"), value))
    return out


def discover(ctx: DiscoveryContext) -> list[Artifact]:
    conf = ctx.variables.get("mysql_conf") or "/etc/mysql/my.cnf"
    found = ArtifactList()
    server: dict[str, str] = {}

    def refs(path: str, text: str) -> Iterator[tuple[str, str]]:
        for group, key, value in parse_options(text):
            if group == "!" and key == "include":
                yield resolve(value, posixpath.dirname(path)), f"!include in {path}"
            elif group == "!" and key == "includedir":
                d = resolve(value, posixpath.dirname(path))
                for m in include_dir(ctx, found, "config", d, "*.cnf", f"!includedir in {path}"):
                    yield m, f"!includedir in {path}"
            elif SERVER_GROUPS.match(group):
                server[key] = value

    walk_configs(ctx, found, conf, "mysql_conf", refs)
    datadir = server.get("datadir") or DEFAULT_DATADIR
    for option, role in LOG_OPTIONS.items():
        value = server.get(option) or (server.get("log_slow_query_file") if option == "slow_query_log_file" else "")
        if value:
            found.file(role, "log", resolve(value, datadir), f"{option} in the server options")
    found.file("grastate", "config", f"{datadir}/grastate.dat", "Galera state (only on cluster nodes)",
               optional=True)
    return found.items


def load() -> Probe:
    probe = probe_from_toml((BUILTIN_DIR / "mariadb.toml").read_text(), "built-in probe mariadb")
    return replace(probe, discover=discover, discover_help=HELP)
