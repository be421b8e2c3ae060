"""Ed25519 signatures of ``manifest.json`` in OpenSSH's SSHSIG format.

``manifest.json.sig`` is what ``ssh-keygen -Y sign -n casepack-manifest`` would
write, so a vendor can check it without casepack::

    ssh-keygen -Y check-novalidate -n casepack-manifest -s manifest.json.sig < manifest.json

The signature carries the signer's public key; ``casepack open`` verifies it and
reports the key's fingerprint (the one ``ssh-keygen -l`` shows).
"""

from __future__ import annotations

import base64
import hashlib
import struct
import textwrap
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from collector.errors import CasepackError, InputError

NAMESPACE = b"casepack-manifest"
MEMBER = "manifest.json.sig"
_MAGIC = b"SSHSIG"
_BEGIN, _END = "-----BEGIN SSH SIGNATURE-----", "-----END SSH SIGNATURE-----"


class SignatureError(CasepackError):
    """A signature is malformed or does not verify."""


@dataclass(frozen=True)
class Signer:
    public_key: str  # "ssh-ed25519 AAAA…"
    fingerprint: str  # SHA256:…


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _fingerprint(blob: bytes) -> str:
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _pub_blob(key: Ed25519PublicKey) -> bytes:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _string(b"ssh-ed25519") + _string(raw)


def load_signing_key(path: str | Path) -> Ed25519PrivateKey:
    """An unencrypted Ed25519 private key, OpenSSH or PEM (PKCS#8) format."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read signing key {path}: {exc.strerror}") from None
    try:
        if b"OPENSSH PRIVATE KEY" in data:
            key = serialization.load_ssh_private_key(data, None)
        else:
            key = serialization.load_pem_private_key(data, None)
    except TypeError:
        raise InputError(f"signing key {path} is passphrase-protected",
                         hint="use an unencrypted copy kept 0600") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InputError(f"signing key {path} is not a private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"signing key {path} is not an Ed25519 key",
                         hint="make one with: ssh-keygen -t ed25519 -f KEY")
    return key


def public_line(key: Ed25519PrivateKey) -> str:
    return "ssh-ed25519 " + base64.b64encode(_pub_blob(key.public_key())).decode()


def _signed_data(message: bytes) -> bytes:
    return _MAGIC + _string(NAMESPACE) + _string(b"") + _string(b"sha512") + _string(hashlib.sha512(message).digest())


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """An armored SSHSIG signature of ``message``."""
    sig = _string(b"ssh-ed25519") + _string(key.sign(_signed_data(message)))
    blob = (_MAGIC + struct.pack(">I", 1) + _string(_pub_blob(key.public_key())) + _string(NAMESPACE)
            + _string(b"") + _string(b"sha512") + _string(sig))
    body = "\n".join(textwrap.wrap(base64.b64encode(blob).decode(), 70))
    return f"{_BEGIN}\n{body}\n{_END}\n".encode()


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise SignatureError("manifest signature is malformed (truncated)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def string(self) -> bytes:
        return self.take(struct.unpack(">I", self.take(4))[0])


def verify(armored: bytes, message: bytes) -> Signer:
    """Check an SSHSIG Ed25519 signature of ``message``; return the signer."""
    text = armored.decode("ascii", "replace").strip()
    if not (text.startswith(_BEGIN) and text.endswith(_END)):
        raise SignatureError("manifest signature is malformed (not an SSH signature)")
    try:
        blob = base64.b64decode("".join(text[len(_BEGIN):-len(_END)].split()), validate=True)
    except ValueError:
        raise SignatureError("manifest signature is malformed (bad base64)") from None
    r = _Reader(blob)
    if r.take(6) != _MAGIC or struct.unpack(">I", r.take(4))[0] != 1:
        raise SignatureError("manifest signature is malformed (not SSHSIG v1)")
    pub, namespace, _reserved, hash_alg, sig = r.string(), r.string(), r.string(), r.string(), r.string()
    if namespace != NAMESPACE or hash_alg != b"sha512":
        raise SignatureError(f"manifest signature has namespace {namespace!r}/{hash_alg!r}, "
                             f"expected {NAMESPACE.decode()!r}/sha512")
    pr, sr = _Reader(pub), _Reader(sig)
    if pr.string() != b"ssh-ed25519" or sr.string() != b"ssh-ed25519":
        raise SignatureError("manifest signature is not an Ed25519 signature")
    try:
        key = Ed25519PublicKey.from_public_bytes(pr.string())
        key.verify(sr.string(), _signed_data(message))
    except (InvalidSignature, ValueError):
        raise SignatureError("manifest signature does not verify: manifest.json or its signature was altered"
                             ) from None
    return Signer("ssh-ed25519 " + base64.b64encode(pub).decode(), _fingerprint(pub))


def trusted_fingerprints(path: str | Path) -> set[str]:
    """Fingerprints from a file of ``ssh-ed25519`` public keys (or ``SHA256:…`` lines)."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read trusted keys {path}: {exc}") from None
    out = set()
    for line in (ln.strip() for ln in lines):
        parts = line.split()
        if line.startswith("SHA256:"):
            out.add(parts[0])
        elif len(parts) >= 2 and parts[0] == "ssh-ed25519":
            try:
                out.add(_fingerprint(base64.b64decode(parts[1], validate=True)))
            except ValueError:
                raise InputError(f"trusted keys {path}: bad key {parts[1][:20]}…") from None
    if not out:
        raise InputError(f"trusted keys {path} has no ssh-ed25519 key or SHA256: fingerprint")
    return out
