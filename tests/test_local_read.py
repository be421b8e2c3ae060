"""Collecting locally, files are read in casepack's process instead of through ``cat``/``tail -c +N``:
same bundles, same errors, same fall-back to the command (and to sudo) where the read cannot be done here."""

from __future__ import annotations

import ctypes
import gzip
import json
import os
import platform
import re
import threading
import time
from pathlib import Path

import pytest

from collector.engine.artifacts import RunOptions
from collector.engine.run import CollectRequest, HostTarget, collect
from collector.errors import ArtifactError
from collector.transport import localread
from collector.transport.local import local_host
from probes.spec import Artifact, Probe
from tests.test_engine import members
from tests.test_write_path import lines

MARKER = re.compile(rb"\[REDACTED:([^:\]]+):[0-9a-f]{6}\]")  # tags are keyed per run


@pytest.fixture()
def reads(monkeypatch):
    """Counts the in-process reads."""
    calls = []
    real = localread.read_here

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr("collector.transport.local.read_here", spy)
    return calls


def _collect(tmp_path: Path, name: str, arts: tuple[Artifact, ...], **options: object):
    out = tmp_path / name
    out.mkdir()
    req = CollectRequest(hosts=[HostTarget("h", "local", local_host)], probes=[Probe("t", artifacts=arts)],
                         output=out, options=RunOptions(**options))
    result = collect(req)
    body = {k: MARKER.sub(rb"[REDACTED:\1]", v) for k, v in members(result.path).items()
            if k.startswith("hosts/h/t/")}  # the artifacts (not the run's times)
    listed = json.loads(members(result.path)["manifest.json"])["artifacts"]
    keys = ("path", "status", "error", "size", "truncated", "notes", "redactions", "window", "source_size")
    shown = [{k: a.get(k) for k in keys} for a in listed]
    if not options.get("redact", True):  # redacted bytes differ run to run (keyed tags): their sha256 too
        shown += [{"sha256": a["sha256"]} for a in listed if a.get("sha256")]
    return body, shown


@pytest.mark.parametrize("redact", [False, True])
def test_in_process_read_gives_the_bundle_cat_gives(tmp_path: Path, monkeypatch, reads, redact: bool) -> None:
    data = lines(40000) + b"db password=hunter2-secret-value\n" + lines(2000, 40000)
    d = tmp_path / "files"
    d.mkdir()
    (d / "app.log").write_bytes(data)  # over its cap: read from an offset (tail -c +N)
    (d / "whole.log").write_bytes(data[:300000])
    (d / "rot.log.1.gz").write_bytes(gzip.compress(data[:500000], 1))
    (d / "tail.log").write_bytes(data[:200000])
    (d / "win.log").write_bytes(data)
    (d / "app.conf").write_bytes(b"user = x\npassword = s3cret-pass\n" * 5000)  # a config over its cap: head
    for p in d.iterdir():
        os.utime(p, (2e9, 2e9))
    arts = (
        Artifact("capped", "log", paths=(str(d / "app.log"),), max_size=1 << 20),
        Artifact("whole", "log", paths=(str(d / "whole.log"),)),
        Artifact("gz", "log", paths=(str(d / "rot.log.1.gz"),), max_size=100000),
        Artifact("tail", "log", paths=(str(d / "tail.log"),), tail_lines=7),
        Artifact("conf", "config", paths=(str(d / "app.conf"),), max_size=50000),
        Artifact("gone", "log", paths=(str(d / "missing.log"),)),
    )
    here = _collect(tmp_path, "here", arts, redact=redact)
    assert len(reads) == 5
    window = _collect(tmp_path, "here-win", (Artifact("win", "log", paths=(str(d / "win.log"),)),),
                      redact=redact, since=1795168800.0 + 3600)
    monkeypatch.setenv("CASEPACK_READ", "command")
    reads.clear()
    cat = _collect(tmp_path, "cat", arts, redact=redact)
    cat_window = _collect(tmp_path, "cat-win", (Artifact("win", "log", paths=(str(d / "win.log"),)),),
                          redact=redact, since=1795168800.0 + 3600)
    assert not reads
    assert here == cat and window == cat_window
    assert len(here[0]) == 5 and any(a["truncated"] for a in here[1])
    assert any("before the time window dropped" in " ".join(a["notes"] or []) for a in window[1])
    if redact:
        assert all(b"hunter2" not in v and b"s3cret-pass" not in v for v in here[0].values())


