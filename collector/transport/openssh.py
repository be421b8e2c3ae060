"""The OpenSSH transport: the system ``ssh`` client, one ControlMaster per host, one channel per command.

Chosen with ``--ssh-client openssh`` (or ``ssh_client = "openssh"`` in the case file or the
inventory). Same semantics as the paramiko transport (:mod:`collector.transport.ssh`): strict
host keys, the same one-line errors, sudo's password on stdin through the dialogue, and on a
stop (Ctrl-C, SIGTERM, a full sink, a timeout) the local ``ssh`` is killed and so is the
command's whole session on the host. :meth:`OpenSshConnection.close` ends the master and
removes its private directory; a hard exit does the same (:func:`collector.interrupt.on_abort`).
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from collector import interrupt
from collector.errors import ArtifactError
from collector.secrets import child_environment
from collector.transport.base import CHUNK, STDERR_KEEP, CommandResult, Dialogue, Sink, SinkFull
from collector.transport.local import talk
from collector.transport.openssh_askpass import Askpass
from collector.transport.openssh_master import SSH, Master, channel_argv
from collector.transport.ssh import SID_REPORT, PassphrasePrompt, SidReader, SshSpec, remote_kill

F_SETPIPE_SZ = 1031  # Linux: a 1 MiB pipe from ssh means fewer, larger reads
KILL_WAIT = 5.0
SID_WAIT = 1.0  # seconds to wait for a stopped command's session id
POLL = 0.2  # seconds between looks at a kill while the command is silent  # seconds for the kill command's own channel
MAX_BASE = 50  # longest $TMPDIR used for the private directory (see private_dir)
SSH_FAILED = 255  # ssh's exit status for its own failures (and for a remote command killed by a signal)


def private_dir() -> str:
    """A 0700 directory for the socket, the master's log and askpass; short enough for a unix socket path.

    ssh binds ``ControlPath`` + ``.`` + 16 random characters (at most 107 bytes): a long ``$TMPDIR`` gives way
    to ``/tmp``.
    """
    base = tempfile.gettempdir()
    return tempfile.mkdtemp(prefix="casepack-ssh-", dir=base if len(base) <= MAX_BASE else "/tmp")


@functools.cache
def client_version() -> str:
    try:
        out = subprocess.run([SSH, "-V"], capture_output=True, text=True, timeout=10)
        return (out.stderr or out.stdout).strip().split(",")[0]
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class OpenSshConnection:
    """The :class:`collector.transport.base.Connection` through the system ``ssh`` and a ControlMaster."""

    def __init__(self, spec: SshSpec, prompt: PassphrasePrompt | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.user = spec.user
        self.facts: dict[str, str] = {"user": spec.user, "address": spec.address,
                                      "ssh_client": f"openssh ({client_version()})"}
        self._tmp = private_dir()
        self._abort = interrupt.on_abort(self._abandon)
        atexit.register(self._abandon)  # a library caller that never closes: no master, no directory left
        self._askpass: Askpass | None = None
        self._master: Master | None = None
        try:
            env = None
            if prompt is not None:  # on a terminal: ssh's questions reach the user through casepack
                self._askpass = Askpass(self._tmp, prompt)
                env = self._askpass.environment()
            wait = 300.0 if prompt is not None else spec.connect_timeout * 3 + 15
            self._master = Master(spec, self._tmp, config=spec.ssh_config, env=env, batch=prompt is None, wait=wait)
        except BaseException:
            self.close()
            raise
        self.facts.update(self._master.facts())
        if spec.proxy_jump is not None:
            self.facts["via"] = spec.proxy_jump.address
        self._argv = channel_argv(self._master.socket)

    def execute(self, line: str, sink: Sink, *, timeout: float, dialogue: Dialogue | None = None) -> CommandResult:
        interrupt.check()  # after a stop (Ctrl-C, SIGTERM, SIGHUP): no new command, except cleanup
        try:
            proc = subprocess.Popen(self._argv + [SID_REPORT + line],
                                    stdin=subprocess.PIPE if dialogue is not None else subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True, env=child_environment())
        except OSError as exc:
            raise ArtifactError("failed", f"cannot run ssh: {exc.strerror}") from None
        assert proc.stdout is not None and proc.stderr is not None
        try:
            fcntl.fcntl(proc.stdout.fileno(), F_SETPIPE_SZ, CHUNK)
        except OSError:
            pass
        err = bytearray()
        sid = SidReader()
        err_thread = threading.Thread(target=self._drain_stderr, args=(proc, sid, err, dialogue), daemon=True)
        err_thread.start()
        timed_out, killed = threading.Event(), threading.Event()

        def kill(timeout_hit: bool = False) -> None:
            if timeout_hit:
                timed_out.set()
            killed.set()
            _kill(proc)

        timer = threading.Timer(timeout, kill, args=(True,))
        timer.start()
        stop_key = interrupt.register(kill)
        stopped = interrupted = False
        try:
            # the master holds copies of this channel's pipes until the host closes the channel: after a kill,
            # EOF may come late, so the loop also watches for the kill itself
            fd = proc.stdout.fileno()
            while not killed.is_set():
                if not select.select([fd], [], [], POLL)[0]:
                    continue
                data = os.read(fd, CHUNK)
                if not data:
                    break
                sink(data)
        except SinkFull:
            stopped = True
            _kill(proc)
        except BaseException:
            interrupted = True
            _kill(proc)
            raise
        finally:
            timer.cancel()
            interrupt.unregister(stop_key)
            ended_early = stopped or interrupted or killed.is_set()
            if ended_early:
                self._kill_session(sid)  # the host's side first: then the master lets go of the pipes
            proc.stdout.close()
            code = proc.wait()
            err_thread.join(1 if ended_early else 5)
        interrupt.check()  # killed by a stop: not a result to record
        stderr = err[-STDERR_KEEP:].decode("utf-8", "replace").strip()
        if code == SSH_FAILED and sid.value is None and not (stopped or timed_out.is_set()):
            # ssh's own failure before the command started: the master went away, the host dropped us …
            lines = [ln for ln in stderr.splitlines() if ln.strip()]
            raise ArtifactError("failed", f"SSH channel failed: {lines[-1] if lines else 'ssh exited 255'}")
        if timed_out.is_set():
            return CommandResult(None, stderr, timed_out=True)
        return CommandResult(None if stopped else code, stderr, stopped=stopped)

    @staticmethod
    def _drain_stderr(proc: subprocess.Popen, sid: SidReader, err: bytearray, dialogue: Dialogue | None) -> None:
        fd = proc.stderr.fileno()  # type: ignore[union-attr]
        for chunk in iter(lambda: os.read(fd, 65536), b""):
            data = sid.feed(chunk)
            err.extend(data)
            del err[:-STDERR_KEEP]
            if dialogue is not None and data and not proc.stdin.closed:  # type: ignore[union-attr]
                talk(proc, dialogue, data)
        if proc.stdin is not None and not proc.stdin.closed:
            try:
                proc.stdin.close()
            except OSError:
                pass
        proc.stderr.close()  # type: ignore[union-attr]

    def _kill_session(self, sid: SidReader) -> None:
        """Kill what the command left on the host: its whole session, over a fresh channel."""
        end = time.monotonic() + SID_WAIT
        while sid.value is None and time.monotonic() < end:
            time.sleep(0.02)  # the id travels on stderr ahead of everything else; rarely not here yet
        if sid.value is None or self._master is None or self._master.proc.poll() is not None:
            return
        with interrupt.cleanup():
            try:
                subprocess.run(self._argv + [remote_kill(sid.value)], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=KILL_WAIT, start_new_session=True,
                               env=child_environment())
            except (OSError, subprocess.SubprocessError):
                pass  # the connection is gone: sshd ends the session's pipes, the timeout wrapper the rest

    def _abandon(self) -> None:
        """A hard exit: no master and no private directory may outlive casepack."""
        if self._master is not None and self._master.proc.poll() is None:
            self._master.proc.kill()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def close(self) -> None:
        if self._master is not None:
            self._master.stop()
        if self._askpass is not None:
            self._askpass.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
        interrupt.forget_abort(self._abort)
        atexit.unregister(self._abandon)


def _kill(proc: subprocess.Popen) -> None:
    """End the local ssh of one channel (the master then closes the channel on the host)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
