"""Built-in ``redis`` probe: the TOML plan plus config-derived files.

Discovery reads ``redis_conf`` and, recursively, every ``include`` (globs too), then turns the
last ``logfile`` (empty: stdout, nothing to collect) and ``dir`` into artifacts: each config file
is its own ``config`` artifact, the log a ``log`` artifact, ``dir`` a listing (its RDB/AOF files
hold data, not evidence). An include or log that cannot be read still appears with its status.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Iterator
from dataclasses import replace

from probes.configref import ArtifactList, expand_glob, resolve, walk_configs
from probes.loader import BUILTIN_DIR, probe_from_toml
from probes.spec import Artifact, DiscoveryContext, Probe

DEFAULT_LOG_GLOB = "/var/log/redis/*.log"
HELP = ("Reads redis_conf and every `include` (recursively, globs expanded on the host); each config file, "
        "the `logfile` and a listing of `dir` become artifacts; unreadable ones are recorded with a reason.")


def parse_directives(text: str) -> list[tuple[str, list[str]]]:
    """``(directive, args)`` per line, quotes handled as redis does (roughly: shell words)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            words = line.split()
        if words:
            out.append((words[0].lower(), words[1:]))
    return out


def discover(ctx: DiscoveryContext) -> list[Artifact]:
    conf = ctx.variables.get("redis_conf") or "/etc/redis/redis.conf"
    found = ArtifactList()
    settings: dict[str, str] = {}

    def refs(path: str, text: str) -> Iterator[tuple[str, str]]:
        for key, args in parse_directives(text):
            if key == "include" and args:
                target = resolve(args[0], posixpath.dirname(path))
                matches = expand_glob(ctx, target) if any(c in target for c in "*?[") else [target]
                if not matches:
                    found.file("config", "config", target, f"include in {path} (no file matches)")
                for m in matches:
                    yield m, f"include in {path}"
            elif key in ("logfile", "dir") and args:
                settings[key] = args[0]

    texts = walk_configs(ctx, found, conf, "redis_conf", refs)
    if not settings and texts[conf] is None:  # config unreadable: the packaged log location at least
        found.file("log", "log", DEFAULT_LOG_GLOB, f"{conf} unreadable: the packaged log directory")
    data_dir = settings.get("dir", "")
    logfile = settings.get("logfile", "")
    if logfile:
        found.file("log", "log", resolve(logfile, data_dir), f"logfile in {conf}")
    if data_dir:
        found.add(Artifact(name="data-dir", kind="command", description=f"listing of dir {data_dir} (RDB/AOF files)",
                           command=f"ls -la --time-style=full-iso -- {shlex.quote(data_dir)}", needs_root=True,
                           optional=True))
    return found.items


def load() -> Probe:
    probe = probe_from_toml((BUILTIN_DIR / "redis.toml").read_text(), "built-in probe redis")
    return replace(probe, discover=discover, discover_help=HELP)
