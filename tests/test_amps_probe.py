"""Tests for the built-in ``amps`` probe, against real files and a real fake ampServer process."""

from __future__ import annotations

import glob
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probes import amps
from probes.spec import NAME_RE, Artifact, DiscoveryIncomplete


class LocalContext:
    """A DiscoveryContext over the local machine, like the engine's local transport."""

    def __init__(self, variables: dict[str, str] | None = None, ps: bool = False) -> None:
        self.variables = {**amps.PROBE.variables, **(variables or {})}
        self.ps = ps  # whether to let the process scan run (False: pretend none is running)
        self.commands: list[str] = []

    def read_text(self, path: str, limit: int = 4 << 20) -> str | None:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                return fh.read(limit)
        except OSError:
            return None

    def run(self, command: str, timeout: float = 30.0, privileged: bool = False) -> str | None:
        self.commands.append(command)
        if command == amps.PROCESS_SCRIPT and not self.ps:
            return ""
        proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=timeout,
                              check=False)
        return proc.stdout if proc.returncode == 0 else None


def by_name(arts: list[Artifact]) -> dict[str, Artifact]:
    names = [a.name for a in arts]
    assert len(names) == len(set(names)), names
    assert all(NAME_RE.match(n) for n in names), names
    return {a.name: a for a in arts}


def matches(art: Artifact) -> list[str]:
    return sorted({f for p in art.paths for f in glob.glob(p)})


CONFIG = """<?xml version="1.0"?>
<AMPSConfig>
  <Name>test</Name>
  <Include>  inc/logging.xml  </Include>
  <Admin>
    <InetAddr>8085</InetAddr>
    <FileName>${STATS_DIR}/stats.db</FileName>
  </Admin>
</AMPSConfig>
"""
LOGGING = """<AMPSConfig><Logging>
  <Target><Protocol>file</Protocol><FileName>logs/%Y%m%d%H%M%S-%n.log</FileName><Level>info</Level></Target>
  <Target><Protocol> gzip </Protocol><FileName>${LOGROOT}/arch-%Y-%m-%d.log</FileName></Target>
  <Target><Protocol>stdout</Protocol><Level>error</Level></Target>
</Logging></AMPSConfig>
"""


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """Config in etc/; the include, logs and stats under run/ (the server's working directory)."""
    etc, run = tmp_path / "etc", tmp_path / "run"
    etc.mkdir()
    (run / "inc").mkdir(parents=True)
    (run / "logs").mkdir()
    (run / "arch").mkdir()
    (run / "stats").mkdir()
    (etc / "config.xml").write_text(CONFIG)
    (run / "inc" / "logging.xml").write_text(LOGGING)
    for stamp in ("20240101000000-1", "20240101010000-2", "20240102000000-3"):
        (run / "logs" / f"{stamp}.log").write_text("log\n")
    (run / "logs" / "unrelated.txt").write_text("x")
    (run / "arch" / "arch-2024-01-01.log.gz").write_bytes(b"gz")
    (run / "arch" / "arch-2024-01-02.log").write_text("current")
    sqlite3.connect(run / "stats" / "stats.db").execute("create table t(x)").connection.close()
    # A decoy logs/ dir next to the config: relative names must NOT resolve here.
    (etc / "logs").mkdir()
    (etc / "logs" / "20200101000000-1.log").write_text("wrong dir")
    return {"root": tmp_path, "etc": etc, "run": run}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("logs/%Y%m%d%H%M%S-%n.log", "logs/*-*.log"),
        ("/var/log/amps/amps.log", "/var/log/amps/amps.log"),
        ("%Y/%m/%d/amps-%H.log", "*/*/*/amps-*.log"),
        ("amps-%n.log.gz", "amps-*.log.gz"),
        ("100%%-%Y.log", "100%-*.log"),
        ("%Y%m%d", "*"),
    ],
)
def test_filename_to_glob(pattern: str, expected: str) -> None:
    assert amps.filename_to_glob(pattern) == expected


def test_expand_vars_keeps_unknown() -> None:
    assert amps.expand_vars("${A}/x/${NOPE}/$B", {"A": "/a", "B": "b"}) == "/a/x/${NOPE}/$B"


