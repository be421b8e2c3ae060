"""``casepack open``: round trips with every key type, stock-tool bundles in, the output directory rules."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from collector.bundle.opener import default_directory, open_bundle
from tests.cryptokit import age_keys, collect, forge, run, ssh_keys

pytestmark = pytest.mark.skipif(shutil.which("age") is None, reason="the age CLI is not installed")


def assert_opened(proc: subprocess.CompletedProcess, dest: Path) -> dict:
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert f"opened:     {dest}" in proc.stdout and "sha256 and size match manifest.json" in proc.stdout
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    manifest = json.loads((dest / "manifest.json").read_text())
    conf = next(dest.glob("hosts/*/tiny/config/**/app.conf"))
    assert "[REDACTED:" in conf.read_text() and stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert not list(dest.parent.glob(".*partial*"))
    return manifest


@pytest.mark.parametrize("kind", ["age", "ed25519", "rsa"])
def test_open_round_trip_with_each_key_type(tmp_path: Path, kind: str) -> None:
    if kind == "age":
        identity, public = age_keys(tmp_path)
    else:
        identity, pub = ssh_keys(tmp_path, kind)
        public = pub.read_text().strip()
    bundle, _ = collect(tmp_path, "-r", public)
    dest = tmp_path / "case"
    proc = run("open", str(bundle), "-k", str(identity), "-o", str(dest))
    assert_opened(proc, dest)
    assert "encrypted:  age (keys)" in proc.stdout and "matches the .sha256 beside it" in proc.stdout


def test_open_plain_bundle_into_default_directory(tmp_path: Path) -> None:
    bundle, _ = collect(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    proc = run("open", str(bundle), cwd=work)
    dest = work / bundle.name.removesuffix(".tar.zst")
    assert_opened(proc, dest)
    assert default_directory(Path("x/casepack-a-1.tar.zst.age")).name == "casepack-a-1"


def test_open_a_bundle_encrypted_by_stock_tar_and_age(tmp_path: Path) -> None:
    """A vendor re-packs a bundle with `tar --zstd -c | age -r`: casepack opens it (with ./ and dir entries)."""
    bundle, _ = collect(tmp_path)
    tree = tmp_path / "tree"
    tree.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(bundle), "-C", str(tree)], check=True)
    identity, public = age_keys(tmp_path)
    packed = tmp_path / "repacked.tar.zst.age"
    subprocess.run(f"tar --zstd -c -C {tree} . | age -r {public} -o {packed}", shell=True, check=True)
    dest = tmp_path / "opened"
    assert_opened(run("open", str(packed), "-k", str(identity), "-o", str(dest)), dest)


def test_open_into_empty_dir_but_not_a_full_one(tmp_path: Path) -> None:
    identity, public = age_keys(tmp_path)
    bundle, _ = collect(tmp_path, "-r", public)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_opened(run("open", str(bundle), "-k", str(identity), "-o", str(empty)), empty)
    proc = run("open", str(bundle), "-k", str(identity), "-o", str(empty))
    assert proc.returncode == 2 and "is not an empty directory" in proc.stderr


def test_wrong_or_missing_key_is_status_1(tmp_path: Path) -> None:
    _, public = age_keys(tmp_path)
    bundle, _ = collect(tmp_path, "-r", public)
    other = tmp_path / "other"
    other.mkdir()
    wrong, _ = age_keys(other)
    proc = run("open", str(bundle), "-k", str(wrong), "-o", str(tmp_path / "d"))
    assert proc.returncode == 1 and "wrong key" in proc.stderr
    proc = run("open", str(bundle), "-o", str(tmp_path / "d"))
    assert proc.returncode == 1 and "give the vendor identity with -k" in proc.stderr
    assert not (tmp_path / "d").exists() and not list(tmp_path.glob(".d.partial*"))


def test_python_api_returns_an_open_result(tmp_path: Path) -> None:
    bundle = forge(tmp_path / "b.tar.zst")
    result = open_bundle(bundle, tmp_path / "o")
    assert result.files == 4 and result.encrypted == "no" and result.signer is None
    assert result.sidecar == "absent" and len(result.bundle_sha256) == 64
    assert (tmp_path / "o" / "hosts/h/p/config/etc/app.conf").read_bytes() == b"port = 1\n"
