"""casepack speaking to its ssh ControlMaster directly: OpenSSH's mux protocol (PROTOCOL.mux, version 4).

Why: a channel through the master used to be a whole ``ssh -S SOCKET`` process per command (exec,
config parse, the same handshake as here): ~5–10 ms of CPU each, hundreds of commands per host. The
master does not care who is on its socket: casepack connects, says HELLO, asks for a session with
the command and hands over the three ends of its own pipes (stdin, stdout, stderr) as ``SCM_RIGHTS``
file descriptors, one per message as mux.c expects. The master then pumps the channel into those
pipes and, when the host's command exits, writes its exit status on the socket and closes it.

Closing (or shutting down) this side of the socket is how a session is abandoned: the master then
closes the channel on the host (like a killed ``ssh -S`` client). Version 4 of the protocol is what
OpenSSH has spoken since 5.4 (2010); a master that says otherwise gets a one-line error, no fallback.

Wire format: every message is ``uint32 length`` + ``uint32 type`` + body; strings are ``uint32
length`` + bytes, booleans ``uint32``.
"""

from __future__ import annotations

import os
import socket
import struct
import time

VERSION = 4
HELLO = 0x00000001
C_NEW_SESSION = 0x10000002
C_ALIVE_CHECK = 0x10000004
C_TERMINATE = 0x10000005
S_OK = 0x80000001
S_PERMISSION_DENIED = 0x80000002
S_FAILURE = 0x80000003
S_EXIT_MESSAGE = 0x80000004
S_ALIVE = 0x80000005
S_SESSION_OPENED = 0x80000006
S_TTY_ALLOC_FAIL = 0x80000008
NO_ESCAPE_CHAR = 0xFFFFFFFF
MAX_PACKET = 256 * 1024  # the master refuses bigger messages (channels.c CHANNEL_MUX_MAX_PACKET)
HANDSHAKE_WAIT = 10.0  # seconds for the master to answer HELLO (it is local; only a wedged master is slower)


class MuxError(Exception):
    """A one-line reason why the master could not give us (or keep) a session."""


