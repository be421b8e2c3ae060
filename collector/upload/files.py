"""What ``casepack upload`` sends: one bundle, or every file of a case-set folder (the top manifest last).

A case set is a folder holding ``caseset.json`` (+ its signature) and the shard bundles; any folder
of bundle files works the same way. Before anything is sent: every bundle must be age-encrypted
(unless allowed), and no file may be over the target's limit (``--max-size``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from collector.bundle.agefmt import INTRO
from collector.bundle.casedoc import human_size
from collector.errors import InputError
from collector.upload.receipt import RECEIPTS

SET_MANIFEST = "caseset.json"


@dataclass
class Outgoing:
    """The files to send, the remote sub-folder (a set's name) and where the receipts go."""

    files: list[Path]
    folder: str | None
    receipts: Path

    @property
    def total(self) -> int:
        return sum(f.stat().st_size for f in self.files)


def outgoing(source: str | Path) -> Outgoing:
    path = Path(source)
    if path.is_symlink():
        raise InputError(f"{path} is a symbolic link; refused (give the real path)")
    if path.is_file():
        return Outgoing([path], None, path.parent)
    if not path.is_dir():
        raise InputError(f"{path}: no such bundle or case-set folder")
    files, odd = [], []
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or entry.name == RECEIPTS:
            continue  # partial files of another tool, and our own receipts
        (files if entry.is_file() and not entry.is_symlink() else odd).append(entry)
    if odd:
        raise InputError(f"{path}: {odd[0].name} is not a regular file; a case-set folder holds only files",
                         hint="move it out, or upload the bundle files one by one")
    if not files:
        raise InputError(f"{path}: the folder holds no files to send")
    return Outgoing(sorted(files, key=_set_order), path.resolve().name, path)


def _set_order(p: Path) -> tuple[int, str]:
    """Shards first, then the set's signature, then ``caseset.json``: its arrival means the rest is there."""
    if p.name == SET_MANIFEST:
        return 2, p.name
    return (1 if p.name.startswith("caseset.") else 0), p.name


def is_metadata(p: Path) -> bool:
    """Files of a set that are not bundles: the manifest, its signature, checksum side files."""
    return p.name.startswith("caseset.") or p.name.endswith(".sha256")


def is_encrypted(p: Path) -> bool:
    """An age file (how casepack encrypts bundles: collector/bundle/crypto.py)."""
    try:
        with open(p, "rb") as f:
            return f.read(len(INTRO)) == INTRO
    except OSError as exc:
        raise InputError(f"cannot read {p}: {exc.strerror}") from None


def check(out: Outgoing, max_size: int | None, allow_unencrypted: bool) -> None:
    """Refuse before sending anything: an unencrypted bundle, a file over the target's limit."""
    for p in out.files:
        if not allow_unencrypted and not is_metadata(p) and not is_encrypted(p):
            raise InputError(f"{p} is not encrypted; refusing to send it",
                             hint="collect with -r VENDOR_KEY (or --passphrase), or pass --allow-unencrypted")
        size = p.stat().st_size
        if max_size is not None and size > max_size:
            raise InputError(f"{p} is {human_size(size)}, over the target's limit of {human_size(max_size)} "
                             "(--max-size); nothing sent",
                             hint="collect less (--since, --max-file-size, fewer probes) or ask for a larger limit")
