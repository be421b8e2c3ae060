"""The report's input: an opened bundle directory, or a bundle file opened into a temp dir."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.bundle.opener import open_bundle
from collector.bundle.schema import problem
from collector.bundle.verify import VerificationError
from collector.errors import InputError

MAX_MANIFEST = 64 << 20


@dataclass
class Source:
    root: Path  # the bundle's directory (manifest.json, hosts/…)
    manifest: dict[str, Any]
    label: str  # what the user named: the directory or the bundle file
    opened: bool  # True: a bundle file decrypted/verified into a temp dir that goes away afterwards

    def member(self, rel: object) -> Path | None:
        """The file at bundle path ``rel``, if it is a regular file inside the bundle (never outside it)."""
        if not isinstance(rel, str) or not rel or rel.startswith("/") or "\0" in rel:
            return None
        if any(p in ("", ".", "..") for p in rel.split("/")):
            return None
        path = self.root / rel
        try:
            real = os.path.realpath(path)
            if os.path.commonpath([real, os.path.realpath(self.root)]) != os.path.realpath(self.root):
                return None
            return path if path.is_file() and not path.is_symlink() else None
        except (OSError, ValueError):
            return None


def read_manifest(root: Path) -> dict[str, Any]:
    path = root / "manifest.json"
    try:
        if path.stat().st_size > MAX_MANIFEST:
            raise InputError(f"{path} is implausibly large")
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"{root} has no manifest.json: not an opened casepack bundle",
                         hint="give the bundle file (with -k IDENTITY) or a directory made by `casepack open`",
                         ) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    except RecursionError:
        raise VerificationError(f"malformed {path}: nested too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("format"), str) or not data["format"].startswith(
            "casepack/"):
        raise InputError(f"{path} is not a casepack manifest")
    why = problem(data)
    if why:
        raise VerificationError(f"malformed {path}: {why}")
    return data


@contextmanager
def load_source(path: Path, *, identity: str | None = None, passphrase: str | None = None) -> Iterator[Source]:
    """Yield the bundle at ``path`` ready to read; a temp directory (for a bundle file) is removed afterwards."""
    if path.is_dir():
        yield Source(path, read_manifest(path), str(path), False)
        return
    if not path.exists():
        raise InputError(f"{path} does not exist")
    tmp = Path(tempfile.mkdtemp(prefix="casepack-report-"))
    try:
        result = open_bundle(path, tmp / "bundle", identity=identity, passphrase=passphrase)
        yield Source(result.directory, read_manifest(result.directory), str(path), True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
