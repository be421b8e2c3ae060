"""The engine's failure isolation, limits and bundle contents, over fake and local transports."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from pathlib import Path

import pytest
import zstandard

from collector.engine.artifacts import RunOptions
from collector.engine.run import CollectRequest, HostTarget, collect
from collector.errors import ArtifactError, CasepackError, ExitStatus, TransportError
from collector.transport.base import CommandResult
from collector.transport.local import local_host
from probes.spec import Artifact, Check, Probe
from tests.fakes import FakeTransport


def members(bundle: Path) -> dict[str, bytes]:
    with open(bundle, "rb") as f:
        data = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True).read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def probe(*arts: Artifact) -> Probe:
    return Probe(name="t", artifacts=arts)


def run(tmp_path: Path, transport, *arts: Artifact, options: RunOptions | None = None, hosts=None):
    hosts = hosts or [HostTarget(transport.host, "fake", lambda: transport, transport="fake")]
    req = CollectRequest(hosts=hosts, probes=[probe(*arts)], output=tmp_path, options=options or RunOptions())
    return collect(req)


def test_one_failing_artifact_never_aborts_the_others(tmp_path: Path) -> None:
    t = FakeTransport(
        files={"/etc/app.conf": b"a=1\n", "/var/log/secure.log": b"x\n"},
        commands={"app --version": b"app 2.0\n"},
        faults={"/var/log/secure.log": ArtifactError("denied", "permission denied: /var/log/secure.log"),
                "slow": CommandResult(None, "", timed_out=True),
                "boom": RuntimeError("bug in a transport")},
    )
    result = run(tmp_path, t,
                 Artifact("version", "version", command="app --version"),
                 Artifact("conf", "config", paths=("/etc/app.conf",)),
                 Artifact("secure", "log", paths=("/var/log/secure.log",)),
                 Artifact("gone", "config", paths=("/etc/nothing.conf",)),
                 Artifact("slow", "command", command="slow", timeout=1),
                 Artifact("boom", "command", command="boom"),
                 Artifact("needs-tool", "command", command="x", requires=("absent-tool",)))
    by = {a.artifact: a for a in result.manifest.artifacts}
    assert by["version"].status == "ok" and by["version"].version == "app 2.0"
    assert by["conf"].status == "ok"
    assert by["secure"].status == "denied" and "permission denied" in by["secure"].error
    assert by["gone"].status == "missing" and "/etc/nothing.conf" in by["gone"].error
    assert by["slow"].status == "timed_out"
    assert by["boom"].status == "failed" and "bug in a transport" in by["boom"].error
    assert by["needs-tool"].status == "skipped"
    assert result.exit_status == ExitStatus.PARTIAL
    assert result.manifest.hosts[0].status == "partial"
    files = members(result.path)
    assert files["hosts/fake/t/config/etc/app.conf"] == b"a=1\n"
    manifest = json.loads(files["manifest.json"])
    assert manifest["status"] == "partial"
    assert t.closed


def test_optional_failures_do_not_make_the_run_partial(tmp_path: Path) -> None:
    t = FakeTransport(files={"/a": b"1\n"})
    result = run(tmp_path, t, Artifact("a", "config", paths=("/a",)),
                 Artifact("b", "config", paths=("/b",), optional=True))
    assert result.exit_status == ExitStatus.OK


def test_unreachable_host_is_recorded_and_others_complete(tmp_path: Path) -> None:
    good = FakeTransport(files={"/a": b"1\n"}, host="good")

    def refuse():
        raise TransportError("connection refused by 127.0.0.9:22")

    hosts = [HostTarget("good", "g", lambda: good), HostTarget("bad", "b", refuse)]
    result = run(tmp_path, good, Artifact("a", "config", paths=("/a",)), hosts=hosts)
    by = {h.name: h for h in result.manifest.hosts}
    assert by["good"].status == "ok"
    assert by["bad"].status == "failed" and "refused" in by["bad"].error
    assert result.exit_status == ExitStatus.PARTIAL


def test_nothing_usable_raises_and_leaves_no_file(tmp_path: Path) -> None:
    t = FakeTransport()
    with pytest.raises(CasepackError, match="nothing usable"):
        run(tmp_path, t, Artifact("a", "config", paths=("/nope",)))
    assert list(tmp_path.iterdir()) == []


def test_config_over_the_cap_is_truncated_head(tmp_path: Path) -> None:
    t = FakeTransport(files={"/big.conf": b"line\n" * 1000})
    result = run(tmp_path, t, Artifact("c", "config", paths=("/big.conf",), max_size=100))
    art = result.manifest.artifacts[0]
    assert art.truncated and art.size == 100 and art.source_size == 5000


def test_log_keeps_its_newest_part_and_whole_lines(tmp_path: Path) -> None:
    data = b"".join(b"line %05d\n" % i for i in range(2000))
    t = FakeTransport(files={"/app.log": data})
    result = run(tmp_path, t, Artifact("l", "log", paths=("/app.log",), max_size=1000))
    art = result.manifest.artifacts[0]
    body = members(result.path)["hosts/fake/t/log/app.log"]
    assert art.truncated and len(body) <= 1000
    assert body.endswith(b"line 01999\n") and body.startswith(b"line ")


def test_log_tail_lines(tmp_path: Path) -> None:
    t = FakeTransport(files={"/app.log": b"".join(b"%d\n" % i for i in range(100))})
    result = run(tmp_path, t, Artifact("l", "log", paths=("/app.log",), tail_lines=3))
    assert members(result.path)["hosts/fake/t/log/app.log"] == b"97\n98\n99\n"


def test_newest_n_log_files(tmp_path: Path) -> None:
    for i in range(5):
        p = tmp_path / f"app.log.{i}"
        p.write_text(f"{i}\n")
        import os
        os.utime(p, (1e9 + 100 - i, 1e9 + 100 - i))
    out = tmp_path / "out"
    out.mkdir()
    req = CollectRequest(hosts=[HostTarget("h", "local", local_host)],
                         probes=[probe(Artifact("l", "log", paths=(str(tmp_path / "app.log.*"),), max_files=2))],
                         output=out)
    result = collect(req)
    kept = sorted(a.source for a in result.manifest.artifacts)
    assert kept == [str(tmp_path / "app.log.0"), str(tmp_path / "app.log.1")]
    assert "newest 2 of 5" in result.manifest.artifacts[0].notes[0]


def test_local_command_timeout_is_enforced(tmp_path: Path) -> None:
    req = CollectRequest(hosts=[HostTarget("h", "local", local_host)],
                         probes=[probe(Artifact("s", "command", command="echo before; sleep 30", timeout=0.5),
                                       Artifact("ok", "command", command="echo fine"))], output=tmp_path)
    result = collect(req)
    by = {a.artifact: a for a in result.manifest.artifacts}
    assert by["s"].status == "timed_out" and by["s"].duration < 5
    assert by["ok"].status == "ok"
    assert members(result.path)["hosts/h/t/command/s.txt"] == b"before\n"


def test_checks_pass_warn_fail(tmp_path: Path) -> None:
    t = FakeTransport(commands={"df": b"/ 95%\n/data 50%\n", "svc": b"inactive\n", "mem": b"42\n"})
    result = run(tmp_path, t,
                 Artifact("disk", "check", command="df", check=Check(value_regex=r"(\d+)%", warn_above=80,
                                                                     fail_above=90)),
                 Artifact("svc", "check", command="svc", check=Check(expect_output="^active$", on_mismatch="warn")),
                 Artifact("mem", "check", command="mem", check=Check(warn_below=50, fail_below=10)))
    by = {a.artifact: a.check for a in result.manifest.artifacts}
    assert by["disk"]["result"] == "fail" and "/ =95" in by["disk"]["message"].replace("/=", "/ =")
    assert by["svc"]["result"] == "warn"
    assert by["mem"]["result"] == "warn" and by["mem"]["value"] == 42
    assert result.exit_status == ExitStatus.OK  # a failing check is a finding, not a collection failure


def test_stats_fallback_copies_and_verifies(tmp_path: Path) -> None:
    src = tmp_path / "s.db"
    db = sqlite3.connect(src)
    db.execute("create table m (v)")
    db.executemany("insert into m values (?)", [(i,) for i in range(50)])
    db.commit()
    db.close()
    t = FakeTransport(files={"/stats.db": src.read_bytes()})
    out = tmp_path / "out"
    out.mkdir()
    result = run(out, t, Artifact("stats", "stats", paths=("/stats.db",)))
    art = result.manifest.artifacts[0]
    assert art.status == "ok" and "file copy" in art.method and "integrity_check ok" in art.method


def test_corrupt_stats_db_fails_clearly(tmp_path: Path) -> None:
    t = FakeTransport(files={"/stats.db": b"SQLite format 3\x00" + b"\xff" * 5000, "/a": b"1\n"})
    result = run(tmp_path, t, Artifact("stats", "stats", paths=("/stats.db",)), Artifact("a", "config", paths=("/a",)))
    art = result.manifest.artifacts[0]
    assert art.status == "failed" and "no consistent copy" in art.error


def test_redaction_happens_before_the_bundle(tmp_path: Path) -> None:
    t = FakeTransport(files={"/app.conf": b"user = bob\npassword = hunter2\n"})
    result = run(tmp_path, t, Artifact("c", "config", paths=("/app.conf",)))
    body = members(result.path)["hosts/fake/t/config/app.conf"]
    assert b"hunter2" not in body and b"[REDACTED:key-value:" in body
    assert result.manifest.artifacts[0].redactions == {"key-value": 1}
    report = json.loads(members(result.path)["redaction-report.json"])
    assert report["total"] == 1 and "hunter2" not in json.dumps(report)


def test_pseudonymize_hides_host_names_in_paths_manifest_and_content(tmp_path: Path) -> None:
    t = FakeTransport(files={"/etc/app.conf": b"peer = db-prod-01 10.2.3.4\nvm.swappiness = 60\n"}, host="db-prod-01")
    t.facts = {"user": "ops", "address": "ops@db-prod-01:22", "auth": "publickey"}
    hosts = [HostTarget("db-prod-01", "ops@db-prod-01:22", lambda: t, transport="ssh")]
    req = CollectRequest(hosts=hosts, probes=[probe(Artifact("c", "config", paths=("/etc/app.conf",)))],
                         output=tmp_path, options=RunOptions(pseudonymize=True))
    result = collect(req)
    files = members(result.path)
    assert "db-prod-01" not in result.path.name
    assert not [name for name in files if "db-prod-01" in name]
    manifest = files["manifest.json"].decode()
    assert "db-prod-01" not in manifest and "10.2.3.4" not in manifest
    conf = next(body for name, body in files.items() if name.endswith("app.conf"))
    assert b"db-prod-01" not in conf and b"10.2.3.4" not in conf
    assert b"vm.swappiness = 60" in conf  # ordinary words stay
    host = result.manifest.hosts[0]
    assert host.name.startswith("name-") and "address" not in host.facts
    mapping = json.loads(result.mapping.read_text())
    assert mapping["pseudonyms"][host.name] == "db-prod-01"
