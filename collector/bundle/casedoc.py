"""What SUPPORT_CASE.md is rendered from: the manifest, digested for a reader."""

from __future__ import annotations

from typing import Any

from collector.bundle.manifest import FORMAT, Manifest


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def version_mismatches(versions: dict[str, dict[str, str]]) -> list[str]:
    """One line per probe whose version differs between hosts."""
    by_probe: dict[str, dict[str, list[str]]] = {}
    for host, probes in versions.items():
        for probe, version in probes.items():
            by_probe.setdefault(probe, {}).setdefault(version, []).append(host)
    return [
        f"{probe}: " + ", ".join(f"{v} on {', '.join(sorted(h))}" for v, h in sorted(seen.items()))
        for probe, seen in sorted(by_probe.items())
        if len(seen) > 1
    ]


def case_context(manifest: Manifest, process_test: bool = False) -> dict[str, Any]:
    arts = manifest.artifacts
    hosts = []
    for h in manifest.hosts:
        mine = [a for a in arts if a.host == h.name]
        hosts.append({"name": h.name, "address": h.address, "status": h.status, "error": h.error,
                      "ok": sum(a.status == "ok" for a in mine), "total": len(mine)})
    versions = manifest.versions()
    return {
        "case": manifest.case,
        "window": manifest.window,
        "tool": manifest.tool,
        "created": manifest.created,
        "format": FORMAT,
        "process_test": process_test,
        "versions": versions,
        "version_mismatch": version_mismatches(versions),
        "products": sorted({p for v in versions.values() for p in v}),
        "hosts": hosts,
        "checks": [a for a in arts if a.check],
        "problems": [a for a in arts if a.status != "ok" and a.status != "skipped"],
        "artifact_count": sum(1 for a in arts if a.path),
        "total_size": human_size(sum(a.size for a in arts)),
        "redaction_total": manifest.redaction.get("total", 0),
    }
