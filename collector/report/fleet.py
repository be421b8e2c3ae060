"""``casepack report SET``: a case set as one fleet — hosts × status × shard, versions, error signatures.

Each usable shard is reported as a bundle is (:func:`build_report`), one after the other (one
shard's files on disk at a time); the fleet section joins them: every host with its final status
and the shard holding it, the inventory hosts in no shard, the versions across all hosts (a loud
note when they differ) and the error signatures summed across shards with host and shard counts.
A shard that is missing, altered or cannot be opened is named in ``problems``; the rest is
still reported, and the exit status says it (4 verification, 1 cannot decrypt).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector import __version__
from collector.bundle.verify import VERIFY_FAILED
from collector.errors import CasepackError
from collector.fleet.setcheck import CheckedSet, check_set
from collector.report import FORMAT, build_report, iso, load_source


@dataclass
class SetReport:
    report: dict[str, Any]
    exit_status: int


def build_set_report(root: Path, *, identity: str | None = None, passphrase: str | None = None,
                     top: int = 50) -> SetReport:
    """The report of the case set at ``root`` (a merged set, or one opened by ``casepack open SET``)."""
    started = time.monotonic()
    checked = check_set(root)
    shards: list[dict[str, Any]] = []
    code = 0
    for sc in checked.shards:
        entry: dict[str, Any] = {"file": sc.info.file, "status": "ok", "error": None, "size": sc.info.size,
                                 "encrypted": sc.info.encrypted, "hosts": [h["name"] for h in sc.info.hosts],
                                 "report": None}
        if sc.problem:
            entry.update(status="unusable", error=sc.problem)
            code = max(code, VERIFY_FAILED)
        else:
            try:
                with load_source(sc.path, identity=identity, passphrase=passphrase) as src:
                    entry["report"] = build_report(src, top).report
            except CasepackError as exc:
                entry.update(status="unusable", error=exc.message)
                code = max(code, int(exc.exit_status))
        shards.append(entry)
    report = {"format": FORMAT, "generated": iso(time.time()), "tool": {"name": "casepack", "version": __version__},
              "source": str(root), "fleet": fleet_section(checked, shards, top), "shards": shards}
    report["duration"] = round(time.monotonic() - started, 3)
    return SetReport(report, code)


def _str(v: object, limit: int = 2000) -> str | None:
    return None if v is None else str(v)[:limit]


def fleet_section(checked: CheckedSet, shards: list[dict[str, Any]], top: int) -> dict[str, Any]:
    m = checked.manifest
    usable = {s["file"] for s in shards if s["report"] is not None}
    hosts = []
    for h in m.get("hosts") or []:
        if not isinstance(h, dict):
            continue
        held = [str(f) for f in h.get("shards") or [] if isinstance(f, str)]
        hosts.append({"name": _str(h.get("name"), 253), "status": _str(h.get("status"), 40),
                      "error": _str(h.get("error")), "shard": _str(h.get("shard"), 200), "shards": held,
                      "readable": any(f in usable for f in held)})
    versions = _versions([s["report"] for s in shards if s["report"]])
    return {
        "case_id": _str(m.get("case_id"), 128),
        "case": {str(k)[:64]: _str(v) for k, v in (m.get("case") or {}).items()} if isinstance(m.get("case"), dict)
        else {},
        "status": _str(m.get("status"), 20),
        "signed_by": checked.signer.fingerprint if checked.signer else None,
        "shards": [{k: s[k] for k in ("file", "status", "error", "size", "encrypted", "hosts")} for s in shards],
        "hosts": hosts,
        "unaccounted": [str(h)[:253] for h in m.get("unaccounted") or []],
        "problems": [f"{s['file']}: {s['error']}" for s in shards if s["status"] != "ok"],
        "versions": versions,
        "version_mismatches": [f"{probe}: " + "; ".join(f"{v} on {', '.join(hs[:8])}" + (" …" if len(hs) > 8 else "")
                                                        for v, hs in by_version.items())
                               for probe, by_version in versions.items() if len(by_version) > 1],
        "signatures": _signatures(shards, top),
        "warnings": [str(w)[:500] for w in m.get("warnings") or []],
    }


def _versions(reports: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """``{probe: {version: [hosts]}}`` across every shard."""
    out: dict[str, dict[str, list[str]]] = {}
    for r in reports:
        for h in r.get("hosts") or []:
            for probe, version in (h.get("versions") or {}).items():
                names = out.setdefault(str(probe), {}).setdefault(str(version), [])
                if h.get("name") not in names:
                    names.append(str(h.get("name")))
    return {p: dict(sorted(v.items())) for p, v in sorted(out.items())}


def _signatures(shards: list[dict[str, Any]], top: int) -> dict[str, Any]:
    """Error signatures summed across shards (same level and text = same signature)."""
    joined: dict[tuple[str, str], dict[str, Any]] = {}
    entries = 0
    for s in shards:
        errors = (s["report"] or {}).get("errors") or {}
        entries += int(errors.get("entries") or 0)
        for sig in errors.get("signatures") or []:
            key = (str(sig.get("level")), str(sig.get("signature")))
            j = joined.setdefault(key, {"level": key[0], "signature": key[1], "count": 0, "hosts": {}, "shards": [],
                                        "example": sig.get("example")})
            j["count"] += int(sig.get("count") or 0)
            for host, n in (sig.get("hosts") or {}).items():
                j["hosts"][str(host)] = j["hosts"].get(str(host), 0) + int(n or 0)
            if s["file"] not in j["shards"]:
                j["shards"].append(s["file"])
    ranked = sorted(joined.values(), key=lambda j: (-j["count"], -len(j["hosts"]), j["signature"]))
    for j in ranked:
        j["host_count"] = len(j["hosts"])
    return {"entries": entries, "distinct": len(ranked), "shown": min(top, len(ranked)), "top": ranked[:top]}
