"""``--shard`` and ``--host-timeout``, shared by ``collect`` and ``process-test`` (one plan for both)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import click

from collector.casefile import CaseFile
from collector.errors import InputError
from collector.fleet.shard import Shard, parse_shard, take
from collector.hosts.target import HostTarget

_OPTIONS = [
    click.option("--shard", metavar="I/N|GROUP",
                 help="Only this shard of the hosts (after --limit): I/N by a stable hash of the host name "
                      "(1/4 … 4/4 together take every host once), or an inventory group."),
    click.option("--host-timeout", type=click.FloatRange(min=1), metavar="SECONDS",
                 help="Deadline per host for connecting and all its artifacts; then its commands are killed and "
                      "the rest recorded failed (default: the case file's [collect] host_timeout, else the "
                      "inventory's host_timeout per host, else none)."),
]


def fleet_options(func: Callable) -> Callable:
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def shard_hosts(targets: list[HostTarget], shard_text: str | Shard | None, inventory: str | None
                ) -> tuple[list[HostTarget], dict[str, Any] | None]:
    """This shard's hosts and the ``shard`` key to record (None: not sharded)."""
    if shard_text is None:
        return targets, None
    shard = shard_text if isinstance(shard_text, Shard) else parse_shard(shard_text)
    return take(targets, shard, from_inventory=bool(inventory)), shard.describe()


def case_id_of(flag: str | None, case: CaseFile | None, inherited: str | None = None) -> str | None:
    """``--case-id``, else the case file's ``[collect] case_id``, else ``inherited``."""
    where = "--case-id"
    value = flag
    if value is None and case is not None and case.collect.get("case_id") is not None:
        value, where = str(case.collect["case_id"]), "case file [collect] case_id"
    if value is None:
        return inherited
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}", value):
        raise InputError(f"{where} {value[:40]!r}: use letters, digits and _ . : - (at most 100)")
    return value
