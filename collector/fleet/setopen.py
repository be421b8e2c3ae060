"""``casepack open SET``: every shard of a case set decrypted, verified and extracted, side by side.

DIR gets one directory per shard (named like ``casepack open BUNDLE`` would) and a copy of
``caseset.json`` (and its signature), so ``casepack report DIR`` reads the opened set as one fleet.
A shard that is missing, altered, or fails to open is named and skipped; the others are opened.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from collector.bundle.opener import OpenLimits, OpenResult, open_bundle
from collector.bundle.verify import VERIFY_FAILED
from collector.errors import CasepackError, InputError
from collector.fleet.caseset import MANIFEST, SIGNATURE
from collector.fleet.setcheck import CheckedSet, ShardCheck, check_set, opened_name
from collector.safefile import write_private


@dataclass
class SetOpenResult:
    directory: Path
    checked: CheckedSet
    opened: list[tuple[ShardCheck, OpenResult]] = field(default_factory=list)
    failed: list[tuple[ShardCheck, str, int]] = field(default_factory=list)  # (shard, why, exit status)

    @property
    def exit_status(self) -> int:
        return max((code for _s, _w, code in self.failed), default=0)


def open_set(root: Path, dest: Path | None = None, *, identity: str | None = None, passphrase: str | None = None,
             limits: OpenLimits | None = None, require_signature: bool = False,
             trusted: set[str] | None = None) -> SetOpenResult:
    checked = check_set(root, require_signature=require_signature, trusted=trusted)
    dest = (dest or Path.cwd() / f"{root.resolve().name}-opened").absolute()
    if dest.is_symlink() or (dest.exists() and (not dest.is_dir() or any(dest.iterdir()))):
        raise InputError(f"{dest} exists and is not an empty directory", hint="choose another -o DIR")
    try:
        dest.mkdir(mode=0o700, exist_ok=True)
        os.chmod(dest, 0o700)
    except OSError as exc:
        raise InputError(f"cannot create {dest}: {exc.strerror}") from None
    result = SetOpenResult(dest, checked)
    for shard in checked.shards:
        if shard.problem:
            result.failed.append((shard, shard.problem, VERIFY_FAILED))
            continue
        if shard.path.is_dir():
            result.failed.append((shard, "already opened: report on it directly", 2))
            continue
        target = dest / opened_name(shard.info.file)
        try:
            opened = open_bundle(shard.path, target, identity=identity, passphrase=passphrase, limits=limits,
                                 require_signature=require_signature, trusted=trusted)
        except CasepackError as exc:
            result.failed.append((shard, exc.message, int(exc.exit_status)))
            continue
        if opened.bundle_sha256 != shard.info.sha256:  # changed between the check and the open
            shutil.rmtree(target, ignore_errors=True)
            result.failed.append((shard, "changed while it was opened", VERIFY_FAILED))
            continue
        result.opened.append((shard, opened))
    write_private(dest / MANIFEST, checked.raw)
    sig = root / SIGNATURE
    if checked.signer is not None and sig.is_file():
        write_private(dest / SIGNATURE, sig.read_bytes())
    return result
