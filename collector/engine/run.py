"""The collection engine: probes × hosts → artifacts → one bundle."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from collector import __version__, interrupt, secrets
from collector.bundle import runrecord, signing
from collector.bundle.casedoc import case_context
from collector.bundle.crypto import Encryption, fingerprint
from collector.bundle.index import build_index
from collector.bundle.manifest import ArtifactResult, HostResult, Manifest
from collector.bundle.writer import BundleWriter
from collector.casefile import render_case
from collector.defaults import ARTIFACT_JOBS, INTERRUPT_GRACE
from collector.engine.artifacts import ArtifactCollector, RunOptions, not_started
from collector.engine.scrub import scrub_artifact, scrub_host, scrub_mapping
from collector.errors import CasepackError, ExitStatus, InputError
from collector.fleet import deadline
from collector.fleet.deadline import HostDeadline
from collector.fleet.resume import seed_pseudonyms
from collector.hosts.target import HostTarget, safe_name
from collector.plan import HostPlan, Plan, Task, build_plan, discover, make_window
from collector.transport.base import NICENESS
from probes.spec import Probe
from redaction import RedactionConfig, Redactor
from redaction.pseudonym import key_id, save_mapping


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
    record_extra: dict[str, Any] = field(default_factory=dict)  # more keys for ``<bundle>.status.json``
    host_timeout: float | None = None  # seconds per host, connect + artifacts (None: each target's own, if any)
    inventory: list[HostTarget] = field(default_factory=list)  # hosts selected before sharding (empty: ``hosts``)
    shard: dict[str, Any] | None = None  # as recorded: {"index", "count"} or {"group"}
    case_id: str | None = None  # None: a new one
    resume_of: list[dict[str, str]] | None = None  # the bundles a resumed run completes
    until: float | None = None  # the window's end (a resumed run repeats the first run's); None: now
    select_tasks: Callable[[HostPlan], None] | None = None  # after discovery: drop what need not be collected
    pseudonyms: dict[str, str] = field(default_factory=dict)  # the resumed bundles' pseudonyms, kept as they were
    pseudonym_key: bytes | None = field(default=None, repr=False)  # their per-run key (keyed pseudonyms), if any


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
    record: Path | None = None  # ``<bundle>.status.json``: hosts and failures, readable without the key


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
    if any(t.transport == "local" for t in request.hosts):
        _polite_here()  # before the writer's and the pool's threads exist: they inherit it
    spool_dir = tempfile.mkdtemp(prefix="casepack-")
    writer = BundleWriter(final, encryption=enc)
    hard_exit = interrupt.on_abort(lambda: (writer.abort(), shutil.rmtree(spool_dir, ignore_errors=True)))
    try:
        with interrupt.graceful(_announce):  # first Ctrl-C/SIGTERM: stop, then write what was collected
            hosts, artifacts = collect_hosts(steps, request, redactor, writer, spool_dir, reporter)
            stopped = interrupt.stop_signal()
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
                case_id=_case_id(request, redactor),
                inventory=[alias(t.name) for t in request.inventory or request.hosts],
                shard=request.shard,
                resume_of=request.resume_of,
            )
            usable = any(a.status == "ok" and a.path for a in artifacts)
            if not usable and stopped:
                raise interrupt.Terminated(stopped)  # nothing collected yet: nothing to keep
            if not usable:
                reasons = "; ".join(f"{h.name}: {h.error}" for h in hosts if h.error) or "no artifact collected"
                raise CasepackError(f"nothing usable was collected ({reasons})", hint="run `casepack process-test`"
                                    " to diagnose access" if any(h.error for h in hosts) else None)
            partial = any(h.status != "ok" for h in hosts)
            manifest.status = "interrupted" if stopped else "partial" if partial else "complete"
            _finish(writer, manifest, redactor, request, spool_dir)
            if sign_key is not None:
                writer.add_bytes(signing.MEMBER, signing.sign(sign_key, manifest.to_json()))
            size = writer.commit()
            targets = {alias(t.name): t.name for t in request.hosts}
            record = runrecord.write_record(final, runrecord.build_record(
                manifest, final, writer.sha256, size, encrypted=enc.encrypts, targets=targets,
                extra={"case_id": manifest.case_id, "inventory": manifest.inventory, "shard": manifest.shard,
                       "resume_of": manifest.resume_of, **request.record_extra}))
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
        interrupt.forget_abort(hard_exit)
    status = ExitStatus(128 + stopped) if stopped else ExitStatus.PARTIAL if partial else ExitStatus.OK
    signer = fingerprint(signing.public_line(sign_key)) if sign_key is not None else None
    return CollectResult(final, size, manifest, status, writer.sha256, writer.checksum, enc.describe(), signer,
                         mapping_path, record)


def _polite_here() -> None:
    """Collecting this machine: casepack's own work runs at the niceness its commands get (absolute, see
    :func:`collector.transport.base.gentle`) — production keeps priority, and casepack's reader is not
    starved behind casepack's own redaction and compression."""
    try:
        current = os.getpriority(os.PRIO_PROCESS, 0)
        if current < NICENESS:
            os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
    except OSError:
        pass


