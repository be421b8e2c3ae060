"""A host as the engine and the process test see it: every operation written once over a Connection.

Reading files, listing globs, ``which``, SQLite snapshots and the privilege rule
(first as the login user; with sudo when the artifact needs root and the user
was refused, or nothing was found) live here, so a new transport is only
``execute`` + ``close`` (see :mod:`collector.transport.base`).
"""

from __future__ import annotations

import os
import secrets
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from collector import interrupt
from collector.errors import ArtifactError
from collector.transport.base import (
    NICENESS,
    CommandResult,
    Connection,
    FileInfo,
    Sink,
    SinkFull,
    parse_stat_lines,
    stat_script,
    time_limited,
)
from collector.transport.sudo import wrap

LIST_TIMEOUT = 30.0


@dataclass
class Listing:
    """What a set of globs matched, and the directories the user could not list."""

    files: list[FileInfo] = field(default_factory=list)
    denied_dirs: list[str] = field(default_factory=list)
    via_sudo: bool = False


class Host:
    """The operations casepack performs on one host, over any :class:`Connection`."""

    def __init__(self, conn: Connection, *, sudo_password: str | None = None, become: bool | None = None,
                 nice: bool = True) -> None:
        self.conn = conn
        self.host = conn.name
        self.user = conn.user
        self.is_root = conn.user == "root"
        self.facts = conn.facts
        self.become = become
        self.nice = nice
        self._password = sudo_password
        self._which: dict[str, bool] = {}

    @property
    def can_escalate(self) -> bool:
        """Whether sudo may be tried at all (not root, not forbidden by the inventory)."""
        return not self.is_root and self.become is not False

    # -- commands ---------------------------------------------------------------------------
    def run(self, command: str, sink: Sink, *, timeout: float, as_root: bool = False,
            env: Mapping[str, str] | None = None) -> CommandResult:
        line, dialogue = wrap(command, as_root=as_root, is_root=self.is_root, become=self.become,
                              password=self._password, env=env, nice=self.nice)
        res = self.conn.execute(time_limited(line, timeout), sink, timeout=timeout + 10, dialogue=dialogue)
        if dialogue is not None:
            res.stderr = dialogue.clean(res.stderr).strip()
        if res.exit_code in (124, 137) and not res.stopped:  # coreutils timeout: TERM → 124, KILL → 137
            res.timed_out, res.exit_code = True, None
        return res

    def capture(self, command: str, *, timeout: float = LIST_TIMEOUT, as_root: bool = False,
                limit: int = 16 << 20, env: Mapping[str, str] | None = None) -> tuple[str, CommandResult]:
        """Run a command and return its (capped) output as text."""
        buf = bytearray()

        def sink(data: bytes) -> None:
            buf.extend(data)
            if len(buf) >= limit:
                raise SinkFull()

        res = self.run(command, sink, timeout=timeout, as_root=as_root, env=env)
        return bytes(buf[:limit]).decode("utf-8", "replace"), res

    def which(self, command: str) -> bool:
        """Is ``command`` a program, builtin or path the host's shell can run?"""
        if command not in self._which:
            _, res = self.capture(f"command -v {shlex.quote(command)} >/dev/null 2>&1")
            self._which[command] = res.exit_code == 0
        return self._which[command]

    def sudo_works(self) -> CommandResult:
        """Try sudo once (``true`` as root): exit 0 when it is usable for this run."""
        if self.is_root:
            return CommandResult(0, "")
        if self.become is False:
            return CommandResult(1, "sudo disabled for this host by the inventory")
        return self.run("true", lambda data: None, timeout=15, as_root=True)

    # -- files ------------------------------------------------------------------------------
    def find(self, patterns: Sequence[str], *, as_root: bool = False) -> Listing:
        """Matches of the globs (one round trip); with ``as_root``, sudo when the user saw nothing or was refused."""
        text, _ = self.capture(stat_script(*patterns))
        files, denied = parse_stat_lines(text)
        listing = Listing(list({f.path: f for f in files}.values()), denied)
        if as_root and self.can_escalate and (not files or denied):
            text, res = self.capture(stat_script(*patterns), as_root=True)
            more, still = parse_stat_lines(text)
            if res.exit_code == 0 or more:
                known = {f.path for f in listing.files}
                listing.files.extend(f for f in more if f.path not in known)
                listing.denied_dirs = still
                listing.via_sudo = bool(more)
        return listing

    def glob_all(self, patterns: Sequence[str], *, as_root: bool = False) -> list[FileInfo]:
        return self.find(patterns, as_root=as_root).files

    def glob(self, pattern: str, *, as_root: bool = False) -> list[FileInfo]:
        return self.find([pattern], as_root=as_root).files

    def stat(self, path: str, *, as_root: bool = False) -> FileInfo | None:
        found = [f for f in self.find([path], as_root=as_root).files if f.path == path]
        return found[0] if found else None

    def read(self, path: str, sink: Sink, *, offset: int = 0, timeout: float, as_root: bool = False) -> int:
        """Stream a file from ``offset``; raises :class:`ArtifactError` (missing/denied/failed/timed_out)."""
        q = shlex.quote(path)
        cmd = f"tail -c +{offset + 1} -- {q}" if offset else f"cat -- {q}"
        count = [0]

        def counting(data: bytes) -> None:
            count[0] += len(data)
            sink(data)

        res = self._read_here(path, counting, offset, timeout)
        if res is None:
            res = self.run(cmd, counting, timeout=timeout)
        refused = res.exit_code not in (0, None) and not count[0] and (
            res.denied or "no such file" in res.stderr.lower())
        if refused and as_root and self.can_escalate:
            res = self.run(cmd, counting, timeout=timeout, as_root=True)
        if res.timed_out:
            raise ArtifactError("timed_out", f"read timed out after {timeout:g}s: {path}")
        if res.exit_code not in (0, None) and not res.stopped:
            if "no such file" in res.stderr.lower():
                raise ArtifactError("missing", f"not found: {path}")
            if "is a directory" in res.stderr.lower():
                raise ArtifactError("failed", f"is a directory: {path}")
            if res.denied:
                hint = "" if as_root else " (mark the artifact needs_root to use sudo)"
                raise ArtifactError("denied", f"{res.last_error}{hint}")
            raise ArtifactError("failed", f"reading {path} failed: {res.last_error or res.exit_code}")
        return count[0]

    def _read_here(self, path: str, sink: Sink, offset: int, timeout: float) -> CommandResult | None:
        """A local connection reads the file in casepack's process (:mod:`collector.transport.localread`) when
        that is as gentle as the command: niceness already at the commands' (casepack renices itself collecting
        locally) or commands not niced. None: run the command (also for what the in-process read cannot do)."""
        here = getattr(self.conn, "read_file", None)
        if here is None or os.environ.get("CASEPACK_READ") == "command":
            return None
        if self.nice:
            try:
                if os.getpriority(os.PRIO_PROCESS, 0) < NICENESS:
                    return None
            except OSError:
                return None
        return here(path, sink, offset=offset, timeout=timeout, gentle=self.nice)

    def sqlite_backup(self, path: str, dest: str, *, timeout: float, as_root: bool = False) -> str:
        """``sqlite3`` ``VACUUM INTO`` on the host into a private temp dir, streamed back, temp dir removed."""
        if not self.which("sqlite3"):
            raise ArtifactError("failed", "sqlite3 is not installed on the host")
        use_root = as_root and self.can_escalate
        # the name is chosen here, so the cleanup below knows it even if a signal cuts the mkdir short
        where = f'"${{TMPDIR:-/tmp}}"/casepack-snap-{secrets.token_hex(8)}'
        try:
            tmp, res = self.capture(f"umask 077; d={where}; mkdir -- \"$d\" && printf '%s' \"$d\"", as_root=use_root)
            tmp = tmp.strip()
            if res.exit_code != 0 or not tmp.startswith("/"):
                raise ArtifactError("failed", f"cannot make a temp dir on the host: {res.last_error}")
        except BaseException:
            with interrupt.cleanup():
                self.capture(f"rm -rf -- {where}", as_root=use_root)
            raise
        copy = f"{tmp}/copy.sqlite"
        try:
            # VACUUM INTO reads one snapshot inside a single read transaction, so a busy writer never makes it
            # restart (the online .backup does); .backup remains for SQLite older than 3.27
            vacuum = "VACUUM INTO '" + copy.replace("'", "''") + "'"
            backup = ".backup " + shlex.quote(copy)
            cmd = (f"chmod 700 {shlex.quote(tmp)} && {{ sqlite3 -readonly {shlex.quote(path)} {shlex.quote(vacuum)} "
                   f"|| sqlite3 -readonly {shlex.quote(path)} {shlex.quote(backup)}; }}")
            _, res = self.capture(cmd, timeout=timeout, as_root=use_root)
            if res.exit_code != 0:
                status = "timed_out" if res.timed_out else "denied" if res.denied else "failed"
                if "unable to open" in res.stderr and not use_root:
                    status = "denied"
                raise ArtifactError(status, f"sqlite3 on the host failed: {res.last_error or status}")
            with open(dest, "wb") as f:
                self.read(copy, f.write, timeout=timeout, as_root=use_root)
        finally:
            with interrupt.cleanup():  # also after SIGTERM: the snapshot is unredacted
                self.capture(f"rm -rf -- {where}", as_root=use_root)
        return "sqlite3 VACUUM INTO (snapshot) on the host"

    def close(self) -> None:
        self.conn.close()
