"""The README's promises a new user meets first: the Quick start line and the exit-status table."""

from __future__ import annotations

import re
import signal

from collector.bundle.verify import VERIFY_FAILED
from collector.errors import UPLOAD_FAILED, ExitStatus
from collector.interrupt import SIGNALS
from tests.cliutil import ROOT

README = (ROOT / "README.md").read_text()


def test_quick_start_is_one_line_in_a_venv() -> None:
    block = re.search(r"<!-- quickstart -->\n```sh\n(.*?)\n```\n<!-- /quickstart -->", README, re.S)
    assert block and "\n" not in block.group(1)
    line = block.group(1)
    assert "python3 -m venv" in line and "pip install ." in line and line.endswith("collect --no-input")


def test_exit_status_table_is_complete() -> None:
    table = README[README.index("### Exit status"):README.index("## Process test")]
    rows = set(re.findall(r"^\| (\d+) \|", table, re.M))
    codes = {int(s) for s in ExitStatus} | {VERIFY_FAILED, UPLOAD_FAILED, 128 + signal.SIGINT}
    codes |= {128 + s for s in SIGNALS}
    assert rows == {str(c) for c in codes}


def test_test_command_names_what_it_installs() -> None:
    script = (ROOT / "scripts" / "run-tests").read_text()
    packages = set(re.findall(r"need\+=\(([\w-]+)\)", script))
    section = README[README.index("The test command installs"):README.index("## Using it")]
    assert packages and all(p in section for p in packages)
    assert all(p in section for p in ("pytest", "ruff", "pexpect"))
