"""``casepack upload`` over SFTP against the real test sshd (tests/sshfleet.py): resume after a real cut of the
TCP connection, strict host keys, a case set, an SFTP-only server (no shell), ``collect --upload``."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cliutil import CLI, env
from tests.sshfleet import USER_SUDO, FleetHost, SshFleet, fleet_of, is_root, sshd_available
from tests.uploadkit import CuttingRelay, case_set, encrypted_bundle

pytestmark = pytest.mark.skipif(not (is_root() and sshd_available()), reason="needs root and openssh-server")
SIZE = 8 << 20


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory):
    yield from fleet_of(tmp_path_factory.mktemp("fleet"), "drop", "sftponly")


@pytest.fixture()
def drop(request: pytest.FixtureRequest) -> Path:
    """An empty drop-box folder in cptest's home (the fleet runs on this machine: the test reads it directly)."""
    path = Path(f"/home/{USER_SUDO}/drop-{request.node.name[:40]}")
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    shutil.chown(path, USER_SUDO, USER_SUDO)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upload(fleet: SshFleet, *args: str, known_hosts: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "upload", *args, "--known-hosts", str(known_hosts or fleet.known_hosts),
                           "--identity", str(fleet.client_key)], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env=env())


def url(host: FleetHost | CuttingRelay, folder: Path) -> str:
    return f"sftp://{USER_SUDO}@{host.address}:{host.port}{folder}/"


def receipts(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "uploads.jsonl").read_text().splitlines()]


@pytest.fixture()
def relay_hosts(fleet: SshFleet, tmp_path: Path):
    """A relay to the "drop" sshd that resets the first connection after 3 MiB; known_hosts names its port."""
    host = fleet["drop"]
    relay = CuttingRelay((host.address, host.port), cut_after=3 << 20)
    known = tmp_path / "known_hosts"
    known.write_text(f"[{relay.address}]:{relay.port} {host.host_key_pub}\n")
    yield relay, known
    relay.close()


def test_cut_mid_transfer_then_rerun_resumes_from_the_verified_part(fleet, drop, relay_hosts, tmp_path) -> None:
    relay, known = relay_hosts
    bundle = encrypted_bundle(tmp_path / "acme.tar.zst.age", SIZE)
    first = upload(fleet, str(bundle), "--to", url(relay, drop), "--retries", "0", known_hosts=known)
    assert first.returncode == 1 and relay.cuts == 1
    assert "connection to" in first.stderr and "lost" in first.stderr and "rerun" in first.stderr
    assert len(first.stderr.strip().splitlines()) <= 2 and "Traceback" not in first.stderr
    part = drop / f".{bundle.name}.part"
    assert 0 < part.stat().st_size < bundle.stat().st_size and not (drop / bundle.name).exists()

    second = upload(fleet, str(bundle), "--to", url(relay, drop), known_hosts=known)
    assert second.returncode == 0, second.stderr
    record = receipts(tmp_path)[-1]
    assert record["resumed_from"] > 0 and record["bytes_sent"] < record["bytes"] == bundle.stat().st_size
    assert record["bytes_sent"] + record["resumed_from"] == record["bytes"]
    assert sha256(drop / bundle.name) == sha256(bundle) == record["sha256"]
    assert not part.exists() and sorted(p.name for p in drop.iterdir()) == [bundle.name]
    assert "resumed at" in second.stdout


def test_a_cut_is_retried_and_resumed_within_one_run(fleet, drop, relay_hosts, tmp_path) -> None:
    relay, known = relay_hosts
    bundle = encrypted_bundle(tmp_path / "one-run.tar.zst.age", SIZE)
    events = tmp_path / "events.jsonl"
    res = upload(fleet, str(bundle), "--to", url(relay, drop), "--events", str(events), known_hosts=known)
    assert res.returncode == 0, res.stderr
    assert relay.cuts == 1 and relay.connections == 2
    kinds = [json.loads(line)["event"] for line in events.read_text().splitlines()]
    assert "upload_retry" in kinds and kinds[-1] == "upload_done"
    assert receipts(tmp_path)[-1]["resumed_from"] > 0
    assert sha256(drop / bundle.name) == sha256(bundle)


