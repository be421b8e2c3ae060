"""Many short commands in parallel on one paramiko connection, on a busy machine, never drop the connection.

paramiko sends a channel's EOF outside its lock: an EOF sent right after ``exec`` could reach sshd after the
CLOSE paramiko's transport thread had sent for a command that already ended, and sshd then dropped the whole
connection ("ieof packet referred to nonexistent channel") — every other artifact of that host failed. Found
by the 64-target fleet benchmark (1–4 hosts partial in several runs); before the fix this test saw the
connection drop after ~300 of 3,000 commands. Commands without a stdin dialogue now read /dev/null instead.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.sshfleet import fleet_of, is_root, sshd_available

pytestmark = [
    pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (apt-get install openssh-server)"),
    pytest.mark.skipif(not is_root(), reason="the sshd test fleet needs root (users, sudoers)"),
]
COMMANDS = 2000


def _hammer(host) -> list[str]:  # noqa: ANN001 - a connected Host
    def one(_: int) -> str | None:
        try:
            res = host.run("true", lambda _data: None, timeout=30)
        except Exception as exc:  # noqa: BLE001 - counted, the message kept for the assertion
            return str(exc)
        return None if res.exit_code == 0 else f"exit {res.exit_code}: {res.stderr}"

    with ThreadPoolExecutor(24) as pool:
        return [e for e in pool.map(one, range(COMMANDS)) if e]


def test_parallel_short_commands_keep_the_connection(tmp_path: Path) -> None:
    from collector.hosts.resolve import SshOptions, resolve_hosts

    burners = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(4)]  # a loaded host
    try:
        for fleet in fleet_of(tmp_path, "busy"):
            host = resolve_hosts(["busy"], None, SshOptions(ssh_config=str(fleet.ssh_config)))[0].connect()
            try:
                errors = _hammer(host)
            finally:
                host.conn.close()
            assert errors == [], f"{len(errors)} of {COMMANDS} commands failed, first: {errors[0]}"
            assert "ieof packet" not in fleet["busy"].log_text()
    finally:
        for b in burners:
            b.kill()
            b.wait()


def test_the_connection_sends_small_packets_at_once(tmp_path: Path) -> None:
    """TCP_NODELAY on paramiko's socket: with Nagle on, each command waited ~40 ms for the host's delayed
    ACK (46.6 ms per `true` measured by bench/ssh_transports.py --only commands; 3.6 ms with it set)."""
    import socket

    from collector.hosts.resolve import SshOptions, resolve_hosts

    for fleet in fleet_of(tmp_path, "quick"):
        host = resolve_hosts(["quick"], None, SshOptions(ssh_config=str(fleet.ssh_config)))[0].connect()
        try:
            sock = host.conn._t.sock
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            out: list[bytes] = []
            assert host.conn.execute("echo ok", out.append, timeout=10).exit_code == 0 and b"".join(out) == b"ok\n"
        finally:
            host.conn.close()
