"""SFTP delivery through casepack's own SSH stack, resumable.

The connection is :func:`collector.transport.ssh.open_transport` (strict host keys, ssh_config,
agent and key files, ProxyJump) — there is no second SSH stack. A file is written to
``.NAME.part`` and renamed to ``NAME`` when complete (``posix-rename@openssh.com`` when offered).

Resume: when ``.NAME.part`` exists, its size P is taken as sent only if the first P bytes are the
bundle's: the server hashes them (``head -c P | sha256sum`` on an exec channel, one round trip,
nothing transferred) where it allows a shell; a server that offers SFTP only (``ForceCommand
internal-sftp``) gets the prefix read back over SFTP instead — reading is cheaper than sending on
the usual asymmetric link, and never trusting an unverified prefix is the point. A mismatch
restarts from byte 0.

Speed: paramiko's own pipelined ``write`` waits for *every* outstanding reply once 100 are queued
and sends 32 KiB requests. Here writes are 252 KiB (OpenSSH's sftp-server takes up to 256 KiB
messages) with a sliding window of 64 unanswered requests (see bench/upload.py for the figures).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import shlex
import socket
import stat
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from queue import Empty, Queue
from typing import Any, BinaryIO

import paramiko
from paramiko.sftp import (
    CMD_CLOSE,
    CMD_HANDLE,
    CMD_OPEN,
    CMD_STATUS,
    CMD_WRITE,
    SFTP_FLAG_CREATE,
    SFTP_FLAG_TRUNC,
    SFTP_FLAG_WRITE,
)

from collector.errors import TransportError, UploadError
from collector.hosts.resolve import SshOptions, ssh_spec
from collector.transport.ssh import open_transport
from collector.upload.target import Target

REQUEST = 252 << 10  # bytes per SFTP write: OpenSSH's sftp-server accepts messages up to 256 KiB
OUTSTANDING = 64  # unanswered writes in flight (measured: 16 is slower, 128 no faster)
SFTP_WINDOW = 4 << 20
READ_CHUNK = 1 << 20
STALL = 120.0  # seconds without any answer from the server before the connection counts as lost
Progress = Callable[[int], None]
DNS_FAILURES = ("Name or service not known", "No address associated", "Temporary failure in name resolution")
DROPPED = (paramiko.SSHException, EOFError, OSError, socket.timeout)


class _Acks:
    """Counts the replies to pipelined writes; keeps the first error the server reported."""

    def __init__(self, sftp: paramiko.SFTPClient) -> None:
        self.sftp = sftp
        self.pending = 0
        self.error: Exception | None = None

    def _async_response(self, t: int, msg: paramiko.Message, num: int) -> None:  # paramiko's callback name
        self.pending -= 1
        if t == CMD_STATUS:
            try:
                self.sftp._convert_status(msg)
            except OSError as exc:
                self.error = self.error or exc

    def wait(self, most: int) -> None:
        while self.pending > most:
            self.sftp._read_response(None)
        if self.error is not None:
            raise WriteRefused(_why(self.error))


class WriteRefused(Exception):
    """The server answered a write with an error status (disk full, quota, permission)."""


class SftpSender:
    """One SSH connection to the drop box; ``send()`` each file; ``close()``."""

    def __init__(self, target: Target, ssh: SshOptions) -> None:
        self.target = target
        self.spec, self.checker = ssh_spec(target.ssh_host(), ssh)
        self.prompt = ssh.passphrase_prompt
        self._chain: list[paramiko.Transport] = []
        self.sftp: paramiko.SFTPClient | None = None
        self.facts: dict[str, str] = {}

    def connect(self) -> None:
        self.close()
        try:  # TransportError from here says why in one line: DNS, refused, host key, authentication
            self._chain = open_transport(self.spec, self.checker, self.prompt, self.facts)
        except TransportError as exc:
            if any(text in exc.message for text in DNS_FAILURES):
                raise UploadError(f"DNS: cannot resolve {self.spec.hostname}",
                                  hint="check the host name in the URL (or its ssh_config HostName)") from None
            raise UploadError(exc.message, exc.hint, retry=exc.message.startswith("cannot connect")) from None
        try:
            self.sftp = paramiko.SFTPClient.from_transport(self._chain[-1], window_size=SFTP_WINDOW)
        except DROPPED as exc:
            self.close()
            raise UploadError(f"{self.spec.address}: the SFTP subsystem is not available ({_why(exc)})") from None
        if self.sftp is None:
            raise UploadError(f"{self.spec.address}: the SFTP subsystem is not available")
        self.sftp.get_channel().settimeout(STALL)  # a silent server is a lost connection (retried), not a hang

    def remote_dir(self, sub: str | None = None) -> str:
        """The target directory (created for ``sub``, a case set's folder); a missing drop box is an error."""
        sftp = self._client()
        base = self.target.path or "."
        try:
            if not stat.S_ISDIR(sftp.stat(base).st_mode or 0):
                raise UploadError(f"{self.target.shown}: {base} is not a directory on the server")
        except FileNotFoundError:
            raise UploadError(f"{self.target.shown}: the remote directory {base} does not exist",
                              hint="ask the vendor for the drop box path") from None
        except PermissionError:
            pass  # a write-only drop box may refuse stat on its folder; the writes will tell
        if not sub:
            return base
        path = posixpath.join(base, sub)
        try:
            sftp.mkdir(path, 0o700)
        except OSError:
            pass  # it exists (a resumed set), or the write below says why
        return path

    def send(self, local: Path, folder: str, name: str, progress: Progress) -> dict[str, Any]:
        """Upload ``local`` as ``folder/name``, resuming a verified ``.name.part``. Returns receipt fields."""
        try:
            return self._send(local, folder, name, progress)
        except PermissionError as exc:
            raise UploadError(f"{self.target.shown}: permission denied on the server: {_why(exc)}") from None
        except DROPPED as exc:
            self.close()
            raise UploadError(f"connection to {self.spec.address} lost during the upload of {name} ({_why(exc)}); "
                              "what was sent is kept as a partial file", hint="rerun the same command to resume",
                              retry=True) from None

    def _send(self, local: Path, folder: str, name: str, progress: Progress) -> dict[str, Any]:
        sftp = self._client()
        final, part = posixpath.join(folder, name), posixpath.join(folder, f".{name}.part")
        size = local.stat().st_size
        with open(local, "rb", buffering=0) as src:
            if _exists(sftp, final):
                return self._already_there(src, final, size)
            start, digest = self._resume_point(src, part, size)
            progress(start)
            handle = self._open(part, truncate=start == 0)
            try:
                self._write(src, handle, start, digest, progress)
            except WriteRefused as exc:
                self._close_handle(handle)
                raise UploadError(f"{self.target.shown}: the server refused writing {part}: {exc}",
                                  hint="the drop box may be full or over its quota; ask the vendor") from None
            except BaseException:
                self.close()  # cut mid-request (Ctrl-C, a drop): the SFTP stream may end inside a packet
                raise
            self._close_handle(handle)
        try:
            self._rename(part, final)
        except OSError as exc:
            raise UploadError(f"{self.target.shown}: cannot rename {part} to {final}: {_why(exc)}") from None
        return {"sha256": digest.hexdigest(), "bytes_sent": size - start, "resumed_from": start, "remote": final}

    # -- resume --------------------------------------------------------------------------------------------
    def _resume_point(self, src: BinaryIO, part: str, size: int) -> tuple[int, Any]:
        """Where to continue, and the running sha256 of what precedes it (the local file is at that offset)."""
        try:
            have = self._client().stat(part).st_size or 0
        except FileNotFoundError:
            have = 0
        prefix = hashlib.sha256()
        if 0 < have <= size:
            _hash_local(src, have, prefix)
            if self._remote_sha256(part, have) == prefix.hexdigest():
                return have, prefix
        src.seek(0)  # nothing there, or not our bytes (another bundle, a corrupt tail): start again
        return 0, hashlib.sha256()

    def _remote_sha256(self, path: str, length: int) -> str:
        """sha256 of the first ``length`` bytes of ``path`` on the server: exec ``sha256sum``, else read it back."""
        quoted = shlex.quote(path)
        words = (self._exec(f"head -c {length} -- {quoted} | sha256sum") or "").split()
        if words and re.fullmatch(r"[0-9a-f]{64}", words[0]):
            return words[0]
        digest = hashlib.sha256()
        with self._client().open(path, "rb") as f:
            f.prefetch(length)
            _hash_local(f, length, digest)
        return digest.hexdigest()

    def _exec(self, line: str) -> str | None:
        """One command's stdout, or None when the server allows no shell (or it failed)."""
        try:
            chan = self._chain[-1].open_session(timeout=10)
            chan.settimeout(300)
            chan.exec_command(line)
            chan.shutdown_write()
            out = b""
            while data := chan.recv(65536):
                out += data
            ok = chan.recv_exit_status() == 0
            chan.close()
            return out.decode("ascii", "replace") if ok else None
        except DROPPED:
            return None

    def _already_there(self, src: BinaryIO, final: str, size: int) -> dict[str, Any]:
        have = self._client().stat(final).st_size
        digest = hashlib.sha256()
        _hash_local(src, size, digest)
        if have == size and self._remote_sha256(final, size) == digest.hexdigest():
            return {"sha256": digest.hexdigest(), "bytes_sent": 0, "resumed_from": size, "remote": final,
                    "note": "already on the server (same sha256)"}
        raise UploadError(f"{self.target.shown}: {final} already exists on the server and differs; not overwritten",
                          hint="rename the bundle, or ask the vendor to remove the old file")

    # -- the pipelined writer --------------------------------------------------------------------------------
    def _open(self, path: str, truncate: bool) -> bytes:
        flags = SFTP_FLAG_WRITE | SFTP_FLAG_CREATE | (SFTP_FLAG_TRUNC if truncate else 0)
        attrs = paramiko.SFTPAttributes()
        attrs.st_mode = 0o600
        try:
            t, msg = self._client()._request(CMD_OPEN, path, flags, attrs)
        except PermissionError:
            raise UploadError(f"{self.target.shown}: permission denied writing {path}",
                              hint="check the drop box's permissions with the vendor") from None
        if t != CMD_HANDLE:
            raise UploadError(f"{self.target.shown}: the server did not open {path}")
        return msg.get_binary()

    def _write(self, src: BinaryIO, handle: bytes, offset: int, digest: Any, progress: Progress) -> None:
        sftp = self._client()
        acks = _Acks(sftp)
        done = offset
        for data in hashed_chunks(src, digest, REQUEST):
            _send_write(sftp, acks, handle, done, data)
            acks.pending += 1
            done += len(data)
            acks.wait(OUTSTANDING)
            progress(done)
        acks.wait(0)

    def _close_handle(self, handle: bytes) -> None:
        try:
            self._client()._request(CMD_CLOSE, handle)
        except DROPPED:
            pass

    def _rename(self, old: str, new: str) -> None:
        sftp = self._client()
        try:
            sftp.posix_rename(old, new)  # atomic, the OpenSSH extension; a server without it says "unsupported"
        except OSError:
            sftp.rename(old, new)

    def _client(self) -> paramiko.SFTPClient:
        if self.sftp is None:
            raise UploadError(f"{self.spec.address}: not connected")
        return self.sftp

    def close(self) -> None:
        if self.sftp is not None:
            try:
                self.sftp.close()
            except DROPPED:
                pass
            self.sftp = None
        for t in reversed(self._chain):
            t.close()
        self._chain = []


def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.stat(path)
        return True
    except FileNotFoundError:
        return False
    except PermissionError:
        return False  # a write-only drop box: we cannot know; the upload goes to .part and the rename decides


def _send_write(sftp: paramiko.SFTPClient, acks: _Acks, handle: bytes, offset: int, data: bytes) -> None:
    """One SSH_FXP_WRITE, sent as a memoryview: paramiko's own path re-slices the unsent rest of a 252 KiB
    request as bytes after every 32 KiB channel packet (≈4× the data copied again); a view slices for free."""
    with sftp._lock:  # the request id and reply routing, as SFTPClient._async_request does it
        num = sftp.request_number
        sftp._expecting[num] = acks
        sftp.request_number += 1
    body = struct.pack(">BII", CMD_WRITE, num, len(handle)) + handle + struct.pack(">QI", offset, len(data))
    sftp.sock.sendall(memoryview(struct.pack(">I", len(body) + len(data)) + body + data))


def hashed_chunks(src: BinaryIO, digest: Any, size: int) -> Iterator[bytes]:
    """The rest of ``src`` in ``size`` pieces, read and hashed on another thread (hashlib releases the GIL, so
    hashing runs beside paramiko's packet work instead of adding to it: ~0.7 s per GiB here)."""
    queue: Queue[bytes | BaseException] = Queue(maxsize=16)
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                data = src.read(size)
                if data:
                    digest.update(data)
                queue.put(data)
                if not data:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the sender, raised there
            queue.put(exc)

    reader = threading.Thread(target=read, name="upload-read", daemon=True)
    reader.start()
    try:
        while True:
            item = queue.get()
            if isinstance(item, BaseException):
                raise item
            if not item:
                return
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue, then let it end
            try:
                queue.get_nowait()
            except Empty:
                reader.join(0.05)


def _hash_local(src: BinaryIO, length: int, digest: Any) -> None:
    left = length
    while left > 0:
        data = src.read(min(READ_CHUNK, left))
        if not data:
            break
        digest.update(data)
        left -= len(data)


def _why(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc or type(exc).__name__)
