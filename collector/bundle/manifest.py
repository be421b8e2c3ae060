"""The manifest: what was collected, from where, and how each artifact ended.

``manifest.json`` is a versioned contract (``"format": "casepack/1"``),
documented in ``docs/manifest.md``. Readers must ignore keys they do not know.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from collector.defaults import FAILED, STATUSES  # noqa: F401 - re-exported for readers

FORMAT = "casepack/1"
# ok: collected; missing: not found; skipped: not applicable (a required command is absent);
# denied: no permission; failed: any other error; timed_out: took longer than its timeout;
# interrupted: cut or never started because the run was stopped (Ctrl-C, SIGTERM, SIGHUP)


@dataclass
class ArtifactResult:
    host: str
    probe: str
    artifact: str
    kind: str
    source: str  # path or command
    status: str = "ok"
    path: str | None = None  # path inside the bundle
    size: int = 0
    source_size: int | None = None
    sha256: str | None = None
    error: str | None = None
    truncated: bool = False
    optional: bool = False
    needs_root: bool = False
    duration: float = 0.0
    redactions: dict[str, int] = field(default_factory=dict)
    exit_code: int | None = None
    method: str | None = None  # how a stats database was copied, or "sudo"
    version: str | None = None  # version artifacts: the first line of output
    check: dict[str, Any] | None = None  # check artifacts: result, value, message, remedy
    notes: list[str] = field(default_factory=list)
    window: str | None = None  # the time window applied to this artifact, or why none

    @property
    def counts_as_failure(self) -> bool:
        return self.status in FAILED and not self.optional


@dataclass
class HostResult:
    name: str
    address: str
    transport: str
    status: str = "ok"  # ok / partial / failed
    error: str | None = None
    probes: list[str] = field(default_factory=list)
    duration: float = 0.0
    facts: dict[str, str] = field(default_factory=dict)


@dataclass
class Manifest:
    tool: dict[str, str]
    created: str
    case: dict[str, Any]
    window: dict[str, str | None]
    options: dict[str, Any]
    hosts: list[HostResult] = field(default_factory=list)
    case_id: str | None = None  # one case across shards and resumed runs
    inventory: list[str] = field(default_factory=list)  # bundle names of every host selected before sharding
    shard: dict[str, Any] | None = None  # {"index": I, "count": N} or {"group": NAME}; None: not sharded
    resume_of: list[dict[str, str]] | None = None  # [{"bundle", "sha256"}] this run completes; None: a first run
    artifacts: list[ArtifactResult] = field(default_factory=list)
    redaction: dict[str, Any] = field(default_factory=dict)
    status: str = "complete"  # complete / partial / interrupted
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # bundle's own files: {path: {size, sha256}}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "tool": self.tool,
            "created": self.created,
            "status": self.status,
            "case": self.case,
            "window": self.window,
            "options": self.options,
            "case_id": self.case_id,
            "inventory": self.inventory,
            "shard": self.shard,
            "resume_of": self.resume_of,
            "hosts": [asdict(h) for h in self.hosts],
            "artifacts": [asdict(a) for a in self.artifacts],
            "redaction": self.redaction,
            "files": self.files,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False).encode() + b"\n"

    def versions(self) -> dict[str, dict[str, str]]:
        """``{host: {probe: version line}}`` from the version artifacts."""
        out: dict[str, dict[str, str]] = {}
        for a in self.artifacts:
            if a.kind == "version" and a.version:
                out.setdefault(a.host, {})[a.probe] = a.version
        return out
