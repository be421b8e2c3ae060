"""``process-test``: prove before an incident that collection works on the real hosts.

Connects to every host, inspects every artifact of every probe without
transferring bulk data, checks privilege, space, redaction, encryption and the
support plan, and documents how each artifact is retrieved (the runbook).
"""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector import interrupt, secrets
from collector.bundle.casedoc import human_size
from collector.engine.run import CollectRequest, plan_request
from collector.errors import ArtifactError, CasepackError
from collector.fleet import deadline
from collector.fleet.deadline import HostDeadline
from collector.plan import HostPlan, Plan, discover
from collector.preflight.inspect import Finding, Retrieval, evaluate_task
from collector.preflight.selftest import redaction_selftest
from collector.preflight.supportplan import check_support_plan
from collector.transport.host import Host
from redaction import Redactor

THROUGHPUT = 60e6  # bytes/s a collection moves (redaction on, one host), for the estimate
PER_ARTIFACT = 0.05  # seconds of round trips per artifact


@dataclass
class HostReport:
    name: str
    address: str
    transport: str
    facts: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    retrievals: list[Retrieval] = field(default_factory=list)
    estimate_bytes: int = 0
    estimate_seconds: float = 0.0
    duration: float = 0.0


@dataclass
class ProcessReport:
    hosts: list[HostReport]
    findings: list[Finding]  # run-wide: disk, redaction, encryption, support plan
    estimate_bytes: int
    estimate_seconds: float
    duration: float

    @property
    def all_findings(self) -> list[Finding]:
        return [f for h in self.hosts for f in h.findings] + self.findings

    @property
    def failed(self) -> bool:
        return any(f.result == "fail" for f in self.all_findings)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"ok": not self.failed, "duration": round(self.duration, 3),
                "estimate": {"bundle_bytes": self.estimate_bytes, "seconds": round(self.estimate_seconds, 1)},
                "hosts": [asdict(h) for h in self.hosts], "findings": [asdict(f) for f in self.findings]}


@dataclass
class ProcessTestRequest:
    collect: CollectRequest  # hosts, probes, variables, options, jobs, output
    support: dict[str, Any] | None = None
    check_encryption: Any = None  # callable returning findings (recipient parsing lives with encryption)
    max_bundle_size: int | None = None
    has_case_file: bool = False


