"""Case sets end to end on a real sshd fleet: shards collected separately (encrypted, pseudonymized with one
case key), merged without the vendor's key, then opened and reported by the vendor as one fleet."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from collector.fleet.caseset import MANIFEST
from tests.setkit import age_identity, cli
from tests.sshfleet import SSH_CLIENTS, SshFleet, fleet_of, is_root, sshd_available

pytestmark = [
    pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (apt-get install openssh-server)"),
    pytest.mark.skipif(not is_root(), reason="the sshd test fleet needs root (users, sudoers)"),
]
NODES = ("node-01", "node-02", "node-03")
PROBE = '''name = "app"
[[artifact]]
name = "version"
kind = "version"
command = "{root}/appd --version"
[[artifact]]
name = "log"
kind = "log"
paths = ["{root}/app.log"]
'''


@pytest.fixture(scope="module", params=SSH_CLIENTS)
def fleet(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    yield from fleet_of(tmp_path_factory.mktemp("setfleet"), *NODES, client=request.param)


@pytest.fixture(scope="module")
def app():
    root = Path(tempfile.mkdtemp(prefix="casepack-set-"))
    root.chmod(0o755)
    (root / "appd").write_text("#!/bin/sh\necho 'appd 7.1.0'\n")
    (root / "app.log").write_text("2026-12-01T10:00:00 ERROR db timeout after 30s peer 10.20.30.40\n"
                                  "2026-12-01T10:00:05 INFO ok\n")
    for p in root.iterdir():
        p.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def case_set(fleet: SshFleet, app: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("shards")
    ident, public = age_identity(tmp)
    key = tmp / "case.key"
    assert cli("case-key", "-o", str(key)).returncode == 0
    probe = tmp / "app.toml"
    probe.write_text(PROBE.format(root=app))
    bundles = []
    for label, hosts in (("a", NODES[:2]), ("b", NODES[2:])):
        proc = cli("collect", *hosts, "-p", str(probe), "--ssh-config", str(fleet.ssh_config), *fleet.client_args,
                   "--no-input", "--json",
                   "-r", public, "--pseudonymize", "--case-key", str(key), "--label", label, "-o", f"{tmp / label}/")
        assert proc.returncode == 0, proc.stderr
        bundles.append(Path(json.loads(proc.stdout)["bundle"]))
    inventory = tmp / "inventory.ini"
    inventory.write_text("[app]\n" + "\n".join(NODES) + "\nnode-04\n")
    moved = tmp / "vendor-id.txt"
    ident.rename(tmp / "away.txt")  # the customer merges without the vendor's key
    proc = cli("merge", *map(str, bundles), "-o", str(tmp / "set"), "--inventory", str(inventory),
               "--case-key", str(key))
    (tmp / "away.txt").rename(moved)
    return {"tmp": tmp, "set": tmp / "set", "bundles": bundles, "merge": proc, "identity": moved}


def test_merge_names_the_inventory_host_in_no_shard(case_set: dict) -> None:
    proc = case_set["merge"]
    assert proc.returncode == 3, proc.stderr
    m = json.loads((case_set["set"] / MANIFEST).read_text())
    assert len(m["hosts"]) == 3 and all(h["status"] == "ok" for h in m["hosts"])
    assert len(m["unaccounted"]) == 1 and m["unaccounted"][0] in proc.stderr and "INCOMPLETE" in proc.stderr
    assert not any(n in json.dumps(m) for n in NODES)  # pseudonymized: real names never in the set


def test_pseudonyms_identical_across_shards(case_set: dict) -> None:
    maps = [json.loads(Path(f"{b}.mapping.json").read_text())["pseudonyms"] for b in case_set["bundles"]]
    ip = [{v: k for k, v in m.items()}["10.20.30.40"] for m in maps]
    assert ip[0] == ip[1]


def test_report_shows_the_fleet_in_text_json_and_html(case_set: dict) -> None:
    proc = cli("report", str(case_set["set"]), "-k", str(case_set["identity"]), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    f = r["fleet"]
    assert len(f["hosts"]) == 3 and {h["shard"] for h in f["hosts"]} == {b.name for b in case_set["bundles"]}
    assert f["versions"]["app"] == {"appd 7.1.0": sorted(h["name"] for h in f["hosts"])} or \
        sorted(f["versions"]["app"]["appd 7.1.0"]) == sorted(h["name"] for h in f["hosts"])
    top = f["signatures"]["top"][0]
    assert top["level"] == "ERROR" and top["count"] == 3 and top["host_count"] == 3 and len(top["shards"]) == 2
    assert len(r["shards"]) == 2 and all(s["report"] for s in r["shards"])
    text = cli("report", str(case_set["set"]), "-k", str(case_set["identity"]))
    assert "Fleet: hosts × status × shard" in text.stdout and "INCOMPLETE" in text.stdout
    out = case_set["tmp"] / "fleet.html"
    html = cli("report", str(case_set["set"]), "-k", str(case_set["identity"]), "-f", "html", "-o", str(out))
    assert html.returncode == 0 and "Error signatures across shards" in out.read_text()


def test_open_then_report_the_opened_set(case_set: dict, tmp_path: Path) -> None:
    proc = cli("open", str(case_set["set"]), "-k", str(case_set["identity"]), "-o", str(tmp_path / "opened"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("  ok ") == 2 and "INCOMPLETE" in proc.stdout
    rep = cli("report", str(tmp_path / "opened"), "-f", "json")
    assert rep.returncode == 0, rep.stderr
    assert len(json.loads(rep.stdout)["fleet"]["hosts"]) == 3


def test_a_tampered_shard_is_named_and_the_rest_reported(case_set: dict, tmp_path: Path) -> None:
    copy = tmp_path / "set"
    shutil.copytree(case_set["set"], copy)
    bad = copy / case_set["bundles"][0].name
    data = bytearray(bad.read_bytes())
    data[-100] ^= 1
    bad.write_bytes(bytes(data))
    proc = cli("report", str(copy), "-k", str(case_set["identity"]), "-f", "json")
    assert proc.returncode == 4
    assert f"SHARD UNUSABLE: {bad.name}" in proc.stderr and "Traceback" not in proc.stderr
    r = json.loads(proc.stdout)
    good = [s for s in r["shards"] if s["report"]]
    assert len(good) == 1 and good[0]["file"] == case_set["bundles"][1].name
    opened = cli("open", str(copy), "-k", str(case_set["identity"]), "-o", str(tmp_path / "o"))
    assert opened.returncode == 4 and f"SHARD NOT OPENED: {bad.name}" in opened.stderr
    assert (tmp_path / "o" / case_set["bundles"][1].name.split(".")[0]).is_dir()
    (copy / case_set["bundles"][1].name).unlink()  # missing too
    proc = cli("report", str(copy), "-k", str(case_set["identity"]))
    assert proc.returncode == 4 and "missing" in proc.stderr


def test_signature_verified_and_a_forged_set_refused(case_set: dict, tmp_path: Path) -> None:
    import subprocess

    key = tmp_path / "sk"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    signed = tmp_path / "signed"
    assert cli("merge", str(case_set["set"]), "-o", str(signed), "--sign-key", str(key)).returncode == 3
    proc = cli("open", str(signed), "-k", str(case_set["identity"]), "-o", str(tmp_path / "o1"))
    assert proc.returncode == 0 and "caseset.json signed by SHA256:" in proc.stdout, proc.stderr
    trusting = cli("open", str(signed), "-k", str(case_set["identity"]), "-o", str(tmp_path / "o4"), "--trust",
                   f"{key}.pub")  # --trust holds for the shards too: these are not signed, so none opens
    assert trusting.returncode == 4 and "the bundle is not signed" in trusting.stderr
    m = json.loads((signed / MANIFEST).read_text())
    m["unaccounted"] = []  # hide the missing host
    (signed / MANIFEST).write_text(json.dumps(m, indent=2) + "\n")
    for cmd in (["open", str(signed), "-k", str(case_set["identity"]), "-o", str(tmp_path / "o2")],
                ["report", str(signed), "-k", str(case_set["identity"])]):
        proc = cli(*cmd)
        assert proc.returncode == 4 and "does not verify" in proc.stderr and "Traceback" not in proc.stderr
    unsigned = cli("open", str(case_set["set"]), "-k", str(case_set["identity"]), "-o", str(tmp_path / "o3"),
                   "--require-signature")
    assert unsigned.returncode == 4 and "not signed" in unsigned.stderr
