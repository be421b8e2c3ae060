"""The collection engine: probes × hosts → artifacts → one bundle."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from collector import __version__, interrupt, secrets
from collector.bundle import signing
from collector.bundle.casedoc import case_context
from collector.bundle.crypto import Encryption, fingerprint
from collector.bundle.index import build_index
from collector.bundle.manifest import ArtifactResult, HostResult, Manifest
from collector.bundle.writer import BundleWriter
from collector.casefile import render_case
from collector.defaults import ARTIFACT_JOBS
from collector.engine.artifacts import ArtifactCollector, RunOptions
from collector.engine.scrub import scrub_artifact, scrub_host, scrub_mapping
from collector.errors import CasepackError, ExitStatus, InputError
from collector.hosts.target import HostTarget, safe_name
from collector.plan import HostPlan, Plan, Task, build_plan, discover, make_window
from probes.spec import Probe
from redaction import RedactionConfig, Redactor
from redaction.pseudonym import save_mapping


class Reporter(Protocol):
    def host_started(self, host: str) -> None: ...

    def artifact_started(self, host: str, task: str, total: int) -> None: ...  # total: the host's tasks

    def artifact_done(self, result: ArtifactResult) -> None: ...

    def host_done(self, result: HostResult) -> None: ...


class NullReporter:
    def host_started(self, host: str) -> None:
        pass

    def artifact_started(self, host: str, task: str, total: int) -> None:
        pass

    def artifact_done(self, result: ArtifactResult) -> None:
        pass

    def host_done(self, result: HostResult) -> None:
        pass


@dataclass
class CollectRequest:
    hosts: list[HostTarget]
    probes: list[Probe]
    output: Path | None = None
    case: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)  # case file and --var: override hosts
    options: RunOptions = field(default_factory=RunOptions)
    jobs: int = 4
    template: str | None = None
    label: str | None = None
    process_test: bool = False
    extra_files: dict[str, bytes] = field(default_factory=dict)  # e.g. PROCESS.md
    encryption: Encryption | None = None  # recipients / passphrase / signing key; None: plain, unsigned


@dataclass
class CollectResult:
    path: Path
    size: int
    manifest: Manifest
    exit_status: ExitStatus
    sha256: str | None = None  # of the bundle file as written (also in ``checksum``)
    checksum: Path | None = None  # ``<bundle>.sha256`` beside it
    encryption: str = "none"
    signer: str | None = None  # fingerprint of the manifest's signing key
    mapping: Path | None = None  # with --pseudonymize: where the pseudonym mapping went (0600, beside the bundle)


def bundle_path(output: Path | None, label: str, when: datetime) -> Path:
    name = f"casepack-{label}-{when.strftime('%Y%m%dT%H%M%SZ')}.tar.zst"
    if output is None:
        return Path.cwd() / name
    if output.is_dir():
        return output / name
    if not output.parent.is_dir():
        raise InputError(f"output directory {output.parent} does not exist")
    return output


def collect(request: CollectRequest, reporter: Reporter | None = None) -> CollectResult:
    """Run the collection and write the bundle. Raises :class:`CasepackError` when nothing is usable."""
    reporter = reporter or NullReporter()
    if not request.hosts:
        raise InputError("no hosts to collect from")
    if not request.probes:
        raise InputError("no probes selected")
    started = datetime.now(UTC)
    steps = plan_request(request, started.timestamp())
    opts = request.options
    redactor = _redactor(request) if opts.redact else None
    alias = _alias(redactor)
    label = safe_name(request.label or request.case.get("label") or alias(request.hosts[0].name))
    final = bundle_path(request.output, label, started)
    enc = request.encryption or Encryption()
    if enc.encrypts and not final.name.endswith(".age"):
        final = final.with_name(final.name + ".age")
    sign_key = signing.load_signing_key(enc.sign_key) if enc.sign_key else None  # a bad key fails before collecting
    spool_dir = tempfile.mkdtemp(prefix="casepack-")
    writer = BundleWriter(final, encryption=enc)
    hosts: list[HostResult] = []
    artifacts: list[ArtifactResult] = []
    try:
        def run_host(host_plan: HostPlan) -> tuple[HostResult, list[ArtifactResult]]:
            return _collect_host(steps, host_plan, request, redactor, writer, spool_dir, reporter)

        with ThreadPoolExecutor(max_workers=max(1, request.jobs), initializer=interrupt.worker_thread) as pool:
            for host_result, arts in pool.map(run_host, steps.hosts):
                hosts.append(host_result)
                artifacts.extend(arts)
        manifest = Manifest(
            tool={"name": "casepack", "version": __version__, "python": platform.python_version()},
            created=started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            case=scrub_mapping(redactor, request.case),
            window=steps.window.describe(),
            options={"max_file_size": request.options.max_file_size, "redact": request.options.redact,
                     "probes": [p.name for p in request.probes], "jobs": request.jobs,
                     "process_test": request.process_test},
            hosts=hosts,
            artifacts=artifacts,
        )
        usable = any(a.status == "ok" and a.path for a in artifacts)
        if not usable:
            reasons = "; ".join(f"{h.name}: {h.error}" for h in hosts if h.error) or "no artifact collected"
            raise CasepackError(f"nothing usable was collected ({reasons})", hint="run `casepack process-test`"
                                " to diagnose access" if any(h.error for h in hosts) else None)
        partial = any(h.status != "ok" for h in hosts)
        manifest.status = "partial" if partial else "complete"
        _finish(writer, manifest, redactor, request, spool_dir)
        if sign_key is not None:
            writer.add_bytes(signing.MEMBER, signing.sign(sign_key, manifest.to_json()))
        size = writer.commit()
        mapping_path = None
        if redactor is not None and redactor.pseudonymizer is not None:  # customer side only, never in the bundle
            mapping_path = Path(opts.mapping or f"{final}.mapping.json")
            try:
                save_mapping(redactor.pseudonymizer.mapping(), mapping_path)
            except ValueError as exc:
                raise CasepackError(f"the bundle is written, but {exc}", hint="pass --mapping FILE") from None
    except BaseException:
        writer.abort()
        raise
    finally:
        shutil.rmtree(spool_dir, ignore_errors=True)
    signer = fingerprint(signing.public_line(sign_key)) if sign_key is not None else None
    return CollectResult(final, size, manifest, ExitStatus.PARTIAL if partial else ExitStatus.OK,
                         writer.sha256, writer.checksum, enc.describe(), signer, mapping_path)


def _redactor(request: CollectRequest) -> Redactor:
    """The run's redactor; with --pseudonymize, distinctive host names are pseudonymized in content too."""
    opts = request.options
    config = opts.redaction
    if opts.pseudonymize:
        names = {t.name for t in request.hosts} | {_host_part(t.address) for t in request.hosts}
        # short or plain-word names ("vm", "orders") would also hit ordinary words ("vm.swappiness")
        words = sorted(n for n in names if len(n) >= 4 and re.search(r"[\d.-]", n) and not _IP.fullmatch(n))
        config = (config or RedactionConfig()).merged(RedactionConfig(keywords=words))
    redactor = Redactor(config=config, pseudonymize=opts.pseudonymize)
    for value in secrets.known_values():  # sudo password, passphrase, secret probe variables: removed by value
        redactor.add_literal(value)
    return redactor


