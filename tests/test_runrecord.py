"""``<bundle>.status.json``: the run record a customer can read without the bundle's key."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from collector.bundle.runrecord import FORMAT, read_record, record_path
from collector.errors import InputError
from tests.cliutil import run_cli


def test_collect_writes_a_record_beside_an_encrypted_bundle(tmp_path: Path) -> None:
    key = tmp_path / "id.txt"
    assert run_cli("keygen", "-o", str(key)).returncode == 0
    recipient = [ln.split(":", 1)[1].strip() for ln in key.read_text().splitlines() if "public key" in ln][0]
    proc = run_cli("collect", "--no-input", "--json", "-p", "system", "-r", recipient, "-o", str(tmp_path / "out/"))
    assert proc.returncode in (0, 3), proc.stderr
    result = json.loads(proc.stdout)
    bundle = Path(result["bundle"])
    assert Path(result["record"]) == record_path(bundle)
    assert stat.S_IMODE(record_path(bundle).stat().st_mode) == 0o600
    rec = read_record(bundle)
    assert rec["format"] == FORMAT and rec["encrypted"] is True
    assert rec["sha256"] == result["sha256"] and rec["size"] == bundle.stat().st_size
    assert rec["status"] == result["status"]
    names = [h["name"] for h in rec["hosts"]]
    assert names == [h["name"] for h in result["manifest"]["hosts"]]
    for host in rec["hosts"]:  # every non-ok artifact of the manifest is listed as a problem
        bad = [a for a in result["manifest"]["artifacts"] if a["host"] == host["name"] and a["status"] != "ok"]
        assert len(host["problems"]) == len(bad)
        assert sum(host["artifacts"].values()) == sum(1 for a in result["manifest"]["artifacts"]
                                                       if a["host"] == host["name"])


@pytest.mark.parametrize("content, words", [
    ("not json", "not a casepack status record"),
    (json.dumps({"format": "other"}), "not a casepack status record"),
    (json.dumps({"format": FORMAT, "hosts": [1]}), "malformed host list"),
])
def test_bad_records_are_one_line_errors(tmp_path: Path, content: str, words: str) -> None:
    bundle = tmp_path / "b.tar.zst"
    record_path(bundle).write_text(content)
    with pytest.raises(InputError, match=words):
        read_record(bundle)
    with pytest.raises(InputError, match="missing"):
        read_record(tmp_path / "none.tar.zst")
