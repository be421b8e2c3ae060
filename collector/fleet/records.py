"""What a case set takes from a run record (``<bundle>.status.json``): checked, with defaults.

Records written before issue 14 lack ``case_id``, ``inventory``, ``shard`` and ``resume_of``; they
read as None. Anything malformed is one line naming the file. ``target`` (how the customer
reached a host) is never read: it must not travel into a case set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.errors import InputError
from collector.fleet.shardfile import is_sha256

HOST = re.compile(r"[A-Za-z0-9_.-]{1,253}")  # bundle host names are safe_name()d
CASE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
MAX_TEXT = 2000


@dataclass
class ShardInfo:
    """One shard as a case set lists it (from its run record, or from an earlier set)."""

    file: str
    sha256: str | None
    size: int | None
    encrypted: bool
    status: str
    created: str
    case_id: str | None
    case: dict[str, str]
    shard: dict[str, Any] | None
    resume_of: list[dict[str, str]] | None
    hosts: list[dict[str, Any]]
    inventory: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def entry(self, sha256: str, size: int) -> dict[str, Any]:
        return {"file": self.file, "sha256": sha256, "size": size, "encrypted": self.encrypted,
                "status": self.status, "created": self.created, "case_id": self.case_id, "shard": self.shard,
                "resume_of": self.resume_of, "hosts": self.hosts}


def _text(value: object, where: str, what: str, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise InputError(f"{where}: malformed {what}")
    return value


def host_name(value: object, where: str) -> str:
    if not isinstance(value, str) or not HOST.fullmatch(value) or value in (".", ".."):
        shown = repr(value[:60]) if isinstance(value, str) else type(value).__name__
        raise InputError(f"{where}: {shown} is not a host name a bundle can hold")
    return value


def _hosts(value: object, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise InputError(f"{where}: malformed host list")
    out, seen = [], set()
    for h in value:
        if not isinstance(h, dict):
            raise InputError(f"{where}: malformed host list")
        name = host_name(h.get("name"), where)
        if name in seen:
            raise InputError(f"{where}: host {name} is listed twice")
        seen.add(name)
        out.append({"name": name, "status": _text(h.get("status"), where, "host status", "unknown")[:40],
                    "error": _text(h.get("error"), where, "host error") or None})
    return out


def _shard(value: object, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, dict) and set(value) <= {"index", "count"} and all(
            isinstance(value.get(k), int) and not isinstance(value.get(k), bool) for k in ("index", "count")):
        return {"index": value["index"], "count": value["count"]}
    if isinstance(value, dict) and set(value) == {"group"} and isinstance(value["group"], str):
        return {"group": _text(value["group"], where, "shard group")[:200]}
    raise InputError(f"{where}: malformed shard")


def _resume_of(value: object, where: str) -> list[dict[str, str]] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
            isinstance(r, dict) and isinstance(r.get("bundle"), str) and is_sha256(r.get("sha256")) for r in value):
        raise InputError(f"{where}: malformed resume_of")
    return [{"bundle": _text(r["bundle"], where, "resume_of"), "sha256": r["sha256"]} for r in value]


def _inventory(value: object, where: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InputError(f"{where}: malformed inventory")
    return [host_name(v, where) for v in value]


def case_id(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not CASE_ID.fullmatch(value):
        raise InputError(f"{where}: malformed case_id")
    return value


def case_fields(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{where}: malformed case fields")
    return {str(k)[:64]: _text(v, where, f"case field {str(k)[:40]!r}") for k, v in value.items()
            if isinstance(v, str | type(None))}


def shard_info(file: str, data: dict[str, Any], where: str | Path) -> ShardInfo:
    """A run record (or a set's shard entry) as a :class:`ShardInfo`; one line for anything malformed."""
    w = str(where)
    sha = data.get("sha256")
    size = data.get("size")
    if sha is not None and not is_sha256(sha):
        raise InputError(f"{w}: malformed sha256")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise InputError(f"{w}: malformed size")
    return ShardInfo(file=file, sha256=sha, size=size, encrypted=data.get("encrypted") is True,
                     status=_text(data.get("status"), w, "status", "unknown")[:40],
                     created=_text(data.get("created"), w, "created")[:40],
                     case_id=case_id(data.get("case_id"), w), case=case_fields(data.get("case"), w),
                     shard=_shard(data.get("shard"), w), resume_of=_resume_of(data.get("resume_of"), w),
                     hosts=_hosts(data.get("hosts"), w), inventory=_inventory(data.get("inventory"), w))
