"""A fleet of REAL OpenSSH sshd "hosts" on loopback addresses (127.0.0.2, 127.0.0.3, ...) for casepack tests.

No mocks: every host is a ``/usr/sbin/sshd -D`` process with its own host key and config, reachable by paramiko or
the stock ``ssh`` client.  Needs root (it creates the test login users and the sudoers drop-in) and openssh-server.

Test users: ``cptest`` (sudo NOPASSWD), ``cppass`` (sudo asks for ``CPPASS_PASSWORD``), ``cpdeny`` (has password
``CPDENY_PASSWORD`` but no sudo rights at all).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
USER_SUDO, USER_PASS, USER_DENY = "cptest", "cppass", "cpdeny"
# cpdeny has a password too, so a real production case is modelled: sudo asks, then says "not in the sudoers file".
TEST_USERS = (USER_SUDO, USER_PASS, USER_DENY)
CPPASS_PASSWORD = "Casepack-sudo-pw-1"
CPDENY_PASSWORD = "Casepack-deny-pw-1"
KEY_PASSPHRASE = "casepack key passphrase"
SUDOERS_FILE = Path("/etc/sudoers.d/casepack-test")
DEFAULT_PORT = 2222
READY_TIMEOUT = 10.0
LOCK_FILE = "/tmp/casepack-sshfleet.lock"
SSH_CLIENTS = ("paramiko", "openssh")  # casepack's --ssh-client values: the SSH suites run on both

SUDOERS_RULES = f"""\
# Managed by casepack tests/sshfleet.py -- rewritten on every run.
User_Alias CASEPACK_TEST = {USER_SUDO}, {USER_PASS}, {USER_DENY}
# sudo -S over a non-tty exec channel must work; no lecture on stderr; never cache the password
# (so "sudo -n" for cppass always needs one); do not record session I/O (stdin carries the password).
Defaults:CASEPACK_TEST !requiretty, !use_pty, lecture=never, timestamp_timeout=0, !log_input, !log_output
Defaults:CASEPACK_TEST !mail_no_user, !mail_badpass
{USER_SUDO} ALL=(ALL:ALL) NOPASSWD: ALL
{USER_PASS} ALL=(ALL:ALL) ALL
"""


def sshd_available() -> bool:
    return os.access(SSHD, os.X_OK) and shutil.which("ssh-keygen") is not None


def is_root() -> bool:
    return os.geteuid() == 0


def _run(*args: str, input: str | None = None) -> str:
    res = subprocess.run(args, input=input, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({res.returncode}): {res.stderr.strip() or res.stdout.strip()}")
    return res.stdout


@contextlib.contextmanager
def fleet_lock() -> Iterator[None]:
    """Serialise user setup and port pick/bind/restart across concurrent test processes (e.g. two pytest runs)."""
    with open(LOCK_FILE, "a") as fh:  # closing the file releases the lock
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def ensure_test_users() -> None:
    """Create cptest/cppass/cpdeny (idempotent), unlock them for key login, and (re)write the sudoers drop-in."""
    with fleet_lock():
        for user in TEST_USERS:
            if subprocess.run(["id", "-u", user], capture_output=True, check=False).returncode != 0:
                _run("useradd", "-m", "-s", "/bin/sh", user)
        # useradd leaves "!" (locked) in /etc/shadow and sshd with UsePAM no refuses locked accounts even for
        # key logins; "*" means "no password can match" but is not locked.
        if _run("getent", "shadow", USER_SUDO).split(":")[1].startswith("!"):
            _run("usermod", "-p", "*", USER_SUDO)
        _run("chpasswd", input=f"{USER_PASS}:{CPPASS_PASSWORD}\n{USER_DENY}:{CPDENY_PASSWORD}\n")
        if not SUDOERS_FILE.exists() or SUDOERS_FILE.read_text() != SUDOERS_RULES:
            tmp = SUDOERS_FILE.with_name(".casepack-test.tmp")  # sudo ignores names containing "."
            tmp.write_text(SUDOERS_RULES)
            tmp.chmod(0o440)
            _run("visudo", "-cf", str(tmp))
            os.replace(tmp, SUDOERS_FILE)


def _port_free(address: str, port: int) -> bool:
    with socket.socket() as s, contextlib.suppress(OSError):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as sshd does: TIME_WAIT does not count
        s.bind((address, port))
        return True
    return False


def _free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def unreachable_address() -> tuple[str, int]:
    """A loopback (address, port) where nothing listens: connecting gets 'Connection refused'."""
    address = "127.0.0.254"
    return address, _free_port(address)


def wait_for_banner(
    address: str, port: int, timeout: float = READY_TIMEOUT, proc: subprocess.Popen[bytes] | None = None
) -> str:
    """Poll until (address, port) answers with an SSH-2.0 banner; return it. Raises TimeoutError/RuntimeError."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"sshd exited with status {proc.returncode} before becoming ready")
        try:
            with socket.create_connection((address, port), timeout=1.0) as s:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                line = s.makefile("rb").readline(255)
            if line.startswith(b"SSH-2.0-") and (proc is None or proc.poll() is None):  # ours, not a stranger
                return line.decode(errors="replace").strip()
            last = RuntimeError(f"unexpected banner {line!r}")
        except OSError as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"sshd on {address}:{port} not ready after {timeout}s: {last}")


