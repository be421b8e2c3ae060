"""Output files that another local user cannot redirect: created private, renamed into place.

A path such as ``/tmp/report.html`` may have been prepared by someone else: a symlink to a
file of ours, or a file they own and can read. Writing through ``open(path, "w")`` would
follow the link or reuse their file. Here the data goes to a new file with a random name
beside the target (``O_CREAT|O_EXCL``, mode 0600, via ``mkstemp``) and is then renamed
over the target: rename(2) replaces a planted symlink or file *as a name*, it never writes
through it. Where the sticky bit forbids replacing another user's file, the write is
refused with one line.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from collector.errors import InputError


@contextmanager
def private_output(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file that becomes ``path`` (0600) when the block ends without an error."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_private(path: str | os.PathLike[str], data: bytes | str) -> None:
    with private_output(path) as f:
        f.write(data.encode() if isinstance(data, str) else data)


def _replace(tmp: str, target: Path) -> None:
    try:
        if target.is_dir() and not target.is_symlink():
            raise IsADirectoryError(21, "Is a directory")
        os.replace(tmp, target)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {exc.strerror}",
                         hint="another user's file there cannot be replaced; choose another path") from None


def copy_own_file(path: Path, dest: Path) -> bool:
    """Copy ``path`` to the new file ``dest`` if it exists; refuse a symlink or another user's file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return False
    except OSError as exc:
        why = "is a symbolic link" if os.path.islink(path) else exc.strerror
        raise InputError(f"{path} {why}; refused (never followed)") from None
    with os.fdopen(fd, "rb") as src:
        st = os.fstat(src.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            raise InputError(f"{path} is not a regular file of yours; refused", hint="choose another path")
        out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(out, "wb") as f:
            shutil.copyfileobj(src, f)
    return True


@contextmanager
def private_workdir(beside: Path) -> Iterator[Path]:
    """A 0700 temp directory beside ``beside`` (same file system, so a rename can move its files out)."""
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{beside.name}.", dir=beside.parent or "."))
    except OSError as exc:
        raise InputError(f"cannot write {beside}: {exc.strerror}") from None
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def replace_with(tmp: Path, target: Path) -> None:
    """Rename the finished ``tmp`` over ``target`` (never following a link there)."""
    os.chmod(tmp, 0o600)
    _replace(str(tmp), target)
