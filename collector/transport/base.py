"""The transport seam: how casepack reaches a host.

A transport is a :class:`Connection`: it starts one POSIX shell command line on the
host, streams its stdout into a sink, keeps the tail of its stderr, lets a
:class:`Dialogue` answer what the command asks on stdin (sudo's prompt), and
closes. That is all a new transport implements (``local.py``, ``ssh.py``). Every
other operation — reading files, globbing, stat, ``which``, SQLite snapshots, and
the rule for when to use sudo — is written once on top of it in :mod:`host`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

Sink = Callable[[bytes], None]
CHUNK = 1 << 20
STDERR_KEEP = 8192  # bytes of a command's stderr kept for its error message

# stderr phrases that mean "privilege refused", from sudo and the kernel
_DENIED = re.compile(
    r"a password is required|is not allowed to|may not run sudo|not in the sudoers|"
    r"permission denied|operation not permitted|sudo: no tty|sudo: a terminal is required|"
    r"incorrect password|no password was provided|sorry, try again|password attempts",
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

    @property
    def last_error(self) -> str:
        """The last non-empty stderr line (what a one-line reason should quote)."""
        lines = [ln for ln in self.stderr.strip().splitlines() if ln.strip()]
        return lines[-1].strip() if lines else ""


class Dialogue(Protocol):
    """Answers a running command's stderr on its stdin (e.g. sudo's password prompt).

    ``answer`` sees each stderr chunk and returns bytes to write to stdin (b"" for
    nothing); once ``finished`` is true the transport closes stdin. ``clean`` removes
    the dialogue's own prompts and markers from the stderr kept for messages.
    """

    finished: bool

    def answer(self, stderr: bytes) -> bytes: ...

    def clean(self, stderr: str) -> str: ...


class Connection(Protocol):
    """The narrow seam every transport implements."""

    name: str  # the host as the user named it
    user: str  # the login user on the host
    facts: dict[str, str]  # how the host was reached: user, auth method, host key …

    def execute(self, line: str, sink: Sink, *, timeout: float, dialogue: Dialogue | None = None) -> CommandResult:
        """Run ``line`` with ``sh`` on the host; stdout → ``sink``; stdin closed unless ``dialogue`` talks.

        A sink raising :class:`SinkFull` stops the command (``stopped``); past ``timeout``
        seconds the command is killed (``timed_out``). Raises
        :class:`collector.errors.ArtifactError` only when the command cannot be started.
        """
        ...

    def close(self) -> None: ...


# -- shell snippets every transport shares -------------------------------------------------
def shell_glob(pattern: str) -> str:
    """Quote a glob for ``sh`` so that only ``* ? [...]`` stay special."""
    parts = re.split(r"(\*|\?|\[[^\]/]*\])", pattern)
    return "".join(p if i % 2 else (shlex.quote(p) if p else "") for i, p in enumerate(parts))


def _fixed_dir(pattern: str) -> str:
    """The directory part of a glob before its first wildcard (``/var/log/nginx/*.log`` → ``/var/log/nginx``)."""
    head = re.split(r"[*?\[]", pattern, maxsplit=1)[0]
    return head.rsplit("/", 1)[0] or "/"


def stat_script(*patterns: str) -> str:
    """A POSIX-shell snippet printing ``size mtime type path`` for each match of the ``patterns``.

    A pattern that matched nothing because a directory on its way cannot be listed prints
    ``! denied DIR``, so "not there" and "not allowed to look" are told apart.
    """
    loops = []
    for p in patterns:
        d = shlex.quote(_fixed_dir(p))
        loops.append(
            f"n=0; for f in {shell_glob(p)}; do [ -e \"$f\" ] || continue; n=1; "
            "if [ -d \"$f\" ]; then t=d; else t=f; fi; "
            "printf '%s %s %s %s\\n' \"$(stat -L -c %s -- \"$f\")\" \"$(stat -L -c %Y -- \"$f\")\" "
            "\"$t\" \"$f\"; done; "
            # nothing matched: find the deepest directory that exists (as far as this user can see);
            # if it cannot be listed, the answer is "denied", not "missing"
            f"if [ $n = 0 ]; then d={d}; while [ \"$d\" != / ] && [ ! -d \"$d\" ]; do d=$(dirname -- \"$d\"); done; "
            "if ! { [ -r \"$d\" ] && [ -x \"$d\" ]; }; then echo \"! denied $d\"; fi; fi"
        )
    return "; ".join(loops)


def parse_stat_lines(text: str) -> tuple[list[FileInfo], list[str]]:
    """Matches, and the directories that could not be listed."""
    out, denied = [], []
    for line in text.splitlines():
        if line.startswith("! denied "):
            denied.append(line[len("! denied "):])
            continue
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[0].isdigit() and parts[1].isdigit():
            out.append(FileInfo(parts[3], int(parts[0]), float(parts[1]), parts[2] == "f"))
    return out, denied


NICENESS = 10  # commands run at this CPU niceness (absolute: a casepack already niced adds nothing)


def gentle(command: str) -> str:
    """Run at low CPU and I/O priority where ``nice``/``ionice`` exist.

    The niceness is absolute: on this machine casepack lowers its own priority to the same level
    (:func:`collector.engine.run.collect`), so its reader is not starved behind its own redaction.
    """
    inner = shlex.quote(command)
    return (
        # non-root PATHs often lack the sbin directories where sysctl, ss, lsblk … live
        'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"; export PATH; '
        "if command -v ionice >/dev/null 2>&1; then set -- ionice -c2 -n7; else set --; fi; "
        f"if command -v nice >/dev/null 2>&1 && n=$(nice) && [ \"$n\" -lt {NICENESS} ]; then "
        f"set -- \"$@\" nice -n $(({NICENESS} - n)); fi; exec \"$@\" sh -c {inner}"
    )


def time_limited(line: str, timeout: float) -> str:
    """Bound a command line with coreutils ``timeout`` where present (TERM, then KILL 5 s later)."""
    limit = max(1, int(timeout + 0.999))
    return (f"if command -v timeout >/dev/null 2>&1; then exec timeout -k 5 {limit} sh -c {shlex.quote(line)}; "
            f"else exec sh -c {shlex.quote(line)}; fi")