def test_a_part_that_is_not_ours_restarts_from_zero(fleet, drop, tmp_path) -> None:
    bundle = encrypted_bundle(tmp_path / "fresh.tar.zst.age", 1 << 20)
    part = drop / f".{bundle.name}.part"
    part.write_bytes(b"x" * 4096)  # same name, other bytes: must not be kept
    shutil.chown(part, USER_SUDO, USER_SUDO)
    res = upload(fleet, str(bundle), "--to", url(fleet["drop"], drop))
    assert res.returncode == 0, res.stderr
    assert receipts(tmp_path)[-1]["resumed_from"] == 0 and sha256(drop / bundle.name) == sha256(bundle)
    assert not part.exists()


def test_sftp_only_server_verifies_the_prefix_by_reading_it_back(fleet, drop, tmp_path) -> None:
    host = fleet["sftponly"]
    if "ForceCommand" not in host.config.read_text():
        host.stop()
        host.config.write_text(host.config.read_text() + "ForceCommand internal-sftp\n")
        host.start()
    probe = subprocess.run(fleet.ssh_command("sftponly", "echo", "shell"), capture_output=True, text=True)
    assert "shell" not in probe.stdout  # no exec channel: the sha256sum shortcut is not available
    bundle = encrypted_bundle(tmp_path / "sftponly.tar.zst.age", 2 << 20)
    part = drop / f".{bundle.name}.part"
    part.write_bytes(bundle.read_bytes()[:1_000_000])
    shutil.chown(part, USER_SUDO, USER_SUDO)
    res = upload(fleet, str(bundle), "--to", url(host, drop))
    assert res.returncode == 0, res.stderr
    record = receipts(tmp_path)[-1]
    assert record["resumed_from"] == 1_000_000 and record["bytes_sent"] == bundle.stat().st_size - 1_000_000
    assert sha256(drop / bundle.name) == sha256(bundle)


def test_unknown_host_key_is_refused_with_its_fingerprint(fleet, drop, tmp_path) -> None:
    bundle = encrypted_bundle(tmp_path / "b.tar.zst.age", 1 << 20)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    res = upload(fleet, str(bundle), "--to", url(fleet["drop"], drop), known_hosts=empty)
    assert res.returncode == 1
    assert "unknown host key" in res.stderr and "SHA256:" in res.stderr and "--accept-new-host-keys" in res.stderr
    assert list(drop.iterdir()) == [] and not (tmp_path / "uploads.jsonl").exists()


def test_missing_remote_folder_and_existing_different_file(fleet, drop, tmp_path) -> None:
    bundle = encrypted_bundle(tmp_path / "b.tar.zst.age", 1 << 20)
    res = upload(fleet, str(bundle), "--to", url(fleet["drop"], drop / "nope"))
    assert res.returncode == 1 and "does not exist" in res.stderr
    (drop / bundle.name).write_bytes(b"someone else's file")
    res = upload(fleet, str(bundle), "--to", url(fleet["drop"], drop))
    assert res.returncode == 1 and "already exists on the server and differs" in res.stderr
    assert (drop / bundle.name).read_bytes() == b"someone else's file"


def test_case_set_goes_to_a_subfolder_manifest_last_one_receipt_each(fleet, drop, tmp_path) -> None:
    folder = case_set(tmp_path / "case-0815", ("shard-1.tar.zst.age", "shard-2.tar.zst.age"), 512 << 10)
    res = upload(fleet, str(folder), "--to", url(fleet["drop"], drop))
    assert res.returncode == 0, res.stderr
    sent = drop / "case-0815"
    names = [Path(r["file"]).name for r in receipts(folder)]
    assert names == ["shard-1.tar.zst.age", "shard-2.tar.zst.age", "caseset.json.sig", "caseset.json"]
    assert sorted(p.name for p in sent.iterdir()) == sorted(names)  # no .part left
    assert all(sha256(sent / n) == r["sha256"] for n, r in zip(names, receipts(folder), strict=True))


