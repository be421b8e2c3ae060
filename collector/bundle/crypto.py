"""Bundle encryption in the age format: recipients, identities, fingerprints, keygen, streams.

Public keys (age X25519, ssh-ed25519, ssh-rsa) go through ``pyrage`` (the Rust
``age`` crate); passphrases through :mod:`collector.agefmt`. Both stream: the
bundle writer writes into an :class:`EncryptingSink`, which encrypts in the same
pass and hashes the bytes that reach the disk (the ``.sha256`` sidecar).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import pyrage
from pyrage import ssh, x25519

from collector.bundle import agefmt
from collector.errors import CasepackError, InputError

SSH_TYPES = ("ssh-ed25519", "ssh-rsa")
PIPE_CHUNK = 1 << 20


class DecryptionError(CasepackError):
    """The bundle cannot be decrypted with what was given (wrong key, wrong passphrase)."""


@dataclass(frozen=True)
class Recipient:
    text: str  # "age1…" or "ssh-ed25519 AAAA… comment"
    key: object  # pyrage recipient

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.text)

    @property
    def kind(self) -> str:
        return "age" if self.text.startswith("age1") else self.text.split()[0]


@dataclass
class Encryption:
    """What the collect run encrypts to and signs with; empty means a plain bundle."""

    recipients: list[Recipient] = field(default_factory=list)
    passphrase: str | None = field(default=None, repr=False)
    sign_key: Path | None = None

    @property
    def encrypts(self) -> bool:
        return bool(self.recipients) or self.passphrase is not None

    def describe(self) -> str:
        if self.passphrase is not None:
            return "age, passphrase (scrypt)"
        if not self.recipients:
            return "none"
        return "age, " + ", ".join(f"{r.kind} {r.fingerprint}" for r in self.recipients)


def fingerprint(public: str) -> str:
    """``SHA256:<base64>``: of the key blob for SSH keys (as ``ssh-keygen -l``), of the string for age keys."""
    parts = public.split()
    if parts and parts[0].startswith("ssh-") and len(parts) >= 2:
        blob = base64.b64decode(parts[1] + "==")
    else:
        blob = public.strip().encode()
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def parse_recipient(text: str, where: str = "recipient") -> Recipient:
    text = text.strip()
    try:
        if text.startswith("age1"):
            return Recipient(text, x25519.Recipient.from_str(text))
        if text.split(" ", 1)[0] in SSH_TYPES:
            return Recipient(text, ssh.Recipient.from_str(text))
    except pyrage.RecipientError as exc:
        raise InputError(f"{where}: invalid key {text[:40]!r}: {exc}") from None
    raise InputError(f"{where}: {text[:40]!r} is not an age (age1…) or SSH (ssh-ed25519/ssh-rsa) public key, "
                     "nor a file of keys", hint="age accepts age1… keys, ssh-ed25519 and ssh-rsa keys")


def parse_recipients(values: list[str] | tuple[str, ...], base: Path | None = None) -> list[Recipient]:
    """Each value is a key or a file of keys (one a line, ``#`` comments), like age's ``-r``/``-R``."""
    out: list[Recipient] = []
    for value in values:
        value = str(value).strip()
        path = Path(value).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        if not value.startswith(("age1", "ssh-")) and path.is_file():
            try:
                lines = path.read_text().splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"cannot read recipients file {path}: {exc}") from None
            keys = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
            if not keys:
                raise InputError(f"recipients file {path} has no keys")
            out += [parse_recipient(k, f"recipients file {path}") for k in keys]
        else:
            out.append(parse_recipient(value))
    unique = {" ".join(r.text.split()[:2]): r for r in out}  # same key twice (other comment): once
    return list(unique.values())


def load_identities(path: str | Path) -> list[object]:
    """An age identity file (``AGE-SECRET-KEY-1…`` lines) or an unencrypted SSH private key."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read identity {path}: {exc.strerror}") from None
    if b"PRIVATE KEY-----" in data:
        try:
            return [ssh.Identity.from_buffer(data)]
        except pyrage.IdentityError as exc:
            hint = "make an unencrypted copy: ssh-keygen -p -N '' -f COPY" if "decrypted" in str(exc) else None
            raise InputError(f"identity {path}: {exc}", hint=hint) from None
    ids = []
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("AGE-SECRET-KEY-1"):
            try:
                ids.append(x25519.Identity.from_str(line))
            except pyrage.IdentityError as exc:
                raise InputError(f"identity {path}: {exc}") from None
    if not ids:
        raise InputError(f"identity {path} holds no age identity (AGE-SECRET-KEY-1…) or SSH private key")
    return ids


def keygen(path: Path) -> tuple[str, str]:
    """Write a new age X25519 identity to ``path`` (0600, never overwriting); return (public key, fingerprint)."""
    ident = x25519.Identity.generate()
    public = str(ident.to_public())
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = f"# created: {created}\n# public key: {public}\n# fingerprint: {fingerprint(public)}\n{ident}\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{path} exists; refusing to overwrite an identity", hint="choose another -o") from None
    except OSError as exc:
        raise InputError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text)
    return public, fingerprint(public)


class HashingFile:
    """Writes to a file and hashes exactly the bytes written."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


