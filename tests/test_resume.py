"""collect --resume on the real sshd fleet: only what failed is collected again, into a new bundle."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.cliutil import CLI, run_cli
from tests.cliutil import env as cli_env
from tests.sshfleet import SSH_CLIENTS, SshFleet, fleet_of, is_root, sshd_available

pytestmark = [
    pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (apt-get install openssh-server)"),
    pytest.mark.skipif(not is_root(), reason="the sshd test fleet needs root (users, sudoers)"),
]


@pytest.fixture(scope="module", params=SSH_CLIENTS)
def fleet(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    yield from fleet_of(tmp_path_factory.mktemp("fleet"), "r1", "r2", "r3", client=request.param)


@pytest.fixture
def files():
    """/tmp/casepack-resume-*/conf: a.conf for anyone, b.conf root only (test users cannot enter pytest's tmp)."""
    base = Path(f"/tmp/casepack-resume-{uuid.uuid4().hex[:8]}")
    (base / "conf").mkdir(parents=True)
    base.chmod(0o755)
    (base / "conf").chmod(0o755)
    (base / "conf" / "a.conf").write_text("a = 1\n")
    (base / "conf" / "b.conf").write_text("b = 2\n")
    os.chmod(base / "conf" / "a.conf", 0o644)
    os.chmod(base / "conf" / "b.conf", 0o600)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def write_probe(tmp: Path, files: Path) -> Path:
    probe = tmp / "app.toml"
    probe.write_text(f'''name = "app"
description = "a command, and configs of which one is root-only"

[[artifact]]
name = "version"
kind = "command"
command = "echo app 1.0"

[[artifact]]
name = "conf"
kind = "config"
paths = ["{files}/conf/*.conf"]
needs_root = true
''')
    return probe


def inventory(path: Path, r2_user: str) -> Path:
    path.write_text(f'[hosts.r1]\n[hosts.r2]\nuser = "{r2_user}"\n[hosts.r3]\n')
    return path


def run_env(extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**cli_env(), **extra})


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def artifacts(manifest: dict) -> list[tuple[str, str, str]]:
    return sorted((a["host"], a["artifact"], a["source"]) for a in manifest["artifacts"])


def test_resume_collects_exactly_what_failed(fleet: SshFleet, tmp_path: Path, files: Path) -> None:
    probe, inv = write_probe(tmp_path, files), inventory(tmp_path / "inv.toml", "cpdeny")
    out = tmp_path / "bundles"
    key = tmp_path / "vendor.key"
    pub = run_cli("keygen", "-o", str(key)).stdout.strip()
    fleet["r3"].stop()
    try:
        first = run_cli("collect", "-i", str(inv), "--ssh-config", str(fleet.ssh_config), *fleet.client_args,
                        "-p", str(probe),
                        "-o", f"{out}/", "--no-input", "--json", "-r", pub, "--field", "title=disk full",
                        "--since", "2h", "--host-timeout", "60")
    finally:
        fleet["r3"].start()
    assert first.returncode == 3, first.stderr
    one = json.loads(first.stdout)
    m1 = one["manifest"]
    assert {h["name"]: h["status"] for h in m1["hosts"]} == {"r1": "ok", "r2": "partial", "r3": "failed"}
    assert m1["resume_of"] is None and m1["inventory"] == ["r1", "r2", "r3"] and m1["shard"] is None
    bundle1 = Path(one["bundle"])
    digest1, mtime1 = sha(bundle1), bundle1.stat().st_mtime_ns
    record1 = json.loads(Path(one["record"]).read_text())
    assert record1["rerun"]["inventory"] == str(inv) and record1["rerun"]["recipients"] == [pub]
    assert record1["case_id"] == m1["case_id"]

    inventory(inv, "cptest")  # fixed: r2's user may use sudo, r3's sshd runs again
    second = run_cli("collect", "--resume", str(bundle1), "--no-input", "--json")
    assert second.returncode == 0, second.stderr
    assert "resuming 1 bundle(s): r2: 1 artifact(s); r3: the whole host" in second.stderr
    two = json.loads(second.stdout)
    m2 = two["manifest"]
    bundle2 = Path(two["bundle"])
    assert bundle2 != bundle1 and bundle2.parent == bundle1.parent and two["encryption"] != "none"
    assert sha(bundle1) == digest1 and bundle1.stat().st_mtime_ns == mtime1  # the first bundle is untouched
    conf = f"{files}/conf"
    assert artifacts(m2) == [("r2", "conf", f"{conf}/b.conf"),  # only the root-only file: a.conf is not sent again
                             ("r3", "conf", f"{conf}/a.conf"), ("r3", "conf", f"{conf}/b.conf"),
                             ("r3", "version", "echo app 1.0")]
    assert all(a["status"] == "ok" for a in m2["artifacts"])
    assert [h["name"] for h in m2["hosts"]] == ["r2", "r3"]
    assert m2["case_id"] == m1["case_id"]
    assert m2["resume_of"] == [{"bundle": bundle1.name, "sha256": digest1}]
    assert m2["window"]["since"] == m1["window"]["since"] and m2["window"]["until"] == m1["window"]["until"]
    assert m2["case"]["title"] == "disk full"
    assert m2["inventory"] == ["r1", "r2", "r3"]

    # both bundles together: nothing is left, and nothing is written
    before = sorted(p.name for p in out.iterdir())
    third = run_cli("collect", "--resume", str(out), "--no-input", "--json")
    assert third.returncode == 0, third.stderr
    assert "nothing left to collect" in third.stderr
    assert json.loads(third.stdout) == {"bundle": None, "status": "nothing_left", "exit_status": 0}
    assert sorted(p.name for p in out.iterdir()) == before
    # the resumed bundle alone says the same (its record lists only what it collected, all ok)
    assert "nothing left" in run_cli("collect", "--resume", str(bundle2), "--no-input").stderr


