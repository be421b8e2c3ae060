"""``casepack open``: decrypt, verify and extract a bundle without trusting it.

One streaming pass: file → (age decryption in a thread, into a pipe) → zstd →
``tarfile`` stream mode → each regular member written 0600 into a private temp
directory beside DIR while its sha256 and size are taken. Then the manifest
(the archive's last member) is checked against what was extracted: every file
listed, none missing, none extra, sizes and hashes equal; the signature, if any,
verified. Only then is the temp directory renamed to DIR. Links, devices, FIFOs,
sparse members, absolute or ``..`` names, duplicates, oversize metadata and anything
past the size and count caps are refused before a byte of them is written. The size
cap scales with the bundle (``size_cap``): a small bundle cannot fill a disk.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import zstandard

from collector.bundle import agefmt, signing
from collector.bundle.crypto import DecryptionError, decryptor
from collector.bundle.tarsafe import SafeTarInfo, check_not_sparse, member_name
from collector.bundle.verify import VERIFY_FAILED, VerificationError, check_manifest, check_sidecar
from collector.errors import CasepackError, InputError

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 20
MAX_MANIFEST = 64 << 20
FLOOR = 64 << 20  # default size cap: at least this …
RATIO = 200  # … or the bundle's size on disk times this (real bundles compress 5-20x; zeros ~30000x)
CONTROL = {"manifest.json", signing.MEMBER}


@dataclass
class OpenLimits:
    max_bytes: int | None = None  # None: scaled to the bundle, see :func:`size_cap`
    max_files: int = 100_000


def size_cap(limits: OpenLimits, bundle_size: int) -> int:
    """Bytes the bundle may unpack to: the explicit cap, else max(64 MiB, 200 x its size on disk)."""
    return limits.max_bytes if limits.max_bytes is not None else max(FLOOR, bundle_size * RATIO)


@dataclass
class OpenResult:
    directory: Path
    files: int
    bytes: int
    encrypted: str  # "no", "age (keys)", "age (passphrase)"
    manifest: dict
    bundle_sha256: str
    sidecar: str  # "verified", "absent"
    signer: signing.Signer | None = None
    warnings: list[str] = field(default_factory=list)


class _Hashing:
    def __init__(self, raw: BinaryIO) -> None:
        self.raw, self.sha256 = raw, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.sha256.update(data)
        return data

    def readline(self, limit: int = -1) -> bytes:
        data = self.raw.readline(limit)
        self.sha256.update(data)
        return data


class _Capped:
    """Counts decompressed tar bytes; stops a decompression bomb at the cap."""

    def __init__(self, raw: zstandard.ZstdDecompressionReader, cap: int) -> None:
        self.raw, self.cap, self.total = raw, cap, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n if n >= 0 else CHUNK)
        self.total += len(data)
        if self.total > self.cap:
            raise VerificationError(f"the archive decompresses to more than {self.cap} bytes (decompression bomb?)")
        return data


def default_directory(bundle: Path) -> Path:
    name = bundle.name
    for ext in (".age", ".zst", ".tar"):
        name = name.removesuffix(ext)
    return Path.cwd() / (name or "bundle")


def open_bundle(bundle: Path, dest: Path | None = None, *, identity: str | None = None,
                passphrase: str | None = None, limits: OpenLimits | None = None,
                require_signature: bool = False, trusted: set[str] | None = None) -> OpenResult:
    """Decrypt, verify and extract ``bundle`` into ``dest``; all or nothing."""
    limits = limits or OpenLimits()
    try:
        st = bundle.stat()
    except OSError as exc:
        raise InputError(f"cannot read {bundle}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{bundle} is not a regular file")
    dest = (dest or default_directory(bundle)).absolute()
    if dest.is_symlink():
        raise VerificationError(f"{dest} is a symbolic link; casepack open never follows one",
                                hint="choose another -o DIR")
    if dest.exists() and (not dest.is_dir() or dest.is_symlink() or any(dest.iterdir())):
        raise InputError(f"{dest} exists and is not an empty directory", hint="choose another -o DIR")
    if not dest.parent.is_dir():
        raise InputError(f"directory {dest.parent} does not exist")
    with open(bundle, "rb") as raw:
        head = raw.read(4096)
        raw.seek(0)
        decrypt = decryptor(head, identity, passphrase)
        if decrypt is None and not head.startswith(ZSTD_MAGIC):
            raise VerificationError(f"{bundle.name} is not a casepack bundle (neither age-encrypted nor zstd)")
        kind = "no" if decrypt is None else ("age (passphrase)" if b"-> scrypt " in head else "age (keys)")
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
        try:
            src = _Hashing(raw)
            cap = OpenLimits(size_cap(limits, st.st_size), limits.max_files)
            seen, manifest_raw, sig_raw = _extract(src, decrypt, tmp, cap)
            manifest, signer, warnings = check_manifest(seen, manifest_raw, sig_raw, require_signature, trusted)
            digest = src.sha256.hexdigest()
            result = OpenResult(dest, len(seen), sum(size for size, _ in seen.values()), kind, manifest, digest,
                                check_sidecar(bundle, digest), signer, warnings)
            _write_member(tmp, "manifest.json", io.BytesIO(manifest_raw), len(manifest_raw))
            if sig_raw is not None:
                _write_member(tmp, signing.MEMBER, io.BytesIO(sig_raw), len(sig_raw))
            os.chmod(tmp, 0o700)
            _place(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return result


def _place(tmp: Path, dest: Path) -> None:
    """Rename the verified tree to ``dest``: a symlink put there meanwhile is refused, never followed."""
    try:
        if dest.is_symlink():
            raise VerificationError(f"{dest} became a symbolic link while the bundle was opened; refused")
        if dest.exists():
            dest.rmdir()  # empty, checked before
        os.rename(tmp, dest)  # rename(2) replaces an empty directory, never writes through a link
    except OSError as exc:
        raise VerificationError(f"cannot create {dest}: {exc.strerror}") from None


def _extract(src: _Hashing, decrypt, tmp: Path, limits: OpenLimits  # type: ignore[no-untyped-def]
             ) -> tuple[dict[str, tuple[int, str]], bytes, bytes | None]:
    errors: list[BaseException] = []  # the decryption thread's, recorded *before* it closes the pipe
    thread = None
    plain: BinaryIO = src  # type: ignore[assignment]
    if decrypt is not None:
        rfd, wfd = os.pipe()

        def pump() -> None:
            out = os.fdopen(wfd, "wb", buffering=0)
            try:
                decrypt(src, out)
            except BaseException as exc:  # noqa: BLE001 - reported by the reading thread
                errors.append(exc)
            finally:
                try:
                    out.close()
                except OSError:
                    pass

        thread = threading.Thread(target=pump, name="casepack-decrypt", daemon=True)
        thread.start()
        plain = os.fdopen(rfd, "rb", buffering=CHUNK)
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(plain, read_across_frames=True, closefd=False)
        assert limits.max_bytes is not None
        capped = _Capped(reader, limits.max_bytes + limits.max_files * 3 * tarfile.BLOCKSIZE + (10 << 20))
        seen, manifest_raw, sig_raw = _members(capped, tmp, limits)
        while capped.read(CHUNK):  # the rest (tar padding): lets decryption authenticate the end
            pass
    except BaseException as exc:
        early = [e for e in errors if isinstance(e, CasepackError)]  # not caused by closing the pipe below
        _close(plain, thread)
        if early:
            raise early[0] from None  # wrong key, tampered age data: the reason the stream broke
        if isinstance(exc, (tarfile.TarError, zstandard.ZstdError, EOFError)):
            raise VerificationError(f"the bundle is corrupt or truncated: {_why(exc)}") from None
        raise
    _close(plain, thread)
    if errors:
        err = errors[0]
        raise err if isinstance(err, CasepackError) else VerificationError(f"decryption failed: {_why(err)}")
    if manifest_raw is None:
        raise VerificationError("not a casepack bundle: it has no manifest.json")
    return seen, manifest_raw, sig_raw


def _close(plain: BinaryIO, thread: threading.Thread | None) -> None:
    if thread is not None:
        plain.close()
        thread.join()


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _members(stream: _Capped, tmp: Path, limits: OpenLimits
             ) -> tuple[dict[str, tuple[int, str]], bytes | None, bytes | None]:
    seen: dict[str, tuple[int, str]] = {}
    dirs: set[str] = set()
    manifest_raw = sig_raw = None
    count = total = 0
    with tarfile.open(fileobj=stream, mode="r|", tarinfo=SafeTarInfo) as tar:  # type: ignore[arg-type]
        for info in tar:
            count += 1
            if count > limits.max_files:
                raise VerificationError(f"the bundle has more than {limits.max_files} members (limit: --max-files)")
            if info.isdir() and info.name in (".", "./"):  # the archive's root, as `tar -C dir .` writes it
                continue
            name = member_name(info)
            if info.isdir():
                dirs.add(name)
                continue
            check_not_sparse(info)
            if not info.isreg():
                what = ("a symlink" if info.issym() else "a hard link" if info.islnk() else
                        "a device file" if info.isdev() and not info.isfifo() else "a FIFO" if info.isfifo() else
                        f"of tar type {info.type!r}")
                raise VerificationError(f"member {name!r} is {what}; casepack bundles hold only regular files")
            if name in seen or name in dirs or (name in CONTROL and (manifest_raw if name == "manifest.json"
                                                                     else sig_raw) is not None):
                raise VerificationError(f"member {name!r} appears twice in the archive")
            total += info.size
            if total > limits.max_bytes:
                raise VerificationError(f"the bundle holds more than {limits.max_bytes} bytes (limit: --max-size; "
                                        f"default max({FLOOR >> 20} MiB, {RATIO} x the bundle's size))")
            body = tar.extractfile(info)
            assert body is not None
            if name in CONTROL:
                if info.size > MAX_MANIFEST:
                    raise VerificationError(f"{name} is implausibly large ({info.size} bytes)")
                data = body.read(info.size)
                if len(data) != info.size:
                    raise VerificationError(f"member {name!r} is shorter than its tar header says")
                if name == "manifest.json":
                    manifest_raw = data
                else:
                    sig_raw = data
                continue
            seen[name] = _write_member(tmp, name, body, info.size)
    return seen, manifest_raw, sig_raw


def _write_member(tmp: Path, name: str, body: BinaryIO, size: int) -> tuple[int, str]:
    target = tmp / name
    try:
        os.makedirs(target.parent, mode=0o700, exist_ok=True)
        if os.path.commonpath([os.path.realpath(target.parent), os.path.realpath(tmp)]) != os.path.realpath(tmp):
            raise VerificationError(f"member {name!r} would land outside the output directory")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise VerificationError(f"member {name!r} clashes with another member ({exc.strerror})") from None
    digest, n = hashlib.sha256(), 0
    with os.fdopen(fd, "wb") as out:
        while data := body.read(CHUNK):
            n += len(data)
            if n > size:
                raise VerificationError(f"member {name!r} is longer than its tar header says")
            digest.update(data)
            out.write(data)
    if n != size:
        raise VerificationError(f"member {name!r} is truncated ({n} of {size} bytes)")
    return n, digest.hexdigest()


__all__ = ["VERIFY_FAILED", "DecryptionError", "OpenLimits", "OpenResult", "VerificationError", "agefmt", "open_bundle"]
