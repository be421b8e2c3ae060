"""Inspect one artifact on a host without transferring it (for ``process-test``).

Answers: does it exist, how big, can the login user read it, can sudo, does the
version command run, does the statistics database open — and records how a real
collection would retrieve it, for the runbook.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from collector.bundle.casedoc import human_size
from collector.engine.artifacts import rotated_variants
from collector.engine.checks import evaluate
from collector.errors import ArtifactError
from collector.transport.base import FileInfo, SinkFull, Transport
from probes.spec import Artifact

SAMPLE = 1 << 16


@dataclass
class Finding:
    """One pass / warn / fail line."""

    host: str
    subject: str  # "connection", "sudo", "<probe>/<artifact>", "disk", …
    result: str  # pass / warn / fail
    detail: str
    remedy: str = ""


@dataclass
class Retrieval:
    """How an artifact is retrieved — one runbook row."""

    probe: str
    artifact: str
    kind: str
    how: str  # command or "cat -- PATH"
    privilege: str  # "login user" / "sudo" / "-"
    files: list[tuple[str, int]] = field(default_factory=list)
    status: str = ""


def _capture(t: Transport, command: str, as_root: bool = False, timeout: float = 20) -> tuple[str, int | None, str]:
    buf = bytearray()

    def sink(data: bytes) -> None:
        buf.extend(data)
        if len(buf) > SAMPLE:
            raise SinkFull()

    res = t.run(command, sink, timeout=timeout, as_root=as_root)
    code = 0 if res.stopped else res.exit_code
    return buf[:SAMPLE].decode("utf-8", "replace"), code, res.stderr


def _readable(t: Transport, path: str, as_root: bool) -> tuple[bool, str]:
    _, code, err = _capture(t, f"test -r {shlex.quote(path)} && head -c 1 -- {shlex.quote(path)} >/dev/null",
                            as_root=as_root)
    return code == 0, err.strip().splitlines()[-1] if err.strip() else ""


def inspect_artifact(t: Transport, host: str, probe: str, art: Artifact, user: str, cap: int,
                     sudo_ok: bool) -> tuple[list[Finding], Retrieval, int]:
    """Findings, the runbook row, and the estimated bytes this artifact adds to a bundle."""
    subject = f"{probe}/{art.name}"
    root_note = "sudo" if art.needs_root and not t.is_root else "login user"
    if art.kind in ("version", "command", "check"):
        return _inspect_command(t, host, subject, probe, art, root_note, sudo_ok)
    rows: list[FileInfo] = []
    for pattern in art.paths:
        variants = rotated_variants(pattern) if art.kind == "log" else (pattern,)
        found = [f for f in t.glob_all(variants) if f.is_file]
        if not found and art.needs_root and not t.is_root and sudo_ok:
            found = [f for f in t.glob_all(variants, as_root=True) if f.is_file]
        rows.extend(f for f in found if f.path not in {r.path for r in rows})
        if art.first_match and rows:
            break
    if art.kind == "log":
        rows.sort(key=lambda f: f.mtime, reverse=True)
        if art.max_files:
            rows = rows[: art.max_files]
    how = "cat -- PATH (tail -c +N for logs over the cap)" if art.kind != "stats" else \
        "sqlite3 PATH 'VACUUM INTO tmp' on the host, else copy PATH + PATH-wal, verified locally"
    retrieval = Retrieval(probe, art.name, art.kind, how, root_note, [(f.path, f.size) for f in rows])
    level = "warn" if art.optional else "fail"
    if not rows:
        retrieval.status = "not found"
        return [Finding(host, subject, level, f"nothing matches {', '.join(art.paths)}",
                        f"fix the path (set the probe variable with --var or in the inventory), or check that "
                        f"{user} can list the directory")], retrieval, 0
    findings = []
    unreadable = []
    needs_sudo = []
    for f in rows[:20]:  # a sample is enough to prove access
        ok, err = _readable(t, f.path, False)
        if ok:
            continue
        if art.needs_root and not t.is_root and sudo_ok and _readable(t, f.path, True)[0]:
            needs_sudo.append(f.path)
        else:
            unreadable.append((f.path, err))
    total = sum(min(f.size, art.max_size or cap) for f in rows)
    summary = f"{len(rows)} file(s), {human_size(sum(f.size for f in rows))}"
    if unreadable:
        path, err = unreadable[0]
        hint = (f"add {user} to sudoers for `cat {path}` (or `{art.paths[0]}`)" if art.needs_root else
                f"grant {user} read access to {path} (group or ACL), or mark the artifact needs_root")
        findings.append(Finding(host, subject, level, f"{summary}; {len(unreadable)} not readable: {path} ({err})",
                                hint))
        retrieval.status = "not readable"
    else:
        via = f"; {len(needs_sudo)} only with sudo" if needs_sudo else ""
        findings.append(Finding(host, subject, "pass", f"{summary}, readable{via}"))
        retrieval.status = "ok"
        if needs_sudo:
            retrieval.privilege = "sudo"
    if art.kind == "stats":
        findings.extend(_inspect_stats(t, host, subject, rows[0].path, art.needs_root and sudo_ok))
    return findings, retrieval, int(total * (0.25 if art.kind != "stats" else 0.5))


def _inspect_command(t: Transport, host: str, subject: str, probe: str, art: Artifact, privilege: str,
                     sudo_ok: bool) -> tuple[list[Finding], Retrieval, int]:
    assert art.command is not None
    retrieval = Retrieval(probe, art.name, art.kind, art.command, privilege)
    missing = [c for c in art.requires if not t.which(c)]
    if missing:
        retrieval.status = "skipped"
        return [Finding(host, subject, "warn" if not art.optional else "pass",
                        f"skipped: {', '.join(missing)} not installed")], retrieval, 0
    if art.kind == "command":  # diagnostic commands may be slow: only prove the program is there
        m = re.match(r"\s*([A-Za-z0-9_.+-]+)(?=[\s;|&]|$)", art.command)
        program = m.group(1) if m else ""
        present = t.which(program) if program else True
        retrieval.status = "ok" if present else "missing"
        if present:
            return [Finding(host, subject, "pass", f"{program} available")], retrieval, 4096
        return [Finding(host, subject, "warn", f"{program} not found on the host",
                        f"install {program} or drop the artifact")], retrieval, 0
    if art.needs_root and not t.is_root and not sudo_ok:
        retrieval.status = "needs sudo"
        return [Finding(host, subject, "warn" if art.optional else "fail", "needs root and sudo is not available",
                        f"allow sudo for `{art.command}`")], retrieval, 0
    try:
        out, code, err = _capture(t, art.command, as_root=art.needs_root, timeout=min(art.timeout, 20))
    except ArtifactError as exc:
        return [Finding(host, subject, "fail", exc.reason)], retrieval, 0
    if art.kind == "version":
        line = next((ln.strip() for ln in out.splitlines() if ln.strip()), "")
        retrieval.status = "ok" if code == 0 else f"exit {code}"
        if code == 0 and line:
            return [Finding(host, subject, "pass", f"version: {line[:100]}")], retrieval, len(out)
        return [Finding(host, subject, "fail", f"version command failed (exit {code}): {err[-200:]}",
                        "check the install path variable (probes show NAME lists them)")], retrieval, 0
    assert art.check is not None
    verdict = evaluate(art.check, out, code)
    retrieval.status = verdict["result"]
    return [Finding(host, subject, verdict["result"], f"check: {verdict['message']}", verdict["remedy"])], \
        retrieval, len(out)


def _inspect_stats(t: Transport, host: str, subject: str, path: str, as_root: bool) -> list[Finding]:
    if not t.which("sqlite3"):
        return [Finding(host, subject, "warn", "sqlite3 not on the host: the database will be copied with its WAL "
                        "and verified locally (may need retries while the server writes)",
                        "install sqlite3 on the host for consistent snapshots")]
    out, code, err = _capture(t, f"sqlite3 -readonly {shlex.quote(path)} 'PRAGMA quick_check;'", as_root=as_root)
    if code == 0 and out.strip().startswith("ok"):
        return [Finding(host, subject, "pass", "database opens read-only and passes quick_check")]
    return [Finding(host, subject, "fail", f"database does not open cleanly: {(err or out).strip()[-200:]}",
                    "check the path points at the SQLite statistics file and that it is readable")]
