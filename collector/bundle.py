"""The bundle file: one ``.tar.zst`` written atomically, mode 0600.

Members are added from spool files as artifacts finish (from any thread); the
archive is compressed with zstd in the same pass. ``commit`` renames the temp
file into place; ``abort`` removes it, so a failed run leaves no half bundle.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

import zstandard

from collector.errors import CasepackError

COPY_CHUNK = 1 << 20


class _HashingReader(io.RawIOBase):
    """Reads ``size`` bytes of a file from an offset, hashing them on the way."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f, self._left = f, size
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        self.sha256.update(data)
        return data


class BundleWriter:
    """Streams members into ``<final>.partial`` and renames it to ``final`` on commit."""

    def __init__(self, final: Path, *, level: int = 3, threads: int = -1) -> None:
        self.final = final
        self.tmp = final.with_name(f".{final.name}.partial-{os.getpid()}")
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise CasepackError(
                f"cannot create the bundle in {final.parent}: {exc.strerror}",
                hint="choose another directory with -o",
            ) from None
        self._raw = os.fdopen(fd, "wb")
        params = zstandard.ZstdCompressionParameters.from_level(level, threads=threads)
        self._zstd = zstandard.ZstdCompressor(compression_params=params).stream_writer(
            self._raw, closefd=False
        )
        self._tar = tarfile.open(fileobj=self._zstd, mode="w|", format=tarfile.PAX_FORMAT)
        self._tar.copybufsize = COPY_CHUNK
        self._lock = threading.Lock()
        self._names: set[str] = set()
        self.mtime = time.time()

    def _info(self, arcname: str, size: int, mtime: float | None) -> tarfile.TarInfo:
        if arcname in self._names:
            raise ValueError(f"duplicate member {arcname}")
        self._names.add(arcname)
        info = tarfile.TarInfo(arcname)
        info.size, info.mode = size, 0o644
        info.mtime = int(mtime or self.mtime)
        info.uname = info.gname = "casepack"
        return info

    def unique_name(self, arcname: str) -> str:
        """``arcname``, or ``arcname.2``, ``.3``… if it is taken."""
        with self._lock:
            name, n = arcname, 1
            while name in self._names:
                n += 1
                name = f"{arcname}.{n}"
            return name

    def add_file(self, arcname: str, path: str, offset: int = 0, size: int | None = None,
                 mtime: float | None = None) -> str:
        """Add ``size`` bytes of ``path`` from ``offset``; return their sha256."""
        with open(path, "rb") as f:
            if size is None:
                size = os.fstat(f.fileno()).st_size - offset
            f.seek(offset)
            reader = _HashingReader(f, size)
            with self._lock:
                self._tar.addfile(self._info(arcname, size, mtime), reader)  # type: ignore[arg-type]
        return reader.sha256.hexdigest()

    def add_bytes(self, arcname: str, data: bytes) -> str:
        with self._lock:
            self._tar.addfile(self._info(arcname, len(data), None), io.BytesIO(data))
        return hashlib.sha256(data).hexdigest()

    def commit(self) -> int:
        """Finish the archive, fsync, rename into place; return its size."""
        self._tar.close()
        self._zstd.close()
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._raw.close()
        os.replace(self.tmp, self.final)
        return self.final.stat().st_size

    def abort(self) -> None:
        for closer in (self._tar.close, self._zstd.close, self._raw.close):
            try:
                closer()
            except Exception:  # noqa: BLE001 - best effort while failing
                pass
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass
