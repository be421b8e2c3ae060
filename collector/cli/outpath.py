"""Where ``-o`` puts a bundle: a directory (made if missing) or a file name that is never overwritten.

``-o bundles/`` (trailing slash) or an existing directory is a directory: a missing one is created
0700, parents too. Any other ``-o`` names the bundle file; its folder must exist. An existing file of
that name is kept: the bundle gets the first free name with ``-2``, ``-3`` … before the suffix, or
replaces it with ``--force``. The chosen name is reserved at once (an empty 0600 file made with
``O_EXCL``) so two runs started together cannot pick the same one; the engine renames the finished
bundle over the reservation, and :meth:`OutputPath.release` removes it if no bundle came.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from collector.errors import InputError

BUNDLE_SUFFIXES = (".tar.zst.age", ".tar.zst", ".age")
SIDECARS = (".sha256", ".mapping.json")  # written beside the bundle: their names follow the bundle's
MAX_TRIES = 1000


@dataclass
class OutputPath:
    path: Path | None  # what CollectRequest.output gets: None (cwd), a directory, or the bundle's file name
    renamed_from: Path | None = None  # the file that exists and was kept
    _reserved: tuple[Path, int, int] | None = None  # the empty placeholder we made: (path, dev, ino)

    def release(self) -> None:
        """Remove the placeholder if no bundle replaced it (a failed or interrupted run)."""
        if self._reserved is None:
            return
        path, dev, ino = self._reserved
        try:
            st = os.lstat(path)
            if (st.st_dev, st.st_ino) == (dev, ino) and st.st_size == 0:
                os.unlink(path)
        except OSError:
            pass
        self._reserved = None


def is_directory_request(output: str) -> bool:
    return output.endswith(("/", os.sep)) or Path(output).is_dir()


def make_directory(output: str, flag: str = "-o") -> Path:
    """The directory ``output``, created 0700 (parents too) when missing; a symlink to a directory is fine."""
    path = Path(output)
    if path.is_dir():
        return path
    if path.exists() or path.is_symlink():
        raise InputError(f"{flag} {output}: exists and is not a directory")
    try:
        path.mkdir(mode=0o700, parents=True)
    except OSError as exc:
        raise InputError(f"{flag} {output}: cannot create the directory: {exc.strerror}") from None
    return path


def resolve_output(output: str | None, *, encrypted: bool, force: bool) -> OutputPath:
    """Decide ``-o`` before anything is collected: a directory, or a free (or ``--force``\\d) file name."""
    if not output:
        return OutputPath(None)
    if is_directory_request(output):
        return OutputPath(make_directory(output))
    wanted = Path(output)
    if not wanted.parent.is_dir():
        raise InputError(f"output directory {wanted.parent} does not exist",
                         hint=f"end -o with a slash ({wanted}/) to make it a new directory")
    if force:
        return OutputPath(wanted)
    for n in range(1, MAX_TRIES + 1):
        candidate = wanted if n == 1 else numbered(wanted, n)
        final = final_name(candidate, encrypted)
        if any(os.path.lexists(f"{final}{s}") for s in ("", *SIDECARS)):
            continue
        try:
            fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(f"-o {output}: cannot create {final}: {exc.strerror}") from None
        st = os.fstat(fd)
        os.close(fd)
        return OutputPath(candidate, wanted if n > 1 else None, (final, st.st_dev, st.st_ino))
    raise InputError(f"-o {output}: {MAX_TRIES} numbered names are taken", hint="choose another name or --force")


def final_name(path: Path, encrypted: bool) -> Path:
    """The file the engine writes for ``path``: ``.age`` is appended when the bundle is encrypted."""
    return path if not encrypted or path.name.endswith(".age") else path.with_name(path.name + ".age")


def numbered(path: Path, n: int) -> Path:
    """``b.tar.zst`` → ``b-2.tar.zst`` (the number goes before the bundle suffix, else at the end)."""
    name = path.name
    for suffix in BUNDLE_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return path.with_name(f"{name[:-len(suffix)]}-{n}{suffix}")
    return path.with_name(f"{name}-{n}")
