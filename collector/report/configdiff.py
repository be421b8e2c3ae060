"""Configuration differences between hosts that run the same probe.

Config files are matched across hosts by probe, artifact and file name (install paths
may differ per host); when a host has two files of one name, by their whole source
path. The content most hosts share is the reference; every other host gets a
unified diff against it.
"""

from __future__ import annotations

import difflib
import hashlib
import posixpath
from collections import Counter
from typing import Any

from collector.report.load import Source

MAX_CONFIG = 1 << 20
MAX_DIFF_LINES = 400


def _key(a: dict[str, Any], dup: bool) -> tuple[str, str, str]:
    src = str(a.get("source") or a.get("path") or "")
    return (str(a.get("probe")), str(a.get("artifact")), src if dup else posixpath.basename(src))


def config_groups(src: Source) -> dict[tuple[str, str, str], dict[str, dict[str, Any]]]:
    """``{(probe, artifact, file): {host: artifact}}`` for config files collected on two or more hosts."""
    arts = [a for a in src.manifest.get("artifacts", []) if isinstance(a, dict) and a.get("kind") == "config"
            and a.get("status") == "ok" and a.get("path")]
    names = Counter((a.get("host"), *_key(a, False)) for a in arts)
    groups: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
    for a in arts:
        dup = names[(a.get("host"), *_key(a, False))] > 1
        groups.setdefault(_key(a, dup), {})[str(a.get("host"))] = a
    return {k: v for k, v in groups.items() if len(v) > 1}


def _read(src: Source, a: dict[str, Any]) -> tuple[list[str] | None, str | None]:
    path = src.member(a.get("path"))
    if path is None:
        return None, "missing from the bundle"
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG:
            return None, f"too large to diff ({size} bytes)"
        data = path.read_bytes()
    except OSError as exc:
        return None, f"unreadable: {exc.strerror}"
    if b"\0" in data:
        return None, "binary"
    return data.decode("utf-8", "replace").splitlines(keepends=True), None


def config_diffs(src: Source) -> list[dict[str, Any]]:
    """The config section of the report: one entry per file name compared, differing ones first."""
    out = []
    for (probe, artifact, name), by_host in sorted(config_groups(src).items()):
        texts: dict[str, list[str]] = {}
        notes = []
        for host, a in sorted(by_host.items()):
            lines, why = _read(src, a)
            if lines is None:
                notes.append(f"{host}: {why}")
            else:
                texts[host] = lines
        digests = {h: hashlib.sha256("".join(t).encode()).hexdigest() for h, t in texts.items()}
        votes = Counter(digests.values())
        entry: dict[str, Any] = {"probe": probe, "artifact": artifact, "file": name, "hosts": sorted(by_host),
                                 "same": [], "reference": None, "differing": [], "notes": notes}
        if texts:
            ref_host = min(texts, key=lambda h: (-votes[digests[h]], h))  # the majority; ties: first host
            ref_digest = digests[ref_host]
            entry["reference"] = ref_host
            entry["same"] = sorted(h for h, d in digests.items() if d == ref_digest)
            for host in sorted(texts):
                if digests[host] == ref_digest:
                    continue
                a_ref, a_host = by_host[ref_host], by_host[host]
                diff = list(difflib.unified_diff(texts[ref_host], texts[host],
                                                 f"{ref_host}:{a_ref.get('source')}", f"{host}:{a_host.get('source')}"))
                cut = len(diff) > MAX_DIFF_LINES
                text = "".join(line if line.endswith("\n") else line + "\n" for line in diff[:MAX_DIFF_LINES])
                entry["differing"].append({"host": host, "diff": text, "truncated": cut,
                                           "changed_lines": sum(1 for d in diff if d[:1] in "+-"
                                                                and not d.startswith(("+++", "---")))})
        out.append(entry)
    out.sort(key=lambda e: (not e["differing"], e["probe"], e["file"]))
    return out