class _Fields:
    """The body of one received message, read front to back."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u32(self) -> int:
        if self.pos + 4 > len(self.data):
            raise MuxError("malformed answer from the ssh master (message too short)")
        (value,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return value

    def string(self) -> bytes:
        n = self.u32()
        if self.pos + n > len(self.data):
            raise MuxError("malformed answer from the ssh master (string past the end)")
        value = self.data[self.pos:self.pos + n]
        self.pos += n
        return value

    def text(self) -> str:
        return self.string().decode("utf-8", "replace")

    def left(self) -> int:
        return len(self.data) - self.pos


def _u32(value: int) -> bytes:
    return struct.pack(">I", value)


def _string(value: bytes) -> bytes:
    return _u32(len(value)) + value


class MuxClient:
    """One connection to the master's control socket: HELLO done; then one request, or one session."""

    def __init__(self, path: str, timeout: float | None = None) -> None:
        """Connect and say HELLO, each wait bounded by ``timeout`` (default HANDSHAKE_WAIT); see :meth:`set_timeout`."""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._rid = 0
        try:
            self.sock.settimeout(HANDSHAKE_WAIT if timeout is None else timeout)
            try:
                self.sock.connect(path)
            except OSError as exc:  # no socket file (master gone, cleaned up) or nobody listening (master killed)
                raise MuxError(f"the ssh master is gone ({exc.strerror or exc})") from None
            self._hello()
        except BaseException:
            self.sock.close()
            raise

    def __enter__(self) -> MuxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, body: bytes) -> None:
        if len(body) > MAX_PACKET:
            raise MuxError(f"command too long for the ssh master ({len(body)} bytes, at most {MAX_PACKET})")
        try:
            self.sock.sendall(_u32(len(body)) + body)
        except OSError as exc:
            raise MuxError(f"lost the ssh master ({exc.strerror or exc})") from None

    def _exact(self, n: int) -> bytes | None:
        """``n`` bytes from the master; None on a clean end of stream before the first byte."""
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except TimeoutError:
                raise MuxError("the ssh master does not answer") from None
            except OSError as exc:
                raise MuxError(f"lost the ssh master ({exc.strerror or exc})") from None
            if not chunk:
                if buf:
                    raise MuxError("the ssh master closed the connection mid-message")
                return None
            buf += chunk
        return bytes(buf)

    def receive(self) -> tuple[int, _Fields] | None:
        """The next message (type, body); None once the master closed the socket."""
        head = self._exact(4)
        if head is None:
            return None
        (length,) = struct.unpack(">I", head)
        if not 4 <= length <= MAX_PACKET:
            raise MuxError(f"malformed answer from the ssh master (length {length})")
        body = self._exact(length)
        if body is None:
            raise MuxError("the ssh master closed the connection mid-message")
        fields = _Fields(body)
        return fields.u32(), fields

    def _hello(self) -> None:
        self._send(_u32(HELLO) + _u32(VERSION))
        msg = self.receive()
        if msg is None:
            raise MuxError("the ssh master closed the connection before its HELLO")
        kind, fields = msg
        if kind != HELLO:
            raise MuxError(f"the ssh master's first message is 0x{kind:08x}, not HELLO")
        version = fields.u32()
        if version != VERSION:
            raise MuxError(f"the ssh master speaks mux protocol version {version}, casepack speaks {VERSION}")
        # extensions (name, value pairs) follow: none is needed here

    def _request(self, kind: int, body: bytes = b"") -> int:
        self._rid += 1
        self._send(_u32(kind) + _u32(self._rid) + body)
        return self._rid

    def _reply(self, rid: int, expected: int, what: str) -> _Fields:
        msg = self.receive()
        if msg is None:
            raise MuxError(f"the ssh master closed the connection instead of answering {what}")
        kind, fields = msg
        got = fields.u32()
        if got != rid:
            raise MuxError(f"the ssh master answered request {got}, not {rid}")
        if kind == expected:
            return fields
        if kind == S_PERMISSION_DENIED:
            raise MuxError(f"the ssh master refused {what}: {fields.text()}")
        if kind == S_FAILURE:
            raise MuxError(f"the ssh master failed {what}: {fields.text()}")
        raise MuxError(f"unexpected answer 0x{kind:08x} from the ssh master to {what}")

    def alive(self) -> int:
        """The master's pid (MUX_C_ALIVE_CHECK)."""
        return self._reply(self._request(C_ALIVE_CHECK), S_ALIVE, "the alive check").u32()

    def terminate(self) -> None:
        """Ask the master to close its channels and its connection and exit (what ``ssh -O exit`` asks)."""
        rid = self._request(C_TERMINATE)
        try:
            self._reply(rid, S_OK, "exit")
        except MuxError as exc:
            if "closed the connection" not in str(exc):
                raise  # else: it left before its OK reached us (mux.c says so), which is what we asked

    def open_session(self, command: str, stdin: int, stdout: int, stderr: int) -> None:
        """Ask for a session running ``command`` on the host with these three fds (no TTY, no forwarding).

        Only sends: :meth:`session_id` waits for the answer (the host has to open the channel first).
        The caller closes its own copies of the fds it passed, or it never sees the end of stdout.
        """
        body = (_string(b"")  # reserved
                + _u32(0) + _u32(0) + _u32(0) + _u32(0)  # want tty, X11, agent, subsystem: none
                + _u32(NO_ESCAPE_CHAR) + _string(b"")  # no escape char; no TERM (no TTY)
                + _string(command.encode()))  # no environment strings after it
        self._request(C_NEW_SESSION, body)
        for fd in (stdin, stdout, stderr):  # one fd per message, each with one byte (mm_receive_fd)
            try:
                socket.send_fds(self.sock, [b"\0"], [fd])
            except OSError as exc:
                raise MuxError(f"cannot pass the pipes to the ssh master ({exc.strerror or exc})") from None

    def session_id(self) -> int:
        """Wait for MUX_S_SESSION_OPENED: the command runs on the host from here on."""
        return self._reply(self._rid, S_SESSION_OPENED, "the session").u32()

    def exit_status(self, session: int) -> int | None:
        """Read until the master closes the socket: the command's exit status, None if none came.

        None is what ``ssh`` turns into 255: the command was killed by a signal (sshd sends
        ``exit-signal``, not ``exit-status``), or the master went away.
        """
        status = None
        while (msg := self.receive()) is not None:
            kind, fields = msg
            if kind == S_TTY_ALLOC_FAIL:
                continue  # no TTY asked: nothing to undo
            if kind in (S_FAILURE, S_PERMISSION_DENIED):
                fields.u32()
                raise MuxError(f"the ssh master failed the session: {fields.text()}")
            if kind != S_EXIT_MESSAGE:
                raise MuxError(f"unexpected message 0x{kind:08x} from the ssh master")
            if fields.u32() != session:
                raise MuxError("the ssh master sent the exit status of another session")
            status = fields.u32()
        return status

    def set_timeout(self, timeout: float | None) -> None:
        """Bound each later wait (None: wait until the master answers or :meth:`shutdown` is called)."""
        self.sock.settimeout(timeout)

    def shutdown(self) -> None:
        """Abandon the session from any thread: a blocked reader wakes, the master closes the channel."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed

    def close(self) -> None:
        self.sock.close()


def alive_check(path: str, timeout: float | None = None) -> int:
    """The pid of the master listening at ``path`` (MuxError if there is none)."""
    with MuxClient(path, timeout) as client:
        return client.alive()


def terminate(path: str, timeout: float | None = None) -> None:
    """``ssh -O exit`` without the ssh process."""
    with MuxClient(path, timeout) as client:
        client.terminate()


def run_quiet(path: str, command: str, timeout: float) -> int | None:
    """Run ``command`` on the host with no input and its output thrown away; its exit status.

    For the kill that follows a stop: all of it within ``timeout`` seconds (else MuxError).
    """
    deadline = time.monotonic() + timeout

    def left() -> float:
        return max(0.001, deadline - time.monotonic())

    null = os.open(os.devnull, os.O_RDWR)
    try:
        with MuxClient(path, timeout) as client:
            client.open_session(command, null, null, null)
            os.close(null)
            null = -1
            client.set_timeout(left())
            session = client.session_id()
            client.set_timeout(left())
            return client.exit_status(session)
    finally:
        if null >= 0:
            os.close(null)
