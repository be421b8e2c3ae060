"""Ctrl-C and SIGTERM during ``collect`` on a real terminal (pexpect), over the real sshd fleet.

The first Ctrl-C stops within 2 s and writes a partial bundle (status ``interrupted``) that ``open`` and
``report`` read; the slow remote command is killed on the host; no temp file is left. A second Ctrl-C
abandons the bundle within 1 s. The sshd hosts are on loopback, so "nothing left on the host" is a
/proc scan here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.sshfleet import SSH_CLIENTS, SshFleet, fleet_of, is_root, running, sshd_available

pexpect = pytest.importorskip("pexpect")

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from collector.cli import main; main()"]
pytestmark = [
    pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (apt-get install openssh-server)"),
    pytest.mark.skipif(not is_root(), reason="the sshd test fleet needs root (users, sudoers)"),
]


@pytest.fixture(scope="module", params=SSH_CLIENTS)
def fleet(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    yield from fleet_of(tmp_path_factory.mktemp("fleet"), "h1", client=request.param)



class Run:
    """``casepack collect`` on a pty: a fast artifact and a slow remote ``sleep 600.N`` on h1."""

    def __init__(self, fleet: SshFleet, tmp: Path) -> None:
        self.fleet = fleet
        self.marker = f"sleep 600.{uuid.uuid4().int % 10**6:06d}"
        self.tmpdir, self.out = tmp / "tmp", tmp / "out"
        self.tmpdir.mkdir()
        self.out.mkdir()
        probe = tmp / "probe.toml"
        probe.write_text(f'''name = "slowapp"
description = "a fast artifact and a slow one"

[[artifact]]
name = "fast"
kind = "command"
command = "echo fastapp 1.0; echo db_password=Sup3rS3cret"

[[artifact]]
name = "slow"
kind = "command"
command = "{self.marker}"
timeout = 900
''')
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(self.tmpdir), "TERM": "dumb"}
        args = ["collect", "h1", "--ssh-config", str(fleet.ssh_config), *fleet.client_args, "-p", str(probe),
                "-o", f"{self.out}/", "--no-input", "--label", "cut"]
        self.child = pexpect.spawn(CLI[0], [*CLI[1:], *args], env=env, cwd=str(tmp), encoding="utf-8",
                                   timeout=60, dimensions=(50, 200))

    def wait_slow_running(self) -> None:
        """The fast artifact is done (its progress line) and the slow command runs on the host."""
        self.child.expect(r"slowapp/fast\s+ok")
        end = time.monotonic() + 20
        while not running(self.marker):
            assert time.monotonic() < end, "the slow remote command never started"
            time.sleep(0.02)
        self.ssh_pids = [p for p in running(str(self.fleet.ssh_config)) if p in running("ControlPath=")]
        assert bool(self.ssh_pids) == (self.fleet.client == "openssh")  # the master and the slow channel

    def finish(self) -> tuple[int | None, float, str]:
        """Wait for the exit; the exit status, seconds since the call, and everything printed."""
        t0 = time.monotonic()
        self.child.expect(pexpect.EOF, timeout=30)
        elapsed = time.monotonic() - t0
        self.child.close()
        return self.child.exitstatus, elapsed, self.child.before

    def bundles(self) -> list[Path]:
        return sorted(self.out.glob("*.tar.zst"))

    def assert_clean(self) -> None:
        assert list(self.tmpdir.iterdir()) == []  # no casepack-* spool, no snapshot, no ssh ControlMaster dir
        for pid in self.ssh_pids:  # no local ssh (master or channel) left behind
            assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
        assert not [p for p in self.out.iterdir() if ".partial" in p.name]
        end = time.monotonic() + 2
        while running(self.marker):  # SIGKILL is delivered at once; give /proc a moment to reap
            assert time.monotonic() < end, f"{self.marker} left running: {running(self.marker)}"
            time.sleep(0.02)


def check_partial_bundle(run: Run, tmp: Path) -> dict:
    [bundle] = run.bundles()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(run.tmpdir)}
    opened = subprocess.run([*CLI, "open", str(bundle), "-o", str(tmp / "opened")], capture_output=True,
                            text=True, env=env, timeout=60)
    assert opened.returncode == 0, opened.stderr
    manifest = json.loads((tmp / "opened" / "manifest.json").read_text())
    report = subprocess.run([*CLI, "report", str(bundle), "-f", "json", "--no-index"], capture_output=True,
                            text=True, env=env, timeout=60)
    assert report.returncode == 0, report.stderr
    assert manifest["status"] == "interrupted"
    arts = {a["artifact"]: a for a in manifest["artifacts"]}
    assert arts["fast"]["status"] == "ok" and arts["fast"]["path"]
    fast = (tmp / "opened" / arts["fast"]["path"]).read_text()
    assert "fastapp 1.0" in fast and "Sup3rS3cret" not in fast  # still redacted
    assert arts["slow"]["status"] == "interrupted" and arts["slow"]["path"] is None
    assert "cut" in arts["slow"]["error"]
    assert (tmp / "opened" / "SUPPORT_CASE.md").exists() and (tmp / "opened" / "redaction-report.json").exists()
    return manifest


def test_ctrl_c_keeps_what_was_collected(fleet: SshFleet, tmp_path: Path) -> None:
    run = Run(fleet, tmp_path)
    run.wait_slow_running()
    run.child.sendintr()
    code, elapsed, out = run.finish()
    print(f"first Ctrl-C → exit in {elapsed:.2f}s")
    assert code == 130, out
    assert elapsed < 2.0
    assert "Traceback" not in out
    assert "partial bundle written" in out
    check_partial_bundle(run, tmp_path)
    run.assert_clean()


def test_second_ctrl_c_abandons_the_bundle(fleet: SshFleet, tmp_path: Path) -> None:
    run = Run(fleet, tmp_path)
    run.wait_slow_running()
    run.child.sendintr()
    run.child.expect("abandons it")
    run.child.sendintr()
    code, elapsed, out = run.finish()
    print(f"second Ctrl-C → exit in {elapsed:.2f}s")
    assert code == 130, out
    assert elapsed < 1.0
    assert "Traceback" not in out
    assert "nothing written" in out
    assert run.bundles() == [] and list(run.out.iterdir()) == []
    run.assert_clean()


def test_sigterm_gives_the_same_partial_bundle(fleet: SshFleet, tmp_path: Path) -> None:
    run = Run(fleet, tmp_path)
    run.wait_slow_running()
    run.child.kill(signal.SIGTERM)
    code, elapsed, out = run.finish()
    print(f"SIGTERM → exit in {elapsed:.2f}s")
    assert code == 143, out  # 128 + SIGTERM: a scheduler sees its own signal; the bundle is there all the same
    assert elapsed < 2.0
    assert "Traceback" not in out
    manifest = check_partial_bundle(run, tmp_path)
    assert "SIGTERM" in {a["artifact"]: a for a in manifest["artifacts"]}["slow"]["error"]
    run.assert_clean()
