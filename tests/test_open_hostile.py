"""Hostile bundles, built here, must not hurt the machine that opens them.

Each case: one clear line, a non-zero exit (4: rejected, 1: cannot decrypt), no output
directory, no half-extracted temp tree, and nothing written outside (parent dir, /tmp).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import uuid
from pathlib import Path

import pyrage
import pytest
import zstandard
from pyrage import x25519

from collector.bundle.opener import OpenLimits, VerificationError, open_bundle
from tests.cryptokit import collect, forge, good_files, manifest_for, member, run, tar_of

ESCAPE = f"casepack-escape-{uuid.uuid4().hex[:8]}"


def assert_rejected(tmp_path: Path, bundle: Path, text: str, *extra: str, status: int = 4) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir(exist_ok=True)
    before = sorted(os.listdir(workdir)), sorted(os.listdir(tmp_path))
    proc = run("open", str(bundle), *extra, cwd=workdir)
    assert proc.returncode == status, proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("casepack: error: ") and text in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and len(lines) <= 2
    assert (sorted(os.listdir(workdir)), sorted(os.listdir(tmp_path))) == before  # no dir, no partial tree
    for target in (Path("/tmp") / ESCAPE, tmp_path / ESCAPE, Path("/") / ESCAPE):
        assert not os.path.lexists(target)


def test_absolute_path(tmp_path: Path) -> None:
    bundle = forge(tmp_path / "b.tar.zst", [member(f"/tmp/{ESCAPE}", b"x")])
    assert_rejected(tmp_path, bundle, "unsafe member name")


@pytest.mark.parametrize("name", [f"../{ESCAPE}", f"../../../../tmp/{ESCAPE}", f"hosts/../../{ESCAPE}", ""])
def test_dotdot_paths(tmp_path: Path, name: str) -> None:
    bundle = forge(tmp_path / "b.tar.zst", [member(name, b"x")])
    assert_rejected(tmp_path, bundle, "unsafe member name")


def test_symlink_then_write_through_it(tmp_path: Path) -> None:
    bundle = forge(tmp_path / "b.tar.zst", [member("hosts/link", kind=tarfile.SYMTYPE, linkname="/tmp"),
                                            member(f"hosts/link/{ESCAPE}", b"x")])
    assert_rejected(tmp_path, bundle, "is a symlink")


def test_hard_link(tmp_path: Path) -> None:
    bundle = forge(tmp_path / "b.tar.zst", [member("hosts/hl", kind=tarfile.LNKTYPE, linkname="/etc/passwd")])
    assert_rejected(tmp_path, bundle, "is a hard link")


@pytest.mark.parametrize("kind,text", [(tarfile.CHRTYPE, "device file"), (tarfile.BLKTYPE, "device file"),
                                       (tarfile.FIFOTYPE, "FIFO")])
def test_devices_and_fifos(tmp_path: Path, kind: bytes, text: str) -> None:
    bundle = forge(tmp_path / "b.tar.zst", [member("hosts/dev", kind=kind, devmajor=1, devminor=3)])
    assert_rejected(tmp_path, bundle, text)


def test_too_many_members(tmp_path: Path) -> None:
    bundle = forge(tmp_path / "b.tar.zst", [member(f"hosts/f{i}", b"") for i in range(50)])
    assert_rejected(tmp_path, bundle, "more than 20 members", "--max-files", "20")


def test_decompression_bomb_is_stopped_at_the_cap(tmp_path: Path) -> None:
    big = b"\0" * (8 << 20)  # 8 MiB of zeros: ~300 bytes compressed
    files = {**good_files(), "hosts/h/p/log/bomb": big}
    bundle = forge(tmp_path / "b.tar.zst", files=files)
    assert bundle.stat().st_size < 100_000
    assert_rejected(tmp_path, bundle, "more than 1048576 bytes", "--max-size", "1MiB")


def test_oversize_pax_header(tmp_path: Path) -> None:
    info, data = member("hosts/x", b"x")
    info.pax_headers = {"comment": "A" * (2 << 20)}
    bundle = forge(tmp_path / "b.tar.zst", [(info, data)])
    assert_rejected(tmp_path, bundle, "pax header")


def test_member_shorter_than_its_header(tmp_path: Path) -> None:
    raw = tar_of([member(n, d) for n, d in good_files().items()] + [member("hosts/big", b"y" * 100_000)])
    bundle = forge(tmp_path / "b.tar.zst", raw_tar=raw[:-60_000])  # valid zstd, truncated tar
    assert_rejected(tmp_path, bundle, "corrupt or truncated")


def test_truncated_bundle(tmp_path: Path) -> None:
    bundle, _ = collect(tmp_path)
    data = bundle.read_bytes()
    bundle.unlink()
    bundle.with_name(bundle.name + ".sha256").unlink()
    for i, cut in enumerate((len(data) // 2, len(data) - 40)):
        short = tmp_path / f"short{i}.tar.zst"
        short.write_bytes(data[:cut])
        proc = run("open", str(short), "-o", str(tmp_path / f"o{i}"))
        assert proc.returncode == 4 and "casepack: error:" in proc.stderr, proc.stderr
        assert not (tmp_path / f"o{i}").exists()


def test_tampered_file(tmp_path: Path) -> None:
    files = good_files()
    manifest = manifest_for(files)
    files["hosts/h/p/config/etc/app.conf"] = b"port = 2\n"  # same size, different bytes
    bundle = forge(tmp_path / "b.tar.zst", files=files, manifest=manifest)
    assert_rejected(tmp_path, bundle, "does not match the manifest")


def test_file_not_in_manifest_and_missing_file(tmp_path: Path) -> None:
    extra = forge(tmp_path / "extra.tar.zst", [member("hosts/h/p/config/smuggled", b"x")])
    assert_rejected(tmp_path, extra, "not in the manifest")
    files = good_files()
    manifest = manifest_for(files)
    del files["SUPPORT_CASE.md"]
    missing = forge(tmp_path / "missing.tar.zst", files=files, manifest=manifest)
    assert_rejected(tmp_path, missing, "missing")


def test_duplicate_member(tmp_path: Path) -> None:
    bundle = forge(tmp_path / "b.tar.zst", [member("SUPPORT_CASE.md", b"# case\n")])
    assert_rejected(tmp_path, bundle, "appears twice")


def test_not_a_bundle(tmp_path: Path) -> None:
    noise = tmp_path / "noise.bin"
    noise.write_bytes(os.urandom(5000))
    assert_rejected(tmp_path, noise, "not a casepack bundle")
    plain_tar = forge(tmp_path / "nomanifest.tar.zst", raw_tar=tar_of([member("README", b"hello")]))
    assert_rejected(tmp_path, plain_tar, "no manifest.json")
    wrong = forge(tmp_path / "wrongfmt.tar.zst", manifest=b'{"format": "other/9"}')
    assert_rejected(tmp_path, wrong, "manifest format is 'other/9'")
    assert_rejected(tmp_path, forge(tmp_path / "notjson.tar.zst", manifest=b"\x00{"), "not JSON")
    assert_rejected(tmp_path, tmp_path / "work", "not a regular file", status=2)


def test_tampered_and_truncated_age(tmp_path: Path) -> None:
    ident = x25519.Identity.generate()
    key = tmp_path / "k.txt"
    key.write_text(f"{ident}\n")
    key.chmod(0o600)
    plain = forge(tmp_path / "p.tar.zst").read_bytes() + os.urandom(200_000)  # several age chunks
    enc = pyrage.encrypt(plain, [ident.to_public()])
    flipped = bytearray(enc)
    flipped[len(enc) // 2] ^= 1
    (tmp_path / "flip.age").write_bytes(bytes(flipped))
    assert_rejected(tmp_path, tmp_path / "flip.age", "tampered", "-k", str(key))
    (tmp_path / "cut.age").write_bytes(enc[:-70_000])
    assert_rejected(tmp_path, tmp_path / "cut.age", "truncated", "-k", str(key))


def test_bundle_sha256_sidecar_mismatch(tmp_path: Path) -> None:
    bundle = forge(tmp_path / "b.tar.zst")
    bundle.with_name(bundle.name + ".sha256").write_text(f"{hashlib.sha256(b'other').hexdigest()}  b.tar.zst\n")
    assert_rejected(tmp_path, bundle, "does not match b.tar.zst.sha256")


def test_tampered_signature_and_unsigned_with_require(tmp_path: Path) -> None:
    key = tmp_path / "sign"
    os.system(f"ssh-keygen -q -t ed25519 -N '' -f {key}")
    bundle, _ = collect(tmp_path, "--sign", str(key))
    tree = tmp_path / "t"
    tree.mkdir()
    os.system(f"tar --zstd -xf {bundle} -C {tree}")
    manifest = (tree / "manifest.json").read_bytes()
    members = [member(str(p.relative_to(tree)), p.read_bytes()) for p in sorted(tree.rglob("*"))
               if p.is_file() and p.name not in ("manifest.json", "manifest.json.sig")]
    sig = bytearray((tree / "manifest.json.sig").read_bytes())
    sig[200] = ord("A") if sig[200] != ord("A") else ord("B")
    forged = tmp_path / "forged.tar.zst"
    forged.write_bytes(zstandard.ZstdCompressor().compress(tar_of(
        members + [member("manifest.json", manifest), member("manifest.json.sig", bytes(sig))])))
    assert_rejected(tmp_path, forged, "signature")
    unsigned = tmp_path / "unsigned.tar.zst"
    unsigned.write_bytes(zstandard.ZstdCompressor().compress(tar_of(members + [member("manifest.json", manifest)])))
    assert_rejected(tmp_path, unsigned, "not signed", "--require-signature")


def test_api_limits_and_no_leftovers(tmp_path: Path) -> None:
    bundle = forge(tmp_path / "b.tar.zst", [member(f"hosts/f{i}", b"") for i in range(5)])
    with pytest.raises(VerificationError, match="more than 3 members"):
        open_bundle(bundle, tmp_path / "o", limits=OpenLimits(max_files=3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar.zst"]
    shutil.rmtree(tmp_path / "o", ignore_errors=True)