def _case_id(request: CollectRequest, redactor: Redactor | None) -> str:
    """Given (flag, case file, resumed bundle), else one per case key — shards pseudonymized with the same
    key are one case without any coordination —, else new."""
    if request.case_id:
        return request.case_id
    p = redactor.pseudonymizer if redactor is not None else None
    if p is not None and not p.random_key:
        return f"key-{key_id(p.key)}"
    return f"run-{uuid.uuid4().hex}"  # declared by nobody: merge may join it to another case


def _redactor(request: CollectRequest) -> Redactor:
    """The run's redactor; with --pseudonymize, distinctive host names are pseudonymized in content too."""
    opts = request.options
    config = opts.redaction
    if opts.pseudonymize:
        fleet = request.inventory or request.hosts  # hosts of other shards are named in this one's files too
        names = {t.name for t in fleet} | {_host_part(t.address) for t in fleet}
        # short or plain-word names ("vm", "orders") would also hit ordinary words ("vm.swappiness")
        words = sorted(n for n in names if len(n) >= 4 and re.search(r"[\d.-]", n) and not _IP.fullmatch(n))
        config = (config or RedactionConfig()).merged(RedactionConfig(keywords=words))
    keyed = {"pseudonym_key": request.pseudonym_key} if request.pseudonym_key else {}  # a resumed run's key
    redactor = Redactor(config=config, pseudonymize=opts.pseudonymize, **keyed)
    seed_pseudonyms(redactor.pseudonymizer, request.pseudonyms)
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


def _announce(signum: int) -> None:
    """The first Ctrl-C/SIGTERM, said at once (from the signal handler: a raw write, no buffered stream)."""
    again = "Ctrl-C again" if signum == signal.SIGINT else "a second signal"
    text = (f"\ncasepack: {interrupt.describe(signum)}: stopping; writing a partial bundle of what was collected "
            f"({again} abandons it)\n")
    try:
        os.write(2, text.encode())
    except OSError:
        pass


def collect_hosts(steps: Plan, request: CollectRequest, redactor: Redactor | None, writer: BundleWriter,
                  spool_dir: str, reporter: Reporter) -> tuple[list[HostResult], list[ArtifactResult]]:
    """Every host in parallel; after a stop, wait :data:`INTERRUPT_GRACE` seconds, then take what is there.

    A host still busy then is recorded from what it reported so far: its other tasks are ``interrupted``,
    and the writer is sealed first, so a member stored but not yet reported is listed too.
    """
    records: list[list[ArtifactResult]] = [[] for _ in steps.hosts]
    pool = ThreadPoolExecutor(max_workers=max(1, request.jobs), initializer=interrupt.worker_thread)
    futures = [pool.submit(_collect_host, steps, hp, request, redactor, writer, spool_dir, reporter, rec)
               for hp, rec in zip(steps.hosts, records, strict=True)]
    try:
        deadline = None
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.1)
            if interrupt.requested():
                deadline = deadline or time.monotonic() + INTERRUPT_GRACE
                if time.monotonic() > deadline:
                    break
    finally:
        pool.shutdown(wait=not interrupt.requested(), cancel_futures=True)
    writer.seal()
    hosts: list[HostResult] = []
    artifacts: list[ArtifactResult] = []
    for fut, hp, rec in zip(futures, steps.hosts, records, strict=True):
        if fut.done() and not fut.cancelled():
            host, arts = fut.result()
        else:
            host, arts = _straggler(hp, list(rec), redactor)
        hosts.append(host)
        artifacts.extend(arts)
    artifacts.extend(_unlisted(writer, artifacts))
    return hosts, artifacts


