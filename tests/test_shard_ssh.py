"""--shard on the real sshd fleet: shards partition the inventory; a set resumes a shard that never ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.fleet.shard import shard_of
from tests.cliutil import run_cli, write_probe
from tests.sshfleet import SSH_CLIENTS, SshFleet, fleet_of, is_root, sshd_available

pytestmark = [
    pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (apt-get install openssh-server)"),
    pytest.mark.skipif(not is_root(), reason="the sshd test fleet needs root (users, sudoers)"),
]
HOSTS = ("s1", "s2", "s3", "s4", "s5")


@pytest.fixture(scope="module", params=SSH_CLIENTS)
def fleet(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    yield from fleet_of(tmp_path_factory.mktemp("fleet"), *HOSTS, client=request.param)


@pytest.fixture
def setup(fleet: SshFleet, tmp_path: Path) -> tuple[list[str], Path]:
    inv = tmp_path / "inv.toml"
    inv.write_text('[groups.web]\nhosts = ["s1", "s2"]\n[groups.db]\nhosts = ["s3", "s4", "s5"]\n')
    probe = write_probe(tmp_path / "mini.toml", ("hello", "echo hello"))
    return ["-i", str(inv), "--ssh-config", str(fleet.ssh_config), *fleet.client_args,
            "-p", str(probe), "--no-input", "--json"], tmp_path


def collect(*args: str) -> tuple[int, dict, str]:
    res = run_cli("collect", *args)
    return res.returncode, json.loads(res.stdout) if res.stdout else {}, res.stderr


def test_shards_partition_the_inventory(setup: tuple[list[str], Path]) -> None:
    args, tmp = setup
    seen: list[str] = []
    for i in (1, 2, 3):
        code, out, err = collect(*args, "--shard", f"{i}/3", "-o", f"{tmp}/shards/", "--case-id", "C-7")
        expected = [h for h in HOSTS if shard_of(h, 3) == i]
        if not expected:
            assert code == 0 and "holds none" in err
            continue
        assert code == 0, err
        m = out["manifest"]
        assert [h["name"] for h in m["hosts"]] == expected
        assert m["shard"] == {"index": i, "count": 3} and m["inventory"] == list(HOSTS) and m["case_id"] == "C-7"
        record = json.loads(Path(out["record"]).read_text())
        assert record["shard"] == m["shard"] and record["inventory"] == list(HOSTS) and record["case_id"] == "C-7"
        seen += expected
    assert sorted(seen) == sorted(HOSTS)  # every host once
    empty = next(i for i in range(1, 9) if all(shard_of(h, 8) != i for h in HOSTS))  # more shards than hosts
    code, out, err = collect(*args, "--shard", f"{empty}/8", "-o", f"{tmp}/empty/")
    assert code == 0 and "holds none of the 5 selected host(s)" in err
    assert out == {"bundle": None, "status": "empty_shard", "exit_status": 0}
    assert not (tmp / "empty").exists() or not list((tmp / "empty").iterdir())


def test_group_shard_after_limit(setup: tuple[list[str], Path]) -> None:
    args, tmp = setup
    code, out, err = collect(*args, "--shard", "web", "-o", f"{tmp}/g/")
    assert code == 0, err
    assert [h["name"] for h in out["manifest"]["hosts"]] == ["s1", "s2"]
    assert out["manifest"]["shard"] == {"group": "web"}
    code, out, err = collect(*args, "--limit", "s2,db", "--shard", "web", "-o", f"{tmp}/g2/")
    assert code == 0, err
    assert [h["name"] for h in out["manifest"]["hosts"]] == ["s2"]
    assert out["manifest"]["inventory"] == ["s2", "s3", "s4", "s5"]  # selected before sharding, after --limit
    code, _, err = collect(*args, "--shard", "cache", "-o", f"{tmp}/g3/")
    assert code == 2 and "no selected host is in that group" in err


def test_process_test_takes_the_same_shard(setup: tuple[list[str], Path]) -> None:
    args, tmp = setup
    res = run_cli("process-test", *[a for a in args if a != "--no-input"], "--shard", "2/2", "-o", str(tmp / "pt"))
    report = json.loads(res.stdout)
    assert sorted(h["name"] for h in report["hosts"]) == [h for h in HOSTS if shard_of(h, 2) == 2]
    assert "--shard 2/2" in Path(report["runbook"]).read_text()  # the runbook's command collects that shard


def test_a_set_resumes_the_shard_that_never_ran(setup: tuple[list[str], Path]) -> None:
    args, tmp = setup
    drop = tmp / "drop"
    code, one, err = collect(*args, "--shard", "1/2", "-o", f"{drop}/")
    assert code == 0, err
    # resuming that shard's bundle alone resumes that shard only: it is complete
    res = run_cli("collect", "--resume", one["bundle"], "--no-input")
    assert res.returncode == 0 and "nothing left" in res.stderr
    # the drop directory as a set: shard 2/2 has no record, so its hosts are collected, all of them
    code, two, err = collect("--resume", str(drop), "--no-input", "--json")
    assert code == 0, err
    m = two["manifest"]
    assert [h["name"] for h in m["hosts"]] == [h for h in HOSTS if shard_of(h, 2) == 2]
    assert m["shard"] is None and m["case_id"] == one["manifest"]["case_id"]
    assert [r["bundle"] for r in m["resume_of"]] == [Path(one["bundle"]).name]
