"""What only the OpenSSH client gives (certificates signed by a CA, ``Match`` blocks), how it is chosen
(flag, case file, inventory), and its promises: one authentication per host, no secret in any argv,
nothing left behind. The shared SSH suites (test_ssh_collect.py, test_interrupt.py, …) run on both clients.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.cliutil import CLI, env
from tests.sshfleet import CPPASS_PASSWORD, USER_PASS, USER_SUDO, SshFleet, fleet_of, is_root, running, sshd_available

pytestmark = [
    pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (apt-get install openssh-server)"),
    pytest.mark.skipif(not is_root(), reason="the sshd test fleet needs root (users, sudoers)"),
]


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user CA made here (as Vault or step-ca would hold it): sshd trusts it with TrustedUserCAKeys."""
    key = tmp_path_factory.mktemp("ca") / "user_ca"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "casepack-test-ca", "-f", str(key)],
                   check=True)
    return key


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory, ca: Path):
    yield from fleet_of(tmp_path_factory.mktemp("osfleet"), "o1", "o2", client="openssh",
                        user_ca=ca.with_suffix(".pub"))


def probe(tmp: Path) -> Path:
    path = tmp / "probe.toml"
    path.write_text('name = "ident"\n[[artifact]]\nname = "who"\nkind = "command"\ncommand = "id -un; uname -n"\n'
                    '[[artifact]]\nname = "root"\nkind = "command"\ncommand = "id -u"\nneeds_root = true\n')
    return path


def collect(tmp: Path, *args: str, extra_env: dict | None = None) -> tuple[subprocess.CompletedProcess, dict | None]:
    out = tmp / "out"
    out.mkdir(exist_ok=True)
    proc = subprocess.run([*CLI, "collect", "-o", f"{out}/", "--no-input", "--json", "-p", str(probe(tmp)), *args],
                          capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
                          env={**env(), **(extra_env or {})})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(proc.stdout) if proc.stdout.startswith("{") else None


def hosts(result: dict) -> dict[str, dict]:
    return {h["name"]: h for h in result["manifest"]["hosts"]}


def test_certificate_login_works_with_openssh_not_paramiko(fleet: SshFleet, ca: Path, tmp_path: Path) -> None:
    key = tmp_path / "id_cert"  # a key sshd does NOT list in authorized_keys: only its certificate lets it in
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    subprocess.run(["ssh-keygen", "-q", "-s", str(ca), "-I", "casepack-test", "-n", USER_SUDO, "-V", "-5m:+1h",
                    str(key.with_suffix(".pub"))], check=True)
    cert = tmp_path / "vault-signed.pub"  # where a CA client (vault ssh, step ssh) put it: CertificateFile names it
    (tmp_path / "id_cert-cert.pub").rename(cert)  # (paramiko finds only KEY-cert.pub, beside the key)
    o1 = fleet["o1"]
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f"Host certhost\n  HostName {o1.address}\n  Port {o1.port}\n  User {USER_SUDO}\n"
                   f"  IdentityFile {key}\n  CertificateFile {cert}\n  IdentitiesOnly yes\n"
                   f"  UserKnownHostsFile {fleet.known_hosts}\n")
    proc, result = collect(tmp_path, "certhost", "--ssh-config", str(cfg), "--ssh-client", "openssh")
    assert proc.returncode == 0, proc.stderr
    facts = hosts(result)["certhost"]["facts"]
    assert facts["auth"] == f"publickey ({cert}, certificate)" and facts["ssh_client"].startswith("openssh")
    assert "ED25519-CERT" in o1.log_text() and "casepack-test" in o1.log_text()  # sshd saw the certificate
    proc, result = collect(tmp_path, "certhost", "--ssh-config", str(cfg), "--ssh-client", "paramiko")
    assert proc.returncode == 1 and "authentication failed" in proc.stderr  # paramiko ignores CertificateFile


def test_match_block_is_honoured(fleet: SshFleet, tmp_path: Path) -> None:
    """Only a ``Match exec`` block says where ``matched`` is: ssh evaluates it; casepack passes the alias on."""
    o2 = fleet["o2"]
    flag = tmp_path / "on-call"
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f'Match originalhost matched exec "test -e {flag}"\n  HostName {o2.address}\n  Port {o2.port}\n'
                   f"  User {USER_SUDO}\n  IdentityFile {fleet.client_key}\n  UserKnownHostsFile {fleet.known_hosts}\n"
                   "Host *\n  ConnectTimeout 3\n")
    flag.touch()
    proc, result = collect(tmp_path, "matched", "--ssh-config", str(cfg), "--ssh-client", "openssh")
    assert proc.returncode == 0, proc.stderr
    assert hosts(result)["matched"]["status"] == "ok"
    flag.unlink()  # the block no longer applies: "matched" is not a host name at all
    proc, _ = collect(tmp_path, "matched", "--ssh-config", str(cfg), "--ssh-client", "openssh")
    assert proc.returncode == 1 and "matched" in proc.stderr


def test_one_authentication_many_channels_nothing_left(fleet: SshFleet, tmp_path: Path) -> None:
    o1 = fleet["o1"]
    before = o1.log_text().count("Accepted publickey")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    proc, result = collect(tmp_path, "o1", "--ssh-config", str(fleet.ssh_config), "--ssh-client", "openssh",
                           extra_env={"TMPDIR": str(tmpdir)})
    assert proc.returncode == 0, proc.stderr
    assert result["manifest"]["artifacts"]  # several commands (discovery, listing, two artifacts) …
    assert o1.log_text().count("Accepted publickey") == before + 1  # … over one login
    assert list(tmpdir.iterdir()) == [] and not running(str(tmpdir))  # no master, no socket dir


