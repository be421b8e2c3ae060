"""``casepack upload``: what is refused before anything is sent (no server needed), the case file's [upload],
and the progress line on a real terminal (pexpect, against nginx over TLS)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from collector.casefile import load_case_file, upload_section
from collector.errors import InputError
from collector.upload.target import Credentials, apply_credentials, parse_target
from tests.cliutil import CLI, env, run_cli
from tests.uploadkit import DavServer, encrypted_bundle


@pytest.mark.parametrize("url, path", [
    ("sftp://drop@vendor.example/incoming/", "/incoming"),
    ("sftp://drop@vendor.example:2200/~/incoming/", "incoming"),
    ("sftp://vendor.example", ""),
    ("sftp://vendor.example/", "/"),
])
def test_sftp_urls(url: str, path: str) -> None:
    target = parse_target(url)
    assert target.scheme == "sftp" and target.path == path and target.host == "vendor.example"
    assert target.ssh_host().startswith(("drop@vendor.example", "vendor.example"))


def test_shown_target_drops_the_presigned_query() -> None:
    target = parse_target("https://bucket.example/put/b.age?X-Amz-Signature=abcdef0123&X-Amz-Expires=600")
    assert target.shown == "https://bucket.example/put/b.age" and not target.collection
    assert parse_target("https://dav.example/drop/").collection


@pytest.mark.parametrize("url, message", [
    ("https://user:hunter22@dav.example/drop/", "holds a password"),
    ("http://dav.example/drop/", "unprotected"),
    ("ftp://dav.example/drop/", "unsupported URL scheme"),
    ("sftp:///dir/", "names no host"),
])
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_target(url)


def test_credentials_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAV_PW", "s3cret-pass")
    target = parse_target("https://me@dav.example/drop/")
    apply_credentials(target, Credentials(password_env="DAV_PW"))
    assert target.password == "s3cret-pass" and "s3cret" not in repr(target)
    with pytest.raises(InputError, match="needs a user name"):
        apply_credentials(parse_target("https://dav.example/drop/"), Credentials(password_env="DAV_PW"))
    with pytest.raises(InputError, match="SSH keys"):
        apply_credentials(parse_target("sftp://dav.example/drop/"), Credentials(password_env="DAV_PW"))
    with pytest.raises(InputError, match="is not set"):
        apply_credentials(parse_target("https://me@dav.example/"), Credentials(token_env="NO_SUCH_VAR_X"))


def test_case_file_upload_section(tmp_path: Path) -> None:
    case = tmp_path / "case.toml"
    case.write_text('[upload]\nto = "@url.txt"\nca_file = "ca.pem"\nmax_size = "2GiB"\nallow_unencrypted = true\n')
    section = upload_section(load_case_file(str(case)))
    assert section.to == f"@{tmp_path / 'url.txt'}" and section.ca_file == str(tmp_path / "ca.pem")
    assert section.max_size == "2GiB" and section.allow_unencrypted
    case.write_text('[upload]\nurl = "https://x/"\n')
    with pytest.raises(InputError, match=rf"case file {re.escape(str(case))} \[upload\]: unknown key"):
        upload_section(load_case_file(str(case)))
    case.write_text('[upload]\nallow_unencrypted = "yes"\n')
    with pytest.raises(InputError, match="allow_unencrypted must be true or false"):
        upload_section(load_case_file(str(case)))


def test_unencrypted_bundle_is_refused_before_connecting(tmp_path: Path) -> None:
    plain = tmp_path / "plain.tar.zst"
    plain.write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(1000))
    res = run_cli("upload", str(plain), "--to", "https://127.0.0.1:9/drop/")
    assert res.returncode == 2 and "is not encrypted; refusing to send it" in res.stderr
    assert "--allow-unencrypted" in res.stderr and "connection" not in res.stderr
    res = run_cli("upload", str(plain), "--to", "https://127.0.0.1:9/drop/", "--allow-unencrypted", "--retries", "0")
    assert res.returncode == 1 and "connection refused" in res.stderr  # allowed: it got as far as the network


def test_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    bundle = encrypted_bundle(tmp_path / "b.age", 200_000)
    res = run_cli("upload", str(bundle), "--to", "https://127.0.0.1:9/drop/", "--max-size", "100KiB")
    assert res.returncode == 2 and "over the target's limit" in res.stderr and "nothing sent" in res.stderr


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    bundle = encrypted_bundle(tmp_path / "b.age", 1000)
    for args, message in ((["/no/such/bundle.age", "--to", "sftp://h/d/"], "no such bundle"),
                          ([str(bundle)], "no destination"),
                          ([str(bundle), "--to", "@/no/such/url-file"], "cannot read the URL file"),
                          ([str(bundle), "--to", "https://a:pw12345@h/"], "holds a password")):
        res = run_cli("upload", *args)
        assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
        assert "pw12345" not in res.stderr


def test_collect_refuses_to_upload_an_unencrypted_bundle_before_collecting(tmp_path: Path) -> None:
    res = run_cli("collect", "--no-input", "-o", f"{tmp_path}/out/", "--upload", "sftp://127.0.0.1/drop/")
    assert res.returncode == 2 and "refusing to send an unencrypted bundle" in res.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not shutil.which("nginx") and not os.path.exists("/usr/sbin/nginx"), reason="needs nginx")
def test_terminal_shows_rate_and_eta(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    dav = DavServer(tmp_path / "dav")
    try:
        bundle = encrypted_bundle(tmp_path / "tty.tar.zst.age", 48 << 20)
        child = pexpect.spawn(CLI[0], [*CLI[1:], "upload", str(bundle), "--to", dav.url("/open/"), "--ca-file",
                                       str(dav.ca)], env=env(), encoding="utf-8", timeout=60, dimensions=(30, 120))
        child.expect(r"sending tty\.tar\.zst\.age \(48\.0 MiB\)")
        child.expect(r"\d+%  [\d.]+ [KMG]?i?B / 48\.0 MiB  [\d.]+ [KMG]?i?B/s  ETA \d+:\d\d")
        child.expect(r"sha256 [0-9a-f]{64}")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
    finally:
        dav.stop()