def test_collect_upload_sends_the_new_bundle(fleet, drop, tmp_path) -> None:
    out = tmp_path / "out"
    key = tmp_path / "vendor.key"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True).stdout
    base = [*CLI, "collect", "--no-input", "-o", f"{out}/", "-r", recipient.strip(), "--known-hosts",
            str(fleet.known_hosts), "--identity", str(fleet.client_key)]
    res = subprocess.run([*base, "--upload", url(fleet["drop"], drop)], capture_output=True, text=True,
                         timeout=180, stdin=subprocess.DEVNULL, env=env())
    assert res.returncode == 0, res.stderr
    (bundle,) = [p for p in out.iterdir() if p.name.endswith(".age")]
    assert sha256(drop / bundle.name) == sha256(bundle) == receipts(out)[-1]["sha256"]

    refused = url(fleet["drop"], drop).replace(f":{fleet['drop'].port}/", ":1/")
    res = subprocess.run([*base, "--upload", refused, "--label", "second"], capture_output=True, text=True,
                         timeout=180, stdin=subprocess.DEVNULL, env=env())
    assert res.returncode == 5, res.stderr
    kept = [p for p in out.iterdir() if "second" in p.name and p.name.endswith(".age")]
    assert len(kept) == 1 and "bundle is kept" in res.stderr and str(kept[0]) in res.stderr


def test_ctrl_c_keeps_the_part_and_says_how_to_resume(fleet, drop, tmp_path) -> None:
    import signal
    import time

    bundle = encrypted_bundle(tmp_path / "big.tar.zst.age", 96 << 20)
    part = drop / f".{bundle.name}.part"
    proc = subprocess.Popen([*CLI, "upload", str(bundle), "--to", url(fleet["drop"], drop), "--known-hosts",
                             str(fleet.known_hosts), "--identity", str(fleet.client_key)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    end = time.monotonic() + 60
    while time.monotonic() < end and not (part.exists() and part.stat().st_size > 1 << 20):
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the upload finished before the signal arrived (a very fast machine)")
    assert proc.returncode == 130, err
    assert "interrupted (Ctrl-C): upload stopped" in err and "rerun the same command to resume" in err
    assert "Traceback" not in err and part.exists() and not (drop / bundle.name).exists()
    res = upload(fleet, str(bundle), "--to", url(fleet["drop"], drop))
    assert res.returncode == 0, res.stderr
    assert receipts(tmp_path)[-1]["resumed_from"] > 0 and sha256(drop / bundle.name) == sha256(bundle)


def test_a_folder_the_account_cannot_write_is_a_one_line_refusal(fleet, drop, tmp_path) -> None:
    locked = drop / "locked"
    locked.mkdir(mode=0o755)  # root's: cptest may look, not write
    bundle = encrypted_bundle(tmp_path / "b.tar.zst.age", 1 << 20)
    res = upload(fleet, str(bundle), "--to", url(fleet["drop"], locked))
    assert res.returncode == 1 and "permission denied" in res.stderr and "Traceback" not in res.stderr
    assert list(locked.iterdir()) == [] and not (tmp_path / "uploads.jsonl").exists()


def test_dns_failure_and_refused_port_are_one_line(fleet, tmp_path) -> None:
    bundle = encrypted_bundle(tmp_path / "b.tar.zst.age", 1000)
    res = upload(fleet, str(bundle), "--to", "sftp://cptest@casepack-no-such-host.invalid/drop/", "--retries", "0")
    assert res.returncode == 1 and "DNS: cannot resolve casepack-no-such-host.invalid" in res.stderr
    res = upload(fleet, str(bundle), "--to", f"sftp://cptest@{fleet['drop'].address}:1/drop/", "--retries", "0")
    assert res.returncode == 1 and "cannot connect" in res.stderr and "refused" in res.stderr
