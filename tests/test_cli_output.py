"""``-o``: a directory (made when missing) or a file name that is never overwritten."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from collector.cli.outpath import numbered, resolve_output
from collector.errors import InputError
from tests.cliutil import run_cli, write_probe


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    return write_probe(tmp_path / "tiny.toml", ("hello", "echo hello"))


def test_trailing_slash_creates_the_directory_with_parents(tmp_path: Path, probe: Path) -> None:
    out = tmp_path / "new" / "bundles"
    proc = run_cli("collect", "-p", str(probe), "-o", f"{out}/", "--no-input", "--json")
    assert proc.returncode == 0, proc.stderr
    bundle = Path(json.loads(proc.stdout)["bundle"])
    assert out.is_dir() and bundle.parent == out and bundle.name.endswith(".tar.zst")
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_existing_bundle_file_is_never_overwritten(tmp_path: Path, probe: Path) -> None:
    target = tmp_path / "b.tar.zst"
    target.write_bytes(b"precious")
    proc = run_cli("collect", "-p", str(probe), "-o", str(target), "--no-input", "--json")
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() == b"precious"
    assert json.loads(proc.stdout)["bundle"] == str(tmp_path / "b-2.tar.zst")
    assert "b.tar.zst exists and is kept" in proc.stderr
    again = run_cli("collect", "-p", str(probe), "-o", str(target), "--no-input", "--json")
    assert json.loads(again.stdout)["bundle"] == str(tmp_path / "b-3.tar.zst")
    forced = run_cli("collect", "-p", str(probe), "-o", str(target), "--no-input", "--json", "--force")
    assert forced.returncode == 0 and json.loads(forced.stdout)["bundle"] == str(target)
    assert target.read_bytes() != b"precious"


def test_missing_parent_without_slash_is_a_usage_error(tmp_path: Path, probe: Path) -> None:
    proc = run_cli("collect", "-p", str(probe), "-o", str(tmp_path / "no" / "b.tar.zst"), "--no-input")
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "end -o with a slash" in proc.stderr
    assert "warning" not in proc.stderr  # usage errors come before the unencrypted warning
    assert not (tmp_path / "no").exists()


def test_reservation_is_released_when_nothing_is_written(tmp_path: Path) -> None:
    out = resolve_output(str(tmp_path / "b.tar.zst"), encrypted=True, force=False)
    assert (tmp_path / "b.tar.zst.age").exists()
    out.release()
    assert list(tmp_path.iterdir()) == []


def test_a_file_where_a_directory_is_asked_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="not a directory"):
        resolve_output(f"{tmp_path / 'f'}/", encrypted=False, force=False)


def test_numbered_names() -> None:
    assert numbered(Path("/x/b.tar.zst"), 2) == Path("/x/b-2.tar.zst")
    assert numbered(Path("/x/b.tar.zst.age"), 3) == Path("/x/b-3.tar.zst.age")
    assert numbered(Path("/x/bundle"), 2) == Path("/x/bundle-2")


def test_process_test_output_directory_is_created(tmp_path: Path, probe: Path) -> None:
    out = tmp_path / "pt"
    proc = run_cli("process-test", "-p", str(probe), "-o", f"{out}/", "--json")
    assert (out / "PROCESS.md").is_file(), proc.stderr


@pytest.mark.parametrize("args, message", [
    (["-p", "BADPROBE"], "undefined"),
    (["--template", "/nonexistent.j2"], "no such file"),
    (["--sign", "/nonexistent-key"], "nonexistent-key"),
    (["--events", "-", "--json"], "both want stdout"),
])
def test_usage_errors_come_before_any_warning(tmp_path: Path, probe: Path, args: list[str], message: str) -> None:
    bad = write_probe(tmp_path / "bad.toml", ("x", "cat {undefined}"))
    args = [str(bad) if a == "BADPROBE" else a for a in args]
    proc = run_cli("collect", "-p", str(probe), "-o", f"{tmp_path}/", "--no-input", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "warning" not in proc.stderr
    assert proc.stderr.startswith("casepack: error:") or proc.stderr.startswith("Error:")
