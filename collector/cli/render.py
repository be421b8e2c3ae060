"""Terminal output: the one-screen summary after a collection (live progress: :mod:`collector.cli.progress`)."""

from __future__ import annotations

from collector.bundle.casedoc import human_size
from collector.engine.run import CollectResult


def summary(result: CollectResult) -> str:
    """The one-screen summary printed after a collection."""
    m = result.manifest
    arts = m.artifacts
    lines = [
        f"bundle:   {result.path}",
        f"size:     {human_size(result.size)} ({result.size} bytes), mode 0600",
        f"sha256:   {result.sha256}  (check: sha256sum -c {result.checksum.name if result.checksum else '-'})",
        f"encrypted: {result.encryption}" + (f"; manifest signed by {result.signer}" if result.signer else ""),
        *([f"mapping:  {result.mapping}  (pseudonyms → real values: keep it, never send it)"]
          if result.mapping else []),
        f"status:   {m.status} — {sum(a.status == 'ok' for a in arts)} of {len(arts)} artifacts collected, "
        f"{m.redaction.get('total', 0)} secrets redacted",
        "",
        "hosts:",
    ]
    for h in m.hosts:
        mine = [a for a in arts if a.host == h.name]
        ok = sum(a.status == "ok" for a in mine)
        lines.append(f"  {h.name:<20} {h.status:<8} {ok}/{len(mine)} artifacts  {h.error or ''}".rstrip())
    versions = m.versions()
    if versions:
        lines += ["", "versions:"]
        for host, probes in versions.items():
            for probe, v in probes.items():
                lines.append(f"  {host:<20} {probe:<10} {v[:90]}")
    problems = [a for a in arts if a.status not in ("ok", "skipped")]
    if problems:
        lines += ["", f"not collected ({len(problems)}):"]
        for a in problems[:10]:
            flag = " (optional)" if a.optional else ""
            lines.append(f"  {a.host} {a.probe}/{a.artifact}: {a.status}{flag} — {a.error}")
        if len(problems) > 10:
            lines.append(f"  … {len(problems) - 10} more in manifest.json")
    flagged = [a for a in arts if a.check and a.check["result"] != "pass"]
    checks = [a for a in arts if a.check]
    if checks:
        lines += ["", f"checks: {len(checks) - len(flagged)} pass, "
                      f"{sum(a.check['result'] == 'warn' for a in flagged)} warn, "
                      f"{sum(a.check['result'] == 'fail' for a in flagged)} fail"]
        for a in flagged:
            lines.append(f"  {a.host} {a.probe}/{a.artifact}: {a.check['result']} — {a.check['message']}")
    lines += ["", f"exit status: {int(result.exit_status)} ({result.exit_status.name.lower()})"]
    return "\n".join(lines)
