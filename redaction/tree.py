"""``casepack redact``: a file or a directory tree (plain text, .gz, SQLite) into OUT, same relative paths."""

from __future__ import annotations

import gzip
import os
import sys
from collections.abc import Iterator
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


def _open_out(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


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
        with os.fdopen(_open_out(dest), "wb") as raw:
            writer = gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) if gz else raw
            for chunk in iter(lambda: reader.read(CHUNK), b""):
                writer.write(stream.feed(chunk))
            writer.write(stream.close())
            if gz:
                writer.close()


def redact_tree(src: Path, out: Path | None, redactor: Redactor) -> TreeResult:
    """Redact ``src`` (file or directory) into ``out`` (``None``: a single file to stdout)."""
    result = TreeResult()
    for path, rel in _files(src):
        dest = None if out is None else (out if src.is_file() else out / rel)
        if is_sqlite(str(path)):
            if dest is None:
                raise ValueError("an SQLite database cannot be written to standard output; use -o")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                dest.unlink()
            redact_database(str(path), str(dest), redactor, rel)
        elif _looks_binary(path):
            result.skipped.append(rel)
            continue
        else:
            redact_file(path, dest, redactor, rel)
        result.files += 1
    return result
