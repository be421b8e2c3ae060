"""--shard: every host of an inventory in exactly one of N shards, stable when hosts come and go."""

from __future__ import annotations

from collections import Counter

import pytest

from collector.errors import InputError
from collector.fleet.shard import Shard, parse_shard, shard_from_record, shard_of, take
from collector.hosts.target import HostTarget

NAMES = [f"node-{i:04d}.dc{i % 3}.example.com" for i in range(2000)]


def targets(names: list[str], groups: dict[str, list[str]] | None = None) -> list[HostTarget]:
    groups = groups or {}
    return [HostTarget(n, n, lambda: None, groups=[g for g, members in groups.items() if n in members])  # type: ignore[arg-type, return-value]
            for n in names]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7, 16, 64])
def test_every_host_is_in_exactly_one_shard(count: int) -> None:
    fleet = targets(NAMES)
    taken = [t.name for i in range(1, count + 1) for t in take(fleet, Shard(i, count), from_inventory=True)]
    assert sorted(taken) == sorted(NAMES)  # all of them, none twice
    sizes = Counter(shard_of(n, count) for n in NAMES)
    assert set(sizes) == set(range(1, count + 1))
    assert max(sizes.values()) < 1.35 * len(NAMES) / count  # roughly even: no shard gets a big excess


def test_adding_or_removing_a_host_moves_no_other_host() -> None:
    before = {n: shard_of(n, 4) for n in NAMES}
    after = {n: shard_of(n, 4) for n in [*NAMES, "newcomer-01"] if n != NAMES[7]}
    assert all(after[n] == before[n] for n in after if n in before)


def test_assignment_is_fixed_across_processes_and_versions() -> None:
    # the hash is part of the contract: runners of different casepack versions must agree
    assert [shard_of(n, 4) for n in ("db-1", "db-2", "web-1", "web-2")] == [
        shard_of(n, 4) for n in ("db-1", "db-2", "web-1", "web-2")]
    import hashlib
    assert shard_of("db-1", 5) == int.from_bytes(hashlib.sha256(b"db-1").digest()[:8], "big") % 5 + 1


def test_group_shard_takes_the_group_in_inventory_order() -> None:
    fleet = targets(["a", "b", "c", "d"], {"web": ["b", "d"], "db": ["a"]})
    assert [t.name for t in take(fleet, parse_shard("web"), from_inventory=True)] == ["b", "d"]
    with pytest.raises(InputError, match="no selected host is in that group"):
        take(fleet, parse_shard("cache"), from_inventory=True)
    with pytest.raises(InputError, match="needs an inventory"):
        take(fleet, parse_shard("web"), from_inventory=False)


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "a/b", "1/2/3", "web servers", ""])
def test_bad_shards_are_one_line_errors(text: str) -> None:
    with pytest.raises(InputError, match="--shard"):
        parse_shard(text)


def test_record_round_trip() -> None:
    for text in ("2/4", "web"):
        shard = parse_shard(text)
        assert shard_from_record(shard.describe()) == shard
    assert shard_from_record(None) is None
    assert parse_shard("3/8").describe() == {"index": 3, "count": 8}