def run_process_test(req: ProcessTestRequest) -> ProcessReport:
    started = time.monotonic()
    steps = plan_request(req.collect, time.time())  # the very plan collect would run
    cap = req.collect.options.max_file_size
    with ThreadPoolExecutor(max_workers=max(1, req.collect.jobs), initializer=interrupt.worker_thread) as pool:
        hosts = list(pool.map(lambda hp: _test_host(steps, hp, cap, req.collect.host_timeout), steps.hosts))
    total = sum(h.estimate_bytes for h in hosts)
    waves = -(-len(hosts) // max(1, req.collect.jobs))
    seconds = max((h.estimate_seconds for h in hosts), default=0) * waves
    findings = _output_space(req.collect.output, total, req.max_bundle_size)
    findings.append(redaction_selftest())
    if req.check_encryption is not None:
        findings.extend(req.check_encryption())
    findings.extend(check_support_plan(req.support, req.collect.case, req.has_case_file))
    report = ProcessReport(hosts, findings, total, seconds, time.monotonic() - started)
    _scrub(report)
    return report


def _scrub(report: ProcessReport) -> None:
    """Findings and runbook rows quote stderr and commands: they pass the redactor (with casepack's own secrets)."""
    redactor = Redactor()
    for value in secrets.known_values():
        redactor.add_literal(value)
    for f in report.all_findings:
        f.detail = redactor.redact_text(f.detail, "PROCESS.md")
        f.remedy = redactor.redact_text(f.remedy, "PROCESS.md")
    for h in report.hosts:
        h.facts = {k: redactor.redact_text(v, "PROCESS.md") for k, v in h.facts.items()}
        for r in h.retrievals:
            r.how = redactor.redact_text(r.how, "PROCESS.md")


def _test_host(steps: Plan, host_plan: HostPlan, cap: int, host_timeout: float | None = None) -> HostReport:
    target = host_plan.target
    rep = HostReport(target.name, target.address, target.transport)
    started = time.monotonic()
    limit = HostDeadline(host_timeout if host_timeout is not None else target.host_timeout)
    try:
        t = deadline.connect(target.connect, limit)
    except CasepackError as exc:
        rep.findings.append(Finding(target.name, "connection", "fail", exc.message, exc.hint or ""))
        rep.duration = time.monotonic() - started
        return rep
    try:
        rep.facts = dict(t.facts)
        how = ", ".join(f"{k} {v}" for k, v in t.facts.items() if k in ("host_key", "auth", "via"))
        rep.findings.append(Finding(target.name, "connection", "pass", f"reached as {t.user}" + (f"; {how}" if how
                                                                                                else "")))
        discover(steps, host_plan, t)
        for probe_name, error in host_plan.errors:
            rep.findings.append(Finding(target.name, f"{probe_name}/discover", "fail", error))
        _check_sudo(t, rep, any(task.artifact.needs_root for task in host_plan.tasks))
        sudo_line = rep.findings[-1]
        stats_bytes = 0
        for task in host_plan.tasks:
            findings, retrieval, size = evaluate_task(t, task, steps.window, cap)
            rep.findings.extend(findings)
            rep.retrievals.append(retrieval)
            rep.estimate_bytes += size
            if task.artifact.kind == "stats":
                stats_bytes += sum(s for _, s in retrieval.files[:1])
        if limit.passed:
            rep.findings.append(_late(target.name, limit))
        else:
            rep.findings.extend(_host_space(t, target.name, stats_bytes))
        if sudo_line.result == "warn" and any(r.status == "denied" for r in rep.retrievals):
            sudo_line.result = "fail"  # something this host must collect is out of reach without sudo
        moved = sum(min(s, cap) for r in rep.retrievals for _, s in r.files)
        rep.estimate_seconds = 0.5 + moved / THROUGHPUT + PER_ARTIFACT * len(rep.retrievals)
    except ArtifactError:  # a command refused after the deadline outside an artifact (sudo check, df)
        if not limit.passed:
            raise
        rep.findings.append(_late(target.name, limit))
    finally:
        t.close()
    rep.duration = time.monotonic() - started
    return rep


def _late(host: str, limit: HostDeadline) -> Finding:
    return Finding(host, "host-timeout", "fail", f"{limit.message} before every artifact was checked",
                   "raise --host-timeout, or find why the host is slow")


def _check_sudo(t: Host, rep: HostReport, wanted: bool) -> bool:
    host, user = rep.name, t.user
    if t.is_root:
        rep.findings.append(Finding(host, "sudo", "pass", "connected as root: no sudo needed"))
        return True
    res = t.sudo_works()
    if res.exit_code == 0:
        rep.findings.append(Finding(host, "sudo", "pass", f"{user} can sudo"))
        return True
    reason = res.last_error or f"exit {res.exit_code}"
    if not wanted:
        rep.findings.append(Finding(host, "sudo", "pass", f"no artifact needs root (sudo would fail: {reason})"))
        return False
    if "password is required" in reason:
        remedy = "rerun with --sudo-password (or --sudo-password-env NAME), or grant NOPASSWD for the read commands"
    else:
        remedy = f"ask the host's admins to allow {user} `sudo cat` on the root-only paths listed below"
    # a warning until an artifact proves it needs sudo (then the caller makes it a failure)
    rep.findings.append(Finding(host, "sudo", "warn", f"sudo refused for {user}: {reason}", remedy))
    return False


def _host_space(t: Host, host: str, needed: int) -> list[Finding]:
    if not needed:
        return []
    out = bytearray()
    t.run("df -Pk \"${TMPDIR:-/tmp}\" | awk 'NR==2 {print $4}'", out.extend, timeout=15)
    try:
        free = int(out.decode().strip()) * 1024
    except ValueError:
        return [Finding(host, "host temp space", "warn", "cannot read free space of the host's temp dir")]
    if free < needed * 1.2:
        detail = f"{human_size(free)} free in the host's temp dir, a database snapshot needs {human_size(needed)}"
        return [Finding(host, "host temp space", "fail", detail,
                        "free space in /tmp on the host or set TMPDIR for the login user")]
    return [Finding(host, "host temp space", "pass", f"{human_size(free)} free for a {human_size(needed)} snapshot")]


def _output_space(output: Path | None, estimate: int, limit: int | None) -> list[Finding]:
    directory = output if output and output.is_dir() else (output.parent if output else Path.cwd())
    out = []
    try:
        free = shutil.disk_usage(directory).free
    except OSError as exc:
        return [Finding("-", "output space", "fail", f"cannot use {directory}: {exc.strerror}", "choose -o DIR")]
    need = int(estimate * 1.2) + (1 << 20)
    if free < need:
        detail = f"{human_size(free)} free in {directory}, the bundle needs about {human_size(need)}"
        out.append(Finding("-", "output space", "fail", detail, "free space or write the bundle elsewhere with -o DIR"))
    else:
        out.append(Finding("-", "output space", "pass", f"{human_size(free)} free in {directory} for a bundle of about "
                           f"{human_size(estimate)}"))
    if limit is not None and estimate > limit:
        out.append(Finding("-", "bundle size", "fail", f"estimated bundle {human_size(estimate)} exceeds the limit "
                           f"{human_size(limit)}", "narrow --since, lower --max-file-size or max_files"))
    return out
