"""Evaluate one planned task on a host without transferring bulk data (for ``process-test``).

The task is the one ``collect`` would run (:mod:`collector.plan`); the file
selection (:func:`collector.engine.artifacts.locate`), the privilege rule
(:class:`collector.transport.host.Host`) and the command outcome
(:func:`collector.engine.artifacts.apply_outcome`) are collect's own, so the
predicted outcome is what collect will record: ok, skipped, missing, denied,
failed or timed_out.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from collector.bundle.casedoc import human_size
from collector.bundle.manifest import ArtifactResult
from collector.defaults import PROCESS_TEST_TIMEOUT
from collector.engine.artifacts import apply_outcome, locate, unmet_requirements
from collector.errors import ArtifactError
from collector.plan import Task, Window, uses_sudo
from collector.transport.base import SinkFull
from collector.transport.host import Host
from probes.spec import Artifact

SAMPLE = 1 << 16
FILE_SAMPLE = 20  # files per artifact whose readability is proven
HOW_FILE = "cat -- PATH (tail -c +N for logs over the cap)"
HOW_STATS = "sqlite3 PATH 'VACUUM INTO tmp' on the host, else copy PATH + PATH-wal, verified locally"


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
    """How an artifact is retrieved — one runbook row — and the outcome collect will record."""

    probe: str
    artifact: str
    kind: str
    how: str  # command or "cat -- PATH"
    privilege: str  # "login user" / "sudo" / "root"
    files: list[tuple[str, int]] = field(default_factory=list)
    status: str = ""  # the outcome predicted for collect (ok / skipped / missing / denied / failed / timed_out)


def _privilege(host: Host, art: Artifact) -> str:
    if host.is_root:
        return "root"
    return "sudo" if uses_sudo(art, host) else "login user"


def evaluate_task(host: Host, task: Task, window: Window, cap: int) -> tuple[list[Finding], Retrieval, int]:
    """Findings, the runbook row (with the predicted outcome), and the bytes this task adds to a bundle."""
    art = task.artifact
    subject = task.name
    name = host.host
    level = "warn" if art.optional else "fail"
    kind_how = art.command or (HOW_FILE if art.kind != "stats" else HOW_STATS)
    row = Retrieval(task.probe, art.name, art.kind, kind_how, _privilege(host, art))
    skip = unmet_requirements(host, art)
    if skip:
        row.status = "skipped"
        return [Finding(name, subject, "pass" if art.optional else "warn", f"skipped: {skip}")], row, 0
    if art.kind in ("version", "command", "check"):
        return _evaluate_command(host, task, row, level)
    try:
        files, _ = locate(host, art, window)
    except ArtifactError as exc:
        row.status = exc.status
        remedy = ("fix the path (set the probe variable with --var or in the inventory)" if exc.status == "missing"
                  else f"grant {host.user} access to the directory, or allow sudo (artifact needs_root)")
        detail = f"nothing matches {', '.join(art.paths)}" if exc.status == "missing" else exc.reason
        return [Finding(name, subject, level, detail, remedy)], row, 0
    row.files = [(f.path, f.size) for f in files]
    unreadable: list[tuple[str, str]] = []
    with_sudo = 0
    for f in files[:FILE_SAMPLE]:  # a sample is enough to prove access
        ok, err = _readable(host, f.path, False)
        if ok:
            continue
        if uses_sudo(art, host) and _readable(host, f.path, True)[0]:
            with_sudo += 1
        else:
            unreadable.append((f.path, err))
    total = sum(min(f.size, art.max_size or cap) for f in files)
    summary = f"{len(files)} file(s), {human_size(sum(f.size for f in files))}"
    findings: list[Finding] = []
    if unreadable:
        path, err = unreadable[0]
        hint = (f"add {host.user} to sudoers for `cat {path}` (or `{art.paths[0]}`), or rerun with --sudo-password"
                if art.needs_root else
                f"grant {host.user} read access to {path} (group or ACL), or mark the artifact needs_root")
        row.status = "denied"
        findings.append(Finding(name, subject, level, f"{summary}; {len(unreadable)} not readable: {path} ({err})",
                                hint))
        return findings, row, 0
    row.status = "ok"
    via = f"; {with_sudo} only with sudo" if with_sudo else ""
    findings.append(Finding(name, subject, "pass", f"{summary}, readable{via}"))
    if art.kind == "stats":
        findings.extend(_inspect_stats(host, subject, files[0].path, uses_sudo(art, host)))
    return findings, row, int(total * (0.25 if art.kind != "stats" else 0.5))


def _readable(host: Host, path: str, as_root: bool) -> tuple[bool, str]:
    q = shlex.quote(path)
    _, res = host.capture(f"test -r {q} && head -c 1 -- {q} >/dev/null", as_root=as_root, limit=SAMPLE)
    return res.exit_code == 0, res.last_error


def _evaluate_command(host: Host, task: Task, row: Retrieval, level: str) -> tuple[list[Finding], Retrieval, int]:
    """Run the command as collect would (same privilege), keeping only the head of its output."""
    art = task.artifact
    assert art.command is not None
    buf = bytearray()

    def sink(data: bytes) -> None:
        buf.extend(data)
        if len(buf) > SAMPLE:
            raise SinkFull()

    limit = min(art.timeout, PROCESS_TEST_TIMEOUT)
    try:
        out = host.run(art.command, sink, timeout=limit, as_root=art.needs_root, env=dict(art.env))
    except ArtifactError as exc:
        row.status = exc.status
        return [Finding(host.host, task.name, level, exc.reason)], row, 0
    if out.stopped:  # enough output seen: it runs
        out.exit_code = 0
    res = ArtifactResult(host.host, task.probe, art.name, art.kind, art.command)
    text = buf[:SAMPLE].decode("utf-8", "replace")
    if out.timed_out and art.timeout > limit:
        row.status = "ok"
        return [Finding(host.host, task.name, "warn", f"still running after {limit:g}s (collect allows "
                        f"{art.timeout:g}s)", "check the command is not hanging")], row, len(buf)
    apply_outcome(res, art, out, text)
    row.status = res.status
    if res.status != "ok":
        remedy = (f"allow {host.user} sudo for `{art.command}` (or rerun with --sudo-password)"
                  if res.status == "denied" else "check the install path variable (probes show NAME lists them)")
        return [Finding(host.host, task.name, level, f"{res.status}: {res.error}", remedy)], row, 0
    if art.kind == "version":
        return [Finding(host.host, task.name, "pass", f"version: {(res.version or '')[:100]}")], row, len(text)
    if art.kind == "check":
        assert res.check is not None
        return [Finding(host.host, task.name, res.check["result"], f"check: {res.check['message']}",
                        res.check["remedy"])], row, len(text)
    return [Finding(host.host, task.name, "pass", "runs")], row, max(len(buf), 4096)


def _inspect_stats(host: Host, subject: str, path: str, as_root: bool) -> list[Finding]:
    if not host.which("sqlite3"):
        return [Finding(host.host, subject, "warn", "sqlite3 not on the host: the database will be copied with its "
                        "WAL and verified locally (may need retries while the server writes)",
                        "install sqlite3 on the host for consistent snapshots")]
    out, res = host.capture(f"sqlite3 -readonly {shlex.quote(path)} 'PRAGMA quick_check;'", as_root=as_root)
    if res.exit_code == 0 and out.strip().startswith("ok"):
        return [Finding(host.host, subject, "pass", "database opens read-only and passes quick_check")]
    return [Finding(host.host, subject, "fail", f"database does not open cleanly: {(res.stderr or out).strip()[-200:]}",
                    "check the path points at the SQLite statistics file and that it is readable")]
