"""A loopback fleet for the Ansible playbook (contrib/ansible): runner sshds, target sshds, their data, the inventories.

Runners and targets are real sshd processes from :mod:`tests.sshfleet` on 127.0.0.N. The controller (this
process, root) reaches the runners as ``cptest`` with the fleet's client key; each runner reaches the targets with
its *own* copy of that key and known_hosts (in ``work/runner-ssh``, owned by cptest), as a real runner would use
its own ``~/.ssh``. Every target has its own application log, config and stats DB under ``work/targets/<name>``,
collected with the built-in ``app`` probe whose globs come from per-host inventory variables.

Used by tests/test_ansible_fleet.py and bench/fleet.py.
"""

from __future__ import annotations

import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.sshfleet import USER_SUDO, SshFleet

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT / "contrib" / "ansible" / "site.yml"
ANSIBLE_CFG = ROOT / "contrib" / "ansible" / "ansible.cfg"
CLI = [sys.executable, "-c", "from collector.cli import main; main()"]
ANSIBLE_PLAYBOOK = [sys.executable, "-c", "import sys; from ansible.cli.playbook import main; sys.exit(main())"]
# the same person and address appear in every target's log: their pseudonyms must agree across shards
SHARED_EMAIL, SHARED_IP = "alice.ops@example.com", "10.77.12.9"


def ansible_available() -> bool:
    try:
        import ansible  # noqa: F401
    except ImportError:
        return False
    return shutil.which("rsync") is not None


def _chown_tree(path: Path, user: str) -> None:
    pw = pwd.getpwnam(user)
    for p in [path, *path.rglob("*")]:
        os.chown(p, pw.pw_uid, pw.pw_gid, follow_symlinks=False)


def write_target_data(base: Path, name: str, log_bytes: int, seed: int) -> None:
    """An application's config, log (``log_bytes`` of realistic lines) and stats DB for one target."""
    from bench.genlog import generate

    base.mkdir(parents=True, exist_ok=True)
    (base / "app.conf").write_text(f"# {name}\nlisten = 0.0.0.0:9007\nadmin_password = Fl33t-{seed}-pw\n")
    generate(base / "app.log", max(log_bytes, 1), seed=seed, secret_every=2000)
    with open(base / "app.log", "a") as fh:
        fh.write(f"2026-12-02T06:00:00.000000+0000 [1] warning: login of {SHARED_EMAIL} from {SHARED_IP} on {name}\n")
    db = sqlite3.connect(base / "stats.db")
    db.execute("create table if not exists clients (ts text, name text, msgs int)")
    db.execute("insert into clients values ('2026-12-02T06:00:00', ?, ?)", (name, seed))
    db.commit()
    db.close()


