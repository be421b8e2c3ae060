"""Reading case sets: process-test bundles make a test set; hostile caseset.json files are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.fleet.caseset import MANIFEST
from tests.setkit import age_identity, cli, fake_shard, tiny_probe


def test_process_test_bundles_merge_into_a_test_set_the_vendor_reports(tmp_path: Path) -> None:
    ident, public = age_identity(tmp_path)
    proc = cli("process-test", "-p", str(tiny_probe(tmp_path)), "--bundle", "-o", str(tmp_path / "pt"), "-r", public)
    assert proc.returncode == 0, proc.stderr
    bundle = next((tmp_path / "pt").glob("*.age"))
    merged = cli("merge", str(bundle), "-o", str(tmp_path / "set"))
    assert merged.returncode == 0, merged.stderr
    rep = cli("report", str(tmp_path / "set"), "-k", str(ident), "-f", "json")
    assert rep.returncode == 0, rep.stderr
    r = json.loads(rep.stdout)
    assert r["fleet"]["case"]["title"].startswith("PROCESS TEST") and r["shards"][0]["report"]["hosts"]


@pytest.mark.parametrize("change, words", [
    (lambda m: m.update(format="other"), "not a casepack case set"),
    (lambda m: m.update(shards="x"), "malformed shard list"),
    (lambda m: m["shards"][0].update(file="/etc/passwd"), "not a usable shard file name"),
    (lambda m: m["shards"][0].update(file="../../x.tar.zst"), "not a usable shard file name"),
    (lambda m: m["shards"][0].update(sha256="zz"), "malformed sha256"),
    (lambda m: m["shards"][0]["hosts"][0].update(name="a\x1b[31mb"), "is not a host name"),
    (lambda m: m["shards"].append(dict(m["shards"][0])), "listed twice"),
])
def test_hostile_set_manifests_are_one_line_errors(tmp_path: Path, change, words: str) -> None:  # noqa: ANN001
    a = fake_shard(tmp_path, "a.tar.zst", {"h1": "ok"})
    assert cli("merge", str(a), "-o", str(tmp_path / "set")).returncode == 0
    path = tmp_path / "set" / MANIFEST
    m = json.loads(path.read_text())
    change(m)
    path.write_text(json.dumps(m))
    for cmd in (["report", str(tmp_path / "set")], ["open", str(tmp_path / "set"), "-o", str(tmp_path / "o")]):
        proc = cli(*cmd)
        assert proc.returncode == 2, (cmd, proc.stderr)
        assert words in proc.stderr and "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) <= 2
        assert "\x1b" not in proc.stderr


def test_not_json_and_a_symlinked_shard(tmp_path: Path) -> None:
    a = fake_shard(tmp_path, "a.tar.zst", {"h1": "ok"})
    assert cli("merge", str(a), "-o", str(tmp_path / "set")).returncode == 0
    shard = tmp_path / "set" / "a.tar.zst"
    shard.unlink()
    shard.symlink_to(a)  # a link out of the set is not followed
    proc = cli("report", str(tmp_path / "set"))
    assert proc.returncode == 4 and "symbolic link" in proc.stderr
    (tmp_path / "set" / MANIFEST).write_text("{")
    proc = cli("report", str(tmp_path / "set"))
    assert proc.returncode == 2 and "not a casepack case set" in proc.stderr
