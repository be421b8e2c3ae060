"""Shard files of a case set: checked names, and placement by hard link or streaming copy with sha256.

A case set holds the shard bundles *as they are*: encrypted to the vendor, never decrypted here.
Each is hard-linked into the set when it is a private file of ours on the same file system (no
bytes copied), else copied; either way its sha256 is computed from the bytes now in the set, so
``caseset.json`` states what the set really holds. The original is never moved or changed.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

from collector.errors import InputError

CHUNK = 1 << 20
# a shard file name: what `collect` writes (casepack-<label>-<time>.tar.zst[.age]); no path, no leading dot
_NAME = re.compile(r"[A-Za-z0-9_+@=,-][A-Za-z0-9_.+@=,-]{0,199}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
RESERVED = ("caseset.json", "caseset.json.sig")


def check_name(name: object, where: str) -> str:
    """``name`` if it is a plain file name a set may hold (no directory part, no trick), else one line."""
    if (not isinstance(name, str) or not _NAME.fullmatch(name) or name in RESERVED
            or name.endswith((".sha256", ".status.json", ".mapping.json"))):
        shown = repr(name[:60]) if isinstance(name, str) else type(name).__name__
        raise InputError(f"{where}: {shown} is not a usable shard file name")
    return name


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and bool(_HEX64.fullmatch(value))


def read_sidecar(path: Path) -> str | None:
    """The digest in a ``sha256sum``-format sidecar, or None when there is none."""
    try:
        with open(path, "rb") as f:
            text = f.read(4096).decode("ascii", "replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    digest = text.split()[0].lower() if text.split() else ""
    if not is_sha256(digest):
        raise InputError(f"{path} is not a sha256sum line")
    return digest


def hash_file(path: Path) -> tuple[str, int]:
    """(sha256, size) of a regular file, streamed; a symlink or special file is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"{path} is missing") from None
    except OSError as exc:
        why = "is a symbolic link" if os.path.islink(path) else exc.strerror
        raise InputError(f"{path} {why}; refused") from None
    digest, size = hashlib.sha256(), 0
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise InputError(f"{path} is not a regular file")
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def place(src: Path, dest: Path) -> tuple[str, int, str]:
    """Put ``src`` at the new path ``dest``: (sha256 of what is there now, size, "linked" | "copied")."""
    try:
        fd = os.open(src, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise InputError(f"cannot read shard {src}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"shard {src} is not a regular file")
        if st.st_uid == os.geteuid() and not st.st_mode & 0o077:  # a private file of ours: share the inode
            try:
                os.link(src, dest, follow_symlinks=False)
                linked = os.lstat(dest)
                if (linked.st_ino, linked.st_dev) == (st.st_ino, st.st_dev):  # still the file checked above
                    digest, size = hash_file(dest)
                    return digest, size, "linked"
                os.unlink(dest)
            except OSError:
                pass  # another file system, or links not allowed: copy
        digest, size = hashlib.sha256(), 0
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(out, "wb") as w:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
                w.write(chunk)
                size += len(chunk)
            w.flush()
            os.fsync(w.fileno())
    return digest.hexdigest(), size, "copied"


def write_sidecar(bundle: Path, digest: str) -> None:
    """``<bundle>.sha256`` in ``sha256sum`` format, 0600 (a new file in the set being built)."""
    side = bundle.with_name(bundle.name + ".sha256")
    fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{digest}  {bundle.name}\n")
