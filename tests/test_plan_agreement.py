"""process-test predicts what collect records: the same plan, evaluated and executed, on real hosts.

Targets: this machine (root in CI), and over the real test sshd a sudo user, a user whose sudo needs a
password (given with --sudo-password-env), and a user without sudo. Every artifact's predicted outcome
(ok / skipped / missing / denied / failed) must equal what collect then records.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.sshfleet import (
    CPPASS_PASSWORD,
    SSH_CLIENTS,
    USER_DENY,
    USER_PASS,
    SshFleet,
    fleet_of,
    is_root,
    sshd_available,
)

CASEPACK = shutil.which("casepack")
pytestmark = [
    pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (apt-get install openssh-server)"),
    pytest.mark.skipif(not is_root(), reason="the sshd test fleet needs root (users, sudoers)"),
    pytest.mark.skipif(CASEPACK is None, reason="casepack is not installed (pip install -e .)"),
]
ORDER = ("ok", "skipped", "missing", "denied", "failed", "timed_out")


@pytest.fixture(scope="module", params=SSH_CLIENTS)
def fleet(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    yield from fleet_of(tmp_path_factory.mktemp("agreefleet"), "a1", "a2", "a3", client=request.param)


@pytest.fixture(scope="module")
def app():
    root = Path(tempfile.mkdtemp(prefix="casepack-agree-"))
    root.chmod(0o755)
    (root / "bin").mkdir(mode=0o755)
    server = root / "bin" / "appd"
    server.write_text("#!/bin/sh\necho 'appd 7.1.0'\n")
    server.chmod(0o755)
    (root / "app.conf").write_text("threads = 4\n")
    (root / "logs").mkdir(mode=0o755)
    (root / "logs" / "app.log").write_text("2026-11-24T00:00:00 INFO ok\n")
    (root / "logs" / "audit.log").write_text("2026-11-24T00:00:00 audit\n")
    (root / "logs" / "audit.log").chmod(0o600)
    (root / "private").mkdir(mode=0o700)  # a directory only root can list
    (root / "private" / "keys.conf").write_text("k = 1\n")
    for p in (root / "app.conf", root / "logs" / "app.log"):
        p.chmod(0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


PROBE = '''name = "agree"
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
paths = ["{{root}}/logs/app.log"]
[[artifact]]
name = "audit"
kind = "log"
paths = ["{{root}}/logs/audit.log"]
needs_root = true
[[artifact]]
name = "audit-lines"
kind = "command"
command = "wc -l < {{root}}/logs/audit.log"
needs_root = true
[[artifact]]
name = "private"
kind = "config"
paths = ["{{root}}/private/*.conf"]
[[artifact]]
name = "private-root"
kind = "config"
paths = ["{{root}}/private/*.conf"]
needs_root = true
[[artifact]]
name = "gone"
kind = "config"
paths = ["{{root}}/nothing/*.conf"]
[[artifact]]
name = "limits"
kind = "command"
command = "ulimit -n"
[[artifact]]
name = "answers-error"
kind = "command"
command = "echo 'ERR auth required'"
error_output = "^ERR "
[[artifact]]
name = "needs-tool"
kind = "command"
command = "no-such-tool --stats"
requires = ["no-such-tool"]
'''


def _cli(args: list[str], env: dict[str, str]) -> tuple[int, dict]:
    proc = subprocess.run([CASEPACK, *args, "--json"], capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _worst(statuses: list[str]) -> str:
    return max(statuses, key=ORDER.index)


def test_process_test_predicts_what_collect_records(fleet: SshFleet, app: Path, tmp_path: Path) -> None:
    probe = tmp_path / "agree.toml"
    probe.write_text(PROBE.format(root=app))
    env = {**os.environ, "AGREE_SUDO_PW": CPPASS_PASSWORD}
    hosts = ["local", "a1", f"{USER_PASS}@a2", f"{USER_DENY}@a3"]
    common = [*hosts, "-p", str(probe), "--ssh-config", str(fleet.ssh_config), *fleet.client_args,
              "--sudo-password-env", "AGREE_SUDO_PW", "-o", str(tmp_path)]
    _, report = _cli(["process-test", *common], env)
    code, result = _cli(["collect", *common, "--no-input"], env)
    assert code in (0, 3), result
    predicted = {(h["name"], r["artifact"]): r["status"] for h in report["hosts"] for r in h["retrievals"]}
    recorded: dict[tuple[str, str], list[str]] = {}
    for a in result["manifest"]["artifacts"]:
        recorded.setdefault((a["host"], a["artifact"]), []).append(a["status"])
    local = next(h["name"] for h in result["manifest"]["hosts"] if h["transport"] == "local")
    assert {h for h, _ in recorded} == {local, "a1", "a2", "a3"}
    mismatches = {k: (predicted.get(k), _worst(v)) for k, v in recorded.items() if predicted.get(k) != _worst(v)}
    assert not mismatches, mismatches
    assert set(predicted) == set(recorded)
    # and the outcomes are the right ones, not merely equal
    for host in (local, "a1", "a2"):  # root, NOPASSWD sudo, sudo with a password
        assert predicted[(host, "audit")] == predicted[(host, "audit-lines")] == "ok"
        assert predicted[(host, "private-root")] == "ok"
    assert predicted[("a3", "audit")] == predicted[("a3", "audit-lines")] == "denied"
    assert predicted[("a1", "private")] == "denied"  # not "missing": the directory cannot be listed
    assert predicted[(local, "limits")] == "ok"  # a shell builtin is not "not found"
    assert all(predicted[(h, "answers-error")] == "failed" for h in (local, "a1", "a2", "a3"))
    assert all(predicted[(h, "gone")] == "missing" for h in (local, "a1", "a2", "a3"))
    assert all(predicted[(h, "needs-tool")] == "skipped" for h in (local, "a1", "a2", "a3"))