def _both(path: str, **kw: object) -> list[object]:
    """What Host.read gives (bytes, or the error's status and message) in process and through the command."""
    outcomes = []
    for mode in ("here", "command"):
        os.environ["CASEPACK_READ"] = mode
        got = bytearray()
        try:
            n = local_host().read(path, got.extend, timeout=30, **kw)
            outcomes.append((n, bytes(got)))
        except ArtifactError as exc:
            outcomes.append((exc.status, exc.reason))
        finally:
            del os.environ["CASEPACK_READ"]
    return outcomes


@pytest.fixture()
def gentle_already():
    """Host.read reads in process only at the commands' niceness (casepack renices itself collecting locally)."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    os.setpriority(os.PRIO_PROCESS, 0, max(before, 10))
    yield
    os.setpriority(os.PRIO_PROCESS, 0, before)  # root in the test container: may raise it back


def test_errors_and_offsets_are_the_commands(tmp_path: Path, reads, gentle_already) -> None:
    f = tmp_path / "f.log"
    f.write_bytes(lines(30000))
    for offset in (0, 1, 12345, f.stat().st_size, f.stat().st_size + 10):
        here, cat = _both(str(f), offset=offset)
        assert here == cat and here[1] == f.read_bytes()[offset:]
    for bad in (tmp_path / "missing", tmp_path):  # not found; a directory
        here, cat = _both(str(bad))
        assert here == cat and here[0] in ("missing", "failed")
    assert len(reads) == 7


def test_a_fifo_and_size_0_files_are_left_to_the_command(tmp_path: Path, gentle_already) -> None:
    """A FIFO would block; a /proc-like file (size 0) may block too: only the command's timeout can end those."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert localread.read_here(str(fifo), lambda d: None, offset=0, timeout=5, gentle=True) is None
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert localread.read_here(str(empty), lambda d: None, offset=0, timeout=5, gentle=True) is None
    assert localread.read_here("/proc/self/status", lambda d: None, offset=0, timeout=5, gentle=True) is None
    here, cat = _both(str(empty))
    assert here == cat == (0, b"")


def test_a_file_growing_while_read_is_read_to_its_end_as_cat_does(tmp_path: Path, gentle_already) -> None:
    """Neither ``cat`` nor the in-process read stops at the size seen when listing: both read to the end."""
    results = []
    for mode in ("here", "command"):
        f = tmp_path / f"{mode}.log"
        f.write_bytes(lines(40000))  # ~2.6 MB: several reads
        listed = f.stat().st_size
        with open(f, "ab") as w:
            w.write(b"grown after the listing\n")
        got = bytearray()
        appended = []

        def sink(data: bytes, f=f, got=got, appended=appended) -> None:
            got.extend(data)
            if not appended:
                appended.append(True)
                with open(f, "ab") as w:
                    w.write(b"grown while read\n")

        os.environ["CASEPACK_READ"] = mode
        try:
            local_host().read(str(f), sink, timeout=30)
        finally:
            del os.environ["CASEPACK_READ"]
        assert bytes(got) == f.read_bytes() and len(got) > listed
        results.append(bytes(got))
    assert results[0] == results[1]


