"""``casepack collect -p amps`` with NO variables: everything comes from the running ampServer.

The server is started the way many are: ``cd TMP/amps/run && ../bin/ampServer ../cfg/config.xml``,
its config ``<Include>``s a file by a relative name and names its logs and statistics database by
relative names (``${VAR}`` from the server's environment), all resolved against the server's working
directory, with decoys beside the config that must not be taken.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import collect

VERSION = "AMPS 5.3.4.112.8f5d2b1.1234567"
FAKE = f"""#!/bin/sh
case "$1" in --version) echo "{VERSION}"; exit 0 ;; esac
sleep 300
"""
CONFIG = """<?xml version="1.0"?>
<AMPSConfig>
  <Name>relpaths</Name>
  <Include>conf.d/logging.xml</Include>
  <Admin><InetAddr>127.0.0.1:8085</InetAddr><FileName>${STATS_DIR}/stats.db</FileName></Admin>
</AMPSConfig>
"""
LOGGING = """<AMPSConfig><Logging>
  <Target><Protocol>file</Protocol><FileName>logs/%Y%m%d%H%M%S-%n.log</FileName><Level>info</Level></Target>
  <Target><Protocol>file</Protocol><FileName>${ARCHIVE}/errors-%Y.log</FileName><Level>error</Level></Target>
