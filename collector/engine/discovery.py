"""The read-only view of a host that a probe's ``discover`` function gets."""

from __future__ import annotations

from collections.abc import Mapping

from collector.errors import ArtifactError
from collector.transport.base import SinkFull
from collector.transport.host import Host

LIMIT = 4 << 20


class TransportContext:
    """Implements :class:`probes.spec.DiscoveryContext` over a host."""

    def __init__(self, transport: Host, variables: Mapping[str, str]) -> None:
        self.transport = transport
        self.variables = variables

    def read_text(self, path: str, limit: int = LIMIT) -> str | None:
        buf = bytearray()

        def sink(data: bytes) -> None:
            buf.extend(data)
            if len(buf) >= limit:
                raise SinkFull()

        try:
            self.transport.read(path, sink, timeout=30, as_root=True)  # user first, sudo on permission denied
        except ArtifactError:
            return None
        return bytes(buf[:limit]).decode("utf-8", "replace")

    def run(self, command: str, timeout: float = 30.0, privileged: bool = False) -> str | None:
        if privileged and self.transport.can_escalate:
            out = self._run(command, timeout, True)
            if out is not None:
                return out
        return self._run(command, timeout, False)

    def _run(self, command: str, timeout: float, as_root: bool) -> str | None:
        text, res = self.transport.capture(command, timeout=timeout, as_root=as_root, limit=LIMIT)
        if res.exit_code != 0 and not res.stopped:
            return None
        return text
