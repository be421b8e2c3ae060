"""``--host-timeout``: one deadline per host, covering its connection and all its artifacts.

The deadline starts when the host's worker starts (a host waiting for a free ``-j`` slot loses no
time). It is enforced at the transport seam, so every transport gets it:

- connecting runs in a helper thread the worker stops waiting for at the deadline (a host that
  accepts TCP but never speaks SSH, or never answers SYN, is given up on);
- each command's timeout is cut to the time left, so the transport kills a command still running
  at the deadline the way it kills one that ran over its own timeout (the remote session killed
  over SSH, the local process group killed), and a command asked for after the deadline is refused;
- a short grace later the connection itself is closed, which ends anything still waiting on it.

A command cut or refused this way ends as ``failed`` with ``host deadline of Ns passed``; what the
host collected before stays in the bundle.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from collector import interrupt
from collector.errors import ArtifactError, CasepackError, TransportError
from collector.transport.base import CommandResult, Dialogue, Sink
from collector.transport.host import Host

CLOSE_GRACE = 3.0  # seconds after the deadline before the connection is closed under a command still waiting
CLEANUP_TIME = 5.0  # seconds a cleanup command (removing a snapshot) may still take after the deadline
POLL = 0.1


class HostDeadline:
    """``seconds`` from now (None: no deadline)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds if seconds else None

    def remaining(self) -> float | None:
        return None if self.end is None else self.end - time.monotonic()

    @property
    def passed(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end

    @property
    def message(self) -> str:
        return f"host deadline of {self.seconds:g}s passed"


def connect(target_connect: Callable[[], Host], deadline: HostDeadline) -> Host:
    """Connect, giving up at the deadline; the host's commands are then bound by it too."""
    if deadline.end is None:
        return target_connect()
    box: dict[str, Any] = {}
    done = threading.Event()
    lock = threading.Lock()

    def attempt() -> None:
        try:
            outcome: tuple[str, Any] = ("host", target_connect())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting worker
            outcome = ("error", exc)
        with lock:  # settled and abandoned exclude each other: a late connection is closed, never leaked
            if not box.get("abandoned"):
                box[outcome[0]] = outcome[1]
            elif outcome[0] == "host":
                try:
                    outcome[1].close()
                except Exception:  # noqa: BLE001, S110 - closing a connection nobody waits for
                    pass
        done.set()

    threading.Thread(target=attempt, name="casepack-connect", daemon=True).start()
    while not done.wait(POLL):
        if interrupt.requested() or deadline.passed:
            with lock:
                if "host" not in box and "error" not in box:
                    box["abandoned"] = True
                    break
    if box.get("abandoned"):
        interrupt.check()
        raise TransportError(f"{deadline.message} while connecting")
    if "error" in box:
        raise box["error"]
    host: Host = box["host"]
    host.conn = DeadlineConnection(host.conn, deadline)
    return host


class DeadlineConnection:
    """A :class:`collector.transport.base.Connection` whose commands end at the host's deadline."""

    def __init__(self, conn: Any, deadline: HostDeadline) -> None:
        self._conn = conn
        self.deadline = deadline
        self.name, self.user, self.facts = conn.name, conn.user, conn.facts
        self._closed = False
        self._cut = False  # closed at deadline + grace under a command still waiting
        left = deadline.remaining() or 0.0
        self._closer = threading.Timer(max(0.0, left) + CLOSE_GRACE, self._close_late)
        self._closer.daemon = True
        self._closer.start()

    def read_file(self, path: str, sink: Sink, *, offset: int, timeout: float,
                  gentle: bool) -> CommandResult | None:
        """The wrapped connection's in-process read (a local one), bound by the deadline like a command."""
        here = getattr(self._conn, "read_file", None)
        if here is None:
            return None
        left = self.deadline.remaining() or 0.0
        if interrupt.in_cleanup():
            return here(path, sink, offset=offset, timeout=min(timeout, max(left, 0.0) + CLEANUP_TIME), gentle=gentle)
        if left <= 0:
            raise ArtifactError("failed", self.deadline.message)
        result = here(path, sink, offset=offset, timeout=min(timeout, left), gentle=gentle)
        if result is not None and result.timed_out and self.deadline.passed:
            raise ArtifactError("failed", self.deadline.message)
        return result

    def execute(self, line: str, sink: Sink, *, timeout: float, dialogue: Dialogue | None = None) -> CommandResult:
        left = self.deadline.remaining() or 0.0
        if interrupt.in_cleanup():  # removing what an earlier command left: allowed a little past the deadline
            return self._conn.execute(line, sink, timeout=min(timeout, max(left, 0.0) + CLEANUP_TIME),
                                      dialogue=dialogue)
        if left <= 0:
            raise ArtifactError("failed", self.deadline.message)
        try:
            result = self._conn.execute(line, sink, timeout=min(timeout, left), dialogue=dialogue)
        except _faults():
            if self.deadline.passed:  # the connection was closed under it: the deadline, not a fault
                raise ArtifactError("failed", self.deadline.message) from None
            raise
        if (result.timed_out or self._cut) and self.deadline.passed:
            raise ArtifactError("failed", self.deadline.message)
        return result

    def _close_late(self) -> None:
        if not self._closed:
            self._cut = True
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001, S110 - a connection already broken
                pass

    def close(self) -> None:
        self._closed = True
        self._closer.cancel()
        self._conn.close()


def _faults() -> tuple[type[BaseException], ...]:
    """What a dropped connection raises. paramiko's only once it is loaded: an ssh transport loads it, and a
    local collect never does (its import is ~0.2 s of CPU); evaluated when an exception is matched."""
    ssh = sys.modules.get("paramiko")
    return (ArtifactError, CasepackError, OSError, EOFError) + ((ssh.SSHException,) if ssh is not None else ())
