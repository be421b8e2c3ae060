"""``casepack upload`` over HTTPS against real servers on loopback: nginx from Debian with WebDAV PUT over TLS
(a CA made with openssl here), basic auth from an environment variable, and tinyproxy for HTTPS_PROXY."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.cliutil import CLI, env
from tests.uploadkit import DAV_PASSWORD, DAV_USER, DavServer, TinyProxy, case_set, encrypted_bundle, free_port

pytestmark = pytest.mark.skipif(not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"))
                                or not shutil.which("openssl"), reason="needs nginx and openssl")


@pytest.fixture(scope="module")
def dav(tmp_path_factory: pytest.TempPathFactory):
    server = DavServer(tmp_path_factory.mktemp("dav"))
    yield server
    server.stop()


@pytest.fixture()
def bundle(tmp_path: Path) -> Path:
    return encrypted_bundle(tmp_path / "acme-host1.tar.zst.age", 3 << 20)


def upload(*args: str, extra_env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    e = {k: v for k, v in env().items() if k.upper() not in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY")}
    return subprocess.run([*CLI, "upload", *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env={**e, **(extra_env or {})})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_put_over_tls_with_ca_and_password_from_env(dav: DavServer, bundle: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    proc = subprocess.Popen([*CLI, "upload", str(bundle), "--to", dav.url("/dav/", DAV_USER), "--password-env",
                             "DAV_PW", "--ca-file", str(dav.ca), "--events", str(events)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**env(), "DAV_PW": DAV_PASSWORD})
    cmdline = b""
    while proc.poll() is None and b"--password-env" not in cmdline:  # read while it runs (a zombie's is empty)
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"--password-env" in cmdline and DAV_PASSWORD.encode() not in cmdline
    sent = dav.root / "dav" / bundle.name
    assert sha256(sent) == sha256(bundle)
    assert sha256(bundle) in out and "quote it in the ticket" in out
    receipts = (bundle.parent / "uploads.jsonl").read_text()
    record = json.loads(receipts.splitlines()[-1])
    assert record["sha256"] == sha256(bundle) and record["bytes"] == bundle.stat().st_size
    assert record["target"] == dav.url("/dav/", DAV_USER) and record["remote"] == f"/dav/{bundle.name}"
    assert record["duration"] > 0
    assert DAV_PASSWORD not in receipts and DAV_PASSWORD not in events.read_text()
    assert oct((bundle.parent / "uploads.jsonl").stat().st_mode & 0o777) == "0o600"
    kinds = [json.loads(line)["event"] for line in events.read_text().splitlines()]
    assert kinds[0] == "upload_started" and kinds[-1] == "upload_done" and "upload_progress" in kinds


def test_presigned_url_from_a_file_never_shows_its_signature(dav: DavServer, bundle: Path, tmp_path: Path) -> None:
    secret = "X-Signature=c2VjcmV0LXNpZ25hdHVyZS0xMjM0NQ"
    url_file = tmp_path / "url.txt"
    url_file.write_text(dav.url(f"/open/renamed.age?{secret}&X-Expires=600") + "\n")
    events = tmp_path / "events.jsonl"
    res = upload(str(bundle), "--to", f"@{url_file}", "--ca-file", str(dav.ca), "--events", str(events))
    assert res.returncode == 0, res.stderr
    assert sha256(dav.root / "open" / "renamed.age") == sha256(bundle)
    for text in (res.stdout, res.stderr, events.read_text(), (bundle.parent / "uploads.jsonl").read_text()):
        assert "c2VjcmV0LXNpZ25hdHVyZS0xMjM0NQ" not in text
    assert dav.url("/open/renamed.age") in res.stdout


def test_untrusted_certificate_is_one_line_tls_failure(dav: DavServer, bundle: Path) -> None:
    res = upload(str(bundle), "--to", dav.url("/open/"), "--retries", "0")
    assert res.returncode == 1
    assert "TLS verification failed" in res.stderr and "--ca-file" in res.stderr
    assert "Traceback" not in res.stderr and not (dav.root / "open" / bundle.name).exists()


def test_wrong_password_is_an_auth_failure(dav: DavServer, bundle: Path) -> None:
    res = upload(str(bundle), "--to", dav.url("/dav/", DAV_USER), "--password-env", "DAV_PW", "--ca-file",
                 str(dav.ca), extra_env={"DAV_PW": "not-the-password"})
    assert res.returncode == 1
    assert "authentication refused" in res.stderr and "HTTP 401" in res.stderr
    assert "not-the-password" not in res.stderr


def test_body_limit_is_a_quota_failure_with_the_server_message(dav: DavServer, bundle: Path) -> None:
    res = upload(str(bundle), "--to", dav.url("/small/"), "--ca-file", str(dav.ca))
    assert res.returncode == 1
    assert "size limit or quota" in res.stderr and "HTTP 413" in res.stderr and "Too Large" in res.stderr


def test_5xx_is_retried_with_backoff_then_reported(dav: DavServer, bundle: Path, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    start = time.monotonic()
    res = upload(str(bundle), "--to", dav.url("/busy/"), "--ca-file", str(dav.ca), "--retries", "2",
                 "--events", str(events))
    assert res.returncode == 1
    assert time.monotonic() - start >= 3  # backoff 1 s, then 2 s
    assert "HTTP 503" in res.stderr and "drop box in maintenance" in res.stderr
    kinds = [json.loads(line)["event"] for line in events.read_text().splitlines()]
    assert kinds.count("upload_retry") == 2 and kinds[-1] == "failed"


def test_connection_refused_and_dns_failure_are_one_line(bundle: Path) -> None:
    res = upload(str(bundle), "--to", f"https://127.0.0.1:{free_port()}/drop/", "--retries", "0")
    assert res.returncode == 1 and "connection refused" in res.stderr and "Traceback" not in res.stderr
    res = upload(str(bundle), "--to", "https://casepack-no-such-host.invalid/drop/", "--retries", "0")
    assert res.returncode == 1 and "DNS: cannot resolve casepack-no-such-host.invalid" in res.stderr


def test_through_https_proxy_and_around_it_with_no_proxy(dav: DavServer, tmp_path: Path) -> None:
    proxy = TinyProxy(tmp_path / "proxy")
    try:
        one = encrypted_bundle(tmp_path / "via-proxy.age", 1 << 20)
        res = upload(str(one), "--to", dav.url("/open/"), "--ca-file", str(dav.ca),
                     extra_env={"HTTPS_PROXY": proxy.url})
        assert res.returncode == 0, res.stderr
        assert f"CONNECT 127.0.0.1:{dav.port}" in proxy.text()
        assert sha256(dav.root / "open" / one.name) == sha256(one)
        before = proxy.text().count("CONNECT")
        two = encrypted_bundle(tmp_path / "direct.age", 1 << 20)
        res = upload(str(two), "--to", dav.url("/open/"), "--ca-file", str(dav.ca),
                     extra_env={"HTTPS_PROXY": proxy.url, "NO_PROXY": "127.0.0.1"})
        assert res.returncode == 0, res.stderr
        assert proxy.text().count("CONNECT") == before
        dead = f"http://127.0.0.1:{free_port()}"
        res = upload(str(two), "--to", dav.url("/open/again/"), "--ca-file", str(dav.ca), "--retries", "0",
                     extra_env={"HTTPS_PROXY": dead})
        assert res.returncode == 1 and "proxy" in res.stderr
    finally:
        proxy.stop()


def test_case_set_folder_goes_into_a_webdav_subfolder_manifest_last(dav: DavServer, tmp_path: Path) -> None:
    folder = case_set(tmp_path / "case-4711", ("shard-a.tar.zst.age", "shard-b.tar.zst.age"), 1 << 20)
    res = upload(str(folder), "--to", dav.url("/dav/", DAV_USER), "--password-env", "DAV_PW", "--ca-file",
                 str(dav.ca), extra_env={"DAV_PW": DAV_PASSWORD})
    assert res.returncode == 0, res.stderr
    sent = dav.root / "dav" / "case-4711"
    assert sorted(p.name for p in sent.iterdir()) == ["caseset.json", "caseset.json.sig", "shard-a.tar.zst.age",
                                                      "shard-b.tar.zst.age"]
    records = [json.loads(line) for line in (folder / "uploads.jsonl").read_text().splitlines()]
    assert [Path(r["file"]).name for r in records][-2:] == ["caseset.json.sig", "caseset.json"]
    assert all(sha256(sent / Path(r["file"]).name) == r["sha256"] for r in records)