</Logging></AMPSConfig>
"""
C_SERVER = """#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--version")) { puts("%s"); return 0; }
  sleep(300);
  return 0;
}
"""


def make_layout(base: Path, owner: str | None = None) -> dict[str, Path]:
    """TMP/amps/{bin,cfg,run}; the include, logs and stats only under run/; decoys under cfg/."""
    root = base / "amps"
    bindir, cfg, run = root / "bin", root / "cfg", root / "run"
    for d in (bindir, cfg / "conf.d", cfg / "logs", run / "conf.d", run / "logs", run / "archive", run / "stats"):
        d.mkdir(parents=True)
    (bindir / "ampServer").write_text(FAKE)
    (bindir / "ampServer").chmod(0o755)
    (cfg / "config.xml").write_text(CONFIG)
    (run / "conf.d" / "logging.xml").write_text(LOGGING)
    (cfg / "conf.d" / "logging.xml").write_text("<AMPSConfig><Name>DECOY</Name></AMPSConfig>")
    (cfg / "logs" / "20200101000000-1.log").write_text("DECOY beside the config\n")
    for stamp in ("20260101000000-1", "20260102000000-2"):
        (run / "logs" / f"{stamp}.log").write_text(f"2026-01-01T00:00:00.000 [1] info: 00-0015 started {stamp}\n")
    (run / "archive" / "errors-2026.log").write_text("2026-01-01T00:00:01.000 [2] error: 07-0013 lost client\n")
    db = sqlite3.connect(run / "stats" / "stats.db")
    db.execute("create table ITIME (id integer primary key, ts text)")
    db.execute("insert into ITIME (ts) values ('2026-01-01')")
    db.commit()
    db.close()
    if owner:
        for p in [root, *root.rglob("*")]:
            shutil.chown(p, owner)
    return {"root": root, "bin": bindir, "cfg": cfg, "run": run, "server": bindir / "ampServer"}


def start(layout: dict[str, Path], user: str | None = None) -> subprocess.Popen:
    shell = f"cd {layout['run']} && exec ../bin/ampServer ../cfg/config.xml"
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    argv = [runuser, "-u", user, "--", "sh", "-c", shell] if user else ["sh", "-c", shell]
    env = {"PATH": "/usr/bin:/bin", "STATS_DIR": "stats", "ARCHIVE": "archive"}
    proc = subprocess.Popen(argv, env=env, start_new_session=True)
    for _ in range(100):  # until the server's own command line is in /proc (runuser forks)
        out = subprocess.run(["pgrep", "-s", str(proc.pid), "-f", "bin/ampServer"], capture_output=True, text=True)
        if out.stdout.strip():
            return proc
        time.sleep(0.05)
    raise RuntimeError("fake ampServer did not start")


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    proc.wait(10)


@pytest.fixture
def base() -> Iterator[Path]:
    if not Path("/proc/self/cwd").exists():
        pytest.skip("needs /proc")
    path = Path(tempfile.mkdtemp(prefix="casepack-amps-"))
    path.chmod(0o755)  # another user must reach its files
    yield path
    shutil.rmtree(path, ignore_errors=True)


def check_bundle(bundle, layout: dict[str, Path]) -> None:  # noqa: ANN001 - tests.services.Bundle
    run, cfg = layout["run"], layout["cfg"]
    version = bundle.named("amps", "version")
    assert version["status"] == "ok" and version["version"] == VERSION, version
    assert version["source"] == f"{layout['server']} --version"  # the running binary, not /opt/amps
    by_source = bundle.by_source("amps")
    for path in [cfg / "config.xml", run / "conf.d" / "logging.xml", *sorted((run / "logs").glob("*.log")),
                 run / "archive" / "errors-2026.log", run / "stats" / "stats.db"]:
        a = by_source.get(str(path))
        assert a is not None and a["status"] == "ok" and a["path"], (path, sorted(by_source))
    assert "07-0013 lost client" in bundle.text(by_source[str(run / "archive" / "errors-2026.log")]["path"])
    assert not [s for s in by_source if "DECOY" in s or str(cfg / "logs") in s or str(cfg / "conf.d") in s]
    stats = by_source[str(run / "stats" / "stats.db")]
    rows = sqlite3.connect(bundle.root / stats["path"]).execute("select count(*) from ITIME").fetchone()
    assert rows == (1,)
    assert bundle.named("amps", "binary-current")["check"]["result"] == "pass"
    assert bundle.manifest["status"] == "complete", [a for a in bundle.artifacts("amps") if a["status"] != "ok"]


def test_collect_from_running_server_with_relative_paths(base: Path, tmp_path: Path) -> None:
    layout = make_layout(base)
    proc = start(layout)
    try:
        bundle = collect(tmp_path, ["amps"], {})
    finally:
        stop(proc)
    check_bundle(bundle, layout)


def test_server_running_as_another_user_collected_as_root(base: Path, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("starting a server as nobody needs root")
    layout = make_layout(base, owner="nobody")
    proc = start(layout, user="nobody")
    try:
        out = subprocess.run(["pgrep", "-u", "nobody", "-f", "bin/ampServer"], capture_output=True, text=True)
        assert out.stdout.strip(), "the server must run as nobody"
        bundle = collect(tmp_path, ["amps"], {})
    finally:
        stop(proc)
    check_bundle(bundle, layout)


def test_script_modified_after_start_is_reported(base: Path, tmp_path: Path) -> None:
    layout = make_layout(base)
    proc = start(layout)
    try:
        later = time.time() + 30
        layout["server"].write_text(FAKE.replace("5.3.4", "5.9.0"))
        os.utime(layout["server"], (later, later))
        bundle = collect(tmp_path, ["amps"], {})
    finally:
        stop(proc)
    check = bundle.named("amps", "binary-current")
    assert check["check"]["result"] == "warn" and "modified" in check["check"]["message"], check
    assert "restart ampServer" in check["check"]["remedy"]


def test_replaced_binary_reports_the_running_version(base: Path, tmp_path: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("needs a C compiler for a real ampServer binary")
    layout = make_layout(base)
    src = base / "server.c"
    src.write_text(C_SERVER.replace("%s", VERSION))
    subprocess.run([cc, "-o", str(layout["server"]), str(src)], check=True)
    proc = start(layout)
    try:
        src.write_text(C_SERVER.replace("%s", "AMPS 5.9.0.1.abcdef0.7654321"))
        new = layout["bin"] / "ampServer.new"
        subprocess.run([cc, "-o", str(new), str(src)], check=True)
        new.rename(layout["server"])  # how packages upgrade: the running image is now "(deleted)"
        bundle = collect(tmp_path, ["amps"], {})
    finally:
        stop(proc)
    version = bundle.named("amps", "version")
    assert version["status"] == "ok" and version["version"] == VERSION, version
    on_disk = bundle.named("amps", "version-on-disk")
    assert "5.9.0" in bundle.text(on_disk["path"])
    check = bundle.named("amps", "binary-current")
    assert check["check"]["result"] == "warn" and "deleted" in check["check"]["message"], check
