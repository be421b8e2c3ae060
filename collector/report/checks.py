"""The manifest digested: case fields, hosts, versions, what failed and why, redaction counts, health checks."""

from __future__ import annotations

from collections import Counter
from typing import Any

from collector.bundle.casedoc import version_mismatches

FAILED = ("missing", "denied", "failed", "timed_out")


def _s(v: Any) -> str | None:
    return None if v is None else str(v)


def _arts(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in manifest.get("artifacts", []) if isinstance(a, dict)]


def versions(manifest: dict[str, Any]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for a in _arts(manifest):
        if a.get("kind") == "version" and a.get("version"):
            out.setdefault(str(a.get("host")), {})[str(a.get("probe"))] = str(a["version"])
    return out


def overview(manifest: dict[str, Any]) -> dict[str, Any]:
    """The case section: fields, bundle facts, hosts with their versions and artifact statuses."""
    arts = _arts(manifest)
    vers = versions(manifest)
    hosts = []
    for h in manifest.get("hosts", []):
        if not isinstance(h, dict):
            continue
        name = str(h.get("name"))
        mine = [a for a in arts if a.get("host") == name]
        hosts.append({"name": name, "address": _s(h.get("address")), "status": _s(h.get("status")),
                      "error": _s(h.get("error")), "probes": [str(p) for p in h.get("probes") or []],
                      "versions": vers.get(name, {}),
                      "artifacts": dict(sorted(Counter(str(a.get("status")) for a in mine).items()))})
    case = manifest.get("case") if isinstance(manifest.get("case"), dict) else {}
    redaction = manifest.get("redaction") if isinstance(manifest.get("redaction"), dict) else {}
    by_rule: Counter[str] = Counter()
    files = redaction.get("files") if isinstance(redaction.get("files"), dict) else {}
    for counts in files.values():
        if isinstance(counts, dict):
            by_rule.update({str(k): int(v) for k, v in counts.items() if isinstance(v, int)})
    return {
        "bundle": {"format": _s(manifest.get("format")), "created": _s(manifest.get("created")),
                   "status": _s(manifest.get("status")), "tool": manifest.get("tool"),
                   "window": manifest.get("window")},
        "case": {str(k): v if isinstance(v, str | int | float | bool) or v is None else str(v)
                 for k, v in case.items()},
        "hosts": hosts,
        "version_mismatches": version_mismatches(vers),
        "failures": [{"host": _s(a.get("host")), "probe": _s(a.get("probe")), "artifact": _s(a.get("artifact")),
                      "kind": _s(a.get("kind")), "source": _s(a.get("source")), "status": _s(a.get("status")),
                      "error": _s(a.get("error")), "optional": bool(a.get("optional"))}
                     for a in arts if a.get("status") in FAILED],
        "host_failures": [{"host": h["name"], "status": h["status"], "error": h["error"]}
                          for h in hosts if h["status"] == "failed"],
        "redaction": {"enabled": bool(redaction.get("enabled")), "total": int(redaction.get("total") or 0),
                      "by_rule": dict(by_rule.most_common()), "files": len(files)},
    }


def health_checks(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ``check`` artifact's result, worst first (fail, warn, pass), per host."""
    out = []
    for a in _arts(manifest):
        if a.get("kind") != "check":
            continue
        c = a.get("check") if isinstance(a.get("check"), dict) else None
        result = str(c.get("result")) if c else ("fail" if a.get("status") in FAILED else "unknown")
        out.append({"host": _s(a.get("host")), "probe": _s(a.get("probe")), "check": _s(a.get("artifact")),
                    "result": result, "value": c.get("value") if c else None,
                    "message": _s(c.get("message")) if c else _s(a.get("error")),
                    "remedy": _s(c.get("remedy")) if c else None})
    order = {"fail": 0, "warn": 1, "unknown": 2, "pass": 3}
    out.sort(key=lambda r: (order.get(r["result"], 2), r["host"] or "", r["probe"] or "", r["check"] or ""))
    return out
