"""Reading a case set before use: ``caseset.json``'s signature, then every shard's sha256 and size.

A set opened by ``casepack open SET`` holds, instead of each shard file, the directory it was
extracted into (verified then, against the shard's own manifest); such a directory is used as is.

A missing or altered shard does not stop the others: each :class:`ShardCheck` says what is wrong,
so ``open`` and ``report`` name it loudly, use the rest, and exit non-zero. A bad signature (or
none when one is required) refuses the whole set: its shard list cannot be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.bundle import signing
from collector.bundle.opener import default_directory
from collector.bundle.verify import VerificationError
from collector.errors import CasepackError
from collector.fleet.caseset import MANIFEST, SIGNATURE, read_manifest, shard_entries
from collector.fleet.records import ShardInfo
from collector.fleet.shardfile import hash_file


@dataclass
class ShardCheck:
    info: ShardInfo
    path: Path
    problem: str | None = None  # None: the file is there and matches caseset.json


@dataclass
class CheckedSet:
    root: Path
    manifest: dict[str, Any]
    raw: bytes  # caseset.json as signed
    signer: signing.Signer | None
    shards: list[ShardCheck]

    @property
    def bad(self) -> list[ShardCheck]:
        return [s for s in self.shards if s.problem]


def check_set(root: Path, *, require_signature: bool = False, trusted: set[str] | None = None) -> CheckedSet:
    """The set at ``root`` with its signature verified (if any) and each shard checked."""
    data, raw = read_manifest(root)
    sig_path = root / SIGNATURE
    signer = None
    if sig_path.is_file():
        try:
            signer = signing.verify(sig_path.read_bytes(), raw)
        except signing.SignatureError as exc:
            raise VerificationError(f"{root}: {MANIFEST} {exc.message.replace('manifest ', '', 1)}",
                                    hint="the set was altered after merge; merge the shards again") from None
    elif require_signature or trusted:
        raise VerificationError(f"{root}: {MANIFEST} is not signed", hint="merge with --sign-key KEY")
    if trusted is not None and signer is not None and signer.fingerprint not in trusted:
        raise VerificationError(f"{root}: {MANIFEST} is signed by {signer.fingerprint}, not a trusted key")
    shards = []
    for info in shard_entries(root, data):
        check = ShardCheck(info, root / info.file)
        opened = root / opened_name(info.file)
        if not check.path.exists() and (opened / "manifest.json").is_file() and not opened.is_symlink():
            shards.append(ShardCheck(info, opened))  # a set made by `casepack open SET`: verified when opened
            continue
        try:
            digest, size = hash_file(check.path)
        except CasepackError as exc:
            check.problem = "missing" if not check.path.exists() and not check.path.is_symlink() else exc.message
        else:
            if info.sha256 is None or digest != info.sha256:
                check.problem = f"sha256 {digest[:16]}… does not match {MANIFEST}: altered or corrupt"
            elif info.size is not None and size != info.size:
                check.problem = f"{size} bytes, {MANIFEST} says {info.size}"
        shards.append(check)
    return CheckedSet(root, data, raw, signer, shards)


def opened_name(file: str) -> str:
    """The directory ``casepack open SET`` extracts shard ``file`` into (its name without extensions)."""
    return default_directory(Path(file)).name
