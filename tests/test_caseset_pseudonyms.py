"""Pseudonyms across shards: a case key gives every shard the same pseudonyms; unmask joins the mappings."""

from __future__ import annotations

import json
import stat
import tarfile
from pathlib import Path

import zstandard

from tests.setkit import cli, collect_shard

LINE = "peer 10.1.2.3 db1.example.com user=alice"


def content(bundle: Path) -> str:
    """The text of the tiny probe's artifact in an unencrypted bundle."""
    with open(bundle, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as plain, \
            tarfile.open(fileobj=plain, mode="r|") as tar:
        for member in tar:
            if member.name.endswith("/hello") or "/tiny/" in member.name and member.isfile():
                return tar.extractfile(member).read().decode()
    raise AssertionError("artifact not found")


def mapping(bundle: Path) -> dict:
    return json.loads(Path(f"{bundle}.mapping.json").read_text())


def shard(tmp: Path, label: str, *extra: str, env: dict[str, str] | None = None) -> Path:
    (tmp / "tiny.toml").unlink(missing_ok=True)
    return collect_shard(tmp, label, "--pseudonymize", *extra, env=env)


def test_case_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    key = tmp_path / "case.key"
    proc = cli("case-key", "-o", str(key))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(bytes.fromhex(key.read_text().strip())) == 32
    before = key.read_text()
    again = cli("case-key", "-o", str(key))
    assert again.returncode == 2 and "never overwritten" in again.stderr and key.read_text() == before
    key.chmod(0o644)
    proc = cli("collect", "--no-input", "-p", "system", "--pseudonymize", "--case-key", str(key), "-o",
               str(tmp_path / "o/"))
    assert proc.returncode == 2 and "readable by other users" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_same_case_key_same_pseudonyms_in_separately_collected_shards(tmp_path: Path) -> None:
    key = tmp_path / "case.key"
    assert cli("case-key", "-o", str(key)).returncode == 0
    case = tmp_path / "case.toml"
    case.write_text(f'[redaction]\ncase_key = "{key.name}"\n')  # relative to the case file's folder
    a = shard(tmp_path, "a", "--case-key", str(key))
    b = shard(tmp_path, "b", env={"CASEPACK_CASE_KEY_FILE": str(key)})
    c = shard(tmp_path, "c", "--case", str(case))
    texts = [content(x) for x in (a, b, c)]
    assert texts[0] == texts[1] == texts[2] and "10.1.2.3" not in texts[0] and "alice" not in texts[0]
    maps = [mapping(x) for x in (a, b, c)]
    assert maps[0]["pseudonyms"] == maps[1]["pseudonyms"] == maps[2]["pseudonyms"]
    assert maps[0]["key_id"] == maps[1]["key_id"] and "run_key" not in maps[0]  # the case key is not copied
    assert key.read_text().strip() not in json.dumps(maps[0])
    # without a key: a random key per run, so pseudonyms are not linkable; that key stays in the mapping
    d, e = shard(tmp_path, "d"), shard(tmp_path, "e")
    assert content(d) != content(e) and content(d) != texts[0]
    assert len(bytes.fromhex(mapping(d)["run_key"])) == 32 and mapping(d)["key_id"] != mapping(e)["key_id"]


def test_unmask_across_two_mappings_and_a_set(tmp_path: Path) -> None:
    key = tmp_path / "case.key"
    assert cli("case-key", "-o", str(key)).returncode == 0
    a = shard(tmp_path, "a", "--case-key", str(key))
    b = shard(tmp_path, "b", "--case-key", str(key))
    only_b = {v: k for k, v in mapping(b)["pseudonyms"].items()}
    only_a = {v: k for k, v in mapping(a)["pseudonyms"].items()}
    reply = f"check {only_a['10.1.2.3']} and {only_b['db1.example.com']}\n"
    reply_file = tmp_path / "reply.txt"
    reply_file.write_text(reply)
    proc = cli("unmask", str(reply_file), "--mapping", f"{a}.mapping.json", "--mapping", f"{b}.mapping.json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "check 10.1.2.3 and db1.example.com\n"
    assert cli("merge", str(a), str(b), "-o", str(tmp_path / "set")).returncode == 0
    assert not list((tmp_path / "set").glob("*.mapping.json"))  # mappings stay with the customer
    proc = cli("unmask", str(reply_file), "--set", str(tmp_path / "set"), "--mapping", str(a.parent),
               "--mapping", str(b.parent))
    assert proc.returncode == 0 and proc.stdout == "check 10.1.2.3 and db1.example.com\n", proc.stderr
    proc = cli("unmask", str(reply_file), "--set", str(tmp_path / "set"), "--mapping", str(a.parent))
    assert proc.returncode == 0 and b.name in proc.stderr  # the shard without a mapping is named


def test_unmask_refuses_a_pseudonym_with_two_values(tmp_path: Path) -> None:
    for name, value in (("one", "10.0.0.1"), ("two", "10.0.0.2")):
        (tmp_path / f"{name}.mapping.json").write_text(json.dumps(
            {"format": "casepack-mapping/1", "pseudonyms": {"ip-0001": value}}))
    (tmp_path / "reply.txt").write_text("see ip-0001\n")
    proc = cli("unmask", "reply.txt", cwd=tmp_path)
    assert proc.returncode == 2 and "ip-0001 stands for different values" in proc.stderr
    proc = cli("unmask", "reply.txt", "--mapping", "one.mapping.json", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == "see 10.0.0.1\n"
