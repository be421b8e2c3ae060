"""The age v1 file format's passphrase (scrypt) recipient, streaming, on ``cryptography``.

``pyrage`` streams X25519 and SSH recipients (``encrypt_io``/``decrypt_io``) but only
offers whole-buffer passphrase functions, so a multi-GB bundle with ``--passphrase``
is written here to the published spec (https://age-encryption.org/v1): an
``-> scrypt`` stanza wrapping a random file key, the header HMAC, and the STREAM
payload (64 KiB ChaCha20-Poly1305 chunks). No format of our own: the output is
read by the stock ``age -d`` and ``pyrage.passphrase.decrypt`` (tests prove both
directions). Memory stays at one chunk plus scrypt's working set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from collector.errors import CasepackError

INTRO = b"age-encryption.org/v1\n"
CHUNK = 64 * 1024
TAG = 16
LOG_N = 18  # age's default work factor (256 MiB, ~1 s)
MAX_LOG_N = 20  # refuse headers that ask for more than 1 GiB of scrypt memory
_SALT_LABEL = b"age-encryption.org/v1/scrypt"


class AgeFormatError(CasepackError):
    """The age data is malformed, truncated or tampered with."""

    exit_status = 4  # type: ignore[assignment]  # as collector.opener.VERIFY_FAILED


class WrongPassphrase(CasepackError):
    """The passphrase does not open the file key."""


class Writer(Protocol):
    def write(self, data: bytes, /) -> object: ...


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def _unb64(text: bytes) -> bytes:
    try:
        data = base64.b64decode(text + b"=" * (-len(text) % 4), validate=True)
    except ValueError:
        raise AgeFormatError("age header is corrupted (bad base64)") from None
    if _b64(data) != text:
        raise AgeFormatError("age header is corrupted (non-canonical base64)")
    return data


def _hkdf(key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


def _scrypt_key(passphrase: str, salt: bytes, log_n: int) -> bytes:
    return Scrypt(salt=_SALT_LABEL + salt, length=32, n=1 << log_n, r=8, p=1).derive(passphrase.encode())


def _nonce(counter: int, last: bool) -> bytes:
    return counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class ScryptEncryptor:
    """A file-like writer: ``write`` plaintext, ``close`` to emit the final chunk."""

    def __init__(self, out: Writer, passphrase: str, log_n: int = LOG_N) -> None:
        if not passphrase:
            raise CasepackError("the passphrase is empty")
        file_key, salt, nonce = os.urandom(16), os.urandom(16), os.urandom(16)
        body = ChaCha20Poly1305(_scrypt_key(passphrase, salt, log_n)).encrypt(b"\0" * 12, file_key, None)
        header = INTRO + b"-> scrypt " + _b64(salt) + b" %d\n" % log_n + _b64(body) + b"\n---"
        mac = hmac.new(_hkdf(file_key, b"", b"header"), header, hashlib.sha256).digest()
        out.write(header + b" " + _b64(mac) + b"\n" + nonce)
        self._out = out
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._buf = bytearray()
        self._counter = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._buf += data
        if len(self._buf) > CHUNK:  # keep at least one byte back: the final chunk must be flagged
            view = memoryview(self._buf)
            n = (len(self._buf) - 1) // CHUNK * CHUNK
            for off in range(0, n, CHUNK):
                self._emit(bytes(view[off:off + CHUNK]), last=False)
            view.release()
            del self._buf[:n]
        return len(data)

    def _emit(self, chunk: bytes, last: bool) -> None:
        self._out.write(self._aead.encrypt(_nonce(self._counter, last), chunk, None))
        self._counter += 1

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self._buf), last=True)
            self._buf.clear()
            self.closed = True


def stanza_types(head: bytes) -> list[str]:
    """The recipient stanza types in an age header (``X25519``, ``ssh-ed25519``, ``scrypt`` …)."""
    found = re.findall(rb"^-> (\S+)", head.split(b"\n---", 1)[0], re.M)
    return [m.decode("ascii", "replace") for m in found if b"grease" not in m]


def _readline(src: BinaryIO) -> bytes:
    line = src.readline(4096)
    if not line.endswith(b"\n"):
        raise AgeFormatError("age header is truncated or corrupted")
    return line[:-1]


def scrypt_decrypt(src: BinaryIO, out: Writer, passphrase: str, max_log_n: int = MAX_LOG_N) -> None:
    """Stream-decrypt a passphrase-encrypted age file from ``src`` into ``out``."""
    if src.readline(64) != INTRO:
        raise AgeFormatError("not an age file")
    args = _readline(src).split(b" ")
    if args[:2] != [b"->", b"scrypt"]:
        raise AgeFormatError("this bundle is encrypted to keys, not with a passphrase")
    if len(args) != 4 or not re.fullmatch(rb"[1-9][0-9]?", args[3]):
        raise AgeFormatError("age header is corrupted (scrypt stanza)")
    salt, log_n = _unb64(args[2]), int(args[3])
    body = _unb64(_readline(src))
    mac_line = _readline(src)
    if not mac_line.startswith(b"--- ") or len(salt) != 16 or len(body) != 32:
        raise AgeFormatError("age header is corrupted (a passphrase bundle has exactly one scrypt stanza)")
    if log_n > max_log_n:
        raise AgeFormatError(f"scrypt work factor 2^{log_n} is larger than the allowed 2^{max_log_n}")
    try:
        file_key = ChaCha20Poly1305(_scrypt_key(passphrase, salt, log_n)).decrypt(b"\0" * 12, body, None)
    except InvalidTag:
        raise WrongPassphrase("wrong passphrase") from None
    header = INTRO + b" ".join(args) + b"\n" + _b64(body) + b"\n---"
    mac = hmac.new(_hkdf(file_key, b"", b"header"), header, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, _unb64(mac_line[4:])):
        raise AgeFormatError("age header has been tampered with (MAC mismatch)")
    nonce = _read_up_to(src, 16)
    if len(nonce) != 16:
        raise AgeFormatError("age payload is truncated")
    aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
    buf, counter = _read_up_to(src, CHUNK + TAG), 0
    while True:
        nxt = _read_up_to(src, CHUNK + TAG) if len(buf) == CHUNK + TAG else b""
        last = not nxt
        if len(buf) < TAG or (last and len(buf) == TAG and counter):
            raise AgeFormatError("age payload is truncated")
        try:
            out.write(aead.decrypt(_nonce(counter, last), buf, None))
        except InvalidTag:
            raise AgeFormatError("age payload is truncated or has been tampered with") from None
        if last:
            return
        buf, counter = nxt, counter + 1


def _read_up_to(src: BinaryIO, n: int) -> bytes:
    parts, left = [], n
    while left:
        data = src.read(left)
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)
