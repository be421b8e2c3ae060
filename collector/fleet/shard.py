"""``--shard I/N`` and ``--shard GROUP``: which hosts of an inventory this runner takes.

A host's shard is a hash of its inventory name, so every runner given the same inventory and the
same ``N`` agrees without talking to the others, every host lands in exactly one shard, and adding
or removing a host moves no other host. Sharding applies after ``--limit``; ``inventory`` in the
manifest lists every host selected before sharding, so a case set can name a host no shard took.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from collector.errors import InputError
from collector.hosts.target import HostTarget

MAX_SHARDS = 100_000


@dataclass(frozen=True)
class Shard:
    index: int | None = None  # 1..count
    count: int | None = None
    group: str | None = None

    def describe(self) -> dict[str, Any]:
        """As the manifest and the run record carry it."""
        if self.group is not None:
            return {"group": self.group}
        return {"index": self.index, "count": self.count}

    def __str__(self) -> str:
        return self.group if self.group is not None else f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``I/N`` (1 ≤ I ≤ N) or the name of an inventory group."""
    text = text.strip()
    m = re.fullmatch(r"(\d+)\s*/\s*(\d+)", text)
    if m:
        index, count = int(m.group(1)), int(m.group(2))
        if not 1 <= count <= MAX_SHARDS or not 1 <= index <= count:
            raise InputError(f"--shard {text}: expected I/N with 1 <= I <= N (e.g. 1/4 … 4/4)")
        return Shard(index=index, count=count)
    if "/" in text or not re.fullmatch(r"[\w.-]+", text):
        raise InputError(f"--shard {text!r}: expected I/N (e.g. 2/4) or an inventory group name")
    return Shard(group=text)


def shard_from_record(value: object) -> Shard | None:
    """The ``shard`` key of a run record back into a :class:`Shard` (None: the run was not sharded)."""
    if isinstance(value, dict) and isinstance(value.get("group"), str):
        return parse_shard(value["group"])
    if isinstance(value, dict) and isinstance(value.get("index"), int) and isinstance(value.get("count"), int):
        return parse_shard(f"{value['index']}/{value['count']}")
    return None


def shard_of(name: str, count: int) -> int:
    """The shard (1..count) of a host name: the first 8 bytes of sha256(name), modulo count."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def take(targets: list[HostTarget], shard: Shard | None, *, from_inventory: bool) -> list[HostTarget]:
    """This shard's hosts, in inventory order. An empty shard is not an error (N may exceed the hosts)."""
    if shard is None:
        return targets
    if shard.group is not None:
        if not from_inventory:
            raise InputError(f"--shard {shard.group}: a group shard needs an inventory (-i)")
        chosen = [t for t in targets if shard.group in t.groups]
        if not chosen:
            groups = sorted({g for t in targets for g in t.groups})
            raise InputError(f"--shard {shard.group}: no selected host is in that group",
                             hint=f"groups: {', '.join(groups) or 'none'}")
        return chosen
    assert shard.index is not None and shard.count is not None
    return [t for t in targets if shard_of(t.name, shard.count) == shard.index]
