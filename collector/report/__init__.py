"""``casepack report``: a bundle turned into a diagnosis-ready summary (text, JSON, HTML).

``build_report`` makes one JSON-able dict (format ``casepack-report/1``, documented in
docs/report.md); the renderers only format it. Logs are streamed, statistics
databases aggregated in SQL: memory stays bounded whatever the bundle's size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from collector import __version__
from collector.report.checks import health_checks, overview
from collector.report.configdiff import config_diffs
from collector.report.load import Source, load_source
from collector.report.logscan import LogScanner
from collector.report.parallel import LogFile, scan_files
from collector.report.signatures import OTHER, SignatureTable
from collector.report.stats import summarize_db
from collector.report.timeline import spike

FORMAT = "casepack-report/1"
TOP = 50


def iso(ts: float | None) -> str | None:
    """UTC ISO 8601 (seconds) of an epoch, as every time in the report."""
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None


@dataclass
class Analysis:
    report: dict[str, Any]
    signatures: SignatureTable


def _year(manifest: dict[str, Any]) -> int:
    try:
        return int(str(manifest.get("created", ""))[:4])
    except ValueError:
        return datetime.now(UTC).year


def _hosts(manifest: dict[str, Any]) -> list[str]:
    return [str(h.get("name")) for h in manifest.get("hosts", []) if isinstance(h, dict)]


def scan_logs(src: Source, workers: int | None = None) -> LogScanner:
    """All log artifacts, in (host, path) order; several big files on several cores (report/parallel.py)."""
    year = _year(src.manifest)
    scanner = LogScanner(year)
    logs = sorted((str(a.get("host")), str(a.get("path"))) for a in src.manifest.get("artifacts", [])
                  if isinstance(a, dict) and a.get("kind") == "log" and a.get("path"))
    scan_files(scanner, year, [LogFile(host, rel, src.member(rel)) for host, rel in logs], workers)
    return scanner


def _signature(s: Any) -> dict[str, Any]:
    return {"id": s.id, "level": s.level, "signature": s.text, "count": s.count,
            "hosts": dict(sorted(s.hosts.items())), "first_seen": iso(s.first_seen), "last_seen": iso(s.last_seen),
            "example": s.example, "example_at": {"host": s.example_at[0], "file": s.example_at[1],
                                                 "line": s.example_at[2]}}


def errors_section(scanner: LogScanner, top: int) -> dict[str, Any]:
    ranked = scanner.table.ranked()
    by_level: dict[str, int] = {}
    by_host: dict[str, dict[str, int]] = {}
    for s in ranked:
        by_level[s.level] = by_level.get(s.level, 0) + s.count
        for h, n in s.hosts.items():
            cls = "warn" if s.level == "WARN" else "error"
            by_host.setdefault(h, {"error": 0, "warn": 0})[cls] += n
    st = scanner.stats
    return {"files": st.files, "lines": st.lines, "bytes": st.bytes, "truncated_lines": st.truncated_lines,
            "unreadable": st.unreadable[:100], "entries": scanner.table.entries, "by_level": by_level,
            "by_host": dict(sorted(by_host.items())), "distinct_signatures": len(ranked),
            "other_bucket": any(s.text == OTHER for s in ranked), "shown": min(top, len(ranked)),
            "signatures": [_signature(s) for s in ranked[:top]]}


def stats_section(src: Source) -> list[dict[str, Any]]:
    out = []
    for a in src.manifest.get("artifacts", []):
        if not isinstance(a, dict) or a.get("kind") != "stats" or not a.get("path"):
            continue
        path = src.member(a.get("path"))
        entry = {"host": str(a.get("host")), "probe": str(a.get("probe")), "artifact": str(a.get("artifact")),
                 "file": str(a.get("path"))}
        summary = summarize_db(path) if path else {"tables": [], "error": "not in the bundle", "notes": []}
        for t in summary["tables"]:
            tr = t.get("time_range")
            if tr:
                t["time_range"] = {"start": iso(tr["start"]), "end": iso(tr["end"])}
        out.append({**entry, **summary})
    return out


def build_report(src: Source, top: int = TOP) -> Analysis:
    """Everything ``casepack report`` shows, as one dict (see docs/report.md)."""
    started = time.monotonic()
    manifest = src.manifest
    scanner = scan_logs(src)
    timeline = scanner.timeline.result(_hosts(manifest))
    t_out = dict(timeline)
    t_out["start"] = iso(timeline["start"]) if timeline["start"] is not None else None
    sp = spike(timeline) if timeline["start"] is not None else None
    report = {
        "format": FORMAT,
        "generated": iso(time.time()),
        "tool": {"name": "casepack", "version": __version__},
        "source": src.label,
        **overview(manifest),
        "errors": errors_section(scanner, top),
        "timeline": {**t_out, "spike": {**sp, "at": iso(sp["at"]), "started": iso(sp["started"])} if sp else None},
        "config_diffs": config_diffs(src),
        "stats": stats_section(src),
        "checks": health_checks(manifest),
    }
    report["duration"] = round(time.monotonic() - started, 3)
    return Analysis(report, scanner.table)


__all__ = ["FORMAT", "Analysis", "Source", "build_report", "iso", "load_source"]
