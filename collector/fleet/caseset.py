"""Case sets: several shard bundles of one case, listed in one small (signed) top manifest.

``casepack merge SHARD… -o SET`` writes the directory SET: the shard bundles and their
``.sha256`` sidecars (hard-linked or copied, never decrypted), and ``caseset.json`` (format
``casepack-set/1``) built from the run records only — so a customer can merge shards encrypted
to the vendor. The fleet view says, for every host, its final status and which shard holds its
artifacts; hosts an inventory named but no shard holds are ``unaccounted``. Never copied into a
set: ``.status.json`` (it holds how each host was reached) and pseudonym mappings.

Decisions (docs/fleet.md): shards of *different* case_ids are refused (two cases are not one);
differing case fields within one case_id are a warning, the newest shard's fields win. A host
collected ``ok`` in any shard supersedes its failure elsewhere; among equal statuses the newest
shard wins.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collector import __version__
from collector.bundle import signing
from collector.bundle.runrecord import read_record
from collector.errors import InputError
from collector.fleet.records import ShardInfo, case_fields, case_id, host_name, shard_info
from collector.fleet.shardfile import check_name, place, read_sidecar, write_sidecar
from collector.safefile import write_private

FORMAT = "casepack-set/1"
MANIFEST = "caseset.json"
SIGNATURE = "caseset.json.sig"
MAX_MANIFEST = 64 << 20
RANK = {"ok": 3, "partial": 2}  # any other status (failed, timed_out, interrupted…) ranks 1


@dataclass
class _Input:
    path: Path  # the shard bundle file
    info: ShardInfo
    expected: str  # its sha256 as its .sha256 sidecar (and record) state it
    inventory: list[str] = field(default_factory=list)


@dataclass
class MergeResult:
    path: Path
    manifest: dict[str, Any]
    signer: signing.Signer | None
    placed: dict[str, str]  # shard file → "linked" | "copied"

    @property
    def partial(self) -> bool:
        return self.manifest["status"] != "complete"


def is_case_set(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def read_manifest(root: Path) -> tuple[dict[str, Any], bytes]:
    """``caseset.json`` of the set at ``root`` (parsed, raw); one-line errors."""
    path = root / MANIFEST
    try:
        if path.stat().st_size > MAX_MANIFEST:
            raise InputError(f"{path} is implausibly large")
        raw = path.read_bytes()
        data = json.loads(raw)
    except FileNotFoundError:
        raise InputError(f"{root} has no {MANIFEST}: not a casepack case set") from None
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: not a casepack case set ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path}: not a casepack case set (format is not {FORMAT!r})")
    if not isinstance(data.get("shards"), list) or not all(isinstance(s, dict) for s in data["shards"]):
        raise InputError(f"{path}: malformed shard list")
    return data, raw


def shard_entries(root: Path, data: dict[str, Any]) -> list[ShardInfo]:
    """The checked shard entries of a set's manifest (names checked: no path tricks)."""
    where = root / MANIFEST
    out = [shard_info(check_name(s.get("file"), str(where)), s, where) for s in data["shards"]]
    if len({s.file for s in out}) != len(out):
        raise InputError(f"{where}: a shard file is listed twice")
    return out


def _inputs(paths: Iterable[Path]) -> list[_Input]:
    out: list[_Input] = []
    for p in paths:
        if p.is_dir():
            data, raw = read_manifest(p)
            if (p / SIGNATURE).is_file():  # an earlier signed set: its shard list must be the one signed
                try:
                    signing.verify((p / SIGNATURE).read_bytes(), raw)
                except signing.SignatureError as exc:
                    raise InputError(f"{p}: {MANIFEST} {exc.message.replace('manifest ', '', 1)}") from None
            inventory = [host_name(h, str(p / MANIFEST)) for h in data.get("inventory") or []]
            case = case_fields(data.get("case"), str(p / MANIFEST))
            for info in shard_entries(p, data):
                if info.sha256 is None:
                    raise InputError(f"{p / MANIFEST}: shard {info.file} has no sha256")
                info.case = info.case or case
                info.case_id = info.case_id or case_id(data.get("case_id"), str(p / MANIFEST))
                out.append(_Input(p / info.file, info, info.sha256, inventory))
            continue
        if not p.exists():
            raise InputError(f"{p} does not exist")
        record = read_record(p)
        info = shard_info(check_name(p.name, str(p)), record, p.with_name(p.name + ".status.json"))
        side = read_sidecar(p.with_name(p.name + ".sha256"))
        if side is None:
            raise InputError(f"{p}.sha256 is missing: the checksum written beside {p.name} by `casepack collect`",
                             hint="copy it together with the bundle")
        if info.sha256 is not None and info.sha256 != side:
            raise InputError(f"{p}: its run record and its .sha256 state different checksums")
        out.append(_Input(p, info, side, info.inventory or []))
    return out


def _dedupe(inputs: list[_Input]) -> list[_Input]:
    by_name: dict[str, _Input] = {}
    for i in inputs:
        seen = by_name.get(i.info.file)
        if seen is None:
            by_name[i.info.file] = i
        elif seen.expected != i.expected:
            raise InputError(f"two different shards are both named {i.info.file} ({seen.path}, {i.path})",
                             hint="rename one (and its .status.json and .sha256) before merging")
    return list(by_name.values())