def test_timeout_and_full_sink(tmp_path: Path, gentle_already) -> None:
    f = tmp_path / "f.log"
    f.write_bytes(lines(40000))
    res = localread.read_here(str(f), lambda d: None, offset=0, timeout=-1, gentle=False)
    assert res is not None and res.timed_out and res.exit_code is None
    with pytest.raises(ArtifactError) as err:
        os.environ["CASEPACK_READ"] = "here"
        try:
            local_host().read(str(f), lambda d: None, timeout=-1)
        finally:
            del os.environ["CASEPACK_READ"]
    assert err.value.status == "timed_out"


@pytest.mark.skipif(platform.machine() != "x86_64", reason="ioprio syscall numbers checked on x86_64")
def test_the_read_runs_at_the_io_priority_of_ionice_c2_n7(tmp_path: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    f = tmp_path / "f.log"
    f.write_bytes(b"x\n" * 10)
    seen = []
    before = libc.syscall(252, 1, 0)
    localread.read_here(str(f), lambda d: seen.append(libc.syscall(252, 1, 0)), offset=0, timeout=5, gentle=True)
    assert seen == [(2 << 13) | 7] and libc.syscall(252, 1, 0) == before
    seen.clear()
    localread.read_here(str(f), lambda d: seen.append(libc.syscall(252, 1, 0)), offset=0, timeout=5, gentle=False)
    assert seen == [before]


def test_less_gentle_than_the_commands_means_the_command(tmp_path: Path, monkeypatch, reads) -> None:
    f = tmp_path / "f.log"
    f.write_bytes(b"x\n")
    monkeypatch.setattr("collector.transport.host.os.getpriority", lambda *a: 0)
    assert local_host().read(str(f), lambda d: None, timeout=5) == 2 and not reads
    assert local_host(nice=False).read(str(f), lambda d: None, timeout=5) == 2 and len(reads) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_an_unreadable_file_is_denied_with_the_commands_message(tmp_path: Path, gentle_already) -> None:
    """As a user who may not read it (a forked child that dropped to nobody): same status and message."""
    tmp_path.chmod(0o755)
    f = tmp_path / "secret.log"
    f.write_bytes(b"x\n")
    f.chmod(0o600)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            out = _both(str(f))
            os.write(w, json.dumps([list(map(str, o)) for o in out]).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as pipe:
        here, cat = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert here == cat and here[0] == "denied" and "Permission denied" in here[1]


def test_reads_in_threads_keep_their_own_io_priority(tmp_path: Path) -> None:
    """ioprio is per thread: a read restores its thread's, never another's."""
    f = tmp_path / "f.log"
    f.write_bytes(lines(20000))
    errors = []

    def one() -> None:
        try:
            got = bytearray()
            localread.read_here(str(f), got.extend, offset=0, timeout=30, gentle=True)
            assert bytes(got) == f.read_bytes()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors



def test_the_host_deadline_bounds_the_in_process_read(tmp_path: Path, gentle_already) -> None:
    from collector.fleet.deadline import DeadlineConnection, HostDeadline
    from collector.transport.local import LocalConnection

    f = tmp_path / "f.log"
    f.write_bytes(lines(40000))
    conn = DeadlineConnection(LocalConnection("h"), HostDeadline(60))
    got = bytearray()
    res = conn.read_file(str(f), got.extend, offset=5, timeout=30, gentle=True)
    assert res is not None and res.exit_code == 0 and bytes(got) == f.read_bytes()[5:]
    passed = HostDeadline(60)
    passed.end = 0.0  # long gone
    with pytest.raises(ArtifactError) as err:
        DeadlineConnection(LocalConnection("h"), passed).read_file(str(f), got.extend, offset=0, timeout=30,
                                                                    gentle=True)
    assert err.value.status == "failed" and "deadline" in err.value.reason
    ending = HostDeadline(60)
    ending.end = time.monotonic() + 0.05  # passes during the read: the read is bound by what was left

    def slow(data: bytes) -> None:
        time.sleep(0.1)

    with pytest.raises(ArtifactError) as err:
        DeadlineConnection(LocalConnection("h"), ending).read_file(str(f), slow, offset=0, timeout=30, gentle=True)
    assert "deadline" in err.value.reason
