"""Collect one artifact on one host: commands, files, logs, statistics databases, checks.

Every path ends in :class:`ArtifactResult` records; errors become statuses,
never exceptions, so one artifact cannot abort the others.
"""

from __future__ import annotations

import os
import posixpath
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from collector.bundle import BundleWriter
from collector.checks import evaluate
from collector.errors import ArtifactError
from collector.manifest import ArtifactResult
from collector.sqlite_copy import copy_database
from collector.stream import Gunzip, SinceFilter, SkipPartialLine, Spool, tail_offset
from collector.transport import FileInfo, Transport
from probes.spec import Artifact
from redaction import RedactionConfig, RedactionStream, Redactor
from redaction.sqlite import redact_database

CHECK_OUTPUT_LIMIT = 1 << 16


@dataclass
class RunOptions:
    since: float | None = None  # epoch seconds: start of the time window
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

    def __init__(self, transport: Transport, host: str, probe: str, options: RunOptions,
                 redactor: Redactor | None, writer: BundleWriter, spool_dir: str) -> None:
        self.t, self.host, self.probe = transport, host, probe
        self.options, self.redactor, self.writer, self.spool_dir = options, redactor, writer, spool_dir

    def collect(self, art: Artifact) -> list[ArtifactResult]:
        started = time.monotonic()
        source = art.command or " ".join(art.paths)
        base = ArtifactResult(self.host, self.probe, art.name, art.kind, source,
                              optional=art.optional, needs_root=art.needs_root)
        try:
            missing = [c for c in art.requires if not self.t.which(c)]
            if missing:
                raise ArtifactError("skipped", f"{', '.join(missing)} not installed")
            if art.kind in ("config", "log", "stats"):
                results = self._files(art, base)
            else:
                results = [self._command(art, base)]
        except ArtifactError as exc:
            base.status, base.error = exc.status, exc.reason
            results = [base]
        except Exception as exc:  # noqa: BLE001 - one artifact must never abort the run
            base.status, base.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
            results = [base]
        for r in results:
            r.duration = round(r.duration or time.monotonic() - started, 3)
        return results

    # -- commands ---------------------------------------------------------------------------
    def _command(self, art: Artifact, res: ArtifactResult) -> ArtifactResult:
        assert art.command is not None
        cap = art.max_size or self.options.max_file_size
        spool = Spool(self.spool_dir, cap)
        redact = self._redaction(art, None, res)
        head = bytearray()

        def sink(data: bytes) -> None:
            if redact:
                data = redact.feed(data)
            if len(head) < CHECK_OUTPUT_LIMIT:
                head.extend(data[: CHECK_OUTPUT_LIMIT - len(head)])
            spool.write(data)

        command, stdin = art.invocation()  # env values (secrets) go on stdin, never into argv
        extra = {"stdin": stdin} if stdin is not None else {}
        try:
            out = self.t.run(command, sink, timeout=art.timeout, as_root=art.needs_root, **extra)
            if redact:
                tail = redact.close()
                if len(head) < CHECK_OUTPUT_LIMIT:
                    head.extend(tail[: CHECK_OUTPUT_LIMIT - len(head)])
                spool.write_all(tail)
            spool.close()
            res.exit_code = out.exit_code
            res.truncated = spool.truncated
            self._store(res, art, spool, None)
        finally:
            spool.discard()
        if redact:
            res.redactions = dict(redact.counts)
        text = head.decode("utf-8", "replace")
        answered_error = _error_line(art.error_output, text, out.stderr)
        if out.timed_out:
            res.status, res.error = "timed_out", f"command timed out after {art.timeout:g}s"
            res.truncated = True
        elif answered_error is not None:  # e.g. redis NOAUTH, psql FATAL, mysql Access denied: not "ok"
            res.status, res.error = "failed", f"the command answered an error: {answered_error}"
        elif art.kind == "check":
            assert art.check is not None
            res.check = evaluate(art.check, text, out.exit_code)
        elif out.exit_code != 0:
            res.status = "denied" if out.denied else "failed"
            res.error = f"exit status {out.exit_code}: {out.stderr.splitlines()[-1] if out.stderr else ''}".strip()
        if art.kind == "version" and res.status == "ok":
            res.version = next((ln.strip() for ln in text.splitlines() if ln.strip()), None)
        return res

    # -- files ------------------------------------------------------------------------------
    def _files(self, art: Artifact, base: ArtifactResult) -> list[ArtifactResult]:
        found: list[FileInfo] = []
        for pattern in art.paths:
            variants = rotated_variants(pattern) if art.kind == "log" else (pattern,)
            matches = [f for f in self.t.glob_all(variants, as_root=art.needs_root) if f.is_file]
            found.extend(m for m in matches if m.path not in {f.path for f in found})
            if art.first_match and found:
                break
        if not found:
            raise ArtifactError("missing", f"not found: {', '.join(art.paths)}")
        notes = []
        if art.kind == "log":
            found.sort(key=lambda f: f.mtime, reverse=True)
            if self.options.since is not None:
                recent = [f for f in found if f.mtime >= self.options.since]
                if len(recent) < len(found):
                    notes.append(f"{len(found) - len(recent)} file(s) older than the time window skipped")
                found = recent or found[:1]
            if art.max_files is not None and len(found) > art.max_files:
                notes.append(f"newest {art.max_files} of {len(found)} files kept")
                found = found[: art.max_files]
        results = []
        for info in found:
            res = ArtifactResult(self.host, self.probe, art.name, art.kind, info.path,
                                 optional=art.optional, needs_root=art.needs_root, notes=list(notes))
            started = time.monotonic()
            try:
                if art.kind == "stats":
                    self._stats(art, info, res)
                else:
                    self._file(art, info, res)
            except ArtifactError as exc:
                res.status, res.error = exc.status, exc.reason
            res.duration = round(time.monotonic() - started, 3)
            results.append(res)
        return results

    def _file(self, art: Artifact, info: FileInfo, res: ArtifactResult) -> None:
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
        since = SinceFilter(self.options.since) if is_log and self.options.since is not None else None
        if since:
            stages.append(since)
        redact = self._redaction(art, info.path, res)
        if redact:
            stages.append(redact.feed)
        # logs that may need cutting to their tail afterwards are spooled plain; the rest compressed
        plain = is_log and (gz or art.tail_lines is not None)
        spool = Spool(self.spool_dir, None if is_log else cap, compress=not plain, big=info.size > 4 << 20)

        def sink(data: bytes) -> None:
            for stage in stages:
                data = stage(data)
            spool.write(data)

        try:
            read = self.t.read(info.path, sink, offset=offset, timeout=art.timeout, as_root=art.needs_root)
            rest = since.finish() if since else b""
            if redact:
                rest = redact.feed(rest) + redact.close()
                res.redactions = dict(redact.counts)
            spool.write_all(rest)
            spool.close()
            if offset + read < info.size:
                res.notes.append(f"file shrank while read ({info.size} → {offset + read} bytes): rotated or truncated")
            start = 0
            if plain and (spool.size > cap or art.tail_lines is not None):
                start = tail_offset(spool.path, spool.size, cap, art.tail_lines)
            res.truncated = res.truncated or spool.truncated or start > 0
            if since and since.dropped:
                res.notes.append(f"{since.dropped} bytes before the time window dropped")
            self._store(res, art, spool, info.path, start, info.mtime)
        finally:
            spool.discard()

    def _stats(self, art: Artifact, info: FileInfo, res: ArtifactResult) -> None:
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
                res.redactions = dict(redact_database(dest, stored, self.redactor, self._arcname(art, info.path)))
                size = os.path.getsize(stored)
            res.path = self.writer.unique_name(self._arcname(art, info.path))
            res.sha256 = self.writer.add_file(res.path, stored, mtime=info.mtime)
            res.size = size
        finally:
            for suffix in ("", "-wal", "-shm", "-journal", ".redacted"):
                try:
                    os.unlink(dest + suffix)
                except FileNotFoundError:
                    pass

    def _redaction(self, art: Artifact, path: str | None, res: ArtifactResult) -> RedactionStream | None:
        if self.redactor is None:
            return None
        if not art.redact:
            res.notes.append("redaction disabled for this artifact by its probe")
            return None
        return self.redactor.stream(self._arcname(art, path))

    # -- bundle -----------------------------------------------------------------------------
    def _arcname(self, art: Artifact, path: str | None) -> str:
        prefix = f"hosts/{self.host}/{self.probe}/{art.kind}"
        if path is None:
            return f"{prefix}/{art.name}.txt"
        clean = posixpath.normpath("/" + path).lstrip("/")
        clean = clean.removesuffix(".gz")
        return f"{prefix}/{clean}"

    def _store(self, res: ArtifactResult, art: Artifact, spool: Spool, path: str | None,
               offset: int = 0, mtime: float | None = None) -> None:
        res.path = self.writer.unique_name(self._arcname(art, path))
        res.size = spool.size - offset
        if spool.compressed:
            self.writer.add_frame(res.path, spool.path, spool.size, mtime)
            res.sha256 = spool.sha256
        else:
            res.sha256 = self.writer.add_file(res.path, spool.path, offset, res.size, mtime)


def _error_line(pattern: str | None, output: str, stderr: str) -> str | None:
    """The first output or stderr line matching the artifact's ``error_output`` regex, if any."""
    if not pattern:
        return None
    for line in (output + "\n" + stderr).splitlines():
        if re.search(pattern, line):
            return line.strip()[:300]
    return None
