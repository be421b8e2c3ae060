"""``<bundle>.status.json``: what a run did, readable without the bundle's key.

An encrypted bundle is opaque to the customer who wrote it (it is encrypted to the vendor), yet
``collect --resume`` must know which hosts and artifacts failed, and ``merge`` must list hosts and
their status in a case set without decrypting anything. So ``collect`` writes this small record
beside the bundle (0600, atomically, like the ``.sha256`` sidecar). It holds only what the
manifest already holds in clear metadata form (names as shown in the bundle, statuses, one-line
errors — all scrubbed by the same redactor), plus ``target`` per host: how *this* customer
reached it, which never leaves the customer (``merge`` does not copy it).

Readers ignore keys they do not know; writers add keys, never change a key's meaning.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collector.bundle.manifest import Manifest
from collector.errors import InputError
from collector.safefile import write_private

FORMAT = "casepack-status/1"
SUFFIX = ".status.json"
MAX_RECORD = 64 << 20  # a record for thousands of hosts is a few MB; anything bigger is not ours


def record_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + SUFFIX)


def build_record(manifest: Manifest, bundle: Path, sha256: str | None, size: int, *, encrypted: bool,
                 targets: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record of one written bundle. ``targets`` maps a host's bundle name to how it was reached."""
    targets = targets or {}
    counts: dict[str, dict[str, int]] = {}  # one pass over the artifacts: thousands of hosts × tens each
    problems: dict[str, list[dict[str, Any]]] = {}
    for a in manifest.artifacts:
        per_host = counts.setdefault(a.host, {})
        per_host[a.status] = per_host.get(a.status, 0) + 1
        if a.status != "ok":
            problems.setdefault(a.host, []).append({"probe": a.probe, "artifact": a.artifact, "source": a.source,
                                                    "status": a.status, "error": a.error, "optional": a.optional})
    hosts = [{"name": h.name, "target": targets.get(h.name, h.name), "status": h.status, "error": h.error,
              "probes": h.probes, "artifacts": counts.get(h.name, {}), "problems": problems.get(h.name, [])}
             for h in manifest.hosts]
    record: dict[str, Any] = {
        "format": FORMAT,
        "bundle": bundle.name,
        "sha256": sha256,
        "size": size,
        "encrypted": encrypted,
        "created": manifest.created,
        "status": manifest.status,
        "tool": manifest.tool,
        "case": manifest.case,
        "window": manifest.window,
        "options": manifest.options,
        "hosts": hosts,
    }
    record.update(extra or {})
    return record


def write_record(bundle: Path, record: dict[str, Any]) -> Path:
    path = record_path(bundle)
    write_private(path, json.dumps(record, indent=2).encode() + b"\n")
    return path


def read_record(bundle: Path) -> dict[str, Any]:
    """The record beside ``bundle`` (or the record file itself); one-line errors for anything else."""
    path = bundle if bundle.name.endswith(SUFFIX) else record_path(bundle)
    try:
        if path.stat().st_size > MAX_RECORD:
            raise InputError(f"{path}: too large for a casepack status record")
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"{path} is missing: the run record written beside {bundle.name} by `casepack collect`",
                         hint="copy it together with the bundle") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not a casepack status record ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path}: not a casepack status record (format {str(data.get('format'))[:40]!r})"
                         if isinstance(data, dict) else f"{path}: not a casepack status record")
    hosts = data.get("hosts")
    if not isinstance(hosts, list) or not all(isinstance(h, dict) and isinstance(h.get("name"), str) for h in hosts):
        raise InputError(f"{path}: malformed host list")
    return data
