"""A fake host (the Host interface, not a Connection) for unit-level faults a real host cannot produce on demand."""

from __future__ import annotations

import fnmatch

from collector.errors import ArtifactError
from collector.transport.base import CommandResult, FileInfo, Sink, SinkFull
from collector.transport.host import Listing


class FakeTransport:
    """Files are bytes in a dict; ``faults`` maps a path or command to an ArtifactError or CommandResult."""

    def __init__(self, files: dict[str, bytes] | None = None, commands: dict[str, bytes] | None = None,
                 faults: dict[str, object] | None = None, host: str = "fake") -> None:
        self.host, self.is_root = host, False
        self.user, self.can_escalate = "fake", False
        self.facts = {"user": "fake"}
        self.files = files or {}
        self.commands = commands or {}
        self.faults = faults or {}
        self.closed = False

    def run(self, command: str, sink: Sink, *, timeout: float, as_root: bool = False,
            env: dict | None = None) -> CommandResult:
        fault = self.faults.get(command)
        if isinstance(fault, CommandResult):
            return fault
        if isinstance(fault, Exception):
            raise fault
        try:
            sink(self.commands.get(command, b""))
        except SinkFull:
            return CommandResult(0, "", stopped=True)
        return CommandResult(0 if command in self.commands else 127, "" if command in self.commands else "not found")

    def read(self, path: str, sink: Sink, *, offset: int = 0, timeout: float, as_root: bool = False) -> int:
        fault = self.faults.get(path)
        if isinstance(fault, Exception):
            raise fault
        if path not in self.files:
            raise ArtifactError("missing", f"not found: {path}")
        data = self.files[path][offset:]
        try:
            for i in range(0, len(data), 7):  # small chunks: exercise chunk boundaries
                sink(data[i:i + 7])
        except SinkFull:
            pass
        return len(data)

    def stat(self, path: str, *, as_root: bool = False) -> FileInfo | None:
        return FileInfo(path, len(self.files[path]), 1e9) if path in self.files else None

    def glob(self, pattern: str, *, as_root: bool = False) -> list[FileInfo]:
        return [FileInfo(p, len(d), 1e9) for p, d in sorted(self.files.items()) if fnmatch.fnmatch(p, pattern)]

    def glob_all(self, patterns, *, as_root: bool = False) -> list[FileInfo]:  # noqa: ANN001
        found: dict[str, FileInfo] = {}
        for pattern in patterns:
            found.update((f.path, f) for f in self.glob(pattern) if f.path not in found)
        return list(found.values())

    def find(self, patterns, *, as_root: bool = False) -> Listing:  # noqa: ANN001
        return Listing(self.glob_all(patterns))

    def which(self, command: str) -> bool:
        return command != "absent-tool"

    def sqlite_backup(self, path: str, dest: str, *, timeout: float, as_root: bool = False) -> str:
        raise ArtifactError("failed", "no online backup on the fake host")

    def close(self) -> None:
        self.closed = True


def _denied() -> ArtifactError:
    return ArtifactError("denied", "permission denied: /var/log/secure.log")
