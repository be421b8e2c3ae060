"""The local transport: this machine, through ``/bin/sh``. Only the seam: execute and close."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading

from collector import interrupt
from collector.errors import ArtifactError
from collector.secrets import child_environment
from collector.transport.base import CHUNK, STDERR_KEEP, CommandResult, Dialogue, Sink, SinkFull
from collector.transport.localread import read_here


class LocalConnection:
    """Runs command lines on this machine, each in its own process group (killed on timeout or stop)."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or socket.gethostname() or "localhost"
        self.user = _whoami()
        self.facts = {"user": self.user}

    def execute(self, line: str, sink: Sink, *, timeout: float, dialogue: Dialogue | None = None) -> CommandResult:
        interrupt.check()  # SIGTERM/SIGHUP: no new command, except cleanup
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", line],
                stdin=subprocess.PIPE if dialogue is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env=child_environment(),
            )
        except OSError as exc:
            raise ArtifactError("failed", f"cannot start /bin/sh: {exc.strerror}") from None
        err_tail = bytearray()

        def drain_stderr() -> None:
            assert proc.stderr is not None
            for data in iter(lambda: os.read(proc.stderr.fileno(), 4096), b""):  # type: ignore[union-attr]
                err_tail.extend(data)
                del err_tail[:-STDERR_KEEP]
                if dialogue is not None and proc.stdin is not None and not proc.stdin.closed:
                    talk(proc, dialogue, data)

        err_thread = threading.Thread(target=drain_stderr, daemon=True)
        err_thread.start()
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            _killpg(proc)

        timer = threading.Timer(timeout, kill)
        timer.start()
        stop_key = interrupt.register(lambda: _killpg(proc))
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
        except BaseException:
            _killpg(proc)
            raise
        finally:
            timer.cancel()
            interrupt.unregister(stop_key)
            proc.stdout.close()  # type: ignore[union-attr]
            code = proc.wait()
            err_thread.join(5)
            if proc.stdin is not None and not proc.stdin.closed:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
        interrupt.check()  # killed by a stop: not a result to record
        return CommandResult(
            exit_code=None if timed_out.is_set() else code,
            stderr=err_tail.decode("utf-8", "replace").strip(),
            timed_out=timed_out.is_set(),
            stopped=stopped,
        )

    def read_file(self, path: str, sink: Sink, *, offset: int, timeout: float,
                  gentle: bool) -> CommandResult | None:
        """Read ``path`` in this process (what ``cat``/``tail -c +N`` would give), or None: run the command.

        See :mod:`collector.transport.localread`; ``gentle``: at the I/O priority of the commands.
        """
        return read_here(path, sink, offset=offset, timeout=timeout, gentle=gentle)

    def close(self) -> None:
        pass


def talk(proc: subprocess.Popen, dialogue: Dialogue, data: bytes) -> None:
    """Answer a child's stderr ``data`` on its stdin; close stdin once the dialogue is finished."""
    reply = dialogue.answer(data)
    try:
        if reply:
            proc.stdin.write(reply)  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        if dialogue.finished:
            proc.stdin.close()  # type: ignore[union-attr]
    except OSError:  # the command ended first
        pass


def _killpg(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _whoami() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def local_host(name: str | None = None, *, sudo_password: str | None = None, nice: bool = True):  # noqa: ANN201
    """This machine as a :class:`collector.transport.host.Host`."""
    from collector.transport.host import Host

    return Host(LocalConnection(name), sudo_password=sudo_password, nice=nice)
