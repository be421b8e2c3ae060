"""The OpenSSH transport: the system ``ssh`` client, one ControlMaster per host, one channel per command.

Chosen with ``--ssh-client openssh`` (or ``ssh_client = "openssh"`` in the case file or the
inventory). Same semantics as the paramiko transport (:mod:`collector.transport.ssh`): strict
host keys, the same one-line errors, sudo's password on stdin through the dialogue, and on a
stop (Ctrl-C, SIGTERM, a full sink, a timeout) casepack lets go of the channel and kills the
command's whole session on the host. Commands do not run an ``ssh`` each: casepack speaks the
master's mux protocol itself (:mod:`openssh_mux`) and hands it the ends of its own pipes.
:meth:`OpenSshConnection.close` ends the master and removes its private directory; a hard exit
does the same (:func:`collector.interrupt.on_abort`).
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from types import SimpleNamespace
from typing import BinaryIO

from collector import interrupt
from collector.errors import ArtifactError
from collector.transport.base import CHUNK, STDERR_KEEP, CommandResult, Dialogue, Sink, SinkFull
from collector.transport.local import talk
from collector.transport.openssh_askpass import Askpass
from collector.transport.openssh_master import SSH, Master
from collector.transport.openssh_mux import MuxClient, MuxError, run_quiet
from collector.transport.ssh import SID_REPORT, PassphrasePrompt, SidReader, SshSpec, remote_kill

F_SETPIPE_SZ = 1031  # Linux: a 1 MiB pipe from the master means fewer, larger reads
KILL_WAIT = 5.0  # seconds for each step of the kill command's own channel
SID_WAIT = 1.0  # seconds to wait for a stopped command's session id
POLL = 0.2  # seconds between looks at a kill while the command is silent
MAX_BASE = 50  # longest $TMPDIR used for the private directory (see private_dir)
SSH_FAILED = 255  # what ssh reports for a command killed by a signal or a master gone (no exit status)


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

    def execute(self, line: str, sink: Sink, *, timeout: float, dialogue: Dialogue | None = None) -> CommandResult:
        interrupt.check()  # after a stop (Ctrl-C, SIGTERM, SIGHUP): no new command, except cleanup
        client, out_fd, err_fd, stdin = self._open(SID_REPORT + line, dialogue is not None)
        err = bytearray()
        sid = SidReader()
        err_thread = threading.Thread(target=self._drain_stderr, args=(err_fd, stdin, sid, err, dialogue),
                                      daemon=True)
        err_thread.start()
        timed_out, killed = threading.Event(), threading.Event()

        def kill(timeout_hit: bool = False) -> None:
            if timeout_hit:
                timed_out.set()
            killed.set()
            client.shutdown()  # the master closes the channel; a read of ours blocked on the socket wakes

        timer = threading.Timer(timeout, kill, args=(True,))
        timer.start()
        stop_key = interrupt.register(kill)
        stopped = interrupted = False
        code: int | None = None
        failure = None
        try:
            try:
                session = client.session_id()
            except MuxError as exc:  # the host refused the channel (MaxSessions …), the master went away
                session, failure = None, str(exc)
            # the master holds copies of this channel's pipes until the host closes the channel: after a kill,
            # EOF may come late, so the loop also watches for the kill itself
            while session is not None and not killed.is_set():
                if not select.select([out_fd], [], [], POLL)[0]:
                    continue
                data = os.read(out_fd, CHUNK)
                if not data:
                    break
                sink(data)
            if session is not None and not killed.is_set():
                try:
                    status = client.exit_status(session)
                except MuxError as exc:
                    status, failure = None, str(exc)
                code = SSH_FAILED if status is None else status  # none: killed by a signal, or master gone
        except SinkFull:
            stopped = True
        except BaseException:
            interrupted = True
            raise
        finally:
            timer.cancel()
            interrupt.unregister(stop_key)
            ended_early = stopped or interrupted or killed.is_set()
            if ended_early:
                client.shutdown()  # let go of the channel (a kill already did)
                self._kill_session(sid)  # the host's side first: then the master lets go of the pipes
            os.close(out_fd)
            client.close()
            err_thread.join(1 if ended_early else 5)
        interrupt.check()  # killed by a stop: not a result to record
        stderr = err[-STDERR_KEEP:].decode("utf-8", "replace").strip()
        if failure is not None and sid.value is None and not (stopped or timed_out.is_set()):
            raise ArtifactError("failed", f"SSH channel failed: {failure}")  # before the command started
        if timed_out.is_set():
            return CommandResult(None, stderr, timed_out=True)
        return CommandResult(None if stopped else code, stderr, stopped=stopped)

    def _open(self, command: str, talk: bool) -> tuple[MuxClient, int, int, BinaryIO | None]:
        """Ask the master for a session of ``command`` on fresh pipes: the client, stdout, stderr, stdin.

        stdin is /dev/null unless the command has a dialogue (sudo's password): then a pipe we write.
        """
        assert self._master is not None
        try:
            client = MuxClient(self._master.socket)
        except MuxError as exc:
            raise ArtifactError("failed", f"SSH channel failed: {exc}") from None
        theirs: list[int] = []
        ours: list[int] = []
        try:
            if talk:
                in_r, in_w = os.pipe()
                theirs.append(in_r)
                ours.append(in_w)
            else:
                theirs.append(os.open(os.devnull, os.O_RDONLY))
            for _ in range(2):
                r, w = os.pipe()
                ours.append(r)
                theirs.append(w)
            try:
                fcntl.fcntl(ours[-2], F_SETPIPE_SZ, CHUNK)
            except OSError:
                pass
            client.open_session(command, *theirs)
            client.set_timeout(None)  # from here the command's own timeout rules: its kill wakes our reads
        except BaseException as exc:
            client.close()
            for fd in ours:
                os.close(fd)
            if isinstance(exc, MuxError):
                raise ArtifactError("failed", f"SSH channel failed: {exc}") from None
            if isinstance(exc, OSError):
                raise ArtifactError("failed", f"SSH channel failed: {exc.strerror or exc}") from None
            raise
        finally:
            for fd in theirs:  # the master has its own copies now: ours would keep the pipes open forever
                os.close(fd)
        stdin = os.fdopen(ours[0], "wb", buffering=0) if talk else None
        return client, ours[-2], ours[-1], stdin

    @staticmethod
    def _drain_stderr(fd: int, stdin: BinaryIO | None, sid: SidReader, err: bytearray,
                      dialogue: Dialogue | None) -> None:
        answerer = SimpleNamespace(stdin=stdin)  # what local.talk writes to
        try:
            for chunk in iter(lambda: os.read(fd, 65536), b""):
                data = sid.feed(chunk)
                err.extend(data)
                del err[:-STDERR_KEEP]
                if dialogue is not None and data and stdin is not None and not stdin.closed:
                    talk(answerer, dialogue, data)  # type: ignore[arg-type]
        finally:
            if stdin is not None and not stdin.closed:
                try:
                    stdin.close()
                except OSError:
                    pass
            os.close(fd)

    def _kill_session(self, sid: SidReader) -> None:
        """Kill what the command left on the host: its whole session, over a fresh channel."""
        end = time.monotonic() + SID_WAIT
        while sid.value is None and time.monotonic() < end:
            time.sleep(0.02)  # the id travels on stderr ahead of everything else; rarely not here yet
        if sid.value is None or self._master is None or self._master.proc.poll() is not None:
            return
        with interrupt.cleanup():
            try:
                run_quiet(self._master.socket, remote_kill(sid.value), KILL_WAIT)
            except MuxError:
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

