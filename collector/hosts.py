"""Turn HOST arguments and inventories into collection targets."""

from __future__ import annotations

from collector.engine import HostTarget
from collector.errors import InputError
from collector.local import LocalTransport

LOCAL_NAMES = {"local", "localhost", "-"}


def local_target() -> HostTarget:
    transport = LocalTransport()
    return HostTarget(name=transport.host, address="local", connect=lambda: transport, transport="local")


def resolve_hosts(hosts: list[str], inventory: str | None) -> list[HostTarget]:
    """No hosts and no inventory: this machine."""
    if not hosts and not inventory:
        return [local_target()]
    targets = []
    for host in hosts:
        if host in LOCAL_NAMES:
            targets.append(local_target())
        else:
            raise InputError(f"cannot reach {host!r}: the SSH transport is not built yet",
                             hint="run without HOST to collect this machine")
    if inventory:
        raise InputError("inventories need the SSH transport, which is not built yet")
    return targets
