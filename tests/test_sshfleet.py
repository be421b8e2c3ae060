"""Proof that tests/sshfleet.py builds a REAL fleet: stock ssh client against real sshd processes on loopback."""

from __future__ import annotations

import glob
import os
import subprocess
from collections.abc import Iterator

import paramiko
import pytest

from tests.sshfleet import (
    CPDENY_PASSWORD,
    CPPASS_PASSWORD,
    KEY_PASSPHRASE,
    SshFleet,
    is_root,
    sshd_available,
    unreachable_address,
    wait_for_banner,
)

pytestmark = [
    pytest.mark.skipif(
        not sshd_available(), reason="needs /usr/sbin/sshd + ssh-keygen (apt-get install openssh-server)"
    ),
    pytest.mark.skipif(not is_root(), reason="needs root: creates test users, /etc/sudoers.d/casepack-test, runs sshd"),
]

HOSTS = ("h1", "h2", "h3")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshFleet]:
    with SshFleet(tmp_path_factory.mktemp("fleet")) as f:
        for name in HOSTS:
            f.add_host(name)
        yield f
    assert all(h.pid is None for h in f.hosts.values())
    leftovers = [p for p in glob.glob("/proc/[0-9]*/cmdline") if str(f.base).encode() in _read(p)]
    assert not leftovers, f"sshd processes left behind: {leftovers}"


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def ssh(fleet: SshFleet, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(fleet.ssh_command(*args), input=stdin, capture_output=True, text=True, timeout=30)


def test_fleet_hosts_are_distinct_live_sshd_processes(fleet: SshFleet) -> None:
    addresses = {(h.address, h.port) for h in fleet.hosts.values()}
    assert len(addresses) == len(HOSTS)
    for host in fleet.hosts.values():
        assert host.address.startswith("127.0.0.") and host.address != "127.0.0.1"
        assert host.pid is not None and os.path.exists(f"/proc/{host.pid}")
        assert wait_for_banner(host.address, host.port).startswith("SSH-2.0-OpenSSH")
        assert host.host_key_pub.startswith("ssh-ed25519 ")
        assert f"[{host.address}]:{host.port} {host.host_key_pub}" in fleet.known_hosts.read_text()
    assert len({h.host_key_pub for h in fleet.hosts.values()}) == len(HOSTS)


@pytest.mark.parametrize("name", ["h1", "h2"])
def test_key_login_by_address_and_port(fleet: SshFleet, name: str) -> None:
    host = fleet[name]
    res = ssh(fleet, "-i", str(fleet.client_key), "-p", str(host.port), f"cptest@{host.address}", "id -un")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "cptest"


def test_alias_reaches_its_own_address(fleet: SshFleet) -> None:
    h3 = fleet["h3"]
    res = ssh(fleet, "h3", 'id -un; echo "$SSH_CONNECTION"')
    assert res.returncode == 0, res.stderr
    user, conn = res.stdout.split("\n")[:2]
    assert user == "cptest"
    assert conn.split()[2:] == [h3.address, str(h3.port)]


@pytest.mark.parametrize("user", ["cppass", "cpdeny"])
def test_other_test_users_can_log_in_by_key(fleet: SshFleet, user: str) -> None:
    res = ssh(fleet, "-l", user, "h1", "id -un")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == user


def test_password_authentication_is_off(fleet: SshFleet) -> None:
    res = ssh(fleet, "-o", "PreferredAuthentications=password,keyboard-interactive", "-l", "cppass", "h1", "true")
    assert res.returncode == 255
    assert "Permission denied" in res.stderr


def test_proxyjump_through_h1_to_h2(fleet: SshFleet) -> None:
    h2 = fleet["h2"]
    res = ssh(fleet, "-J", "h1", "h2", 'id -un; echo "$SSH_CONNECTION"')
    assert res.returncode == 0, res.stderr
    user, conn = res.stdout.split("\n")[:2]
    assert user == "cptest"
    assert conn.split()[2:] == [h2.address, str(h2.port)]
    assert "Accepted publickey for cptest" in fleet["h1"].log_text()


def test_paramiko_with_passphrase_key_and_known_hosts(fleet: SshFleet) -> None:
    host = fleet["h2"]
    client = paramiko.SSHClient()
    client.load_host_keys(str(fleet.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    key = paramiko.Ed25519Key.from_private_key_file(str(fleet.passphrase_key), password=KEY_PASSPHRASE)
    try:
        client.connect(
            host.address,
            port=host.port,
            username="cptest",
            pkey=key,
            allow_agent=False,
            look_for_keys=False,
            timeout=10,
        )
        _, out, _ = client.exec_command("id -un")
        assert out.read().decode().strip() == "cptest"
        assert out.channel.recv_exit_status() == 0
    finally:
        client.close()


def test_passphrase_key_unusable_in_batch_mode(fleet: SshFleet) -> None:
    """The stock client cannot prompt for the passphrase in batch mode, so only that key means no login."""
    h1 = fleet["h1"]
    argv = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"]
    argv += ["-o", f"UserKnownHostsFile={fleet.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
    argv += ["-i", str(fleet.passphrase_key), "-p", str(h1.port), f"cptest@{h1.address}", "true"]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert res.returncode == 255
    assert "Permission denied" in res.stderr


def test_sudo_nopasswd_for_cptest(fleet: SshFleet) -> None:
    res = ssh(fleet, "h1", "sudo -n id -un")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "root"


def test_sudo_n_needs_password_for_cppass(fleet: SshFleet) -> None:
    res = ssh(fleet, "-l", "cppass", "h1", "sudo -n true")
    assert res.returncode != 0
    assert "a password is required" in res.stderr


def test_sudo_s_with_password_for_cppass(fleet: SshFleet) -> None:
    res = ssh(fleet, "-l", "cppass", "h2", "sudo -S -p '' id -un", stdin=CPPASS_PASSWORD + "\n")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "root"
    assert CPPASS_PASSWORD not in res.stdout + res.stderr
    # timestamp_timeout=0: a successful sudo -S does not make a later sudo -n succeed
    res = ssh(fleet, "-l", "cppass", "h2", f"echo {CPPASS_PASSWORD} | sudo -S -p '' true && sudo -n true")
    assert res.returncode != 0
    assert "a password is required" in res.stderr


def test_sudo_s_wrong_password_for_cppass(fleet: SshFleet) -> None:
    res = ssh(fleet, "-l", "cppass", "h1", "sudo -S -p '' true", stdin="wrong-password\n")
    assert res.returncode != 0
    assert "incorrect password" in res.stderr


def test_sudo_refused_for_cpdeny(fleet: SshFleet) -> None:
    res = ssh(fleet, "-l", "cpdeny", "h1", "sudo -S -p '' true", stdin=CPDENY_PASSWORD + "\n")
    assert res.returncode != 0
    assert "not in the sudoers file" in res.stderr
    res = ssh(fleet, "-l", "cpdeny", "h1", "sudo -S -p '' -l", stdin=CPDENY_PASSWORD + "\n")
    assert res.returncode != 0
    assert "may not run sudo" in res.stderr or "not allowed" in res.stderr


def test_changed_host_key_is_refused(fleet: SshFleet) -> None:
    h3 = fleet["h3"]
    old_key, old_pid = h3.host_key_pub, h3.pid
    try:
        new_key = h3.restart_with_new_host_key()
        assert new_key != old_key and h3.pid not in (None, old_pid)
        res = ssh(fleet, "h3", "true")
        assert res.returncode == 255
        assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in res.stderr or "Host key verification failed" in res.stderr
    finally:
        fleet.write_client_files()  # trust the new key again so later tests can use h3
    res = ssh(fleet, "h3", "id -un")
    assert res.returncode == 0, res.stderr


def test_unknown_host_is_refused_with_strict_checking(fleet: SshFleet, tmp_path: os.PathLike[str]) -> None:
    empty = os.path.join(tmp_path, "empty_known_hosts")
    open(empty, "w").close()
    res = ssh(fleet, "-o", f"UserKnownHostsFile={empty}", "h1", "true")
    assert res.returncode == 255
    assert "Host key verification failed" in res.stderr


def test_unreachable_address_is_refused(fleet: SshFleet) -> None:
    address, port = unreachable_address()
    res = ssh(fleet, "-p", str(port), f"cptest@{address}", "true")
    assert res.returncode == 255
    assert "Connection refused" in res.stderr
