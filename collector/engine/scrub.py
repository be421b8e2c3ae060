"""Metadata passes the redactor too: what the manifest, SUPPORT_CASE.md, index and terminal show.

An artifact's ``source`` (a command after its variables were put in), a failing
command's stderr, check messages, notes, host errors, facts and case fields can
all carry a secret; each string goes through the run's redactor (which also knows
casepack's own secrets by value) before anything is written or printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collector.bundle.manifest import ArtifactResult, HostResult
from redaction import Redactor


def scrub_text(redactor: Redactor | None, text: str | None, name: str = "metadata") -> str | None:
    if redactor is None or not text:
        return text
    return redactor.redact_text(text, name)


def scrub_artifact(redactor: Redactor | None, res: ArtifactResult) -> ArtifactResult:
    """Clean every free-text field of an artifact's record in place (and return it)."""
    if redactor is None:
        return res
    res.source = scrub_text(redactor, res.source, "manifest") or ""
    res.error = scrub_text(redactor, res.error, "manifest")
    res.version = scrub_text(redactor, res.version, "manifest")
    res.notes = [scrub_text(redactor, n, "manifest") or "" for n in res.notes]
    if res.check:
        res.check = {k: (scrub_text(redactor, v, "manifest") if isinstance(v, str) else v)
                     for k, v in res.check.items()}
    return res


def scrub_host(redactor: Redactor | None, host: HostResult) -> HostResult:
    if redactor is None:
        return host
    host.error = scrub_text(redactor, host.error, "manifest")
    host.facts = {k: scrub_text(redactor, v, "manifest") or "" for k, v in host.facts.items()}
    return host


def scrub_mapping(redactor: Redactor | None, values: Mapping[str, Any]) -> dict[str, Any]:
    """Case fields and similar string tables."""
    if redactor is None:
        return dict(values)
    return {k: (scrub_text(redactor, v, "case") if isinstance(v, str) else v) for k, v in values.items()}
