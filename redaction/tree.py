"""``casepack redact``: a file or a directory tree (plain text, .gz, SQLite) into OUT, same relative paths."""

from __future__ import annotations

import gzip
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from redaction.engine import Redactor
from redaction.sqlite import is_sqlite, redact_database

CHUNK = 1 << 20


@dataclass
class TreeResult:
    files: int = 0
    skipped: list[str] = field(default_factory=list)  # binary files left out


def _files(src: Path) -> Iterator[tuple[Path, str]]:
    if src.is_file():
        yield src, src.name
        return
    for root, dirs, names in os.walk(src):
        dirs.sort()
        for name in sorted(names):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                yield path, path.relative_to(src).as_posix()


@contextmanager
def _private_out(path: Path) -> Iterator[str]:
    """A new 0600 file (random name, ``O_EXCL``) beside ``path``, renamed over it at the end.

    rename(2) replaces a symlink or file someone planted at ``path``; it never writes through it.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            raise ValueError(f"output {path} is a directory")
        os.replace(tmp, path)
    except OSError as exc:
        raise ValueError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _out_dir(path: Path) -> None:
    """``path`` as an output directory: created 0700, or an existing real directory owned by us."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkdir(path, 0o700)
        return
    if stat.S_ISLNK(st.st_mode):
        raise ValueError(f"output {path} is a symbolic link; refused (never followed)")
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise ValueError(f"output {path} is not a directory of yours that only you can write to; refused")


def _subdir(out: Path, rel_parent: Path) -> None:
    """Create the directories of ``rel_parent`` under ``out`` (0700); none of them may be a link."""
    cur = out
    for part in rel_parent.parts:
        cur = cur / part
        try:
            os.mkdir(cur, 0o700)
        except FileExistsError:
            if cur.is_symlink() or not cur.is_dir():
                raise ValueError(f"{cur} is in the way (a link or a file); refused") from None


def _looks_binary(path: Path) -> bool:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            return b"\x00" in f.read(8192)
    except (OSError, EOFError):
        return True


def redact_file(src: Path, dest: Path | None, redactor: Redactor, name: str) -> None:
    """Stream one text file (gzip stays gzip) through the engine; ``dest`` None writes to stdout."""
    stream = redactor.stream(name)
    gz = src.suffix == ".gz"
    reader = gzip.open(src, "rb") if gz else open(src, "rb")
    with reader:
        if dest is None:
            out = sys.stdout.buffer
            for chunk in iter(lambda: reader.read(CHUNK), b""):
                out.write(stream.feed(chunk))
            out.write(stream.close())
            out.flush()
            return
        with _private_out(dest) as tmp, open(tmp, "wb") as raw:
            writer = gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) if gz else raw
            for chunk in iter(lambda: reader.read(CHUNK), b""):
                writer.write(stream.feed(chunk))
            writer.write(stream.close())
            if gz:
                writer.close()


def redact_tree(src: Path, out: Path | None, redactor: Redactor) -> TreeResult:
    """Redact ``src`` (file or directory) into ``out`` (``None``: a single file to stdout)."""
    result = TreeResult()
    if out is not None and not src.is_file():
        _out_dir(out)
    elif out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
    for path, rel in _files(src):
        dest = None if out is None else (out if src.is_file() else out / rel)
        if dest is not None and not src.is_file():
            _subdir(out, Path(rel).parent)  # type: ignore[arg-type]
        if is_sqlite(str(path)):
            if dest is None:
                raise ValueError("an SQLite database cannot be written to standard output; use -o")
            work = tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent)  # 0700: the journal lands here too
            try:
                redact_database(str(path), os.path.join(work, "db"), redactor, rel)
                with _private_out(dest) as tmp:
                    os.replace(os.path.join(work, "db"), tmp)
                    os.chmod(tmp, 0o600)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        elif _looks_binary(path):
            result.skipped.append(rel)
            continue
        else:
            redact_file(path, dest, redactor, rel)
        result.files += 1
    return result