def _straggler(host_plan: HostPlan, done: list[ArtifactResult], redactor: Redactor | None
               ) -> tuple[HostResult, list[ArtifactResult]]:
    """A host still busy (or never started) when the interrupted run stopped waiting for it."""
    shown = _alias(redactor)(host_plan.target.name)
    seen = {(r.probe, r.artifact) for r in done}
    done += [scrub_artifact(redactor, not_started(shown, t)) for t in host_plan.tasks
             if (t.probe, t.artifact.name) not in seen]
    host = HostResult(shown, host_plan.target.address, host_plan.target.transport,
                      probes=sorted({t.probe for t in host_plan.tasks}), status="partial",
                      error=f"{interrupt.describe(interrupt.stop_signal())} before this host finished")
    scrub_host(redactor, host)
    return host, done


def _unlisted(writer: BundleWriter, artifacts: list[ArtifactResult]) -> list[ArtifactResult]:
    """Members a straggler stored but never reported: listed, so the bundle stays verifiable."""
    listed = {a.path for a in artifacts if a.path}
    out = []
    for name, (size, sha) in writer.members.items():
        if name in listed or not name.startswith("hosts/"):
            continue
        parts = name.split("/")
        host, probe, kind = (parts + ["?"] * 4)[1:4]
        out.append(ArtifactResult(host, probe, parts[-1], kind, name, status="interrupted", path=name, size=size,
                                  sha256=sha, error="stored when the run was interrupted; its record was lost"))
    return out


def _collect_host(steps: Plan, host_plan: HostPlan, request: CollectRequest, redactor: Redactor | None,
                  writer: BundleWriter, spool_dir: str, reporter: Reporter, results: list[ArtifactResult]
                  ) -> tuple[HostResult, list[ArtifactResult]]:
    """One host's artifacts; each result is appended to ``results`` as soon as it is known."""
    target = host_plan.target
    alias = _alias(redactor)
    shown = alias(target.name)
    address = target.address
    if redactor is not None and redactor.pseudonymizer is not None and address != "local":
        address = f"{alias(_host_part(address))} (pseudonymized)"
    host = HostResult(shown, address, target.transport, probes=[p.name for p in request.probes])
    reporter.host_started(shown)
    started = time.monotonic()
    limit = HostDeadline(request.host_timeout if request.host_timeout is not None else target.host_timeout)
    try:
        interrupt.check()
        transport = deadline.connect(target.connect, limit)
    except CasepackError as exc:
        host.status, host.error = "failed", exc.message
        host.duration = round(time.monotonic() - started, 3)
        reporter.host_done(host)
        return host, results
    except interrupt.Terminated:
        return _straggler(host_plan, results, redactor)
    host.facts = dict(transport.facts)
    if redactor is not None and redactor.pseudonymizer is not None:
        host.facts = {k: redactor.redact_value(v.encode(), "facts")[0].decode("utf-8", "replace")
                      for k, v in host.facts.items() if k not in ("address", "via")}
    try:
        try:
            discover(steps, host_plan, transport)
        except interrupt.Terminated:
            pass  # the tasks planned so far are recorded as not started below
        for probe_name, error in host_plan.errors:
            results.append(scrub_artifact(redactor, ArtifactResult(shown, probe_name, "discover", "command",
                                                                   "discover", status="failed", error=error)))
        if request.select_tasks is not None:
            request.select_tasks(host_plan)
        collector = ArtifactCollector(transport, shown, request.options, steps.window, redactor, writer, spool_dir)

        def one(task: Task) -> list[ArtifactResult]:
            reporter.artifact_started(shown, task.name, len(host_plan.tasks))
            done = [scrub_artifact(redactor, res) for res in collector.collect(task)]
            results.extend(done)  # seen at once by collect_hosts if this host is still busy after a stop
            for res in done:
                reporter.artifact_done(res)
            return done

        # a few artifacts at once over the same connection: each SSH command costs a round trip and
        # a session start on the host (~45 ms here), which dominates many small artifacts
        head = list(results)
        with ThreadPoolExecutor(max_workers=ARTIFACT_JOBS, initializer=interrupt.worker_thread) as pool:
            in_order = [r for done in pool.map(one, host_plan.tasks) for r in done]
        results[:] = head + in_order  # the plan's order, as before
    finally:
        transport.close()
    failures = [r for r in results if r.counts_as_failure]
    if failures:
        host.status = "partial"
        host.error = f"{len(failures)} artifact(s) not collected"
        if limit.passed:
            host.error = f"{limit.message}; {host.error}"
    host.duration = round(time.monotonic() - started, 3)
    scrub_host(redactor, host)
    reporter.host_done(host)
    return host, results


def plan_request(request: CollectRequest, now: float) -> Plan:
    """The run's plan (the same one ``process-test`` evaluates); raises on unknown variables before any I/O."""
    window = make_window(request.options.since, request.until or now, request.options.since_origin)
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
