"""SIGTERM/SIGHUP during ``collect`` and ``open``: the real CLI in a subprocess, a real signal; afterwards
no spool directory, no raw database snapshot, no ``.partial`` bundle or tree, no child left running.
``collect`` writes a partial bundle of what it had collected (none if nothing yet)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import zstandard

from tests.cryptokit import ROOT, good_files, manifest_for, member, tar_of
from tests.sshfleet import running

CLI = [sys.executable, "-c", "from collector.cli import main; main()"]


def start(args: list[str], tmpdir: Path, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmpdir)}
    return subprocess.Popen([*CLI, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(cond, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.02)



def stats_db(path: Path, rows: int = 20_000) -> Path:
    con = sqlite3.connect(path)
    con.execute("create table stats (ts text, name text, value real)")
    con.executemany("insert into stats values (?, ?, ?)",
                    ((f"2026-11-24T08:{i % 60:02d}:00", f"metric-{i % 97}", i * 0.5) for i in range(rows)))
    con.commit()
    con.close()
    return path


def slow_probe(tmp: Path, marker: str) -> Path:
    dbs = [stats_db(tmp / f"stats{i}.db") for i in range(3)]
    arts = "".join(f'[[artifact]]\nname = "stats{i}"\nkind = "stats"\npaths = ["{db}"]\n\n' for i, db in enumerate(dbs))
    probe = tmp / "slow.toml"
    probe.write_text(f'name = "slow"\ndescription = "test"\n\n{arts}'
                     f'[[artifact]]\nname = "nap"\nkind = "command"\ncommand = "sleep {marker}"\ntimeout = 120\n')
    return probe


@pytest.mark.parametrize("sig,delay", [(signal.SIGTERM, 0.0), (signal.SIGTERM, 0.8), (signal.SIGHUP, 0.3)])
def test_signal_during_collect_leaves_nothing_behind(tmp_path: Path, sig: int, delay: float) -> None:
    marker = f"3{uuid.uuid4().int % 10**6:06d}.5"  # `sleep 3xxxxxx.5`: unique in /proc, never ends on its own
    tmpdir, out = tmp_path / "tmp", tmp_path / "out"
    tmpdir.mkdir()
    out.mkdir()
    probe = slow_probe(tmp_path, marker)
    proc = start(["collect", "-p", str(probe), "-o", str(out), "--no-input", "--label", "sig"], tmpdir, tmp_path)
    try:
        wait_for(lambda: running(f"sleep {marker}") and any(p.name.startswith("casepack-") for p in tmpdir.iterdir()))
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err
    assert list(tmpdir.iterdir()) == []  # no casepack-* spool, no raw snapshot, no host-side temp dir
    written = sorted(p.name for p in out.iterdir())
    last = err.strip().splitlines()[-1]
    if written:  # something was collected before the signal: a partial bundle of it (tests/test_interrupt.py)
        # the bundle, its checksum and its run record (collector/bundle/runrecord.py, beside every bundle)
        assert written == [written[0], written[0] + ".sha256", written[0] + ".status.json"], written
        assert "partial bundle written" in last, err
        manifest = json.loads(zstd_member(out / written[0], "manifest.json"))
        assert manifest["status"] == "interrupted"
        assert {a["artifact"]: a["status"] for a in manifest["artifacts"]}["nap"] == "interrupted"
    else:  # no .partial bundle, no bundle
        assert last == (f"casepack: terminated by {signal.Signals(sig).name}; "
                        "temporary files removed, nothing written"), err
    wait_for(lambda: not running(f"sleep {marker}"), timeout=5)


def zstd_member(bundle: Path, name: str) -> bytes:
    import io
    import tarfile

    raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(bundle.read_bytes())).read()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read()


def big_bundle(path: Path, size: int) -> Path:
    """A valid bundle with one ``size``-byte member of zeros (small on disk, slow to write out)."""
    files = {**good_files(), "hosts/h/p/log/big": b"\0" * size}
    raw = tar_of([member(n, d) for n, d in files.items()] + [member("manifest.json", manifest_for(files))])
    path.write_bytes(zstandard.ZstdCompressor(level=1).compress(raw))
    return path


def test_sigterm_during_open_leaves_no_partial_tree(tmp_path: Path) -> None:
    bundle = big_bundle(tmp_path / "big.tar.zst", 1 << 30)
    tmpdir, work = tmp_path / "tmp", tmp_path / "work"
    tmpdir.mkdir()
    work.mkdir()
    proc = start(["open", str(bundle), "-o", str(work / "o"), "--max-size", "2GiB"], tmpdir, work)
    try:
        def writing() -> bool:
            partial = [p for p in work.iterdir() if ".partial-" in p.name]
            return bool(partial) and any(f.is_file() and f.stat().st_size > 0 for f in partial[0].rglob("*"))
        wait_for(writing)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    assert "terminated by SIGTERM" in err and "Traceback" not in err
    assert list(work.iterdir()) == [] and list(tmpdir.iterdir()) == []
