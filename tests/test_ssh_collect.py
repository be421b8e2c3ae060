"""Collection over SSH against a fleet of real sshd hosts on loopback (see tests/sshfleet.py)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from tests.sshfleet import (
    CPPASS_PASSWORD,
    SSH_CLIENTS,
    USER_DENY,
    USER_PASS,
    SshFleet,
    fleet_of,
    is_root,
    sshd_available,
    unreachable_address,
)

CASEPACK = shutil.which("casepack")
pytestmark = [
    pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (apt-get install openssh-server)"),
    pytest.mark.skipif(not is_root(), reason="the sshd test fleet needs root (users, sudoers)"),
    pytest.mark.skipif(CASEPACK is None, reason="casepack is not installed (pip install -e .)"),
]


@pytest.fixture(scope="module", params=SSH_CLIENTS)
def fleet(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    yield from fleet_of(tmp_path_factory.mktemp("fleet"), "h1", "h2", "h3", client=request.param)


def connect(fleet: SshFleet, name: str):  # noqa: ANN201 - a Host
    """A library-level connection to a fleet host with the fleet's SSH client."""
    from collector.hosts.resolve import SshOptions, resolve_hosts

    opts = SshOptions(ssh_config=str(fleet.ssh_config), client=fleet.client)
    return resolve_hosts([name], None, opts)[0].connect()


@pytest.fixture(scope="module")
def data():
    """Host-side files, in a directory the non-root login users can traverse."""
    root = Path(tempfile.mkdtemp(prefix="casepack-hostdata-"))
    root.chmod(0o755)
    (root / "app.conf").write_text("listen = 0.0.0.0:9000\ndb_password = Sup3rS3cret\n")
    (root / "app.log").write_text("2026-11-24T00:00:00 ERROR 07-0013 client gone\n")
    secret = root / "root-only.log"
    secret.write_text("2026-11-24T00:00:01 audit: only root reads this\n")
    secret.chmod(0o600)
    for p in root.iterdir():
        if p != secret:
            p.chmod(0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def probe_file(tmp: Path, root: Path, extra: str = "") -> Path:
    path = tmp / "probe.toml"
    path.write_text(f'''name = "hostapp"
[vars]
root = "{root}"
[[artifact]]
name = "version"
kind = "version"
command = "echo hostapp 4.2.0; uname -n"
[[artifact]]
name = "config"
kind = "config"
paths = ["{{root}}/app.conf"]
[[artifact]]
name = "logs"
kind = "log"
paths = ["{{root}}/app.log"]
{extra}''')
    return path


ROOT_LOG = '''[[artifact]]
name = "audit"
kind = "log"
paths = ["{root}/root-only.log"]
needs_root = true
'''


def collect(fleet: SshFleet, tmp: Path, *args: str, env: dict | None = None,
            ssh_config: Path | None = None) -> tuple[subprocess.CompletedProcess, dict | None]:
    out = tmp / "out"
    out.mkdir(exist_ok=True)
    cmd = [CASEPACK, "collect", "--ssh-config", str(ssh_config or fleet.ssh_config), *fleet.client_args, "-o", str(out),
           "--no-input", "--json", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})
    result = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None
    return proc, result


def by_host(result: dict) -> dict[str, dict]:
    return {h["name"]: h for h in result["manifest"]["hosts"]}


def arts(result: dict, host: str) -> dict[str, dict]:
    return {a["artifact"]: a for a in result["manifest"]["artifacts"] if a["host"] == host}


def untar(bundle: str, dest: Path) -> Path:
    dest.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", bundle, "-C", str(dest)], check=True)
    return dest