def _stat(pid: int | str) -> list[str]:
    """/proc/<pid>/stat fields after the command name: [state, ppid, ...]; [] if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _alive(pid: int) -> bool:
    return _stat(pid)[:1] not in ([], ["Z"])


def _descendants(pid: int) -> list[int]:
    """Live descendants of pid; sshd's per-connection processes call setsid(), so killpg would miss them."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        st = _stat(d.name) if d.name.isdigit() else []
        if st[:1] not in ([], ["Z"]):
            children.setdefault(int(st[1]), []).append(int(d.name))
    out: list[int] = []
    todo = [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out, todo = out + kids, todo + kids
    return out


def _kill(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@dataclass
class FleetHost:
    name: str
    address: str
    port: int
    host_key: Path
    config: Path
    log: Path
    host_key_pub: str = ""
    banner: str = ""
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    @property
    def known_hosts_line(self) -> str:
        return f"[{self.address}]:{self.port} {self.host_key_pub}"

    def generate_host_key(self) -> None:
        for p in (self.host_key, self.host_key.with_suffix(".pub")):
            p.unlink(missing_ok=True)
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{self.name}-host", "-f", str(self.host_key))
        self.host_key_pub = " ".join(self.host_key.with_suffix(".pub").read_text().split()[:2])

    def start(self) -> None:
        if self.pid is not None:
            return
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege-separation dir; missing without systemd
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-f", str(self.config), "-E", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self.banner = wait_for_banner(self.address, self.port, proc=self.proc)
        except (TimeoutError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n--- {self.log} ---\n{self.log_text()}") from None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        children = _descendants(proc.pid)  # per-connection monitors, user children, shells
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        # Let finishing sessions end by themselves first: killing a monitor early orphans its child as a zombie.
        for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 3.0)):
            deadline = time.monotonic() + grace
            while any(map(_alive, children)) and time.monotonic() < deadline:
                time.sleep(0.05)
            _kill([c for c in children if _alive(c)], sig)

    def restart_with_new_host_key(self) -> str:
        """Simulate a re-installed host: new host key, same address/port. known_hosts is NOT updated."""
        with fleet_lock():  # nobody else may grab our address:port while it is briefly free
            self.stop()
            self.generate_host_key()
            self.start()
        return self.host_key_pub

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class SshFleet:
    """sshd hosts plus client material (keys, known_hosts, ssh_config) under ``base_dir``."""

    def __init__(self, base_dir: str | os.PathLike[str], *, ensure_users: bool = True, client: str = "paramiko",
                 user_ca: Path | None = None) -> None:
        if not is_root():
            raise PermissionError("SshFleet needs root (test users, sudoers, sshd)")
        self.base = Path(base_dir).resolve()
        self.base.mkdir(parents=True, exist_ok=True)
        self.hosts: dict[str, FleetHost] = {}
        self.client = client  # the casepack SSH client the tests using this fleet run with
        self.user_ca = user_ca  # a CA public key sshd trusts for user certificates (TrustedUserCAKeys)
        self.users = TEST_USERS
        self.client_key = self.base / "id_ed25519"
        self.passphrase_key = self.base / "id_ed25519_pass"
        self.passphrase = KEY_PASSPHRASE
        self.sudo_password = CPPASS_PASSWORD
        self.deny_password = CPDENY_PASSWORD
        self.known_hosts = self.base / "known_hosts"
        self.ssh_config = self.base / "ssh_config"
        self.authorized_keys_dir = self.base / "authorized_keys"
        if ensure_users:
            ensure_test_users()
        self._make_client_keys()
        self.write_client_files()
        atexit.register(self.stop_all)

    def _make_client_keys(self) -> None:
        for key, passphrase in ((self.client_key, ""), (self.passphrase_key, self.passphrase)):
            for p in (key, key.with_suffix(".pub")):
                p.unlink(missing_ok=True)
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", f"casepack-{key.name}", "-f", str(key))
        pubs = "".join(k.with_suffix(".pub").read_text() for k in (self.client_key, self.passphrase_key))
        self.authorized_keys_dir.mkdir(mode=0o755, exist_ok=True)
        for user in self.users:
            (self.authorized_keys_dir / user).write_text(pubs)

    @property
    def client_key_pub(self) -> str:
        return self.client_key.with_suffix(".pub").read_text().strip()

    def _next_address(self) -> str:
        used = {h.address for h in self.hosts.values()}
        return next(a for n in range(2, 254) if (a := f"127.0.0.{n}") not in used)

    def add_host(self, name: str, address: str | None = None) -> FleetHost:
        if name in self.hosts:
            raise ValueError(f"host {name!r} already in fleet")
        address = address or self._next_address()
        hdir = self.base / "hosts" / name
        hdir.mkdir(parents=True, exist_ok=True)
        with fleet_lock():  # pick the port and bind it before any concurrent fleet can
            port = DEFAULT_PORT if _port_free(address, DEFAULT_PORT) else _free_port(address)
            host = FleetHost(
                name, address, port, hdir / "ssh_host_ed25519_key", hdir / "sshd_config", hdir / "sshd.log"
            )
            host.generate_host_key()
            self._write_sshd_config(host, hdir)
            host.start()
        self.hosts[name] = host
        self.write_client_files()
        return host

    def _write_sshd_config(self, host: FleetHost, hdir: Path) -> None:
        host.config.write_text(
            f"ListenAddress {host.address}:{host.port}\n"
            f"HostKey {host.host_key}\n"
            f"PidFile {hdir / 'sshd.pid'}\n"
            # Not "AuthorizedKeysFile <base>/authorized_keys/%u": sshd opens that as the target user, who cannot
            # traverse pytest's 0700 /tmp/pytest-of-root (and pytest re-tightens it at every session start).
            "AuthorizedKeysFile none\nAuthorizedKeysCommandUser root\n"
            f"AuthorizedKeysCommand /usr/bin/cat {self.authorized_keys_dir}/%u\n"
            "PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nStrictModes no\nPermitRootLogin no\nLogLevel VERBOSE\n"
            "AllowTcpForwarding yes\nMaxStartups 100:30:200\nMaxSessions 50\nUseDNS no\nPrintMotd no\n"
            f"Subsystem sftp {SFTP_SERVER}\n"
            + (f"TrustedUserCAKeys {self.user_ca}\n" if self.user_ca else "")
        )

    def __getitem__(self, name: str) -> FleetHost:
        return self.hosts[name]

    def write_client_files(self) -> None:
        """(Re)write known_hosts and ssh_config from the hosts' current host keys."""
        self.known_hosts.write_text("".join(h.known_hosts_line + "\n" for h in self.hosts.values()))
        blocks = [
            f"Host {h.name}\n  HostName {h.address}\n  Port {h.port}\n  User {USER_SUDO}\n"
            f"  IdentityFile {self.client_key}\n  UserKnownHostsFile {self.known_hosts}\n"
            for h in self.hosts.values()
        ]
        blocks.append(
            f"Host *\n  IdentitiesOnly yes\n  IdentityFile {self.client_key}\n  UserKnownHostsFile {self.known_hosts}\n"
            "  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  ConnectTimeout 5\n"
        )
        self.ssh_config.write_text("\n".join(blocks))

    @property
    def client_args(self) -> list[str]:
        """casepack's option choosing this fleet's SSH client."""
        return ["--ssh-client", self.client]

    def ssh_command(self, *args: str) -> list[str]:
        """argv for the stock ssh client using this fleet's config, batch mode, strict host key checking."""
        return ["ssh", "-F", str(self.ssh_config), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", *args]

    def stop_all(self) -> None:
        for host in self.hosts.values():
            host.stop()

    def __enter__(self) -> SshFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def fleet_of(base: Path, *names: str, client: str = "paramiko", user_ca: Path | None = None) -> Iterator[SshFleet]:
    """A fleet of hosts under ``base`` for a module fixture (``yield from fleet_of(...)``), stopped afterwards.

    A module fixture with ``params=SSH_CLIENTS`` passes ``client=request.param``: the module's tests run once per
    casepack SSH client, each against its own fleet, and add ``fleet.client_args`` to their casepack command lines.
    """
    fleet = SshFleet(base, client=client, user_ca=user_ca)
    for name in names:
        fleet.add_host(name)
    yield fleet
    fleet.stop_all()


def running(marker: str) -> list[int]:
    """Pids whose command line holds ``marker`` (remote processes too: the fleet's hosts are on loopback)."""
    pids = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                pids.append(int(pid))
        except OSError:
            continue
    return pids