class EncryptingSink:
    """Where the bundle writer writes: plain, age to public keys (a pyrage thread), or age with a passphrase.

    ``write`` takes plaintext; ``finish`` flushes, fsyncs and returns the sha256 of the file's bytes.
    """

    def __init__(self, raw: BinaryIO, encryption: Encryption | None = None) -> None:
        self._raw = raw
        self._file = HashingFile(raw)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        enc = encryption or Encryption()
        if enc.passphrase is not None:
            self._out: object = agefmt.ScryptEncryptor(self._file, enc.passphrase)
        elif enc.recipients:
            rfd, wfd = os.pipe()
            try:  # a 1 MiB pipe: fewer context switches between the writer and the encrypting thread
                fcntl.fcntl(wfd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_CHUNK)
            except OSError:
                pass
            self._out = os.fdopen(wfd, "wb", buffering=0)
            keys = [r.key for r in enc.recipients]
            self._thread = threading.Thread(target=self._pump, args=(rfd, keys), name="casepack-encrypt", daemon=True)
            self._thread.start()
        else:
            self._out = self._file

    def _pump(self, rfd: int, keys: list[object]) -> None:
        try:
            with os.fdopen(rfd, "rb", buffering=PIPE_CHUNK) as src:
                pyrage.encrypt_io(src, self._file, keys)
        except BaseException as exc:  # noqa: BLE001 - handed to the writer's thread
            self._error = exc

    def write(self, data: bytes) -> int:
        try:
            self._out.write(data)  # type: ignore[attr-defined]
        except BrokenPipeError:
            self._fail()
        return len(data)

    def flush(self) -> None:
        pass

    def _fail(self) -> None:
        if self._thread is not None:
            self._thread.join()
        raise CasepackError(f"encrypting the bundle failed: {self._error}")

    def finish(self) -> tuple[str, int]:
        """Close the encryption, fsync; return (sha256 hex, bytes on disk)."""
        if isinstance(self._out, agefmt.ScryptEncryptor):
            self._out.close()
        elif self._thread is not None:
            self._out.close()  # type: ignore[attr-defined]
            self._thread.join()
            if self._error is not None:
                self._fail()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        return self._file.sha256.hexdigest(), self._file.size

    def abort(self) -> None:
        if self._thread is not None:
            try:
                self._out.close()  # type: ignore[attr-defined]
            except OSError:
                pass
            self._thread.join()
        try:
            self._raw.close()
        except OSError:
            pass


def write_checksum(bundle: Path, digest: str) -> Path:
    """``<bundle>.sha256`` in ``sha256sum`` format, written atomically."""
    side = bundle.with_name(bundle.name + ".sha256")
    tmp = side.with_name(f".{side.name}.partial-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(f"{digest}  {bundle.name}\n")
    os.replace(tmp, side)
    return side


Decryptor = Callable[[BinaryIO, BinaryIO], None]


def decryptor(head: bytes, identity: str | None, passphrase: str | None) -> Decryptor | None:
    """How to decrypt a bundle that starts with ``head``: None for a plain bundle."""
    if not head.startswith(agefmt.INTRO):
        return None
    types = agefmt.stanza_types(head)
    if "scrypt" in types:
        if passphrase is None:
            raise DecryptionError("this bundle is encrypted with a passphrase",
                                  hint="give --passphrase (prompted) or --passphrase-env NAME")
        return lambda src, out: agefmt.scrypt_decrypt(src, out, passphrase)
    if identity is None:
        raise DecryptionError(f"this bundle is encrypted to a key ({', '.join(types) or 'unknown'})",
                              hint="give the vendor identity with -k FILE (age identity or SSH private key)")
    ids = load_identities(identity)

    def run(src: BinaryIO, out: BinaryIO) -> None:
        try:
            pyrage.decrypt_io(src, out, ids)
        except pyrage.DecryptError as exc:
            if "No matching keys" in str(exc):
                raise DecryptionError(f"no identity in {identity} can decrypt this bundle (wrong key)") from None
            raise agefmt.AgeFormatError(f"age decryption failed: {exc}") from None
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            raise agefmt.AgeFormatError(f"age payload is truncated or has been tampered with ({exc})") from None

    return run