def test_alias_key_auth_and_redaction(fleet: SshFleet, data: Path, tmp_path: Path) -> None:
    proc, result = collect(fleet, tmp_path, "h1", "h2", "-p", str(probe_file(tmp_path, data)))
    assert proc.returncode == 0, proc.stderr
    hosts = by_host(result)
    assert set(hosts) == {"h1", "h2"}
    for name in ("h1", "h2"):
        assert hosts[name]["status"] == "ok" and hosts[name]["transport"] == "ssh"
        assert hosts[name]["facts"]["ssh_client"].startswith(fleet.client)
        assert "publickey" in hosts[name]["facts"]["auth"]
        assert hosts[name]["facts"]["host_key"].startswith("ssh-ed25519 SHA256:")
        assert arts(result, name)["version"]["version"] == "hostapp 4.2.0"
    tree = untar(result["bundle"], tmp_path / "x")
    conf = (tree / "hosts" / "h2" / "hostapp" / "config" / str(data / "app.conf").lstrip("/")).read_text()
    assert "Sup3rS3cret" not in conf and "listen = 0.0.0.0:9000" in conf
    assert stat.S_IMODE(os.stat(result["bundle"]).st_mode) == 0o600


def test_user_at_address_with_identity_and_known_hosts(fleet: SshFleet, data: Path, tmp_path: Path) -> None:
    h3 = fleet["h3"]
    proc, result = collect(fleet, tmp_path, f"cptest@{h3.address}:{h3.port}", "--identity", str(fleet.client_key),
                           "--known-hosts", str(fleet.known_hosts), "-p", str(probe_file(tmp_path, data)))
    assert proc.returncode == 0, proc.stderr
    assert by_host(result)[h3.address]["facts"]["user"] == "cptest"