_IP = re.compile(r"[\d.]+|[0-9a-fA-F:]+")


def _host_part(address: str) -> str:
    return address.rpartition("@")[2].rpartition(":")[0] or address


def _alias(redactor: Redactor | None) -> Callable[[str], str]:
    """Host names as shown in the bundle: pseudonyms with --pseudonymize, else themselves."""
    p = redactor.pseudonymizer if redactor is not None else None
    if p is None:
        return lambda name: name
    return lambda name: p.pseudonym("kw", name)


def _collect_host(steps: Plan, host_plan: HostPlan, request: CollectRequest, redactor: Redactor | None,
                  writer: BundleWriter, spool_dir: str, reporter: Reporter
                  ) -> tuple[HostResult, list[ArtifactResult]]:
    target = host_plan.target
    alias = _alias(redactor)
    shown = alias(target.name)
    address = target.address
    if redactor is not None and redactor.pseudonymizer is not None and address != "local":
        address = f"{alias(_host_part(address))} (pseudonymized)"
    host = HostResult(shown, address, target.transport, probes=[p.name for p in request.probes])
    reporter.host_started(shown)
    started = time.monotonic()
    results: list[ArtifactResult] = []
    try:
        transport = target.connect()
    except CasepackError as exc:
        host.status, host.error = "failed", exc.message
        host.duration = round(time.monotonic() - started, 3)
        reporter.host_done(host)
        return host, results
    host.facts = dict(transport.facts)
    if redactor is not None and redactor.pseudonymizer is not None:
        host.facts = {k: redactor.redact_value(v.encode(), "facts")[0].decode("utf-8", "replace")
                      for k, v in host.facts.items() if k not in ("address", "via")}
    try:
        discover(steps, host_plan, transport)
        for probe_name, error in host_plan.errors:
            results.append(scrub_artifact(redactor, ArtifactResult(shown, probe_name, "discover", "command",
                                                                   "discover", status="failed", error=error)))
        collector = ArtifactCollector(transport, shown, request.options, steps.window, redactor, writer, spool_dir)

        def one(task: Task) -> list[ArtifactResult]:
            reporter.artifact_started(shown, task.name, len(host_plan.tasks))
            done = [scrub_artifact(redactor, res) for res in collector.collect(task)]
            for res in done:
                reporter.artifact_done(res)
            return done

        # a few artifacts at once over the same connection: each SSH command costs a round trip and
        # a session start on the host (~45 ms here), which dominates many small artifacts
        with ThreadPoolExecutor(max_workers=ARTIFACT_JOBS, initializer=interrupt.worker_thread) as pool:
            for done in pool.map(one, host_plan.tasks):
                results.extend(done)
    finally:
        transport.close()
    failures = [r for r in results if r.counts_as_failure]
    if failures:
        host.status = "partial"
        host.error = f"{len(failures)} artifact(s) not collected"
    host.duration = round(time.monotonic() - started, 3)
    scrub_host(redactor, host)
    reporter.host_done(host)
    return host, results


