"""Live progress lines, ``--events`` JSON Lines and ``--quiet``."""

from __future__ import annotations

import io
import json
from pathlib import Path

from collector.bundle.manifest import ArtifactResult, HostResult
from collector.cli.events import EventLog, Fanout
from collector.cli.progress import LiveProgress
from tests.cliutil import run_cli, write_probe


def test_status_names_the_running_artifact_and_totals() -> None:
    out = io.StringIO()
    live = LiveProgress(out, enabled=True, tick=60)
    live.host_started("db1")
    live.artifact_started("db1", "pg/slow", 3)
    live.artifact_started("db1", "pg/quick", 3)
    live.artifact_done(ArtifactResult("db1", "pg", "quick", "command", "echo", path="x", size=2048))
    lines = live.status_lines()
    assert lines[0].startswith("  [db1] running pg/slow ") and "(1/3, 2.0 KiB)" in lines[0]
    assert lines[-1].startswith("  total: 1/3 artifacts, 2.0 KiB, hosts 0/1")
    live.artifact_done(ArtifactResult("db1", "pg", "slow", "command", "x", status="timed_out", error="after 1s"))
    live.host_done(HostResult("db1", "db1", "ssh", status="partial", duration=1.5))
    live.close()
    text = out.getvalue()
    assert "[db1] pg/slow" in text and "TIMEOUT" in text and "[db1] partial in 1.5s" in text
    assert text.endswith("\x1b[J")  # the status block is removed before the summary


def test_disabled_progress_writes_nothing() -> None:
    out = io.StringIO()
    live = LiveProgress(out, enabled=False)
    live.host_started("h")
    live.artifact_started("h", "p/a", 1)
    live.close()
    assert out.getvalue() == ""


def test_events_are_json_lines() -> None:
    out = io.StringIO()
    log = EventLog(out)
    Fanout(log, None).artifact_started("h", "p/a", 2)
    log.artifact_done(ArtifactResult("h", "p", "a", "command", "x", path="hosts/h/a.txt", size=5))
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events[0]["event"] == "artifact_started" and events[0]["artifact"] == "a"
    assert events[1] == {**events[1], "event": "artifact_done", "status": "ok", "bytes": 5}


def test_events_file_and_quiet(tmp_path: Path) -> None:
    probe = write_probe(tmp_path / "p.toml", ("hello", "echo hello"), ("gone", "exit 3"))
    events = tmp_path / "ev.jsonl"
    proc = run_cli("collect", "-p", str(probe), "-o", f"{tmp_path}/", "--no-input", "--events", str(events), "-q")
    bundle = proc.stdout.strip()
    assert proc.returncode == 3 and Path(bundle).is_file() and "\n" not in bundle
    assert proc.stderr == ""  # --quiet: no warning, no summary
    kinds = [json.loads(line)["event"] for line in events.read_text().splitlines()]
    assert kinds[0] == "host_started" and kinds[-2:] == ["host_done", "bundle_written"]
    assert kinds.count("artifact_started") == 2 and kinds.count("artifact_done") == 2
    assert events.stat().st_mode & 0o777 == 0o600


def test_events_to_stdout_move_the_summary_to_stderr(tmp_path: Path) -> None:
    probe = write_probe(tmp_path / "p.toml", ("hello", "echo hello"))
    proc = run_cli("collect", "-p", str(probe), "-o", f"{tmp_path}/", "--no-input", "--events", "-")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["event"] for line in proc.stdout.splitlines()][-1] == "bundle_written"
    assert "bundle:" in proc.stderr


def test_failed_run_emits_failed(tmp_path: Path) -> None:
    probe = write_probe(tmp_path / "p.toml", ("gone", "exit 3"))
    events = tmp_path / "ev.jsonl"
    proc = run_cli("collect", "-p", str(probe), "-o", f"{tmp_path}/", "--no-input", "--events", str(events))
    assert proc.returncode == 1
    last = json.loads(events.read_text().splitlines()[-1])
    assert last["event"] == "failed" and last["exit_status"] == 1