def test_full_layout_relative_to_workdir(layout: dict[str, Path]) -> None:
    run, etc = layout["run"], layout["etc"]
    ctx = LocalContext({
        "amps_config": str(etc / "config.xml"), "amps_workdir": str(run),
        "env_STATS_DIR": "stats", "env_LOGROOT": str(run / "arch"), "amps_home": "/opt/my amps",
    })
    arts = by_name(amps.discover(ctx))
    assert set(arts) == {"version", "config", "config-2", "log-1", "log-2", "stats"}
    assert arts["version"].command == "'/opt/my amps/bin/ampServer' --version"
    assert arts["version"].requires == ()
    assert arts["config"].paths == (str(etc / "config.xml"),)
    assert arts["config-2"].paths == (str(run / "inc" / "logging.xml"),)
    assert "stdout" in arts["config"].description
    assert arts["log-1"].paths == (str(run / "logs" / "*-*.log"),)
    assert matches(arts["log-1"]) == sorted(str(p) for p in (run / "logs").glob("2024*.log"))
    assert arts["log-1"].max_files == amps.LOG_MAX_FILES
    assert matches(arts["log-2"]) == [str(run / "arch" / n) for n in ("arch-2024-01-01.log.gz",
                                                                      "arch-2024-01-02.log")]
    assert arts["stats"].kind == "stats" and matches(arts["stats"]) == [str(run / "stats" / "stats.db")]


def test_workdir_defaults_to_config_dir(layout: dict[str, Path]) -> None:
    etc = layout["etc"]
    (etc / "inc").mkdir()
    (etc / "inc" / "logging.xml").write_text(LOGGING)
    arts = by_name(amps.discover(LocalContext({"amps_config": str(etc / "config.xml")})))
    assert arts["config-2"].paths == (str(etc / "inc" / "logging.xml"),)
    assert matches(arts["log-1"]) == [str(etc / "logs" / "20200101000000-1.log")]
    assert arts["stats"].paths == (str(etc / "${STATS_DIR}" / "stats.db"),)  # unknown var kept


def test_include_resolved_against_workdir_never_the_config_dir(layout: dict[str, Path]) -> None:
    run, etc = layout["run"], layout["etc"]
    (etc / "inc").mkdir()
    (etc / "inc" / "logging.xml").write_text("<AMPSConfig/>")  # a decoy beside the config
    cfg = amps.resolve_config(LocalContext(), str(etc / "config.xml"), str(run), {})
    assert cfg.files == [str(etc / "config.xml"), str(run / "inc" / "logging.xml")]
    (run / "inc" / "logging.xml").unlink()  # only the decoy left: the include is missing, not the decoy
    arts = by_name(amps.discover(LocalContext({"amps_config": str(etc / "config.xml"), "amps_workdir": str(run)})))
    assert arts["config-2"].paths == (str(run / "inc" / "logging.xml"),)
    assert f"{etc}/inc/logging.xml beside the config is NOT read" in arts["config-2"].description
    assert f"cannot read {run}/inc/logging.xml" in arts["config"].description


def test_include_cycle_and_missing_include(tmp_path: Path) -> None:
    (tmp_path / "a.xml").write_text("<AMPSConfig><Include>b.xml</Include><Include>gone.xml</Include>"
                                    "<Admin><FileName>/s.db</FileName></Admin></AMPSConfig>")
    (tmp_path / "b.xml").write_text("<Include>a.xml</Include><Include>b.xml</Include>")  # fragment
    arts = by_name(amps.discover(LocalContext({"amps_config": str(tmp_path / "a.xml")})))
    config = arts["config"]
    assert [arts[n].paths[0] for n in ("config", "config-2", "config-3")] == [
        str(tmp_path / n) for n in ("a.xml", "b.xml", "gone.xml")]  # the unreadable one too: in the manifest
    assert f"include cycle: {tmp_path}/a.xml -> {tmp_path}/b.xml -> {tmp_path}/a.xml" in config.description
    assert f"cannot read {tmp_path}/gone.xml" in config.description
    assert arts["stats"].paths == ("/s.db",)


def test_missing_config_reports_expected_paths(tmp_path: Path) -> None:
    home = tmp_path / "amps"
    arts = by_name(amps.discover(LocalContext({"amps_home": str(home)})))
    assert set(arts) == {"version", "config"}
    assert arts["config"].paths[0] == f"{home}/config.xml" and arts["config"].first_match
    assert "not found" in arts["config"].description
    given = by_name(amps.discover(LocalContext({"amps_config": str(tmp_path / "nope.xml")})))
    assert given["config"].paths == (str(tmp_path / "nope.xml"),)
    assert "cannot read" in given["config"].description


def test_fallback_config_under_home(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "config.xml").write_text("<AMPSConfig/>")
    arts = by_name(amps.discover(LocalContext({"amps_home": str(tmp_path)})))
    assert arts["config"].paths == (str(tmp_path / "etc" / "config.xml"),)
    assert "in memory only" in arts["config"].description and "stats" not in arts


