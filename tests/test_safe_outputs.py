"""Outputs written where another local user prepared the path: a planted symlink is never written through,
a pre-created file is replaced by a new 0600 file (rename) or refused (index.sqlite, output directories)."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.cryptokit import collect, run

VICTIM = b"victim's file, must stay as it is\n"
NOBODY = 65534


def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_bytes(VICTIM)
    return path


def plant_link(tmp_path: Path, name: str) -> tuple[Path, Path]:
    target = victim(tmp_path)
    link = tmp_path / name
    link.symlink_to(target)
    return link, target


def assert_private_regular(path: Path) -> None:
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)


def assert_one_line_error(proc, status: int = 2) -> None:  # type: ignore[no-untyped-def]
    assert proc.returncode == status, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("casepack: error: ") and len(lines) <= 2 and "Traceback" not in proc.stderr


def no_temp_left(directory: Path) -> None:
    assert not [p.name for p in directory.iterdir() if p.name.startswith(".") and ".tmp" in p.name]


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bundle")
    bundle, _ = collect(tmp)
    proc = run("open", str(bundle), "-o", str(tmp / "opened"))
    assert proc.returncode == 0, proc.stderr
    return tmp / "opened"


def test_redact_file_output_over_a_planted_symlink(tmp_path: Path) -> None:
    src = tmp_path / "in.log"
    src.write_text("password = hunter2\n")
    link, target = plant_link(tmp_path, "out.log")
    proc = run("redact", str(src), "-o", str(link), "--report", str(tmp_path / "rep.json"))
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() == VICTIM  # not written through
    assert_private_regular(link)  # the link itself was replaced
    assert "hunter2" not in link.read_text()
    assert_private_regular(tmp_path / "rep.json")
    no_temp_left(tmp_path)


def test_redact_report_and_mapping_over_planted_symlinks(tmp_path: Path) -> None:
    src = tmp_path / "in.log"
    src.write_text("from 10.1.2.3 user=bob password = hunter2\n")
    rep_link, rep_target = plant_link(tmp_path, "rep.json")
    map_link = tmp_path / "map.json"
    map_target = tmp_path / "victim2.txt"
    map_target.write_bytes(VICTIM)
    map_link.symlink_to(map_target)
    proc = run("redact", str(src), "-o", str(tmp_path / "out.log"), "--pseudonymize", "--mapping", str(map_link),
               "--report", str(rep_link))
    assert proc.returncode == 0, proc.stderr
    assert rep_target.read_bytes() == VICTIM and map_target.read_bytes() == VICTIM
    assert_private_regular(rep_link)
    assert_private_regular(map_link)
    assert "casepack-mapping/1" in map_link.read_text()


def test_pre_created_file_is_replaced_not_reused(tmp_path: Path) -> None:
    src = tmp_path / "in.log"
    src.write_text("x\n")
    out = tmp_path / "out.log"
    out.write_bytes(b"old")
    out.chmod(0o666)
    inode = out.stat().st_ino
    assert run("redact", str(src), "-o", str(out)).returncode == 0
    assert_private_regular(out)
    assert out.stat().st_ino != inode and out.read_text() == "x\n"


def test_redact_directory_output_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / ".bashrc").write_text("export X=1\n")
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "out").symlink_to(home)
    proc = run("redact", str(tree), "-o", str(tmp_path / "out"))
    assert_one_line_error(proc)
    assert "symbolic link" in proc.stderr and list(home.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a directory owned by another user")
def test_redact_directory_output_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.log").write_text("x\n")
    out = tmp_path / "out"
    out.mkdir(mode=0o777)
    os.chown(out, NOBODY, NOBODY)
    proc = run("redact", str(tree), "-o", str(out))
    assert_one_line_error(proc)
    assert list(out.iterdir()) == []


def test_redact_into_a_new_directory_is_private(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a.log").write_text("password = hunter2\n")
    conn = sqlite3.connect(tree / "s.db")
    conn.execute("create table kv (k text, v text)")
    conn.execute("insert into kv values ('password', 'hunter2hunter2')")
    conn.commit()
    conn.close()
    proc = run("redact", str(tree), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o700
    assert_private_regular(tmp_path / "out" / "sub" / "a.log")
    assert_private_regular(tmp_path / "out" / "s.db")
    no_temp_left(tmp_path / "out")


def test_report_output_over_a_planted_symlink(tmp_path: Path, opened: Path) -> None:
    link, target = plant_link(tmp_path, "report.txt")
    proc = run("report", str(opened), "--no-index", "-o", str(link))
    assert proc.returncode == 0, proc.stderr
    assert target.read_bytes() == VICTIM
    assert_private_regular(link) and "casepack report" in link.read_text()
    no_temp_left(tmp_path)


def test_report_index_that_is_a_symlink_is_refused(tmp_path: Path, opened: Path) -> None:
    link, target = plant_link(tmp_path, "index.sqlite")
    proc = run("report", str(opened), "--index", str(link))
    assert_one_line_error(proc)
    assert "symbolic link" in proc.stderr and target.read_bytes() == VICTIM and link.is_symlink()
    dangling = tmp_path / "dangling.sqlite"
    dangling.symlink_to(tmp_path / "nothing-here")
    assert_one_line_error(run("report", str(opened), "--index", str(dangling)))
    assert not (tmp_path / "nothing-here").exists()
    no_temp_left(tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a file owned by another user")
def test_report_index_owned_by_another_user_is_refused(tmp_path: Path, opened: Path) -> None:
    foreign = tmp_path / "index.sqlite"
    foreign.write_bytes(b"")
    os.chown(foreign, NOBODY, NOBODY)
    assert_one_line_error(run("report", str(opened), "--index", str(foreign)))
    assert foreign.read_bytes() == b""


def test_report_index_in_the_opened_directory_is_rewritten_privately(tmp_path: Path, opened: Path) -> None:
    index = opened / "index.sqlite"
    before = sqlite3.connect(index).execute("select count(*) from sqlite_master").fetchone()[0]
    proc = run("report", str(opened))
    assert proc.returncode == 0, proc.stderr
    assert_private_regular(index)
    tables = {r[0] for r in sqlite3.connect(index).execute("select name from sqlite_master where type='table'")}
    assert {"error_signatures", "error_lines"} <= tables and len(tables) >= 2 and before > 0
    no_temp_left(opened)
    index.rename(opened / "index.real")
    index.symlink_to(opened / "index.real")
    assert_one_line_error(run("report", str(opened)))
    assert index.is_symlink()
