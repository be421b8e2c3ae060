"""The bundle file: one ``.tar.zst`` written atomically, mode 0600.

The archive is a sequence of zstd frames that decode, concatenated, to one POSIX
(pax) tar stream — ``tar --zstd -x`` and ``zstd -d`` read it as usual. Each
member's body is compressed *while it is collected* (see :class:`Spool` in
``collector.stream``), so adding it to the bundle is a plain copy of compressed
bytes: a big log is read once, compressed once, and never held in memory.
``commit`` renames the temp file into place; ``abort`` removes it. After ``seal`` only the sealing
thread adds members (an interrupted run's stragglers cannot slip one in behind the manifest), and
``members`` lists every member with its size and sha256, so none can go unlisted.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import threading
import time
from pathlib import Path

import zstandard

from collector.bundle.crypto import EncryptingSink, Encryption, write_checksum
from collector.errors import CasepackError

BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE
COPY_CHUNK = 1 << 20
# measured (1 GB realistic log, bench/write_path.py): level 1 compresses with ~20 % less CPU than 2 and, on logs
# full of ids and numbers, writes a smaller bundle than 2 or tar's 3 (211 vs 218 vs 236 MB); on plainer
# text (dpkg.log) it is ~1-2 % larger than 3. Level 3 (another match finder) costs ~2x the CPU of 1.
LEVEL = int(os.environ.get("CASEPACK_ZSTD_LEVEL", "1"))
# a member body's compressed bytes: in memory, or a (path, offset, length) range of a spool file
Piece = bytes | tuple[str, int, int]


def compressor(level: int | None = None, threads: int = -1) -> zstandard.ZstdCompressor:
    params = zstandard.ZstdCompressionParameters.from_level(LEVEL if level is None else level, threads=threads)
    return zstandard.ZstdCompressor(compression_params=params)


class Sealed(CasepackError):
    """A worker tried to add a member after the bundle was sealed (the run was interrupted)."""


class BundleWriter:
    """Writes members into ``.<final>.partial-<pid>`` and renames it to ``final`` on commit."""

    def __init__(self, final: Path, *, level: int | None = None, encryption: Encryption | None = None) -> None:
        self.final = final
        self.sha256: str | None = None  # of the file on disk, taken while writing; set by commit
        self.checksum: Path | None = None  # the ``<bundle>.sha256`` sidecar
        self.level = level
        self.tmp = final.with_name(f".{final.name}.partial-{os.getpid()}")
        try:
            fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise CasepackError(f"cannot create the bundle in {final.parent}: {exc.strerror}",
                                hint="choose another directory with -o") from None
        self._raw = EncryptingSink(os.fdopen(fd, "wb"), encryption)  # plain or age, hashed as written
        self._small = compressor(level, threads=0)
        self._lock = threading.Lock()
        self._names: set[str] = set()
        self._tar_size = 0
        self.mtime = time.time()
        self.members: dict[str, tuple[int, str | None]] = {}  # arcname → (size, sha256 of the plain bytes)
        self._owner: int | None = None  # after seal(): the only thread that may add

    def seal(self) -> None:
        """From now on only this thread adds members (waits for an add in progress to end)."""
        with self._lock:
            self._owner = threading.get_ident()

    def unique_name(self, arcname: str) -> str:
        """``arcname``, or ``arcname.2``, ``.3``… if it is taken; reserves the name."""
        with self._lock:
            name, n = arcname, 1
            while name in self._names:
                n += 1
                name = f"{arcname}.{n}"
            self._names.add(name)
            return name

    def _header(self, arcname: str, size: int, mtime: float | None) -> bytes:
        info = tarfile.TarInfo(arcname)
        info.size, info.mode = size, 0o644
        info.mtime = int(mtime or self.mtime)
        info.uname = info.gname = "casepack"
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")

    def _emit(self, data: bytes) -> None:
        """Append ``data`` (tar bytes) as one small zstd frame."""
        if data:
            self._raw.write(self._small.compress(data))
            self._tar_size += len(data)

    def _reserve(self, arcname: str) -> None:
        if self._owner is not None and self._owner != threading.get_ident():
            raise Sealed(f"{arcname}: the bundle is sealed (the run was interrupted)")
        self._names.add(arcname)  # names from unique_name are already in; fixed ones (manifest.json …) join

    def add_frame(self, arcname: str, frame_path: str, size: int, mtime: float | None = None,
                  sha256: str | None = None) -> None:
        """Add a member whose body (``size`` bytes, plain ``sha256``) is already a zstd frame in ``frame_path``."""
        self.add_pieces(arcname, [(frame_path, 0, os.path.getsize(frame_path))], size, mtime, sha256)

    def add_pieces(self, arcname: str, pieces: list[Piece], size: int, mtime: float | None = None,
                   sha256: str | None = None) -> None:
        """Add a member whose body (``size`` bytes, plain ``sha256``) is the zstd frames ``pieces``, in order."""
        with self._lock:
            self._reserve(arcname)
            self.members[arcname] = (size, sha256)
            self._emit(self._header(arcname, size, mtime))
            for piece in pieces:
                if isinstance(piece, bytes):
                    self._raw.write(piece)
                    continue
                path, offset, length = piece
                with open(path, "rb") as f:
                    f.seek(offset)
                    while length:
                        data = f.read(min(COPY_CHUNK, length))
                        if not data:
                            raise CasepackError(f"{path} shrank while it was added to the bundle")
                        self._raw.write(data)
                        length -= len(data)
            self._tar_size += size
            self._emit(b"\0" * (-size % BLOCK))

    def add_file(self, arcname: str, path: str, offset: int = 0, size: int | None = None,
                 mtime: float | None = None) -> str:
        """Add ``size`` plain bytes of ``path`` from ``offset``; return their sha256."""
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            if size is None:
                size = os.fstat(f.fileno()).st_size - offset
            f.seek(offset)
            with self._lock:
                self._reserve(arcname)
                self._emit(self._header(arcname, size, mtime))
                writer = compressor(self.level).stream_writer(self._raw, closefd=False)
                left = size
                while left:
                    data = f.read(min(COPY_CHUNK, left))
                    if not data:
                        raise CasepackError(f"{path} shrank while it was added to the bundle")
                    digest.update(data)
                    writer.write(data)
                    left -= len(data)
                writer.close()
                self.members[arcname] = (size, digest.hexdigest())
                self._tar_size += size
                self._emit(b"\0" * (-size % BLOCK))
        return digest.hexdigest()

    def add_bytes(self, arcname: str, data: bytes) -> str:
        with self._lock:
            self._reserve(arcname)
            self.members[arcname] = (len(data), hashlib.sha256(data).hexdigest())
            self._emit(self._header(arcname, len(data), None) + data + b"\0" * (-len(data) % BLOCK))
        return hashlib.sha256(data).hexdigest()

    def commit(self) -> int:
        """End the archive, fsync, rename into place; return its size."""
        with self._lock:
            end = self._tar_size + 2 * BLOCK
            self._emit(b"\0" * (2 * BLOCK + (-end % RECORD)))
            self.sha256, _ = self._raw.finish()
            os.replace(self.tmp, self.final)
            self.checksum = write_checksum(self.final, self.sha256)
        return self.final.stat().st_size

    def abort(self) -> None:
        self._raw.abort()
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass
