"""Collect one artifact on one host: commands, files, logs, statistics databases, checks.

Every path ends in :class:`ArtifactResult` records; errors become statuses,
never exceptions, so one artifact cannot abort the others.
"""

from __future__ import annotations

import os
import posixpath
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from collector import interrupt
from collector.bundle.manifest import ArtifactResult
from collector.bundle.writer import BundleWriter
from collector.engine.checks import evaluate
from collector.engine.sqlite_copy import copy_database
from collector.engine.stream import Gunzip, SinceFilter, SkipPartialLine, Spool, pieces
from collector.engine.tailspool import TailSpool
from collector.errors import ArtifactError
from collector.plan import Task, Window
from collector.transport.base import CommandResult, FileInfo
from collector.transport.host import Host
from probes.spec import Artifact
from redaction import RedactionConfig, RedactionStream, Redactor
from redaction.sqlite import redact_database

CHECK_OUTPUT_LIMIT = 1 << 16


@dataclass
class RunOptions:
    since: float | None = None  # epoch seconds: start of the time window (None: whole files, newest first)
    since_origin: str | None = None  # where ``since`` came from ("--since", "case file")
    max_file_size: int = 256 * 1024 * 1024
    redact: bool = True
    pseudonymize: bool = False  # identifiers → consistent pseudonyms (mapping kept beside the bundle)
    redaction: RedactionConfig | None = None  # user rules, keys, keywords, allowlist ([redaction] table)
    mapping: str | None = None  # where the pseudonym mapping goes (default: <bundle>.mapping.json)


def rotated_variants(pattern: str) -> tuple[str, ...]:
    """A log glob and its rotated forms: ``x.log`` → ``x.log``, ``x.log.gz``, ``x.log.1``, ``x.log.2.gz``."""
    if pattern.endswith(("*", ".gz")):
        return (pattern,)
    return (pattern, f"{pattern}.gz", f"{pattern}.[0-9]", f"{pattern}.[0-9].gz", f"{pattern}.[0-9][0-9]",
            f"{pattern}.[0-9][0-9].gz", f"{pattern}-[0-9]*")


class ArtifactCollector:
    """Collects the artifacts of one probe on one host into the bundle."""

    def __init__(self, host: Host, shown: str, options: RunOptions, window: Window,
                 redactor: Redactor | None, writer: BundleWriter, spool_dir: str) -> None:
        self.t, self.host = host, shown
        self.options, self.window = options, window
        self.redactor, self.writer, self.spool_dir = redactor, writer, spool_dir

    def collect(self, task: Task) -> list[ArtifactResult]:
        art = task.artifact
        started = time.monotonic()
        base = not_started(self.host, task)
        if interrupt.requested():  # after a stop no new artifact starts
            return [base]
        base.status, base.error = "ok", None
        try:
            skip = unmet_requirements(self.t, art)
            if skip:
                raise ArtifactError("skipped", skip)
            if art.kind in ("config", "log", "stats"):
                results = self._files(task, base)
            else:
                base.window = self.window.for_command(task.uses_since)
                results = [self._command(task, base)]
        except ArtifactError as exc:
            base.status, base.error = exc.status, exc.reason
            results = [base]
        except interrupt.Terminated:  # stopped while running: what was read is dropped with its spool
            base.status, base.error = "interrupted", cut_reason()
            results = [base]
        except Exception as exc:  # noqa: BLE001 - one artifact must never abort the run
            base.status, base.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
            results = [base]
        for r in results:
            r.duration = round(r.duration or time.monotonic() - started, 3)
        return results

    # -- commands ---------------------------------------------------------------------------
    def _command(self, task: Task, res: ArtifactResult) -> ArtifactResult:
        art = task.artifact
        assert art.command is not None
        cap = art.max_size or self.options.max_file_size
        spool = Spool(self.spool_dir, cap)
        redact = self._redaction(task, None, res)
        head = bytearray()

        def sink(data: bytes) -> None:
            if redact:
                data = redact.feed(data)
            if len(head) < CHECK_OUTPUT_LIMIT:
                head.extend(data[: CHECK_OUTPUT_LIMIT - len(head)])
            spool.write(data)

        try:
            # env values (secrets) reach the tool's environment through stdin, never argv (transport/sudo.py)
            out = self.t.run(art.command, sink, timeout=art.timeout, as_root=art.needs_root, env=dict(art.env))
            if redact:
                tail = redact.close()
                if len(head) < CHECK_OUTPUT_LIMIT:
                    head.extend(tail[: CHECK_OUTPUT_LIMIT - len(head)])
                spool.write_all(tail)
            spool.close()
            res.exit_code = out.exit_code
            res.truncated = spool.truncated
            self._store(res, task, spool, None)
        finally:
            spool.discard()
        if redact:
            res.redactions = dict(redact.counts)
        apply_outcome(res, art, out, head.decode("utf-8", "replace"))
        return res

    # -- files ------------------------------------------------------------------------------
    def _files(self, task: Task, base: ArtifactResult) -> list[ArtifactResult]:
        art = task.artifact
        found, notes = locate(self.t, art, self.window)
        window = self.window.for_log() if art.kind == "log" else None
        results = []
        for info in found:
            res = ArtifactResult(self.host, task.probe, art.name, art.kind, info.path,
                                 optional=art.optional, needs_root=art.needs_root, notes=list(notes), window=window)
            started = time.monotonic()
            try:
                if interrupt.requested():
                    res.status, res.error = "interrupted", stop_reason()
                elif art.kind == "stats":
                    self._stats(task, info, res)
                else:
                    self._file(task, info, res)
            except ArtifactError as exc:
                res.status, res.error = exc.status, exc.reason
            except interrupt.Terminated:  # this file's spool is dropped; files already stored stay listed
                res.status, res.error = "interrupted", cut_reason()
            res.duration = round(time.monotonic() - started, 3)
            results.append(res)
        return results

    def _file(self, task: Task, info: FileInfo, res: ArtifactResult) -> None:
        art = task.artifact
        cap = art.max_size or self.options.max_file_size
        gz = info.path.endswith(".gz")
        is_log = art.kind == "log"
        res.source_size = info.size
        offset = 0
        if is_log and not gz and info.size > cap:
            offset = info.size - cap - 1  # only the tail is wanted: do not transfer the rest
            res.truncated = True
        stages: list[Callable[[bytes], bytes]] = []
        if offset:
            stages.append(SkipPartialLine())
        if gz:
            stages.append(Gunzip())
        since = SinceFilter(self.window.since) if is_log and self.window.since is not None else None
        if since:
            stages.append(since)
        redact = self._redaction(task, info.path, res)
        # a log whose tail is known only at its end (gunzipped, last N lines) is cut by a TailSpool;
        # either way the bytes are spooled compressed, and the bundle copies the compressed frames
        tail = is_log and (gz or art.tail_lines is not None)
        spool: Spool | TailSpool = (TailSpool(self.spool_dir, cap, art.tail_lines) if tail else
                                    Spool(self.spool_dir, None if is_log else cap, big=info.size > 4 << 20))

        def sink(data: bytes) -> None:
            for stage in stages:
                data = stage(data)
            for piece in pieces(data):  # redaction, hashing and compression of 64 KiB stay in the CPU caches
                spool.write(redact.feed(piece) if redact else piece)

        try:
            read = self.t.read(info.path, sink, offset=offset, timeout=art.timeout, as_root=art.needs_root)
            rest = since.finish() if since else b""
            if redact:
                rest = redact.feed(rest) + redact.close()
                res.redactions = dict(redact.counts)
            spool.write_all(rest)
            if offset + read < info.size and not spool.truncated:  # not a head cap's stop (cat's pipe or 1 MiB)
                res.notes.append(f"file shrank while read ({info.size} → {offset + read} bytes): rotated or truncated")
            if since and since.dropped:
                res.notes.append(f"{since.dropped} bytes before the time window dropped")
            elif since and not since.seen_timestamp:
                res.window = "none: no timestamp recognised in the file, kept whole"
            if isinstance(spool, TailSpool):
                size, sha256, frames = spool.finish()
                res.truncated = res.truncated or spool.truncated
                res.path = self.writer.unique_name(self._arcname(task, info.path))
                res.size, res.sha256 = size, sha256
                self.writer.add_pieces(res.path, frames, size, info.mtime, sha256)
            else:
                spool.close()
                res.truncated = res.truncated or spool.truncated
                self._store(res, task, spool, info.path, info.mtime)
        finally:
            spool.discard()

    def _stats(self, task: Task, info: FileInfo, res: ArtifactResult) -> None:
        art = task.artifact
        res.source_size = info.size
        dest = os.path.join(self.spool_dir, f"db-{os.getpid()}-{id(res)}.sqlite")
        try:
            res.method = copy_database(self.t, info.path, dest, timeout=art.timeout, as_root=art.needs_root,
                                       spool_dir=self.spool_dir)
            size = os.path.getsize(dest)
            cap = art.max_size or self.options.max_file_size
            if size > cap:
                raise ArtifactError("failed", f"database copy is {size} bytes, over the {cap}-byte cap")
            stored = dest
            if self.redactor is not None and art.redact:  # rows redacted in memory, written fresh by VACUUM INTO
                stored = dest + ".redacted"
                res.redactions = dict(redact_database(dest, stored, self.redactor, self._arcname(task, info.path)))
                size = os.path.getsize(stored)
            res.path = self.writer.unique_name(self._arcname(task, info.path))
            res.sha256 = self.writer.add_file(res.path, stored, mtime=info.mtime)
            res.size = size
        finally:
            for suffix in ("", "-wal", "-shm", "-journal", ".redacted"):
                try:
                    os.unlink(dest + suffix)
                except FileNotFoundError:
                    pass

    def _redaction(self, task: Task, path: str | None, res: ArtifactResult) -> RedactionStream | None:
        if self.redactor is None:
            return None
        if not task.artifact.redact:
            res.notes.append("redaction disabled for this artifact by its probe")
            return None
        return self.redactor.stream(self._arcname(task, path))

    # -- bundle -----------------------------------------------------------------------------
    def _arcname(self, task: Task, path: str | None) -> str:
        art = task.artifact
        prefix = f"hosts/{self.host}/{task.probe}/{art.kind}"
        if path is None:
            return f"{prefix}/{art.name}.txt"
        clean = posixpath.normpath("/" + path).lstrip("/")
        clean = clean.removesuffix(".gz")
        return f"{prefix}/{clean}"

    def _store(self, res: ArtifactResult, task: Task, spool: Spool, path: str | None,
               mtime: float | None = None) -> None:
        res.path = self.writer.unique_name(self._arcname(task, path))
        res.size, res.sha256 = spool.size, spool.sha256
        self.writer.add_frame(res.path, spool.path, spool.size, mtime, spool.sha256)


# -- interrupted runs ----------------------------------------------------------------------------
def not_started(host: str, task: Task) -> ArtifactResult:
    """The record of an artifact a stop kept from starting."""
    art = task.artifact
    return ArtifactResult(host, task.probe, art.name, art.kind, art.command or " ".join(art.paths),
                          status="interrupted", error=stop_reason(), optional=art.optional, needs_root=art.needs_root)


def stop_reason() -> str:
    return f"not started: {interrupt.describe(interrupt.stop_signal() or signal.SIGINT)}"


def cut_reason() -> str:
    return f"cut: {interrupt.describe(interrupt.stop_signal() or signal.SIGINT)} while running; partial output dropped"


# -- decisions shared with process-test (collector.preflight evaluates the same plan) --------------
def unmet_requirements(host: Host, art: Artifact) -> str | None:
    """Why the artifact is skipped (a required command is absent), or None."""
    missing = [c for c in art.requires if not host.which(c)]
    return f"{', '.join(missing)} not installed" if missing else None


def locate(host: Host, art: Artifact, window: Window) -> tuple[list[FileInfo], list[str]]:
    """The files a file artifact takes (rotated forms, first match, window, newest N) and notes on the choice.

    Raises :class:`ArtifactError`: ``missing`` when nothing matches, ``denied`` when a
    directory on the way could not be listed (after sudo, where the artifact allows it).
    """
    found: list[FileInfo] = []
    denied: list[str] = []
    for pattern in art.paths:
        variants = rotated_variants(pattern) if art.kind == "log" else (pattern,)
        listing = host.find(variants, as_root=art.needs_root)
        denied.extend(d for d in listing.denied_dirs if d not in denied)
        found.extend(m for m in listing.files if m.is_file and m.path not in {f.path for f in found})
        if art.first_match and found:
            break
    if not found:
        if denied:
            how = "" if art.needs_root and host.can_escalate else " (mark the artifact needs_root to use sudo)"
            raise ArtifactError("denied", f"cannot list {', '.join(denied)} as {host.user}{how}")
        raise ArtifactError("missing", f"not found: {', '.join(art.paths)}")
    notes = []
    if art.kind == "log":
        found.sort(key=lambda f: f.mtime, reverse=True)
        if window.since is not None:
            recent = [f for f in found if f.mtime >= window.since]
            if len(recent) < len(found):
                notes.append(f"{len(found) - len(recent)} file(s) older than the time window skipped")
            found = recent or found[:1]
        if art.max_files is not None and len(found) > art.max_files:
            notes.append(f"newest {art.max_files} of {len(found)} files kept")
            found = found[: art.max_files]
    return found, notes


def apply_outcome(res: ArtifactResult, art: Artifact, out: CommandResult, text: str) -> None:
    """A command's status, error, version line or check verdict from its result and (head of) output."""
    answered_error = _error_line(art.error_output, text, out.stderr)
    if out.timed_out:
        res.status, res.error = "timed_out", f"command timed out after {art.timeout:g}s"
        res.truncated = True
    elif answered_error is not None:  # e.g. redis NOAUTH, psql FATAL, mysql Access denied: not "ok"
        res.status, res.error = "failed", f"the command answered an error: {answered_error}"
    elif art.kind == "check":
        assert art.check is not None
        res.check = evaluate(art.check, text, out.exit_code)
        if out.exit_code not in (0, None) and out.denied:
            res.status, res.error = "denied", f"exit status {out.exit_code}: {out.last_error}"
    elif out.exit_code != 0:
        res.status = "denied" if out.denied else "failed"
        res.error = f"exit status {out.exit_code}: {out.last_error}".strip().rstrip(":")
    if art.kind == "version" and res.status == "ok":
        res.version = next((ln.strip() for ln in text.splitlines() if ln.strip()), None)
def _error_line(pattern: str | None, output: str, stderr: str) -> str | None:
    """The first output or stderr line matching the artifact's ``error_output`` regex, if any."""
    if not pattern:
        return None
    for line in (output + "\n" + stderr).splitlines():
        if re.search(pattern, line):
            return line.strip()[:300]
    return None
