"""``casepack merge``: shards (encrypted to the vendor, never decrypted) → one case set directory."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest

from collector.fleet.caseset import MANIFEST, SIGNATURE
from tests.setkit import age_identity, cli, collect_shard, fake_shard, sha256sum


def test_merge_of_encrypted_shards_needs_no_identity(tmp_path: Path) -> None:
    ident, public = age_identity(tmp_path)
    a = collect_shard(tmp_path, "a", recipient=public)
    b = collect_shard(tmp_path, "b", recipient=public)
    ident.rename(tmp_path / "elsewhere.txt")  # no identity anywhere near the merge
    proc = cli("merge", str(a), str(b), "-o", str(tmp_path / "set"))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "set"
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [MANIFEST, a.name, a.name + ".sha256", b.name, b.name + ".sha256"])  # no .status.json, no mapping
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    m = json.loads((out / MANIFEST).read_text())
    assert m["format"] == "casepack-set/1" and m["status"] == "complete"
    for shard in m["shards"]:
        path = out / shard["file"]
        assert shard["sha256"] == sha256sum(path) and shard["size"] == path.stat().st_size
        assert shard["encrypted"] is True
        plain = subprocess.run(["age", "-d", "-i", str(tmp_path / "elsewhere.txt"), str(path)], capture_output=True,
                               check=True).stdout  # the stock CLI still decrypts the shard in the set
        assert plain[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame: the tar.zst inside
    assert "target" not in json.dumps(m)
    assert a.exists() and b.exists()  # never moved
    assert subprocess.run(["sha256sum", "-c", a.name + ".sha256"], cwd=out, capture_output=True).returncode == 0


def test_fleet_view_resume_supersedes_failure_and_unaccounted_hosts_exit_3(tmp_path: Path) -> None:
    first = fake_shard(tmp_path / "s", "casepack-one.tar.zst.age", {"web1": "ok", "web2": "failed", "db1": "partial"},
                       case_id="c14", inventory=["web1", "web2", "db1", "db2", "cache9"],
                       shard={"index": 1, "count": 2})
    later = fake_shard(tmp_path / "s", "casepack-two.tar.zst.age", {"web2": "ok", "db1": "failed"},
                       created="2026-12-01T11:00:00Z", case_id="c14",
                       resume_of=[{"bundle": first.name, "sha256": sha256sum(first)}])
    inv = tmp_path / "inv.ini"
    inv.write_text("[all]\nweb1\nweb2\ndb1\nextra7\n")
    proc = cli("merge", str(first), str(later), "-o", str(tmp_path / "set"), "--inventory", str(inv))
    assert proc.returncode == 3, proc.stderr
    assert "INCOMPLETE" in proc.stderr and "cache9" in proc.stderr and "db2" in proc.stderr
    assert "extra7" in proc.stderr
    m = json.loads((tmp_path / "set" / MANIFEST).read_text())
    hosts = {h["name"]: h for h in m["hosts"]}
    assert hosts["web2"]["status"] == "ok" and hosts["web2"]["shard"] == later.name
    assert hosts["web2"]["shards"] == [first.name, later.name]
    assert hosts["db1"]["status"] == "partial" and hosts["db1"]["shard"] == first.name  # partial beats failed
    assert m["unaccounted"] == ["cache9", "db2", "extra7"]
    assert m["case_id"] == "c14" and m["status"] == "partial"
    assert m["shards"][0]["shard"] == {"index": 1, "count": 2}
    assert m["shards"][1]["resume_of"][0]["bundle"] == first.name


def test_different_cases_are_refused_and_differing_fields_warned(tmp_path: Path) -> None:
    a = fake_shard(tmp_path, "a.tar.zst", {"h1": "ok"}, case_id="one")
    b = fake_shard(tmp_path, "b.tar.zst", {"h2": "ok"}, case_id="two")
    proc = cli("merge", str(a), str(b), "-o", str(tmp_path / "set"))
    assert proc.returncode == 2 and "different cases" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "set").exists()
    c = fake_shard(tmp_path, "c.tar.zst", {"h3": "ok"}, case_id="one", case={"title": "other title"},
                   created="2026-12-02T00:00:00Z")
    proc = cli("merge", str(a), str(c), "-o", str(tmp_path / "set"))
    assert proc.returncode == 0, proc.stderr
    assert "case field 'title' differs" in proc.stderr
    assert json.loads((tmp_path / "set" / MANIFEST).read_text())["case"]["title"] == "other title"


def test_a_set_merges_again_with_a_new_shard(tmp_path: Path) -> None:
    a = fake_shard(tmp_path, "a.tar.zst", {"h1": "failed"})
    assert cli("merge", str(a), "-o", str(tmp_path / "set")).returncode == 3
    first = json.loads((tmp_path / "set" / MANIFEST).read_text())
    b = fake_shard(tmp_path, "b.tar.zst", {"h1": "ok"}, created="2026-12-02T00:00:00Z")
    proc = cli("merge", str(tmp_path / "set"), str(b), "-o", str(tmp_path / "set"))
    assert proc.returncode == 0, proc.stderr
    again = json.loads((tmp_path / "set" / MANIFEST).read_text())
    assert again["case_id"] == first["case_id"]  # the set's case id is kept
    assert [s["file"] for s in again["shards"]] == ["a.tar.zst", "b.tar.zst"]


def test_signed_set_verifies_with_ssh_keygen(tmp_path: Path) -> None:
    key = tmp_path / "sk"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    a = fake_shard(tmp_path, "a.tar.zst", {"h1": "ok"})
    assert cli("merge", str(a), "-o", str(tmp_path / "set"), "--sign-key", str(key)).returncode == 0
    out = tmp_path / "set"
    with open(out / MANIFEST, "rb") as f:
        check = subprocess.run(["ssh-keygen", "-Y", "check-novalidate", "-n", "casepack-manifest", "-s",
                                str(out / SIGNATURE)], stdin=f, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    m = json.loads((out / MANIFEST).read_text())
    m["shards"][0]["hosts"][0]["status"] = "failed"
    (out / MANIFEST).write_text(json.dumps(m))
    again = cli("merge", str(out), "-o", str(tmp_path / "set2"))  # an altered signed set is not merged on
    assert again.returncode == 2 and "does not verify" in again.stderr and not (tmp_path / "set2").exists()


@pytest.mark.parametrize("change, words", [
    ("corrupt", "does not match its sha256"),
    ("no-sidecar", ".sha256 is missing"),
    ("no-record", "status.json is missing"),
    ("bad-host", "is not a host name"),
    ("bad-record", "not a casepack status record"),
])
def test_bad_shards_are_one_line_errors(tmp_path: Path, change: str, words: str) -> None:
    a = fake_shard(tmp_path, "a.tar.zst", {"h1": "ok"})
    rec = a.with_name(a.name + ".status.json")
    if change == "corrupt":
        a.write_bytes(a.read_bytes()[:-1] + b"x")
    elif change == "no-sidecar":
        a.with_name(a.name + ".sha256").unlink()
    elif change == "no-record":
        rec.unlink()
    elif change == "bad-host":
        data = json.loads(rec.read_text())
        data["hosts"][0]["name"] = "../../etc"
        rec.write_text(json.dumps(data))
    else:
        rec.write_text("{")
    proc = cli("merge", str(a), "-o", str(tmp_path / "set"))
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2 and "Traceback" not in proc.stderr
    assert not (tmp_path / "set").exists() and not list(tmp_path.glob(".set.*"))


def test_a_hostile_set_file_name_is_refused(tmp_path: Path) -> None:
    a = fake_shard(tmp_path, "a.tar.zst", {"h1": "ok"})
    assert cli("merge", str(a), "-o", str(tmp_path / "set")).returncode == 0
    m = json.loads((tmp_path / "set" / MANIFEST).read_text())
    m["shards"][0]["file"] = "../a.tar.zst"
    (tmp_path / "set" / MANIFEST).write_text(json.dumps(m))
    proc = cli("merge", str(tmp_path / "set"), "-o", str(tmp_path / "set2"))
    assert proc.returncode == 2 and "not a usable shard file name" in proc.stderr
