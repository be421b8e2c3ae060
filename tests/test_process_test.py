"""process-test against the real-sshd fleet: a healthy fleet passes, each fault gives its FAIL line and remedy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.sshfleet import SSH_CLIENTS, USER_DENY, SshFleet, fleet_of, is_root, sshd_available, unreachable_address

CASEPACK = shutil.which("casepack")
pytestmark = [
    pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (apt-get install openssh-server)"),
    pytest.mark.skipif(not is_root(), reason="the sshd test fleet needs root (users, sudoers)"),
    pytest.mark.skipif(CASEPACK is None, reason="casepack is not installed (pip install -e .)"),
]

CASE = """
[case]
title = "process test"
[contact]
name = "Ann Ops"
email = "ann@example.com"
phone = "+44 20 0000 0000"
[support]
vendor_hours = "Mon-Fri 08:00-18:00"
vendor_timezone = "Europe/London"
availability = "24x7"
"""


@pytest.fixture(scope="module", params=SSH_CLIENTS)
def fleet(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    yield from fleet_of(tmp_path_factory.mktemp("ptfleet"), "p1", "p2", "p3", client=request.param)


@pytest.fixture(scope="module")
def app():
    root = Path(tempfile.mkdtemp(prefix="casepack-ptapp-"))
    root.chmod(0o755)
    (root / "bin").mkdir(mode=0o755)
    server = root / "bin" / "appd"
    server.write_text("#!/bin/sh\necho 'appd 7.1.0 (build 42)'\n")
    server.chmod(0o755)
    (root / "app.conf").write_text("threads = 4\n")
    (root / "logs").mkdir(mode=0o755)
    for i in range(3):
        (root / "logs" / f"app.log.{i}").write_text("2026-11-24T00:00:00 INFO ok\n" * 100)
    secure = root / "logs" / "audit.log"
    secure.write_text("2026-11-24T00:00:00 audit\n")
    secure.chmod(0o600)
    for p in list(root.rglob("*")):
        if p != secure and p.is_file() and p != server:
            p.chmod(0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def probe(tmp: Path, root: Path, audit_root: bool = True, logdir: str = "logs") -> Path:
    path = tmp / "probe.toml"
    path.write_text(f'''name = "appd"
[vars]
root = "{root}"
[[artifact]]
name = "version"
kind = "version"
command = "{{root}}/bin/appd --version"
[[artifact]]
name = "config"
kind = "config"
paths = ["{{root}}/app.conf"]
[[artifact]]
name = "logs"
kind = "log"
paths = ["{{root}}/{logdir}/app.log.*"]
[[artifact]]
name = "audit"
kind = "log"
paths = ["{{root}}/logs/audit.log"]
needs_root = {"true" if audit_root else "false"}
''')
    return path


def run(fleet: SshFleet, tmp: Path, *args: str, ssh_config: Path | None = None) -> tuple[int, dict, str]:
    case = tmp / "case.toml"
    if not case.exists():
        case.write_text(CASE)
    proc = subprocess.run([CASEPACK, "process-test", "--ssh-config", str(ssh_config or fleet.ssh_config),
                           *fleet.client_args, "--case", str(case), "-o", str(tmp), "--json", "--connect-timeout", "3",
                           *args],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def lines(report: dict) -> list[dict]:
    return [f for h in report["hosts"] for f in h["findings"]] + report["findings"]


def find(report: dict, host: str, subject: str) -> dict:
    hits = [f for f in lines(report) if f["host"] == host and f["subject"] == subject]
    assert hits, (host, subject, lines(report))
    return hits[0]


def test_healthy_fleet_passes_and_writes_a_runbook(fleet: SshFleet, app: Path, tmp_path: Path) -> None:
    code, report, err = run(fleet, tmp_path, "p1", "p2", "p3", "-p", str(probe(tmp_path, app)))
    assert code == 0, [f for f in lines(report) if f["result"] == "fail"]
    assert find(report, "p1", "connection")["result"] == "pass"
    assert find(report, "p2", "sudo")["result"] == "pass"
    assert "appd 7.1.0" in find(report, "p3", "appd/version")["detail"]
    assert "3 file(s)" in find(report, "p1", "appd/logs")["detail"]
    assert "only with sudo" in find(report, "p1", "appd/audit")["detail"]
    plan = find(report, "-", "support plan")
    assert plan["result"] == "warn" and "internal plan" in plan["remedy"]  # 24x7 app, business-hours vendor
    assert find(report, "-", "redaction")["result"] == "pass"
    runbook = (tmp_path / "PROCESS.md").read_text()
    assert "## Host `p2`" in runbook and "cptest" in runbook and "cat -- PATH" in runbook
    assert f"{app}/bin/appd --version" in runbook and str(app / "logs" / "app.log.0") in runbook
    assert report["estimate"]["bundle_bytes"] > 0


def test_faults_give_fail_lines_with_remedies(fleet: SshFleet, app: Path, tmp_path: Path) -> None:
    addr, port = unreachable_address()
    p2, p3 = fleet["p2"], fleet["p3"]
    cfg = tmp_path / "ssh_config"
    known = tmp_path / "known_hosts"
    known.write_text(fleet["p1"].known_hosts_line + "\n" + p2.known_hosts_line + "\n")  # p3 is unknown
    cfg.write_text(f"Host down\n  HostName {addr}\n  Port {port}\n\n"
                   f"Host stranger\n  HostName {p3.address}\n  Port {p3.port}\n  User cptest\n\n"
                   f"Host denied\n  HostName {p2.address}\n  Port {p2.port}\n  User {USER_DENY}\n\n"
                   + fleet.ssh_config.read_text().replace(str(fleet.known_hosts), str(known)))
    code, report, err = run(fleet, tmp_path, "p1", "down", "stranger", "denied", "-p",
                            str(probe(tmp_path, app, logdir="nolog")), "--known-hosts", str(known),
                            "-r", "age1notakey", "--max-bundle-size", "1", ssh_config=cfg)
    assert code == 1
    down = find(report, "down", "connection")
    assert down["result"] == "fail" and "cannot connect" in down["detail"]
    stranger = find(report, "stranger", "connection")
    assert stranger["result"] == "fail" and "unknown host key" in stranger["detail"]
    assert "--accept-new-host-keys" in stranger["remedy"]
    sudo = find(report, "denied", "sudo")
    assert sudo["result"] == "fail" and USER_DENY in sudo["detail"]
    audit = find(report, "denied", "appd/audit")
    assert audit["result"] == "fail" and f"add {USER_DENY} to sudoers for `cat" in audit["remedy"]
    logs = find(report, "p1", "appd/logs")
    assert logs["result"] == "fail" and "nothing matches" in logs["detail"]
    assert find(report, "-", "encryption")["result"] == "fail"
    assert find(report, "-", "bundle size")["result"] == "fail"


def test_permission_denied_without_needs_root(fleet: SshFleet, app: Path, tmp_path: Path) -> None:
    code, report, _ = run(fleet, tmp_path, "p1", "-p", str(probe(tmp_path, app, audit_root=False)))
    assert code == 1
    audit = find(report, "p1", "appd/audit")
    assert audit["result"] == "fail" and "not readable" in audit["detail"]
    assert "mark the artifact needs_root" in audit["remedy"]


def test_test_bundle_opens(fleet: SshFleet, app: Path, tmp_path: Path) -> None:
    identity = tmp_path / "vendor.txt"
    keygen = subprocess.run([CASEPACK, "keygen", "-o", str(identity)], capture_output=True, text=True)
    assert keygen.returncode == 0, keygen.stderr
    public = next(w for w in keygen.stdout.split() if w.startswith("age1"))
    code, report, err = run(fleet, tmp_path, "p1", "-p", str(probe(tmp_path, app)), "--bundle", "-r", public)
    assert code == 0, err
    bundle = report["bundle"]["path"]
    assert bundle.endswith(".tar.zst.age") and os.stat(bundle).st_size < 64 * 1024
    out = tmp_path / "opened"
    opened = subprocess.run([CASEPACK, "open", bundle, "-k", str(identity), "-o", str(out)], capture_output=True,
                            text=True)
    assert opened.returncode == 0, opened.stderr
    assert "PROCESS TEST" in (out / "SUPPORT_CASE.md").read_text()
    assert "## Host `p1`" in (out / "PROCESS.md").read_text()
