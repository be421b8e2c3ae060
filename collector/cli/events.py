"""``--events FILE|-``: one JSON object per line for automation (appended to FILE; ``-`` is stdout).

Events: ``host_started``, ``artifact_started``, ``artifact_done`` (status, bytes), ``host_done``,
``bundle_written`` (path, size, sha256, status, exit_status) or ``failed`` (message, exit_status).
Every event has ``event`` and ``time`` (UTC, ISO 8601).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

from collector.bundle.manifest import ArtifactResult, HostResult
from collector.errors import InputError


class EventLog:
    def __init__(self, stream: TextIO, owned: bool = False) -> None:
        self.stream = stream
        self._owned = owned
        self._lock = threading.Lock()

    @classmethod
    def open(cls, target: str) -> EventLog:
        if target == "-":
            return cls(sys.stdout)
        try:  # 0600, appended, never through a planted symlink; a FIFO works too
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise InputError(f"--events {target}: cannot open: {exc.strerror}") from None
        return cls(os.fdopen(fd, "w", encoding="utf-8"), owned=True)

    @property
    def to_stdout(self) -> bool:
        return self.stream is sys.stdout

    def emit(self, event: str, **fields: Any) -> None:
        record = {"event": event, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), **fields}
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            try:
                self.stream.write(line)
                self.stream.flush()
            except (OSError, ValueError):  # a reader that went away must not fail the collection
                pass

    def host_started(self, host: str) -> None:
        self.emit("host_started", host=host)

    def artifact_started(self, host: str, task: str, total: int) -> None:
        probe, _, artifact = task.partition("/")
        self.emit("artifact_started", host=host, probe=probe, artifact=artifact, host_total=total)

    def artifact_done(self, r: ArtifactResult) -> None:
        self.emit("artifact_done", host=r.host, probe=r.probe, artifact=r.artifact, status=r.status,
                  bytes=r.size if r.path else 0, path=r.path, truncated=r.truncated, error=r.error,
                  check=r.check["result"] if r.check else None)

    def host_done(self, h: HostResult) -> None:
        self.emit("host_done", host=h.name, status=h.status, duration=h.duration, error=h.error)

    def close(self) -> None:
        if self._owned:
            self.stream.close()


class Fanout:
    """Several reporters as one (the live terminal block and the event log)."""

    def __init__(self, *reporters: Any) -> None:
        self.reporters = [r for r in reporters if r is not None]

    def host_started(self, host: str) -> None:
        for r in self.reporters:
            r.host_started(host)

    def artifact_started(self, host: str, task: str, total: int) -> None:
        for r in self.reporters:
            r.artifact_started(host, task, total)

    def artifact_done(self, result: ArtifactResult) -> None:
        for r in self.reporters:
            r.artifact_done(result)

    def host_done(self, result: HostResult) -> None:
        for r in self.reporters:
            r.host_done(result)
