"""A collection target: a named host and how to connect to it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from collector.transport.host import Host


@dataclass
class HostTarget:
    name: str  # as shown in the bundle: hosts/<name>/
    address: str
    connect: Callable[[], Host]
    variables: dict[str, str] = field(default_factory=dict)
    transport: str = "local"
    groups: list[str] = field(default_factory=list)  # inventory groups (for --shard GROUP)
    host_timeout: float | None = None  # the inventory's per-host deadline (--host-timeout overrides it)


def safe_name(text: str) -> str:
    """A host or label as a file-name-safe word."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "host"
