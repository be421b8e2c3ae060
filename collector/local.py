"""The local transport: collect this machine, no SSH."""

from __future__ import annotations

import glob as globmod
import os
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence

from collector.errors import ArtifactError
from collector.transport import (
    CHUNK,
    CommandResult,
    FileInfo,
    Sink,
    SinkFull,
    gentle,
    parse_stat_lines,
    privileged,
    stat_script,
)


class LocalTransport:
    """Reads files and runs commands on this machine (``sudo -n`` for root-only ones)."""

    def __init__(self, host: str | None = None, *, nice: bool = True) -> None:
        self.host = host or socket.gethostname() or "localhost"
        self.is_root = os.geteuid() == 0
        self.nice = nice
        self.facts = {"user": _whoami()}

    def run(self, command: str, sink: Sink, *, timeout: float, as_root: bool = False,
            stdin: bytes | None = None) -> CommandResult:
        command = privileged(command, as_root, self.is_root)
        if self.nice:
            command = gentle(command)
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        err_tail = bytearray()

        def drain_stderr() -> None:
            assert proc.stderr is not None
            for data in iter(lambda: proc.stderr.read(4096), b""):
                err_tail.extend(data)
                del err_tail[:-4096]

        err_thread = threading.Thread(target=drain_stderr, daemon=True)
        err_thread.start()
        if stdin is not None:
            assert proc.stdin is not None
            try:  # a few short lines (secrets for the command's environment): fits the pipe buffer
                proc.stdin.write(stdin)
                proc.stdin.close()
            except BrokenPipeError:
                pass
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            _killpg(proc)

        timer = threading.Timer(timeout, kill)
        timer.start()
        stopped = False
        try:
            assert proc.stdout is not None
            fd = proc.stdout.fileno()
            while True:
                data = os.read(fd, CHUNK)
                if not data:
                    break
                sink(data)
        except SinkFull:
            stopped = True
            _killpg(proc)
        finally:
            timer.cancel()
            proc.stdout.close()  # type: ignore[union-attr]
            code = proc.wait()
            err_thread.join(5)
        return CommandResult(
            exit_code=None if timed_out.is_set() else code,
            stderr=err_tail.decode("utf-8", "replace").strip(),
            timed_out=timed_out.is_set(),
            stopped=stopped,
        )

    def read(self, path: str, sink: Sink, *, offset: int = 0, timeout: float, as_root: bool = False) -> int:
        deadline = time.monotonic() + timeout
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise ArtifactError("missing", f"not found: {path}") from None
        except IsADirectoryError:
            raise ArtifactError("failed", f"is a directory: {path}") from None
        except PermissionError:
            if as_root and not self.is_root:
                return self._sudo_read(path, sink, offset, timeout)
            hint = "" if as_root else " (mark the artifact needs_root to use sudo)"
            raise ArtifactError("denied", f"permission denied: {path}{hint}") from None
        total = 0
        with f:
            if offset:
                f.seek(offset)
            try:
                while True:
                    data = f.read(CHUNK)
                    if not data:
                        break
                    total += len(data)
                    sink(data)
                    if time.monotonic() > deadline:
                        raise ArtifactError("timed_out", f"read timed out after {timeout:g}s: {path}")
            except SinkFull:
                pass
        return total

    def _sudo_read(self, path: str, sink: Sink, offset: int, timeout: float) -> int:
        cmd = f"tail -c +{offset + 1} -- {shlex.quote(path)}" if offset else f"cat -- {shlex.quote(path)}"
        count = [0]

        def counting(data: bytes) -> None:
            count[0] += len(data)
            sink(data)

        res = self.run(cmd, counting, timeout=timeout, as_root=True)
        if res.timed_out:
            raise ArtifactError("timed_out", f"read timed out after {timeout:g}s: {path}")
        if res.exit_code not in (0, None) and not res.stopped:
            status = "denied" if res.denied else "failed"
            raise ArtifactError(status, f"sudo read of {path} failed: {res.stderr or 'exit ' + str(res.exit_code)}")
        return count[0]

    def stat(self, path: str, *, as_root: bool = False) -> FileInfo | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        except PermissionError:
            found = self._sudo_glob(path) if as_root and not self.is_root else []
            return found[0] if found else None
        return FileInfo(path, st.st_size, st.st_mtime, os.path.isfile(path))

    def glob(self, pattern: str, *, as_root: bool = False) -> list[FileInfo]:
        paths = sorted(globmod.glob(pattern)) if globmod.has_magic(pattern) else [pattern]
        found = [info for info in (self.stat(p) for p in paths) if info is not None]
        if not found and as_root and not self.is_root:
            found = self._sudo_glob(pattern)
        return found

    def glob_all(self, patterns: Sequence[str], *, as_root: bool = False) -> list[FileInfo]:
        found: dict[str, FileInfo] = {}
        for pattern in patterns:
            found.update((f.path, f) for f in self.glob(pattern, as_root=as_root) if f.path not in found)
        return list(found.values())

    def _sudo_glob(self, pattern: str) -> list[FileInfo]:
        out = bytearray()
        self.run(stat_script(pattern), out.extend, timeout=30, as_root=True)
        return parse_stat_lines(out.decode("utf-8", "replace"))

    def which(self, command: str) -> bool:
        return shutil.which(command) is not None or os.path.exists(command)

    def sqlite_backup(self, path: str, dest: str, *, timeout: float, as_root: bool = False) -> str:
        """Online backup with the SQLite backup API (consistent while the server writes)."""
        if not os.path.exists(path):
            raise ArtifactError("missing", f"not found: {path}")
        if not os.access(path, os.R_OK):
            raise ArtifactError("denied", f"permission denied: {path}")
        import sqlite3

        try:
            _sqlite_backup(path, dest)
        except sqlite3.Error as exc:
            raise ArtifactError("failed", f"sqlite backup API failed: {exc}") from None
        return "VACUUM INTO snapshot (local)"

    def close(self) -> None:
        pass


def _killpg(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _sqlite_backup(path: str, dest: str) -> None:
    """One consistent snapshot: VACUUM INTO runs inside a single read transaction."""
    import sqlite3

    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        src.execute("VACUUM INTO ?", (dest,))
    finally:
        src.close()


def _whoami() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())
