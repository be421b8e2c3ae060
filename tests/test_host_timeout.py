"""--host-timeout on the real sshd fleet: a dead node never holds the run; what a slow host gave is kept."""

from __future__ import annotations

import json
import shutil
import socket
import time
import uuid
from pathlib import Path

import pytest

from collector.hosts.resolve import resolve_hosts
from tests.cliutil import run_cli
from tests.sshfleet import SSH_CLIENTS, SshFleet, fleet_of, is_root, running, sshd_available

pytestmark = [
    pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (apt-get install openssh-server)"),
    pytest.mark.skipif(not is_root(), reason="the sshd test fleet needs root (users, sudoers)"),
]


@pytest.fixture(scope="module", params=SSH_CLIENTS)
def fleet(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    yield from fleet_of(tmp_path_factory.mktemp("fleet"), "slow1", "quick1", client=request.param)


@pytest.fixture
def silent_server():
    """A TCP port that completes the handshake (the kernel's backlog) but never sends an SSH banner."""
    sock = socket.socket()
    sock.bind(("127.0.0.253", 0))
    sock.listen(64)  # never accept()ed: connects succeed, nothing is ever said
    yield sock.getsockname()
    sock.close()


@pytest.fixture
def black_hole():
    """An address where SYN gets no answer: a listener whose accept queue (backlog 0) one connection fills."""
    sock = socket.socket()
    sock.bind(("127.0.0.252", 0))
    sock.listen(0)
    filler = socket.create_connection(sock.getsockname(), timeout=2)
    probe = socket.socket()
    probe.settimeout(0.5)
    with pytest.raises(TimeoutError):  # the kernel drops further SYNs: a black-holed node
        probe.connect(sock.getsockname())
    probe.close()
    yield sock.getsockname()
    filler.close()
    sock.close()


@pytest.fixture
def flags():
    """A world-readable directory for ``slow-<host>`` flag files (the test users cannot enter pytest's tmp)."""
    path = Path(f"/tmp/casepack-deadline-{uuid.uuid4().hex[:8]}")
    path.mkdir(mode=0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def probe_with_slow_host(tmp: Path, flags: Path, marker: str) -> Path:
    """``fast`` everywhere; ``slow`` runs ``sleep 600.N`` where ``<flags>/slow-<host>`` exists, else answers."""
    probe = tmp / "deadline.toml"
    probe.write_text(f'''name = "deadline"
description = "a fast artifact and one that hangs on a slow host"

[[artifact]]
name = "fast"
kind = "command"
command = "echo fast answer"

[[artifact]]
name = "slow"
kind = "command"
command = "if [ -e {flags}/slow-{{host}} ]; then {marker}; else echo quick; fi"
timeout = 900

[[artifact]]
name = "later"
kind = "command"
command = "echo later"
''')
    return probe


def test_a_dead_and_a_hung_host_end_at_the_deadline(fleet: SshFleet, tmp_path: Path, silent_server,
                                                    flags: Path) -> None:
    marker = f"sleep 600.{uuid.uuid4().int % 10**6:06d}"
    (flags / "slow-slow1").touch()
    address, port = silent_server
    config = tmp_path / "ssh_config"
    config.write_text(f"Host dead\n  HostName {address}\n  Port {port}\n  User cptest\n\n"
                      + fleet.ssh_config.read_text())
    probe = probe_with_slow_host(tmp_path, flags, marker)
    out = tmp_path / "out"
    t0 = time.monotonic()
    res = run_cli("collect", "slow1", "quick1", "dead", "--ssh-config", str(config), *fleet.client_args,
                  "-p", str(probe),
                  "-o", f"{out}/", "--no-input", "--json", "--host-timeout", "4", "--connect-timeout", "60",
                  "-j", "1")
    wall = time.monotonic() - t0
    print(f"host-timeout run: wall {wall:.2f}s")  # the figure docs/fleet.md quotes (pytest -s)
    assert res.returncode == 3, res.stderr
    # -j 1: the hosts run one after the other, each given up on at 4 s (+ the close grace): never 60 s or 600 s
    assert wall < 45, f"the run took {wall:.1f}s"  # far from 60 s and 600 s, even on a loaded machine
    manifest = json.loads(res.stdout)["manifest"]
    hosts = {h["name"]: h for h in manifest["hosts"]}
    assert hosts["quick1"]["status"] == "ok"
    assert hosts["dead"]["status"] == "failed" and 4 <= hosts["dead"]["duration"] < 4 + 2
    assert 4 <= hosts["slow1"]["duration"] < 4 + 3 + 2  # the deadline, the kill, the close grace at most
    assert hosts["dead"]["error"] == "host deadline of 4s passed while connecting"
    assert hosts["slow1"]["status"] == "partial" and hosts["slow1"]["error"].startswith("host deadline of 4s passed")
    arts = {(a["host"], a["artifact"]): a for a in manifest["artifacts"]}
    assert arts["slow1", "fast"]["status"] == "ok" and arts["slow1", "fast"]["path"]  # kept
    assert arts["slow1", "slow"]["status"] == "failed"
    assert arts["slow1", "slow"]["error"] == "host deadline of 4s passed"
    assert arts["quick1", "slow"]["status"] == "ok"
    end = time.monotonic() + 3
    while running(marker):  # the remote sleep was killed with its session, not left for 600 s
        assert time.monotonic() < end, f"{marker} left running on the host"
        time.sleep(0.05)


def test_the_deadline_in_the_inventory_and_the_case_file(fleet: SshFleet, tmp_path: Path, flags: Path) -> None:
    marker = f"sleep 600.{uuid.uuid4().int % 10**6:06d}"
    (flags / "slow-slow1").touch()
    probe = probe_with_slow_host(tmp_path, flags, marker)
    inv = tmp_path / "inv.toml"
    inv.write_text("[hosts.slow1]\nhost_timeout = 3\n[hosts.quick1]\n")
    [slow, quick] = resolve_hosts([], str(inv))
    assert (slow.host_timeout, quick.host_timeout) == (3.0, None)
    t0 = time.monotonic()
    res = run_cli("collect", "-i", str(inv), "--ssh-config", str(fleet.ssh_config), *fleet.client_args,
                  "-p", str(probe),
                  "-o", f"{tmp_path}/out/", "--no-input", "--json")
    assert res.returncode == 3, res.stderr
    assert time.monotonic() - t0 < 15
    manifest = json.loads(res.stdout)["manifest"]
    assert {h["name"]: h["status"] for h in manifest["hosts"]} == {"slow1": "partial", "quick1": "ok"}
    # the case file's [collect] host_timeout wins over the inventory's (the documented precedence)
    case = tmp_path / "case.toml"
    case.write_text("[collect]\nhost_timeout = 2\n")
    res = run_cli("collect", "-i", str(inv), "--ssh-config", str(fleet.ssh_config), *fleet.client_args,
                  "-p", str(probe), "--case",
                  str(case), "-o", f"{tmp_path}/out2/", "--no-input", "--json")
    assert res.returncode == 3, res.stderr
    [slow_host] = [h for h in json.loads(res.stdout)["manifest"]["hosts"] if h["name"] == "slow1"]
    assert slow_host["error"].startswith("host deadline of 2s passed")
    bad = run_cli("collect", "-i", str(inv), "--host-timeout", "0", "--no-input")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_process_test_honours_the_deadline(fleet: SshFleet, tmp_path: Path, silent_server) -> None:
    address, port = silent_server
    config = tmp_path / "ssh_config"
    config.write_text(f"Host dead\n  HostName {address}\n  Port {port}\n  User cptest\n\n"
                      + fleet.ssh_config.read_text())
    t0 = time.monotonic()
    res = run_cli("process-test", "dead", "quick1", "--ssh-config", str(config), *fleet.client_args,
                  "-o", str(tmp_path),
                  "--json", "--host-timeout", "3", "--connect-timeout", "60")
    assert time.monotonic() - t0 < 20
    assert res.returncode == 1, res.stderr
    report = json.loads(res.stdout)
    text = json.dumps(report)
    assert "host deadline of 3s passed while connecting" in text


def test_a_black_holed_host_is_given_up_at_the_deadline(fleet: SshFleet, tmp_path: Path, black_hole) -> None:
    address, port = black_hole
    config = tmp_path / "ssh_config"
    config.write_text(f"Host hole\n  HostName {address}\n  Port {port}\n  User cptest\n\n"
                      + fleet.ssh_config.read_text())
    probe = tmp_path / "mini.toml"
    probe.write_text('name = "mini"\ndescription = "d"\n[[artifact]]\nname = "a"\nkind = "command"\n'
                     'command = "echo a"\n')
    t0 = time.monotonic()
    res = run_cli("collect", "hole", "quick1", "--ssh-config", str(config), *fleet.client_args,
                  "-p", str(probe), "-o", f"{tmp_path}/o/",
                  "--no-input", "--json", "--host-timeout", "3", "--connect-timeout", "120")
    wall = time.monotonic() - t0
    print(f"black-holed host run: wall {wall:.2f}s")
    assert res.returncode == 3, res.stderr
    assert wall < 40  # far from --connect-timeout 120, even on a loaded machine
    hosts = {h["name"]: h for h in json.loads(res.stdout)["manifest"]["hosts"]}
    assert 3 <= hosts["hole"]["duration"] < 3 + 2  # given up at its deadline
    assert hosts["hole"]["status"] == "failed"
    assert hosts["hole"]["error"] == "host deadline of 3s passed while connecting"
    assert hosts["quick1"]["status"] == "ok"
