"""The case key: 32 random bytes that make pseudonyms the same in every shard of one case.

``casepack case-key -o FILE`` writes it (0600, 64 hex characters and a newline). A run finds it,
first match wins: ``--case-key FILE`` (or ``collect --resume`` reusing the first run's key), then
the environment variable ``CASEPACK_CASE_KEY_FILE``, then the case file's ``[redaction] case_key =
"path"``. The key itself is never on a command line or in the environment — only its path. A key
file another user could read is refused, as ssh refuses such a private key. Without any, the
pseudonymizer draws a random key for the run (saved in that run's mapping file only).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

ENV = "CASEPACK_CASE_KEY_FILE"
SIZE = 32
_override: tuple[bytes, str] | None = None  # (key, where from): --case-key, or the key a resumed run used


class CaseKeyError(ValueError):
    """A case key file is missing, malformed or readable by others (one line)."""


def make_key_file(path: str | os.PathLike[str]) -> None:
    """A new key file (never overwrites one: a lost key cannot be remade)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise CaseKeyError(f"{path} exists; a case key is never overwritten") from None
    except OSError as exc:
        raise CaseKeyError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as f:
        f.write(os.urandom(SIZE).hex() + "\n")


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """The key in ``path``: 64 hex characters (``case-key``'s format) or 32 raw bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        why = "is a symbolic link" if os.path.islink(path) else exc.strerror
        raise CaseKeyError(f"case key {path} {why}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise CaseKeyError(f"case key {path} is not a regular file")
        if st.st_mode & 0o077:
            raise CaseKeyError(f"case key {path} is readable by other users (mode {stat.S_IMODE(st.st_mode):04o}; "
                               f"chmod 600 {path})")
        data = f.read(200)
    text = data.strip()
    try:
        key = bytes.fromhex(text.decode("ascii")) if len(text) == 2 * SIZE else data
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != SIZE:
        raise CaseKeyError(f"case key {path} is not a casepack case key (make one with: casepack case-key -o FILE)")
    return key


def use_key_file(path: str | os.PathLike[str]) -> None:
    """``--case-key FILE``: this process's runs use this key (checked now: a bad file fails before collecting)."""
    global _override
    _override = (read_key_file(path), str(path))


def use_key(key: bytes, where: str) -> None:
    """A key known otherwise (``collect --resume``: the per-run key saved in the first run's mapping)."""
    global _override
    if len(key) != SIZE:
        raise CaseKeyError(f"{where}: not a {SIZE}-byte key")
    _override = (key, where)


def resolve(case_file_key: str | os.PathLike[str] | None = None) -> bytes | None:
    """The case key by precedence (see the module doc), or None: the run draws a random key."""
    if _override is not None:
        return _override[0]
    if os.environ.get(ENV):
        return read_key_file(os.environ[ENV])
    if case_file_key:
        return read_key_file(case_file_key)
    return None


def reset() -> None:
    """Forget ``use_key``/``use_key_file`` (tests, and a library caller running several cases)."""
    global _override
    _override = None


def default_path() -> Path:
    return Path("casepack-case.key")
