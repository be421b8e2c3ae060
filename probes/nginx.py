"""Built-in ``nginx`` probe: the TOML plan plus every file the configuration names.

Discovery runs ``nginx -T -c nginx_conf`` (sudo when allowed): its ``# configuration file X:``
headers name every file nginx read (``include`` of ``snippets/``, ``modules-enabled/``,
``mime.types`` …), and its text holds every ``access_log``/``error_log`` — in ``http``, ``server``
and ``location`` blocks alike. Each becomes an artifact; paths with variables become globs;
relative ones resolve against the ``--prefix`` nginx was built with. When nginx is absent or
``-T`` is refused, the main config and the packaged log directory are taken, and the config
artifact says why.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import replace

from probes.configref import ArtifactList, resolve
from probes.loader import BUILTIN_DIR, probe_from_toml
from probes.spec import Artifact, DiscoveryContext, DiscoveryIncomplete, Probe

HELP = ("Runs `nginx -T -c nginx_conf`: every file it read becomes a config artifact, every access_log/"
        "error_log (any block) a log artifact; unreadable or missing ones are recorded with a reason.")
DEFAULT_PREFIX = "/usr/share/nginx"
DEFAULT_LOGS = {"error_log": "/var/log/nginx/error.log", "access_log": "/var/log/nginx/access.log"}
_FILE_RE = re.compile(r"^# configuration file (.+):$", re.MULTILINE)
_LOG_RE = re.compile(r"(?:^|[;{}])\s*(access_log|error_log)\s+(\"[^\"]*\"|'[^']*'|[^\s;]+)", re.MULTILINE)
_NOT_FILES = ("off", "stderr", "syslog:", "memory:", "/dev/")


def strip_comments(text: str) -> str:
    """Drop ``#`` comments outside quotes (the -T file headers are read before this)."""
    return re.sub(r"(\"[^\"\n]*\"|'[^'\n]*')|#[^\n]*", lambda m: m.group(1) or "", text)


def parse_dump(dump: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(files read, [(directive, path)]) from ``nginx -T`` output."""
    files = _FILE_RE.findall(dump)
    logs = []
    for directive, value in _LOG_RE.findall(strip_comments(dump)):
        value = value.strip("\"'")
        if not value.startswith(_NOT_FILES):
            logs.append((directive, value))
    return files, logs


def log_glob(path: str) -> str:
    """``/var/log/nginx/$host.access.log`` → ``/var/log/nginx/*.access.log``."""
    return re.sub(r"\$\{?[A-Za-z0-9_]+\}?", "*", path)


def discover(ctx: DiscoveryContext) -> list[Artifact]:
    conf = ctx.variables.get("nginx_conf") or "/etc/nginx/nginx.conf"
    found = ArtifactList()
    q = shlex.quote(conf)
    dump = ctx.run(f"nginx -T -q -c {q} 2>/dev/null", timeout=30, privileged=True)
    if not dump or not _FILE_RE.search(dump):
        found.file("config", "config", conf, "nginx_conf (nginx -T unavailable or refused: includes not followed)")
        for directive, path in DEFAULT_LOGS.items():
            found.file(directive.replace("_", "-"), "log", path, "packaged default (nginx -T unavailable)")
        raise DiscoveryIncomplete(f"`nginx -T -c {conf}` failed or was refused: its includes and the logs it "
                                  "names were not followed (run `nginx -t` on the host)", found.items)
    build = ctx.run("nginx -V 2>&1", timeout=15) or ""
    m = re.search(r"--prefix=(\S+)", build)
    prefix = m.group(1) if m else DEFAULT_PREFIX
    files, logs = parse_dump(dump)
    for path in files:
        found.file("config", "config", path, "read by nginx (nginx -T)")
    seen = {d for d, _ in logs}
    for directive, path in DEFAULT_LOGS.items():
        if directive not in seen:  # nginx writes its compiled-in default when none is configured
            m = re.search(rf"--{directive.replace('_', '-')}-path=(\S+)", build)
            logs.append((directive, m.group(1) if m else path))
    for directive, path in logs:
        found.file(directive.replace("_", "-"), "log", resolve(log_glob(path), prefix), f"{directive} in the config")
    return found.items


def load() -> Probe:
    probe = probe_from_toml((BUILTIN_DIR / "nginx.toml").read_text(), "built-in probe nginx")
    return replace(probe, discover=discover, discover_help=HELP)
