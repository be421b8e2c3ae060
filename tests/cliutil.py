"""Run this worktree's CLI in a subprocess (not whatever ``casepack`` is installed) and write tiny probes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-c", "from collector.cli import main; main()"]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env())


def write_probe(path: Path, *commands: tuple[str, str]) -> Path:
    """A probe with one ``command`` artifact per (name, shell command)."""
    lines = [f'name = "{path.stem}"', 'description = "test probe"']
    for name, command in commands:
        lines += ["[[artifact]]", f'name = "{name}"', 'kind = "command"', f"command = {command!r}".replace("'", '"')]
    path.write_text("\n".join(lines) + "\n")
    return path
