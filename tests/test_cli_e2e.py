"""End to end: the installed ``casepack`` CLI against an AMPS-like tree; unpacked with stock tar."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from tests.apptree import SECRET, VERSION_LINE, amps_vars, build_amps_tree

CASEPACK = shutil.which("casepack")
pytestmark = pytest.mark.skipif(CASEPACK is None, reason="casepack is not installed (pip install -e .)")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CASEPACK, *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          stdin=subprocess.DEVNULL)


def untar(bundle: Path, dest: Path) -> Path:
    dest.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(bundle), "-C", str(dest)], check=True)
    return dest


@pytest.fixture
def amps_tree(tmp_path: Path) -> dict[str, Path]:
    return build_amps_tree(tmp_path / "amps")


def test_collect_amps_tree_end_to_end(tmp_path: Path, amps_tree: dict[str, Path]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    proc = run("collect", "-p", "amps", *amps_vars(amps_tree["root"]), "-o", str(out), "--label", "acme",
               "--field", "severity=high", "--field", "observed=clients disconnect", "--since", "7d", "--no-input")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    bundles = list(out.glob("casepack-acme-*.tar.zst"))
    assert len(bundles) == 1
    bundle = bundles[0]
    assert str(bundle) in proc.stdout
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    tree = untar(bundle, tmp_path / "x")
    manifest = json.loads((tree / "manifest.json").read_text())
    assert manifest["format"] == "casepack/1"
    assert manifest["status"] == "complete"
    host = manifest["hosts"][0]["name"]
    base = tree / "hosts" / host / "amps"
    # version shown in the template and manifest
    case_md = (tree / "SUPPORT_CASE.md").read_text()
    assert VERSION_LINE in case_md and "high" in case_md and "clients disconnect" in case_md
    # config and include found by reading the XML, secrets redacted
    root = str(amps_tree["root"]).lstrip("/")
    config = (base / "config" / root / "config.xml").read_text()
    assert SECRET not in config and "[REDACTED:" in config
    assert (base / "config" / root / "logging.xml").is_file()
    # logs: the .gz one is older than --since 7d, so only the two recent ones; no secret survives
    logs = sorted(p.name for p in (base / "log" / root / "logs").iterdir())
    assert logs == ["20261120000000-2.log", "20261124000000-3.log"]
    current = (base / "log" / root / "logs" / "20261124000000-3.log").read_text()
    assert "07-0013 client disconnected" in current and SECRET not in current
    # stats database: a consistent, queryable copy
    db = sqlite3.connect(base / "stats" / root / "stats" / "stats.db")
    assert db.execute("select count(*) from ifaces_stats").fetchone()[0] == 100
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    # every artifact's sha256 matches the file in the bundle
    for art in manifest["artifacts"]:
        if art["path"]:
            assert hashlib.sha256((tree / art["path"]).read_bytes()).hexdigest() == art["sha256"], art["path"]
    stats_art = next(a for a in manifest["artifacts"] if a["kind"] == "stats")
    assert "integrity_check ok" in stats_art["method"]
    # the index holds the same artifacts
    idx = sqlite3.connect(tree / "index.sqlite")
    assert idx.execute("select count(*) from artifacts").fetchone()[0] == len(manifest["artifacts"])
    assert manifest["redaction"]["total"] >= 2
    assert SECRET not in (tree / "index.sqlite").read_bytes().decode("latin-1")


def test_collect_gz_log_is_decompressed_without_since(tmp_path: Path, amps_tree: dict[str, Path]) -> None:
    out = tmp_path / "b.tar.zst"
    proc = run("collect", "-p", "amps", *amps_vars(amps_tree["root"]), "-o", str(out), "--no-input")
    assert proc.returncode == 0, proc.stderr
    tree = untar(out, tmp_path / "x")
    rotated = next(tree.rglob("20261101000000-1.log"))
    text = rotated.read_text()
    assert "07-0013 old failure" in text and "oldpass123" not in text


def test_missing_files_make_a_partial_bundle(tmp_path: Path, amps_tree: dict[str, Path]) -> None:
    amps_tree["stats"].unlink()
    proc = run("collect", "-p", "amps", *amps_vars(amps_tree["root"]), "-o", str(tmp_path), "--no-input", "--json")
    assert proc.returncode == 3, proc.stderr
    result = json.loads(proc.stdout)
    stats = [a for a in result["manifest"]["artifacts"] if a["kind"] == "stats"]
    assert stats[0]["status"] == "missing" and "stats.db" in stats[0]["error"]
    assert any(a["status"] == "ok" for a in result["manifest"]["artifacts"])
    assert Path(result["bundle"]).is_file()


def test_default_collect_is_this_machine(tmp_path: Path) -> None:
    proc = run("collect", "--no-input", "-o", str(tmp_path))
    assert proc.returncode in (0, 3), proc.stderr
    assert "bundle:" in proc.stdout and "exit status:" in proc.stdout
    bundle = next(tmp_path.glob("casepack-*.tar.zst"))
    tree = untar(bundle, tmp_path / "x")
    manifest = json.loads((tree / "manifest.json").read_text())
    names = {a["artifact"] for a in manifest["artifacts"] if a["status"] == "ok"}
    assert {"kernel", "memory", "disks", "disk-usage"} <= names


@pytest.mark.parametrize("args, needle", [
    (["collect", "-p", "nosuchprobe"], "unknown probe"),
    (["collect", "--since", "yesterday-ish"], "--since"),
    (["collect", "--max-file-size", "lots"], "size"),
    (["collect", "--field", "severity=apocalyptic"], "severity must be one of"),
    (["collect", "--case", "/nonexistent/case.toml"], "cannot read case file"),
    (["collect", "-p", "app", "--var", "bad name=1"], "NAME=VALUE"),
    (["collect", "-o", "/nonexistent/dir/b.tar.zst"], "does not exist"),
    (["probes", "show", "nosuch"], "unknown probe"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.glob("casepack-*")), "no bundle on bad input"


def test_bad_probe_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "mine"\n[[artifact]]\nname = "x"\nkind = "logs"\npaths = ["/tmp"]\n')
    proc = run("collect", "-p", str(bad), "--no-input", cwd=tmp_path)
    assert proc.returncode == 2
    assert "kind" in proc.stderr and "Traceback" not in proc.stderr


def test_probes_list_and_show() -> None:
    proc = run("probes", "list")
    assert proc.returncode == 0
    for name in ("system", "amps", "postgresql", "nginx", "redis", "app"):
        assert name in proc.stdout
    show = run("probes", "show", "redis", "--var", "redis_conf=/srv/redis.conf")
    assert show.returncode == 0
    assert "/srv/redis.conf" in show.stdout and "redis-server --version" in show.stdout


def test_custom_probe_file(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "my.conf").write_text("db_password = hunter2\nthreads = 4\n")
    probe = tmp_path / "mine.toml"
    probe.write_text(f'''name = "mine"
[vars]
root = "{tmp_path}"
[[artifact]]
name = "version"
kind = "version"
command = "echo myapp 1.2.3"
[[artifact]]
name = "conf"
kind = "config"
paths = ["{{root}}/etc/*.conf"]
[[artifact]]
name = "threads"
kind = "check"
command = "grep -c threads {{root}}/etc/my.conf"
check = {{ fail_below = 1 }}
''')
    out = tmp_path / "b.tar.zst"
    proc = run("collect", "-p", str(probe), "-o", str(out), "--no-input", "--json")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads(proc.stdout)["manifest"]
    by_name = {a["artifact"]: a for a in manifest["artifacts"]}
    assert by_name["version"]["version"] == "myapp 1.2.3"
    assert by_name["threads"]["check"]["result"] == "pass"
    assert by_name["conf"]["redactions"] == {"key-value": 1}
