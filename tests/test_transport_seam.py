"""A new transport is one small class implementing the seam (execute + close) — nothing copied.

``RunuserConnection`` (test-only) reaches "a host" by running every command line as another local user
through ``runuser``. File reading, globbing, ``which``, the sudo rule and SQLite snapshots all come from
:class:`collector.transport.host.Host`; the engine collects through it like through ssh or local.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from collector.engine.artifacts import RunOptions
from collector.engine.run import CollectRequest, collect
from collector.hosts.target import HostTarget
from collector.transport.base import CommandResult, Dialogue, Sink
from collector.transport.host import Host
from probes.spec import Artifact, Probe
from tests.sshfleet import USER_SUDO, ensure_test_users, is_root

pytestmark = pytest.mark.skipif(not is_root() or shutil.which("runuser") is None,
                                reason="needs root and runuser (util-linux)")


class RunuserConnection:
    """The whole transport: run ``line`` as ``user`` through runuser; stream stdout; keep stderr."""

    def __init__(self, user: str) -> None:
        self.name, self.user, self.facts = f"runuser-{user}", user, {"user": user, "via": "runuser"}

    def execute(self, line: str, sink: Sink, *, timeout: float, dialogue: Dialogue | None = None) -> CommandResult:
        proc = subprocess.Popen(["runuser", "-u", self.user, "--", "sh", "-c", line], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        while data := proc.stdout.read(1 << 16):
            sink(data)
        err = proc.stderr.read().decode("utf-8", "replace")
        return CommandResult(proc.wait(timeout=timeout), err.strip())

    def close(self) -> None:
        pass


def test_a_transport_is_only_execute_and_close(tmp_path: Path) -> None:
    ensure_test_users()  # cptest: sudo without a password
    tree = Path(tempfile.mkdtemp(prefix="casepack-seam-"))  # /tmp/…: a path the other user can reach
    (tree / "logs").mkdir(parents=True)
    (tree / "app.conf").write_text("threads = 4\npassword = hunter2-secret\n")
    (tree / "logs" / "app.log").write_text("2026-11-24T00:00:00 INFO ok\n")
    (tree / "logs" / "root.log").write_text("2026-11-24T00:00:00 root only\n")
    (tree / "logs" / "root.log").chmod(0o600)
    db = tree / "stats.db"
    con = sqlite3.connect(db)
    con.execute("create table t (v)")
    con.execute("insert into t values (42)")
    con.commit()
    con.close()
    for p in (tree, tree / "logs"):
        p.chmod(0o755)
    (tmp_path / "hidden.conf").write_text("x = 1\n")  # pytest's tmp dirs are 0700: not listable by cptest
    for p in (tree / "app.conf", tree / "logs" / "app.log", db):
        p.chmod(0o644)
    probe = Probe("seam", artifacts=(
        Artifact("who", "command", command="id -un"),
        Artifact("config", "config", paths=(str(tree / "app.conf"),)),
        Artifact("logs", "log", paths=(str(tree / "logs" / "*.log"),), needs_root=True),
        Artifact("stats", "stats", paths=(str(db),)),
        Artifact("hidden", "config", paths=(str(tmp_path / "*.conf"),)),
    ))
    conn = RunuserConnection(USER_SUDO)
    target = HostTarget(conn.name, "runuser", lambda: Host(conn), transport="runuser")
    result = collect(CollectRequest(hosts=[target], probes=[probe], output=tmp_path,
                                    options=RunOptions(), label="seam"))
    shutil.rmtree(tree)
    by = {(a.artifact, os.path.basename(a.source)): a for a in result.manifest.artifacts}
    hidden = by.pop(("hidden", "*.conf"))
    assert hidden.status == "denied" and "cannot list" in (hidden.error or "")  # not "missing"
    assert all(a.status == "ok" for a in by.values()), [(a.artifact, a.status, a.error) for a in by.values()]
    assert {"root.log", "app.log", "app.conf", "stats.db"} <= {k[1] for k in by}
    assert result.manifest.hosts[0].facts["user"] == USER_SUDO
    out = subprocess.run(["tar", "--zstd", "-xOf", str(result.path), "--wildcards", "*/command/who.txt"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == USER_SUDO  # the commands really ran as the other user