def test_a_resume_that_still_fails_keeps_what_is_left(fleet: SshFleet, tmp_path: Path, files: Path) -> None:
    probe, inv = write_probe(tmp_path, files), inventory(tmp_path / "inv.toml", "cpdeny")
    out = tmp_path / "b"
    fleet["r3"].stop()
    try:
        first = run_cli("collect", "-i", str(inv), "--ssh-config", str(fleet.ssh_config), *fleet.client_args,
                        "-p", str(probe),
                        "-o", f"{out}/", "--no-input", "--json", "--case-id", "CASE-42")
        assert first.returncode == 3, first.stderr
        # nothing can be collected yet: no bundle, one line, exit 1
        none = run_cli("collect", "--resume", str(out), "--no-input", "--json")
        assert none.returncode == 1 and "nothing usable was collected" in none.stderr
        assert len(list(out.glob("*.tar.zst"))) == 1
    finally:
        fleet["r3"].start()
    again = run_cli("collect", "--resume", str(out), "--no-input", "--json")  # r3 is back; r2 still denied
    assert again.returncode == 3, again.stderr
    m2 = json.loads(again.stdout)["manifest"]
    assert {a[0] for a in artifacts(m2)} == {"r2", "r3"} and m2["case_id"] == "CASE-42"
    assert [a for a in artifacts(m2) if a[0] == "r2"] == [("r2", "conf", f"{files}/conf/b.conf")]
    inventory(inv, "cptest")
    last = run_cli("collect", "--resume", str(out), "--no-input", "--json")  # both records: only r2's file is left
    assert last.returncode == 0, last.stderr
    m3 = json.loads(last.stdout)["manifest"]
    assert artifacts(m3) == [("r2", "conf", f"{files}/conf/b.conf")]
    assert len(m3["resume_of"]) == 2 and m3["case_id"] == "CASE-42"


def test_resume_errors_are_one_line(tmp_path: Path) -> None:
    for args, text in ((["--resume", str(tmp_path / "nope.tar.zst")], "no such bundle"),
                       (["--resume", str(tmp_path)], "no run record")):
        res = run_cli("collect", *args, "--no-input")
        assert res.returncode == 2 and text in res.stderr and "Traceback" not in res.stderr
    bad = tmp_path / "x.tar.zst.status.json"
    bad.write_text("{}")
    res = run_cli("collect", "--resume", str(bad), "--no-input")
    assert res.returncode == 2 and "not a casepack status record" in res.stderr


def test_resume_keeps_pseudonyms_and_reads_secrets_again(fleet: SshFleet, tmp_path: Path, files: Path) -> None:
    from tests.sshfleet import CPPASS_PASSWORD

    probe = write_probe(tmp_path, files)
    inv = tmp_path / "inv.toml"
    inv.write_text('[hosts.r1]\nuser = "cppass"\n[hosts.r3]\nuser = "cppass"\n')
    out = tmp_path / "p"
    env = {"CP_SUDO": CPPASS_PASSWORD}
    fleet["r3"].stop()
    try:
        first = run_env(env, "collect", "-i", str(inv), "--ssh-config", str(fleet.ssh_config), *fleet.client_args,
                        "-p", str(probe),
                        "-o", f"{out}/", "--no-input", "--json", "--pseudonymize", "--sudo-password-env", "CP_SUDO")
    finally:
        fleet["r3"].start()
    assert first.returncode == 3, first.stderr
    m1 = json.loads(first.stdout)["manifest"]
    names1 = [h["name"] for h in m1["hosts"]]
    assert "r1" not in names1 and "r3" not in names1  # pseudonyms
    mapping1 = Path(json.loads(first.stdout)["mapping"])
    digest = sha(mapping1)
    # without the sudo password the root-only file would be denied: it is read from the environment again
    res = run_env(env, "collect", "--resume", str(out), "--no-input", "--json")
    assert res.returncode == 0, res.stderr
    two = json.loads(res.stdout)
    m2 = two["manifest"]
    assert [h["name"] for h in m2["hosts"]] == [names1[1]]  # r3, under the pseudonym it had in the first bundle
    assert m2["inventory"] == m1["inventory"] == names1
    assert len(m2["artifacts"]) == 3 and all(a["status"] == "ok" for a in m2["artifacts"])
    assert sha(mapping1) == digest and Path(two["mapping"]) != mapping1  # the first mapping is not rewritten
    for record in out.glob("*.status.json"):  # no secret in any record
        text = record.read_text()
        assert CPPASS_PASSWORD not in text and '"CP_SUDO"' in text
