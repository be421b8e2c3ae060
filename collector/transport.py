"""The transport seam: how the engine reaches a host.

A transport runs shell commands with streaming output, streams files, stats and
globs paths. ``local`` reads this machine; ``ssh`` (its own module) reaches
remote hosts. The engine only talks to this interface.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

Sink = Callable[[bytes], None]
CHUNK = 1 << 20

# stderr phrases that mean "privilege refused", from sudo and the kernel
_DENIED = re.compile(
    r"a password is required|is not allowed to|may not run sudo|not in the sudoers|"
    r"permission denied|operation not permitted|sudo: no tty|sudo: a terminal is required|"
    r"incorrect password|no password was provided|sorry, try again",
    re.IGNORECASE,
)


class SinkFull(Exception):
    """Raised by a sink to stop the transfer early (a head-limited artifact is full)."""


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime: float
    is_file: bool = True


@dataclass
class CommandResult:
    exit_code: int | None
    stderr: str
    timed_out: bool = False
    stopped: bool = False  # the sink asked to stop

    @property
    def denied(self) -> bool:
        return self.exit_code not in (0, None) and bool(_DENIED.search(self.stderr))


class Transport(Protocol):
    """What the engine needs from a host. ``as_root`` asks for privilege (sudo -n)."""

    host: str
    is_root: bool
    facts: dict[str, str]  # how the host was reached: user, auth method, host key …

    def run(self, command: str, sink: Sink, *, timeout: float, as_root: bool = False,
            stdin: bytes | None = None) -> CommandResult:
        """Run a shell command streaming stdout into ``sink``; ``stdin`` (e.g. secrets) is written to it."""
        ...

    def read(self, path: str, sink: Sink, *, offset: int = 0, timeout: float, as_root: bool = False) -> int:
        """Stream a file from ``offset`` into ``sink``; return the byte count.

        Raises :class:`collector.errors.ArtifactError` with status ``missing``,
        ``denied``, ``failed`` or ``timed_out``.
        """
        ...

    def stat(self, path: str, *, as_root: bool = False) -> FileInfo | None: ...

    def glob(self, pattern: str, *, as_root: bool = False) -> list[FileInfo]: ...

    def glob_all(self, patterns: Sequence[str], *, as_root: bool = False) -> list[FileInfo]:
        """Matches of several patterns at once (one round trip on a remote host), without duplicates."""
        ...

    def which(self, command: str) -> bool: ...

    def sqlite_backup(self, path: str, dest: str, *, timeout: float, as_root: bool = False) -> str:
        """Write an online-consistent copy of a SQLite database to local ``dest``; return the method.

        Raise :class:`collector.errors.ArtifactError` when the host cannot (the
        engine then falls back to copying the files and verifying the copy).
        """
        ...

    def close(self) -> None: ...


def shell_glob(pattern: str) -> str:
    """Quote a glob for ``sh`` so that only ``* ? [...]`` stay special."""
    parts = re.split(r"(\*|\?|\[[^\]/]*\])", pattern)
    return "".join(p if i % 2 else (shlex.quote(p) if p else "") for i, p in enumerate(parts))


def stat_script(*patterns: str) -> str:
    """A POSIX-shell snippet printing ``size mtime type path`` for each match of the ``patterns``."""
    return (
        f"for f in {' '.join(shell_glob(p) for p in patterns)}; do [ -e \"$f\" ] || continue; "
        "if [ -d \"$f\" ]; then t=d; else t=f; fi; "
        "printf '%s %s %s %s\\n' \"$(stat -L -c %s -- \"$f\")\" \"$(stat -L -c %Y -- \"$f\")\" \"$t\" \"$f\"; done"
    )


def parse_stat_lines(text: str) -> list[FileInfo]:
    out = []
    for line in text.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[0].isdigit() and parts[1].isdigit():
            out.append(FileInfo(parts[3], int(parts[0]), float(parts[1]), parts[2] == "f"))
    return out


def privileged(command: str, as_root: bool, is_root: bool) -> str:
    """Wrap a command for ``sudo -n`` when root is wanted and we are not root."""
    if as_root and not is_root:
        return f"sudo -n -- sh -c {shlex.quote(command)}"
    return command


def gentle(command: str) -> str:
    """Run at low CPU and I/O priority where ``nice``/``ionice`` exist."""
    inner = shlex.quote(command)
    return (
        # non-root PATHs often lack the sbin directories where sysctl, ss, lsblk … live
        'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"; export PATH; '
        "if command -v ionice >/dev/null 2>&1; then set -- ionice -c2 -n7; else set --; fi; "
        f"if command -v nice >/dev/null 2>&1; then set -- \"$@\" nice -n 10; fi; exec \"$@\" sh -c {inner}"
    )