def _case(shards: list[ShardInfo], warnings: list[str]) -> tuple[str | None, dict[str, str]]:
    ids: dict[str, list[str]] = {}
    for s in shards:
        if s.case_id:
            ids.setdefault(s.case_id, []).append(s.file)
    if len(ids) > 1:
        shown = "; ".join(f"{cid}: {', '.join(files[:3])}" for cid, files in sorted(ids.items()))
        raise InputError(f"the shards belong to different cases (case_id {shown})",
                         hint="merge each case into its own set")
    newest = max(shards, key=lambda s: (s.created, s.file))
    case = dict(newest.case)
    for key in sorted({k for s in shards for k in s.case}):
        values = {s.case.get(key) for s in shards if s.case}
        if len(values) > 1:
            warnings.append(f"case field {key!r} differs between shards; {newest.file}'s (the newest) is used")
    return (next(iter(ids)) if ids else None), case


def fleet_hosts(shards: list[ShardInfo]) -> list[dict[str, Any]]:
    """Every host once: its final status, the shard it comes from, and every shard holding its artifacts."""
    ordered = sorted(shards, key=lambda s: (s.created, s.file))
    seen: dict[str, list[tuple[int, ShardInfo, dict[str, Any]]]] = {}
    for n, s in enumerate(ordered):
        for h in s.hosts:
            seen.setdefault(h["name"], []).append((n, s, h))
    out = []
    for name in sorted(seen):
        entries = seen[name]
        _n, best, h = max(entries, key=lambda e: (RANK.get(e[2]["status"], 1), e[0]))
        out.append({"name": name, "status": h["status"], "error": h["error"], "shard": best.file,
                    "shards": [s.file for _n, s, _h in entries],
                    "history": [{"shard": s.file, "status": hh["status"]} for _n, s, hh in entries]})
    return out


def build_manifest(shards: list[ShardInfo], placed: dict[str, tuple[str, int]], inventory: Iterable[str],
                   warnings: list[str]) -> dict[str, Any]:
    cid, case = _case(shards, warnings)
    hosts = fleet_hosts(shards)
    names = {h["name"] for h in hosts}
    inventory = sorted(set(inventory))
    unaccounted = sorted(set(inventory) - names)
    files = {s.file for s in shards}
    for s in shards:
        for prior in s.resume_of or []:
            if prior["bundle"] not in files:
                warnings.append(f"{s.file} resumes {prior['bundle']}, which is not in the set: hosts collected "
                                "only there are missing")
    complete = not unaccounted and all(h["status"] == "ok" for h in hosts)
    return {
        "format": FORMAT,
        "case_id": cid or uuid.uuid4().hex,
        "case": case,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool": {"name": "casepack", "version": __version__},
        "status": "complete" if complete else "partial",
        "shards": [s.entry(*placed[s.file]) for s in sorted(shards, key=lambda s: (s.created, s.file))],
        "hosts": hosts,
        "inventory": inventory,
        "unaccounted": unaccounted,
        "counts": {"shards": len(shards), "hosts": len(hosts), "ok": sum(h["status"] == "ok" for h in hosts),
                   "not_ok": sum(h["status"] != "ok" for h in hosts), "unaccounted": len(unaccounted)},
        "warnings": warnings,
    }


def merge(paths: list[Path], out: Path, *, sign_key: str | None = None,
          inventory: Iterable[str] = ()) -> MergeResult:
    """Write the case set ``out`` from shard bundles and/or earlier case sets (see the module doc)."""
    if not paths:
        raise InputError("no shard given", hint="casepack merge BUNDLE… -o SET")
    key = signing.load_signing_key(sign_key) if sign_key else None
    replacing = out.exists() or out.is_symlink()
    if replacing and (out.is_symlink() or not out.is_dir() or (any(out.iterdir()) and not is_case_set(out))):
        raise InputError(f"{out} exists and is not a case set", hint="choose a new directory for -o")
    inputs = _dedupe(_inputs(paths))
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if str(out.parent) else "."))
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
    try:
        placed: dict[str, tuple[str, int]] = {}
        how: dict[str, str] = {}
        for i in inputs:
            digest, size, how[i.info.file] = place(i.path, work / i.info.file)
            if digest != i.expected:
                raise InputError(f"shard {i.path} does not match its sha256 ({digest[:12]}… is not "
                                 f"{i.expected[:12]}…): corrupt or altered", hint="copy it again from where it was "
                                 "written")
            if i.info.size is not None and size != i.info.size:
                raise InputError(f"shard {i.path} is {size} bytes, its record says {i.info.size}")
            write_sidecar(work / i.info.file, digest)
            placed[i.info.file] = (digest, size)
        names = set(inventory)
        for i in inputs:
            names.update(i.inventory)
        manifest = build_manifest([i.info for i in inputs], placed, names, [])
        raw = json.dumps(manifest, indent=2).encode() + b"\n"
        write_private(work / MANIFEST, raw)
        signer = None
        if key is not None:
            write_private(work / SIGNATURE, signing.sign(key, raw))
            signer = signing.verify((work / SIGNATURE).read_bytes(), raw)
        os.chmod(work, 0o700)
        _install(work, out, replacing)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return MergeResult(out, manifest, signer, how)


def _install(work: Path, out: Path, replacing: bool) -> None:
    """Rename the finished set into place; an earlier set at ``out`` is swapped out, then removed."""
    try:
        if not replacing:
            os.rename(work, out)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent)) / "set"
        os.rename(out, old)
        try:
            os.rename(work, out)
        except OSError:
            os.rename(old, out)
            raise
        shutil.rmtree(old.parent, ignore_errors=True)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
