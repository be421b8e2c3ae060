"""Encrypted bundles (age via pyrage and our scrypt stream), keygen, the .sha256 sidecar, manifest signing."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pyrage
import pytest

from collector.bundle import agefmt, signing
from collector.bundle.crypto import fingerprint, parse_recipients
from collector.errors import InputError
from tests.cryptokit import age_keys, collect, probe, run, ssh_keys

pytestmark = pytest.mark.skipif(shutil.which("age") is None, reason="the age CLI is not installed")


def age_decrypt_untar(bundle: Path, identity: Path, dest: Path) -> Path:
    """What a vendor without casepack does: ``age -d -i KEY bundle | tar --zstd -x``."""
    dest.mkdir()
    plain = dest.parent / (dest.name + ".tar.zst")
    subprocess.run(["age", "-d", "-i", str(identity), "-o", str(plain), str(bundle)], check=True)
    subprocess.run(["tar", "--zstd", "-xf", str(plain), "-C", str(dest)], check=True)
    return dest


def assert_bundle_tree(tree: Path) -> None:
    manifest = json.loads((tree / "manifest.json").read_text())
    assert manifest["format"] == "casepack/1" and manifest["status"] == "complete"
    conf = next(tree.glob("hosts/*/tiny/config/**/app.conf"))
    assert "hunter2" not in conf.read_text() and "[REDACTED:" in conf.read_text()
    assert set(manifest["files"]) == {"SUPPORT_CASE.md", "index.sqlite", "redaction-report.json"}


@pytest.mark.parametrize("kind", ["age", "ed25519", "rsa"])
def test_encrypted_bundle_opens_with_stock_age_and_tar(tmp_path: Path, kind: str) -> None:
    if kind == "age":
        identity, public = age_keys(tmp_path)
        recipient = public
    else:
        identity, pub = ssh_keys(tmp_path, kind)
        recipient = str(pub)  # a file of keys, like age -R
    bundle, proc = collect(tmp_path, "-r", recipient)
    assert bundle.name.endswith(".tar.zst.age") and bundle.name.startswith("casepack-t-")
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    assert bundle.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert "NOT be encrypted" not in proc.stderr
    assert not list(bundle.parent.glob(".*partial*"))
    assert_bundle_tree(age_decrypt_untar(bundle, identity, tmp_path / "x"))


def test_passphrase_bundle_round_trip_and_interop(tmp_path: Path) -> None:
    env = {"CP_PASS": "correct horse battery staple"}
    bundle, _ = collect(tmp_path, "--passphrase-env", "CP_PASS", env=env)
    assert bundle.name.endswith(".age")
    assert "correct horse" not in bundle.read_bytes().decode("latin-1")
    plain = pyrage.passphrase.decrypt(bundle.read_bytes(), env["CP_PASS"])  # the age crate reads our stream
    (tmp_path / "p.tar.zst").write_bytes(plain)
    (tmp_path / "x").mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(tmp_path / "p.tar.zst"), "-C", str(tmp_path / "x")], check=True)
    assert_bundle_tree(tmp_path / "x")
    proc = run("open", str(bundle), "-o", str(tmp_path / "o"), "--passphrase-env", "CP_PASS", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "age (passphrase)" in proc.stdout
    proc = run("open", str(bundle), "-o", str(tmp_path / "o2"), "--passphrase-env", "CP_PASS", env={"CP_PASS": "no"})
    assert proc.returncode == 1 and "wrong passphrase" in proc.stderr
    assert not (tmp_path / "o2").exists()


@pytest.mark.parametrize("size", [0, 1, agefmt.CHUNK - 1, agefmt.CHUNK, agefmt.CHUNK + 1, 3 * agefmt.CHUNK])
def test_scrypt_stream_matches_the_age_crate(size: int) -> None:
    data = os.urandom(size)
    out = io.BytesIO()
    enc = agefmt.ScryptEncryptor(out, "pw", log_n=10)
    for i in range(0, size, 10_000):
        enc.write(data[i:i + 10_000])
    enc.close()
    assert pyrage.passphrase.decrypt(out.getvalue(), "pw") == data
    back = io.BytesIO()
    agefmt.scrypt_decrypt(io.BytesIO(pyrage.passphrase.encrypt(data, "pw")), back, "pw")
    assert back.getvalue() == data
    if size > agefmt.CHUNK:  # dropping the last chunk is detected
        with pytest.raises(agefmt.AgeFormatError, match="truncated"):
            agefmt.scrypt_decrypt(io.BytesIO(out.getvalue()[:-(size % agefmt.CHUNK or agefmt.CHUNK) - 16]),
                                  io.BytesIO(), "pw")


def test_scrypt_header_is_authenticated_and_work_factor_capped() -> None:
    out = io.BytesIO()
    enc = agefmt.ScryptEncryptor(out, "pw", log_n=10)
    enc.write(b"x")
    enc.close()
    data = out.getvalue()
    with pytest.raises(agefmt.WrongPassphrase, match="wrong passphrase"):
        agefmt.scrypt_decrypt(io.BytesIO(data), io.BytesIO(), "other")
    with pytest.raises(agefmt.AgeFormatError, match="work factor"):
        agefmt.scrypt_decrypt(io.BytesIO(data.replace(b" 10\n", b" 30\n", 1)), io.BytesIO(), "pw")


def test_no_recipient_warns_and_writes_plain(tmp_path: Path) -> None:
    bundle, proc = collect(tmp_path)
    assert bundle.name.endswith(".tar.zst")
    assert "warning: no recipient given" in proc.stderr and "NOT be encrypted" in proc.stderr


@pytest.mark.parametrize("spec", ['[encryption]\nrequired = true\n', 'encryption = "required"\n'])
def test_required_encryption_refuses_before_collecting(tmp_path: Path, spec: str) -> None:
    case = tmp_path / "case.toml"
    case.write_text(spec)
    out = tmp_path / "out"
    out.mkdir()
    # a probe whose command would leave a trace if anything were collected
    marker = tmp_path / "collected"
    p = tmp_path / "p.toml"
    p.write_text(f'name = "m"\n[[artifact]]\nname = "c"\nkind = "command"\ncommand = "touch {marker}"\n')
    proc = run("collect", "--case", str(case), "-p", str(p), "-o", str(out), "--no-input")
    assert proc.returncode == 2, proc.stderr
    assert "requires encryption, but no recipient was given" in proc.stderr
    assert not marker.exists() and list(out.iterdir()) == []


def test_case_file_recipients_encrypt(tmp_path: Path) -> None:
    identity, public = age_keys(tmp_path)
    (tmp_path / "vendor.pub").write_text(f"# vendor key\n{public}\n")
    case = tmp_path / "case.toml"
    case.write_text('[encryption]\nrequired = true\nrecipients = ["vendor.pub"]\n')  # relative to the case file
    bundle, _ = collect(tmp_path, "--case", str(case))
    assert bundle.name.endswith(".age")
    assert_bundle_tree(age_decrypt_untar(bundle, identity, tmp_path / "x"))


def test_bad_recipients_are_usage_errors(tmp_path: Path) -> None:
    ec = tmp_path / "ec"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(ec)], check=True)
    for bad, text in (("age1notakey", "invalid key"), ("hello", "is not an age"), (f"{ec}.pub", "ecdsa")):
        proc = run("collect", "-p", str(probe(tmp_path)), "-o", str(tmp_path), "--no-input", "-r", bad)
        assert proc.returncode == 2 and text in proc.stderr, (bad, proc.stderr)
        assert "Traceback" not in proc.stderr
    with pytest.raises(InputError, match="cannot be combined"):
        from collector.cli.crypto import resolve_encryption
        resolve_encryption(None, (age_keys(tmp_path)[1],), False, "HOME", None)


def test_keygen_makes_a_private_identity_and_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "vendor.txt"
    proc = run("keygen", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    public = proc.stdout.strip()
    assert public.startswith("age1") and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert f"fingerprint: {fingerprint(public)}" in proc.stderr
    assert subprocess.run(["age-keygen", "-y", str(out)], capture_output=True, text=True).stdout.strip() == public
    again = run("keygen", "-o", str(out))
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    assert parse_recipients([public])[0].fingerprint == fingerprint(public)


def test_ssh_fingerprint_is_ssh_keygens(tmp_path: Path) -> None:
    _, pub = ssh_keys(tmp_path, "ed25519")
    shown = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True).stdout.split()[1]
    assert fingerprint(pub.read_text()) == shown


def test_sha256_sidecar_checks_with_sha256sum(tmp_path: Path) -> None:
    _, public = age_keys(tmp_path)
    bundle, proc = collect(tmp_path, "-r", public)
    side = bundle.with_name(bundle.name + ".sha256")
    digest = side.read_text().split()[0]
    assert side.read_text() == f"{digest}  {bundle.name}\n"
    assert f"sha256:   {digest}" in proc.stdout
    check = subprocess.run(["sha256sum", "-c", side.name], cwd=bundle.parent, capture_output=True, text=True)
    assert check.returncode == 0 and f"{bundle.name}: OK" in check.stdout


def test_signed_manifest_verifies_with_ssh_keygen_and_open(tmp_path: Path) -> None:
    key, pub = ssh_keys(tmp_path, "ed25519")
    identity, public = age_keys(tmp_path)
    bundle, proc = collect(tmp_path, "-r", public, "--sign", str(key))
    fp = fingerprint(pub.read_text())
    assert f"manifest signed by {fp}" in proc.stdout
    tree = age_decrypt_untar(bundle, identity, tmp_path / "x")
    with open(tree / "manifest.json", "rb") as manifest:  # the stock OpenSSH tool verifies it too
        check = subprocess.run(["ssh-keygen", "-Y", "check-novalidate", "-n", signing.NAMESPACE.decode(), "-s",
                                str(tree / signing.MEMBER)], stdin=manifest, capture_output=True, text=True)
    assert check.returncode == 0 and fp in check.stdout, check.stderr
    opened = run("open", str(bundle), "-k", str(identity), "-o", str(tmp_path / "o"), "--trust", str(pub))
    assert opened.returncode == 0, opened.stderr
    assert f"signed by {fp}" in opened.stdout
    other_key, other_pub = ssh_keys(tmp_path / "x", "ed25519")
    untrusted = run("open", str(bundle), "-k", str(identity), "-o", str(tmp_path / "o2"), "--trust", str(other_pub))
    assert untrusted.returncode == 4 and "not a trusted key" in untrusted.stderr
    assert not (tmp_path / "o2").exists()


def test_pem_signing_key_and_rejected_keys(tmp_path: Path) -> None:
    pem = tmp_path / "k.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(pem)], check=True)
    key = signing.load_signing_key(pem)
    assert signing.verify(signing.sign(key, b"m"), b"m").public_key == signing.public_line(key)
    rsa, _ = ssh_keys(tmp_path, "rsa")
    with pytest.raises(InputError, match="not an Ed25519 key"):
        signing.load_signing_key(rsa)
    locked = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pw", "-f", str(locked)], check=True)
    proc = run("collect", "-p", str(probe(tmp_path)), "-o", str(tmp_path), "--no-input", "--sign", str(locked))
    assert proc.returncode == 2 and "passphrase-protected" in proc.stderr
    assert not list(tmp_path.glob("casepack-*"))


def test_stock_age_cli_decrypts_our_passphrase_stream(tmp_path: Path) -> None:
    import pty

    data = b"hello age cli\n" * 10_000
    out = io.BytesIO()
    enc = agefmt.ScryptEncryptor(out, "s3cret pass")
    enc.write(data)
    enc.close()
    (tmp_path / "p.age").write_bytes(out.getvalue())
    pid, fd = pty.fork()  # age reads passphrases only from a terminal
    if pid == 0:
        os.execvp("age", ["age", "-d", "-o", str(tmp_path / "p.out"), str(tmp_path / "p.age")])
    seen = b""
    while b"passphrase" not in seen.lower():
        seen += os.read(fd, 1024)
    os.write(fd, b"s3cret pass\n")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert status == 0 and (tmp_path / "p.out").read_bytes() == data