@dataclass
class LoopbackFleet:
    """Runner and target sshds plus everything the playbook needs; ``close()`` stops every sshd it started."""

    work: Path
    runners: list[str]
    targets: list[str]
    log_bytes: int = 64 * 1024
    fleet: SshFleet = field(init=False)
    shared: Path = field(init=False)  # 0755 tree the cptest runners and targets read and write

    def __post_init__(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.fleet = SshFleet(self.work / "sshd")
        # not under pytest's 0700 tmp: the runners (cptest) must reach their ssh material and root dirs
        self.shared = Path(tempfile.mkdtemp(prefix="casepack-fleet-", dir="/var/tmp"))
        self.shared.chmod(0o755)
        try:
            for name in self.runners + self.targets:
                self.fleet.add_host(name)
            for i, name in enumerate(self.targets):
                write_target_data(self.shared / "targets" / name, name, self.log_bytes, seed=i + 1)
            ssh = self.shared / "runner-ssh"
            ssh.mkdir(mode=0o700)
            shutil.copy(self.fleet.client_key, ssh / "id_ed25519")
            shutil.copy(self.fleet.known_hosts, ssh / "known_hosts")
            (self.shared / "runners").mkdir()
            _chown_tree(ssh, USER_SUDO)
            _chown_tree(self.shared / "runners", USER_SUDO)
            self.write_inventories()
        except BaseException:
            self.close()
            raise

    # -- files the controller passes to the playbook ----------------------------------------------------------
    def write_inventories(self) -> None:
        lines = ["[targets]"]
        for name in self.targets:
            host, data = self.fleet[name], self.shared / "targets" / name
            lines.append(f"{name} ansible_host={host.address} ansible_port={host.port} "
                         f"app_config={data}/app.conf app_logs={data}/app.log app_stats={data}/stats.db")
        lines += ["[targets:vars]", f"ansible_user={USER_SUDO}", "app_version_command='echo fleetapp 2.4.1'"]
        self.target_inventory.write_text("\n".join(lines) + "\n")
        lines = ["[casepack_runners]"]
        for name in self.runners:
            host = self.fleet[name]
            lines.append(f"{name} ansible_host={host.address} ansible_port={host.port}")
        lines += ["[casepack_runners:vars]", f"ansible_user={USER_SUDO}",
                  f"ansible_ssh_private_key_file={self.fleet.client_key}",
                  f"ansible_ssh_common_args='-o UserKnownHostsFile={self.fleet.known_hosts} "
                  "-o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes'",
                  "ansible_python_interpreter=/usr/bin/python3"]
        self.runner_inventory.write_text("\n".join(lines) + "\n")

    @property
    def target_inventory(self) -> Path:
        return self.work / "targets.ini"

    @property
    def runner_inventory(self) -> Path:
        return self.work / "runners.ini"

    def playbook_vars(self, output: Path, **extra: object) -> dict[str, object]:
        """The playbook's variables for this fleet (runner-side paths for the runners' own SSH material)."""
        ssh = self.shared / "runner-ssh"
        return {
            "casepack_output": str(output),
            "casepack_inventory": str(self.target_inventory),
            "casepack_controller_cmd": CLI,
            "casepack_runner_root": f"{self.shared}/runners/{{{{ inventory_hostname }}}}",
            "casepack_identity": str(ssh / "id_ed25519"),
            "casepack_known_hosts": str(ssh / "known_hosts"),
            "casepack_probes": ["app"],
            **extra,
        }

    def run_playbook(self, output: Path, timeout: float = 900, **extra: object) -> subprocess.CompletedProcess:
        """``ansible-playbook`` as a subprocess; returns it with ``wall`` and ``maxrss_kib`` (its process tree)."""
        import json

        varfile = self.work / f"vars-{time.monotonic_ns()}.json"
        varfile.write_text(json.dumps(self.playbook_vars(output, **extra)))
        varfile.chmod(0o600)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "ANSIBLE_CONFIG": str(ANSIBLE_CFG),
               "ANSIBLE_HOME": str(self.work / "ansible-home"), "ANSIBLE_NOCOLOR": "1",
               "ANSIBLE_LOCAL_TEMP": str(self.work / "ansible-tmp")}
        cmd = [*ANSIBLE_PLAYBOOK, "-i", str(self.runner_inventory), str(PLAYBOOK), "-e", f"@{varfile}"]
        return run_measured(cmd, env=env, timeout=timeout)

    def stop_targets(self, names: Sequence[str]) -> None:
        for name in names:
            self.fleet[name].stop()

    def start_targets(self, names: Sequence[str]) -> None:
        for name in names:
            self.fleet[name].start()

    def close(self) -> None:
        self.fleet.stop_all()
        shutil.rmtree(self.shared, ignore_errors=True)


def run_measured(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 900,
                 cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``cmd``; the result also carries ``wall`` (s) and ``maxrss_kib`` (largest process of its tree, wait4)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
        timer = threading.Timer(timeout, proc.kill)  # a hung run is killed, and then fails its caller's asserts
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            raise
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        res = subprocess.CompletedProcess(cmd, proc.returncode, out.read().decode(errors="replace"),
                                          err.read().decode(errors="replace"))
    res.wall = wall  # type: ignore[attr-defined]
    res.maxrss_kib = usage.ru_maxrss  # type: ignore[attr-defined]
    return res