def test_proxyjump_through_one_host_to_another(fleet: SshFleet, data: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "ssh_config"
    h2 = fleet["h2"]
    cfg.write_text(f"Host behind\n  HostName {h2.address}\n  Port {h2.port}\n  User cptest\n  ProxyJump h1\n\n"
                   + fleet.ssh_config.read_text())
    before = fleet["h1"].log_text().count("direct-tcpip") + fleet["h1"].log_text().count("Accepted publickey")
    proc, result = collect(fleet, tmp_path, "behind", "-p", str(probe_file(tmp_path, data)), ssh_config=cfg)
    assert proc.returncode == 0, proc.stderr
    facts = by_host(result)["behind"]["facts"]
    assert facts["via"].endswith(f"{fleet['h1'].address}:{fleet['h1'].port}")
    after = fleet["h1"].log_text().count("direct-tcpip") + fleet["h1"].log_text().count("Accepted publickey")
    assert after > before  # the jump host saw the login


def test_unknown_host_key_refused_then_accept_new(fleet: SshFleet, data: Path, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    probe = str(probe_file(tmp_path, data))
    proc, result = collect(fleet, tmp_path, "h1", "--known-hosts", str(known), "-p", probe)
    assert proc.returncode == 1, proc.stdout  # the only host failed: nothing usable
    assert "unknown host key" in proc.stderr and "SHA256:" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc, result = collect(fleet, tmp_path, "h1", "--known-hosts", str(known), "--accept-new-host-keys", "-p", probe)
    assert proc.returncode == 0, proc.stderr
    assert "(added)" in by_host(result)["h1"]["facts"]["host_key"]
    assert fleet["h1"].host_key_pub.split()[1] in known.read_text()
    assert stat.S_IMODE(known.stat().st_mode) in (0o600, 0o644)
    proc, result = collect(fleet, tmp_path, "h1", "--known-hosts", str(known), "-p", probe)
    assert proc.returncode == 0 and "(known)" in by_host(result)["h1"]["facts"]["host_key"]


def test_wrong_key_and_unreachable_host_are_isolated(fleet: SshFleet, data: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    cfg = tmp_path / "ssh_config"
    addr, port = unreachable_address()
    h2 = fleet["h2"]
    h1 = fleet["h1"]
    common = f"  User cptest\n  UserKnownHostsFile {fleet.known_hosts}\n"
    cfg.write_text(f"Host h1\n  HostName {h1.address}\n  Port {h1.port}\n{common}  IdentityFile {fleet.client_key}\n"
                   f"Host badkey\n  HostName {h2.address}\n  Port {h2.port}\n{common}  IdentityFile {wrong}\n"
                   f"Host nowhere\n  HostName {addr}\n  Port {port}\n{common}")
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([CASEPACK, "collect", "h1", "badkey", "nowhere", "--ssh-config", str(cfg), *fleet.client_args,
                           "--connect-timeout", "3", "-o", str(out), "--no-input", "--json",
                           "-p", str(probe_file(tmp_path, data))], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    hosts = by_host(json.loads(proc.stdout))
    assert hosts["h1"]["status"] == "ok"
    assert hosts["badkey"]["status"] == "failed" and "authentication failed" in hosts["badkey"]["error"]
    assert hosts["nowhere"]["status"] == "failed" and "cannot connect" in hosts["nowhere"]["error"]


def test_changed_host_key_is_refused_loudly(fleet: SshFleet, data: Path, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(fleet.known_hosts.read_text())
    fleet["h3"].restart_with_new_host_key()
    try:
        proc, _ = collect(fleet, tmp_path, "h3", "--known-hosts", str(known), "--accept-new-host-keys",
                          "-p", str(probe_file(tmp_path, data)))
        assert proc.returncode == 1
        assert "HOST KEY CHANGED" in proc.stderr and "intercept" in proc.stderr
        assert known.read_text() == fleet.known_hosts.read_text()  # never overwritten
    finally:
        fleet.write_client_files()


@pytest.mark.parametrize("user, env, status, reason", [
    ("cptest", {}, "ok", None),
    (USER_PASS, {}, "denied", "password is required"),
    (USER_PASS, {"CP_SUDO": CPPASS_PASSWORD}, "ok", None),
    (USER_PASS, {"CP_SUDO": "wrong-password"}, "denied", "password"),
    (USER_DENY, {}, "denied", ""),
])
def test_sudo_allowed_needs_password_denied(fleet: SshFleet, data: Path, tmp_path: Path, user: str, env: dict,
                                           status: str, reason: str | None) -> None:
    h1 = fleet["h1"]
    args = [f"{user}@{h1.address}:{h1.port}", "--identity", str(fleet.client_key), "--known-hosts",
            str(fleet.known_hosts), "-p", str(probe_file(tmp_path, data, ROOT_LOG.format(root=data)))]
    if env:
        args += ["--sudo-password-env", "CP_SUDO"]
    proc, result = collect(fleet, tmp_path, *args, env=env)
    assert proc.returncode == (0 if status == "ok" else 3), proc.stderr
    audit = arts(result, h1.address)["audit"]
    assert audit["status"] == status, audit
    if reason:
        assert reason in audit["error"]
    assert arts(result, h1.address)["config"]["status"] == "ok"  # the rest still arrives
    # the password is never in the output, the manifest or the bundle
    blob = proc.stdout + proc.stderr + Path(result["bundle"]).read_bytes().decode("latin-1")
    assert CPPASS_PASSWORD not in blob


def test_200mb_file_streams_intact(fleet: SshFleet, data: Path, tmp_path: Path) -> None:
    big = data / "big.log"
    with open(big, "wb") as f:
        for i in range(200):
            f.write((b"%06d " % i) * (1 << 20 // 7) + b"\n")
            f.write(os.urandom(1 << 20 // 2).hex().encode()[: (1 << 20) - (1 << 20 // 7) * 7 - 1] + b"\n")
    big.chmod(0o644)
    try:
        probe = tmp_path / "big.toml"
        probe.write_text(f'name = "big"\n[[artifact]]\nname = "big"\nkind = "log"\npaths = ["{big}"]\n')
        proc, result = collect(fleet, tmp_path, "h1", "-p", str(probe), "--max-file-size", "1GiB")
        assert proc.returncode == 0, proc.stderr
        art = arts(result, "h1")["big"]
        import hashlib

        digest = hashlib.sha256()
        with open(big, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        assert art["size"] == big.stat().st_size and art["sha256"] == digest.hexdigest()
        assert not art["truncated"]
    finally:
        big.unlink()


def test_file_that_disappears_between_listing_and_reading(fleet: SshFleet, data: Path) -> None:
    from collector.errors import ArtifactError

    doomed = data / "doomed.log"
    doomed.write_text("x\n")
    doomed.chmod(0o644)
    t = connect(fleet, "h2")
    try:
        assert [f.path for f in t.glob(str(data / "doomed*"))] == [str(doomed)]
        doomed.unlink()
        with pytest.raises(ArtifactError) as info:
            t.read(str(doomed), lambda b: None, timeout=10)
        assert info.value.status == "missing"
    finally:
        t.close()


def _writer(db: Path, stop: threading.Event, committed: list[int], pause: float) -> None:
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("pragma journal_mode=wal")
    i = 0
    while not stop.is_set():
        con.execute("begin")
        con.executemany("insert into stats (ts, v) values (?, ?)", [(time.time(), i + k) for k in range(200)])
        con.execute("commit")
        i += 200
        committed[0] = i
        time.sleep(pause)
    con.close()


@pytest.mark.parametrize("force_fallback", [False, True])
def test_live_stats_database_copy_is_consistent(fleet: SshFleet, data: Path, tmp_path: Path,
                                                force_fallback: bool) -> None:
    from collector.engine.sqlite_copy import copy_database

    db = data / f"stats-{fleet.client}-{force_fallback}.db"
    con = sqlite3.connect(db)
    con.execute("create table stats (ts real, v integer, pad text default (hex(randomblob(64))))")
    con.commit()
    con.close()
    os.chmod(db, 0o666)
    data.chmod(0o777)  # WAL readers need to create -shm beside the db
    stop, committed = threading.Event(), [0]
    # the snapshot path is checked against a writer committing back to back; the file-copy fallback (which can
    # only retry until it sees a quiet moment) against a stats writer's usual bursts
    thread = threading.Thread(target=_writer, args=(db, stop, committed, 0.05 if force_fallback else 0))
    thread.start()
    t = connect(fleet, "h1")
    if force_fallback:
        t.which = lambda command: command != "sqlite3"  # a host without the sqlite3 CLI
    try:
        time.sleep(0.5)
        for attempt in range(3):
            floor = committed[0]
            dest = tmp_path / f"copy-{attempt}.db"
            method = copy_database(t, str(db), str(dest), timeout=60, as_root=False, spool_dir=str(tmp_path))
            check = sqlite3.connect(dest)
            assert check.execute("pragma integrity_check").fetchone()[0] == "ok"
            rows = check.execute("select count(*) from stats").fetchone()[0]
            assert rows >= floor and rows % 200 == 0, (rows, floor)  # committed rows, whole transactions
            check.close()
        assert ("file copy" in method) == force_fallback and "integrity_check ok" in method
    finally:
        stop.set()
        thread.join()
        t.close()
        data.chmod(0o755)


def test_fleet_of_eight_with_two_failures(fleet: SshFleet, data: Path, tmp_path: Path) -> None:
    for name in ("h4", "h5", "h6", "h7", "h8"):
        if name not in fleet.hosts:
            fleet.add_host(name)
    addr, port = unreachable_address()
    inventory = tmp_path / "hosts.ini"
    lines = ["[app]"] + [f"{n} ansible_host={fleet[n].address} ansible_port={fleet[n].port}"
                         for n in ("h1", "h2", "h3", "h4", "h5", "h6")]
    lines += [f"down ansible_host={addr} ansible_port={port}", f"stranger ansible_host={fleet['h7'].address} "
              f"ansible_port={fleet['h7'].port}",
              "[app:vars]", "ansible_user=cptest", f"ansible_ssh_private_key_file={fleet.client_key}", f"root={data}"]
    inventory.write_text("\n".join(lines) + "\n")
    known = tmp_path / "known_hosts"  # h7 is deliberately missing: an unknown host key
    known.write_text("".join(fleet[n].known_hosts_line + "\n" for n in ("h1", "h2", "h3", "h4", "h5", "h6")))
    started = time.monotonic()
    proc, result = collect(fleet, tmp_path, "-i", str(inventory), "--known-hosts", str(known), "-j", "8",
                           "--connect-timeout", "3", "-p", str(probe_file(tmp_path, data)))
    elapsed = time.monotonic() - started
    assert proc.returncode == 3, proc.stderr
    hosts = by_host(result)
    assert len(hosts) == 8
    assert sorted(n for n, h in hosts.items() if h["status"] == "ok") == ["h1", "h2", "h3", "h4", "h5", "h6"]
    assert "cannot connect" in hosts["down"]["error"]
    assert "unknown host key" in hosts["stranger"]["error"]
    assert elapsed < 60
