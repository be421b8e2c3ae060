"""Shared pieces for probes whose configuration names other files (includes, logs, data dirs).

The accounting rule: every file a configuration references becomes an artifact of its own, so the
manifest records it as collected, ``missing`` or ``denied`` with a reason; nothing referenced is
dropped silently. Names are stable: ``<role>`` for the first, ``<role>-2`` … after it.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Iterable, Iterator

from probes.spec import Artifact, DiscoveryContext

LOG_MAX_FILES = 5


class ArtifactList:
    """Collects discovered artifacts, one per referenced file, with unique names and no duplicates."""

    def __init__(self) -> None:
        self.items: list[Artifact] = []
        self._paths: set[tuple[str, str]] = set()
        self._names: dict[str, int] = {}

    def name(self, role: str) -> str:
        n = self._names.get(role, 0) + 1
        self._names[role] = n
        return role if n == 1 else f"{role}-{n}"

    def file(self, role: str, kind: str, path: str, why: str, **kw: object) -> None:
        """One file (or glob) the configuration names; kind ``config`` or ``log``."""
        path = posixpath.normpath(path)
        if (kind, path) in self._paths:
            return
        self._paths.add((kind, path))
        if kind == "log":
            kw.setdefault("max_files", LOG_MAX_FILES)
        self.items.append(Artifact(name=self.name(role), kind=kind, paths=(path,), description=why,
                                   needs_root=True, **kw))  # type: ignore[arg-type]

    def add(self, art: Artifact) -> None:
        self.items.append(art)

    def extend(self, arts: Iterable[Artifact]) -> None:
        self.items.extend(arts)


def resolve(path: str, base: str) -> str:
    """``path`` made absolute against ``base`` (a directory)."""
    return posixpath.normpath(path if posixpath.isabs(path) or not base else posixpath.join(base, path))


def shell_glob(pattern: str) -> str:
    """Quote a glob for ``sh`` so that only ``* ? [...]`` stay special (config text is untrusted)."""
    parts = re.split(r"(\*|\?|\[[^\]/]*\])", pattern)
    return "".join(p if i % 2 else (shlex.quote(p) if p else "") for i, p in enumerate(parts))


def expand_glob(ctx: DiscoveryContext, pattern: str) -> list[str]:
    """Paths matching ``pattern`` on the host (sudo when allowed: config dirs are often root-only)."""
    out = ctx.run(f"for f in {shell_glob(pattern)}; do [ -e \"$f\" ] && printf '%s\\n' \"$f\"; done; true",
                  privileged=True)
    return sorted(line for line in (out or "").splitlines() if line)


def include_dir(ctx: DiscoveryContext, found: ArtifactList, role: str, directory: str, pattern: str,
                why: str) -> list[str]:
    """The files an include directive's directory holds; none: an entry that accounts for it.

    An existing but empty directory is normal (optional entry); a directory that is not there
    (or cannot be listed) is a reference left unaccounted for (the host is ``partial``).
    """
    matches = expand_glob(ctx, f"{directory}/{pattern}")
    if not matches:
        exists = ctx.run(f"test -d {shlex.quote(directory)}", privileged=True) is not None
        state = "empty directory" if exists else "no such directory"
        found.file(role, "config", f"{directory}/{pattern}", f"{why} ({state})", optional=exists)
    return matches



References = Callable[[str, str], Iterator[tuple[str, str]]]


def walk_configs(ctx: DiscoveryContext, found: ArtifactList, start: str, why: str,
                 refs: References) -> dict[str, str | None]:
    """Record ``start`` and every config file it includes, each once, in file order; return their texts.

    ``refs(path, text)`` yields ``(included path, why)`` as it reads ``text`` (lazily, so an include is
    visited where it stands, before the lines after it — the order the product itself reads them in).
    A file that cannot be read is still recorded (its artifact then says ``missing``/``denied``).
    """
    texts: dict[str, str | None] = {}

    def visit(path: str, reason: str) -> None:
        if path in texts:
            return
        found.file("config", "config", path, reason)
        texts[path] = text = ctx.read_text(path)
        if text is not None:
            for target, because in refs(path, text):
                visit(target, because)

    visit(start, why)
    return texts