def test_sudo_password_never_in_any_argv(fleet: SshFleet, tmp_path: Path) -> None:
    o1 = fleet["o1"]
    out = tmp_path / "out"
    out.mkdir()
    args = [*CLI, "collect", f"{USER_PASS}@{o1.address}:{o1.port}", "--identity", str(fleet.client_key),
            "--known-hosts", str(fleet.known_hosts), "--ssh-client", "openssh", "--sudo-password-env", "CP_PW",
            "-p", str(probe(tmp_path)), "-o", f"{out}/", "--no-input", "--json"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, env={**env(), "CP_PW": CPPASS_PASSWORD})
    seen_ssh = False
    while proc.poll() is None:
        assert not running(CPPASS_PASSWORD)  # no process on this machine (client or "remote") has it in argv
        seen_ssh = seen_ssh or bool(running(f"{o1.address}"))
        time.sleep(0.01)
    stdout, stderr = proc.communicate()
    assert proc.returncode == 0, stderr
    assert seen_ssh
    root = {a["artifact"]: a for a in json.loads(stdout)["manifest"]["artifacts"]}["root"]
    assert root["status"] == "ok"  # sudo got the password, on stdin


def test_client_chosen_by_case_file_and_inventory_flag_wins(fleet: SshFleet, tmp_path: Path) -> None:
    o1, o2 = fleet["o1"], fleet["o2"]
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(f'[defaults]\nuser = "{USER_SUDO}"\nidentity_file = "{fleet.client_key}"\n'
                         f'[hosts.o1]\naddress = "{o1.address}"\nport = {o1.port}\nssh_client = "openssh"\n'
                         f'[hosts.o2]\naddress = "{o2.address}"\nport = {o2.port}\n')
    common = ["-i", str(inventory), "--known-hosts", str(fleet.known_hosts), "--ssh-config", "/dev/null"]
    proc, result = collect(tmp_path, *common)
    assert proc.returncode == 0, proc.stderr
    clients = {n: h["facts"]["ssh_client"].split()[0] for n, h in hosts(result).items()}
    assert clients == {"o1": "openssh", "o2": "paramiko"}  # per host from the inventory; default paramiko
    case = tmp_path / "case.toml"
    case.write_text('[collect]\nssh_client = "openssh"\n')
    proc, result = collect(tmp_path, *common, "--case", str(case))
    assert {h["facts"]["ssh_client"].split()[0] for h in hosts(result).values()} == {"openssh"}
    proc, result = collect(tmp_path, *common, "--case", str(case), "--ssh-client", "paramiko")
    assert {h["facts"]["ssh_client"].split()[0] for h in hosts(result).values()} == {"paramiko"}
    case.write_text('[collect]\nssh_client = "putty"\n')
    proc, _ = collect(tmp_path, *common, "--case", str(case))
    assert proc.returncode == 2 and "unknown ssh_client 'putty'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2


def test_key_passphrase_is_asked_by_casepack_on_the_terminal(fleet: SshFleet, tmp_path: Path) -> None:
    """ssh has no terminal (its own session): its question comes through casepack's askpass, the answer back."""
    pexpect = pytest.importorskip("pexpect")
    o2 = fleet["o2"]
    cfg = tmp_path / "ssh_config"
    cfg.write_text(f"Host pk\n  HostName {o2.address}\n  Port {o2.port}\n  User {USER_SUDO}\n"
                   f"  IdentityFile {fleet.passphrase_key}\n  IdentitiesOnly yes\n"
                   f"  UserKnownHostsFile {fleet.known_hosts}\n")
    out = tmp_path / "out"
    out.mkdir()
    child_env = {k: v for k, v in env().items() if k != "SSH_AUTH_SOCK"}
    child = pexpect.spawn(CLI[0], [*CLI[1:], "collect", "pk", "--ssh-config", str(cfg), "--ssh-client", "openssh",
                                   "-p", str(probe(tmp_path)), "-o", f"{out}/", "--no-input"],
                          env=child_env, encoding="utf-8", timeout=60)
    child.expect(f"passphrase for {fleet.passphrase_key}")
    child.sendline(fleet.passphrase)
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    assert fleet.passphrase not in child.before  # not echoed
    assert list(out.glob("*.tar.zst"))


def test_a_lost_master_fails_the_command_and_never_logs_in_again(fleet: SshFleet) -> None:
    from collector.errors import ArtifactError
    from collector.hosts.resolve import SshOptions, resolve_hosts

    o2 = fleet["o2"]
    host = resolve_hosts(["o2"], None, SshOptions(ssh_config=str(fleet.ssh_config), client="openssh"))[0].connect()
    try:
        assert host.capture("echo up")[0] == "up\n"
        logins = o2.log_text().count("Accepted publickey")
        host.conn._master.proc.kill()  # the connection drops (the host rebooted, a firewall cut it …)
        host.conn._master.proc.wait()
        with pytest.raises(ArtifactError) as info:
            host.capture("echo again")
        assert info.value.status == "failed" and "SSH channel failed" in info.value.reason
        assert o2.log_text().count("Accepted publickey") == logins  # no second, unchecked login
    finally:
        host.close()