@pytest.mark.parametrize("doc", [
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><AMPSConfig>&b;</AMPSConfig>',
    '<!doctype x SYSTEM "file:///etc/passwd"><AMPSConfig/>',
    "<AMPSConfig><Logging>",  # broken XML
])
def test_hostile_or_broken_xml_is_refused(tmp_path: Path, doc: str) -> None:
    (tmp_path / "config.xml").write_text(doc)
    with pytest.raises(DiscoveryIncomplete) as info:  # what it would name is unknown: the host is partial
        amps.discover(LocalContext({"amps_config": str(tmp_path / "config.xml")}))
    assert str(tmp_path / "config.xml") in info.value.reason
    arts = by_name(info.value.artifacts)
    assert set(arts) == {"version", "config"}
    assert str(tmp_path / "config.xml") in arts["config"].description


def test_parse_processes() -> None:
    lines = [
        "@@pid 10", "@@cwd /srv/amps", "@@arg /opt/amps/bin/ampServer", "@@arg -D", "@@arg A=1",
        "@@arg -DB=x=y", "@@arg --daemon", "@@arg cfg/main.xml", "@@env HOME=/root", "@@env JUNK",
        "@@pid 11", "@@cwd /", "@@arg vim", "@@arg ampServer.txt",  # not an ampServer
    ]
    (proc,) = amps.parse_processes("\n".join(lines))
    assert (proc.pid, proc.binary, proc.cwd, proc.config) == (10, "/opt/amps/bin/ampServer", "/srv/amps",
                                                             "/srv/amps/cfg/main.xml")
    assert proc.defines == {"A": "1", "B": "x=y"} and proc.environ == {"HOME": "/root"}


@pytest.fixture
def fake_server(layout: dict[str, Path]):
    """A real process whose /proc cmdline is ``/bin/sh .../bin/ampServer -DSTATS_DIR=stats ../etc/config.xml``."""
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("needs /proc")
    bindir = layout["root"] / "bin"
    bindir.mkdir()
    script = bindir / "ampServer"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(0o755)
    env = {**os.environ, "LOGROOT": str(layout["run"] / "arch")}
    proc = subprocess.Popen([str(script), "-DSTATS_DIR=stats", "../etc/config.xml"], cwd=layout["run"],
                            env=env, start_new_session=True)
    try:
        for _ in range(50):  # wait until the shell has exec'd the script
            if b"ampServer" in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
                break
            time.sleep(0.05)
        yield {**layout, "pid": proc.pid, "script": script}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


def test_running_process_discovery(fake_server: dict) -> None:
    run, etc = fake_server["run"], fake_server["etc"]
    ctx = LocalContext(ps=True)
    procs = [p for p in amps.find_processes(ctx) if p.pid == fake_server["pid"]]
    assert len(procs) == 1
    assert procs[0].cwd == str(run) and procs[0].config == str(etc / "config.xml")
    assert procs[0].environ["LOGROOT"] == str(run / "arch")
    # Select our instance by amps_config; workdir, -D and environ come from /proc.
    arts = by_name(amps.discover(LocalContext({"amps_config": str(etc / "config.xml")}, ps=True)))
    assert arts["version"].command == f"{fake_server['script']} --version"
    assert f"pid {fake_server['pid']}" in arts["config"].description
    assert matches(arts["log-1"]) == sorted(str(p) for p in (run / "logs").glob("2024*.log"))
    assert len(matches(arts["log-2"])) == 2
    assert matches(arts["stats"]) == [str(run / "stats" / "stats.db")]
    # Probe variables override the process: env_ and amps_workdir.
    (etc / "inc").mkdir()
    (etc / "inc" / "logging.xml").write_text(LOGGING)
    ctx = LocalContext({"amps_config": str(etc / "config.xml"), "amps_workdir": str(etc),
                        "env_STATS_DIR": "/elsewhere"}, ps=True)
    arts = by_name(amps.discover(ctx))
    assert arts["stats"].paths == ("/elsewhere/stats.db",)
    assert matches(arts["log-1"]) == [str(etc / "logs" / "20200101000000-1.log")]


def test_running_process_without_amps_config(fake_server: dict) -> None:
    arts = amps.discover(LocalContext(ps=True))
    mine = [a for a in arts if a.kind == "config" and f"pid {fake_server['pid']}" in a.description]
    assert len(mine) == 1 and mine[0].paths[0] == str(fake_server["etc"] / "config.xml")
    by_name(arts)  # names stay unique even with several instances


def test_probe_metadata() -> None:
    probe = amps.PROBE
    assert probe.name == "amps" and probe.discover is amps.discover
    assert set(probe.variables) <= set(probe.variable_help)
