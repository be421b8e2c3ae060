"""Resume bookkeeping from run records, and the host deadline over the local transport (no network)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from collector.engine.artifacts import RunOptions
from collector.engine.run import CollectRequest, HostTarget, collect
from collector.fleet.resume import Pending, Prior, replay
from collector.fleet.shard import Shard
from collector.plan import HostPlan, Task
from collector.transport.local import local_host
from probes.spec import Artifact, Probe
from tests.sshfleet import running


def record(hosts: list[dict], created: str = "2026-12-02T06:00:00Z", **extra) -> tuple[Path, dict]:
    return Path(f"/b/{created}.tar.zst"), {"created": created, "bundle": f"{created}.tar.zst", "sha256": "0" * 64,
                                           "hosts": hosts, **extra}


def host(target: str, status: str, *problems: tuple[str, str, str, str], optional: bool = False) -> dict:
    return {"name": target, "target": target, "status": status,
            "problems": [{"probe": p, "artifact": a, "source": src, "status": st, "optional": optional}
                         for p, a, src, st in problems]}


def test_replay_keeps_exactly_what_is_not_ok() -> None:
    first = record([
        host("ok1", "ok"),
        host("down", "failed"),
        host("part", "partial", ("app", "conf", "/etc/app/b.conf", "denied"), ("app", "ver", "app -V", "timed_out"),
             ("app", "logs", "/var/log/app/*.log", "missing"), ("app", "discover", "discover", "failed"),
             ("app", "skip", "x", "skipped")),
        host("opt", "ok", ("app", "extra", "/etc/extra", "missing"), optional=True),
    ])
    state = replay([first])
    assert state["down"].artifacts is None  # the whole host
    assert state["part"].artifacts == {("app", "conf"): {"/etc/app/b.conf"}, ("app", "ver"): None,
                                       ("app", "logs"): None}
    assert state["part"].probes == {"app"}
    assert state["ok1"].empty and state["opt"].empty  # optional and skipped are not failures


def test_later_records_narrow_and_a_failed_resume_keeps_the_earlier_state() -> None:
    first = record([host("a", "failed"), host("b", "partial", ("p", "c", "/x/1", "denied"), ("p", "c", "/x/2",
                                                                                           "denied"))])
    second = record([host("a", "partial", ("p", "v", "v --version", "failed")),
                     host("b", "failed")], created="2026-12-02T07:00:00Z")
    state = replay([first, second])
    assert state["a"].artifacts == {("p", "v"): None}
    assert state["b"].artifacts == {("p", "c"): {"/x/1", "/x/2"}}  # b unreachable now: still those two files


def test_keep_tasks_narrows_file_artifacts_to_the_failed_files() -> None:
    conf = Artifact("c", "config", paths=("/x/*.conf",), first_match=True)
    ver = Artifact("v", "version", command="v --version")
    other = Artifact("o", "config", paths=("/o",))
    target = HostTarget("b", "b", lambda: None)  # type: ignore[arg-type, return-value]
    plan = HostPlan(target, {}, [Task("p", conf), Task("p", ver), Task("p", other)])
    prior = Prior([], {"b": Pending({("p", "c"): {"/x/2.conf"}, ("p", "v"): None})}, [None])
    prior.keep_tasks(plan)
    assert [(t.artifact.name, t.artifact.paths, t.artifact.first_match) for t in plan.tasks] == [
        ("c", ("/x/2.conf",), False), ("v", (), False)]


def test_only_a_set_collects_the_hosts_of_a_shard_without_record() -> None:
    from collector.fleet.shard import shard_of

    names = [f"n{i}" for i in range(12)]
    targets = [HostTarget(n, n, lambda: None) for n in names]  # type: ignore[arg-type, return-value]
    mine = [n for n in names if shard_of(n, 3) == 1]
    rec = record([host(n, "ok") for n in mine], shard={"index": 1, "count": 3})
    alone = Prior([rec], replay([rec]), [Shard(1, 3)])
    assert alone.hosts(targets) == [] and not alone.may_miss_shards
    whole = Prior([rec], replay([rec]), [Shard(1, 3)], whole_set=True)
    assert [t.name for t in whole.hosts(targets)] == [n for n in names if n not in mine]
    assert whole.shard is None


def test_host_deadline_kills_a_local_command_and_keeps_the_rest(tmp_path: Path) -> None:
    marker = f"sleep 600.{uuid.uuid4().int % 10**6:06d}"
    probe = Probe(name="t", artifacts=(Artifact("fast", "command", command="echo fast"),
                                       Artifact("slow", "command", command=marker, timeout=900),
                                       Artifact("after", "command", command="echo after")))
    target = HostTarget("h", "local", local_host)
    req = CollectRequest(hosts=[target], probes=[probe], output=tmp_path, options=RunOptions(), host_timeout=2)
    t0 = time.monotonic()
    result = collect(req)
    assert time.monotonic() - t0 < 10
    by = {a.artifact: a for a in result.manifest.artifacts}
    assert by["fast"].status == "ok" and by["fast"].path
    assert by["slow"].status == "failed" and by["slow"].error == "host deadline of 2s passed"
    assert result.manifest.hosts[0].status == "partial"
    assert result.manifest.hosts[0].error.startswith("host deadline of 2s passed")
    assert not running(marker)


def test_the_record_says_how_secrets_were_given_never_their_values(tmp_path: Path) -> None:
    import json
    import os
    import subprocess

    from tests.cliutil import CLI, env, write_probe

    probe = write_probe(tmp_path / "mini.toml", ("a", "echo a"))
    secret = "Pass-phrase-" + uuid.uuid4().hex
    res = subprocess.run([*CLI, "collect", "-p", str(probe), "-o", f"{tmp_path}/o/", "--no-input", "--json",
                          "--passphrase-env", "CP_PHRASE", "--var", "token=abc", "--case-id", "C-1"],
                         capture_output=True, text=True, timeout=120, env={**env(), "CP_PHRASE": secret},
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    record_path = Path(json.loads(res.stdout)["record"])
    record = json.loads(record_path.read_text())
    assert secret not in record_path.read_text()
    assert record["rerun"]["passphrase_env"] == "CP_PHRASE" and record["rerun"]["probes"] == [str(probe)]
    assert record["case_id"] == "C-1" and os.stat(record_path).st_mode & 0o777 == 0o600