def plan_request(request: CollectRequest, now: float) -> Plan:
    """The run's plan (the same one ``process-test`` evaluates); raises on unknown variables before any I/O."""
    window = make_window(request.options.since, now, request.options.since_origin)
    return build_plan(request.hosts, request.probes, request.variables, window)


def _finish(writer: BundleWriter, manifest: Manifest, redactor: Redactor | None, request: CollectRequest,
            spool_dir: str) -> None:
    report = {"enabled": redactor is not None, "files": redactor.report if redactor else {},
              "audit": redactor.audit if redactor else {},
              "pseudonymized": bool(redactor and redactor.pseudonymizer)}
    report["total"] = sum(sum(c.values()) for c in report["files"].values())
    manifest.redaction = report
    data = json.dumps(report, indent=2).encode() + b"\n"
    manifest.files["redaction-report.json"] = {"size": len(data), "sha256": writer.add_bytes(
        "redaction-report.json", data)}
    for name, extra in request.extra_files.items():
        manifest.files[name] = {"size": len(extra), "sha256": writer.add_bytes(name, extra)}
    case_md = render_case(case_context(manifest, request.process_test), request.template).encode()
    manifest.files["SUPPORT_CASE.md"] = {"size": len(case_md), "sha256": writer.add_bytes("SUPPORT_CASE.md", case_md)}
    index = os.path.join(spool_dir, "index.sqlite")
    build_index(manifest, Path(index))
    manifest.files["index.sqlite"] = {"size": os.path.getsize(index), "sha256": writer.add_file("index.sqlite", index)}
    writer.add_bytes("manifest.json", manifest.to_json())
