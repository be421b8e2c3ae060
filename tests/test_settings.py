"""One settings object: the precedence chain and the encryption policy are the same for every command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from collector.errors import InputError
from collector.settings import Flags, plan_encryption, resolve_settings

CLI = [sys.executable, "-c", "from collector.cli import main; main()"]
NOW = 1_800_000_000.0
CASE = """
[case]
severity = "high"
[vars]
app_home = "/opt/from-case"
level = "case"
[collect]
probes = ["app"]
since = "2h"
max_file_size = "1MiB"
"""


def test_flags_override_the_case_file_which_overrides_defaults(tmp_path: Path) -> None:
    case = tmp_path / "case.toml"
    case.write_text(CASE)
    s = resolve_settings(Flags(case_file=str(case)), NOW)
    assert [p.name for p in s.probes] == ["app"] and s.fields["severity"] == "high"
    assert s.options.since == NOW - 7200 and s.options.since_origin == "case file"
    assert s.options.max_file_size == 1 << 20 and s.variables["level"] == "case"
    s = resolve_settings(Flags(case_file=str(case), probes=("system",), since="30m", max_file_size="2MiB",
                               variables=("level=flag",), fields=("severity=low",)), NOW)
    assert [p.name for p in s.probes] == ["system"] and s.fields["severity"] == "low"
    assert s.options.since == NOW - 1800 and s.options.since_origin == "--since"
    assert s.options.max_file_size == 2 << 20
    assert s.variables == {"app_home": "/opt/from-case", "level": "flag"}
    s = resolve_settings(Flags(), NOW)
    assert [p.name for p in s.probes] == ["system"] and s.options.since is None
    assert resolve_settings(Flags(since="all", case_file=str(case)), NOW).options.since is None


def test_bad_case_file_values_name_the_file(tmp_path: Path) -> None:
    case = tmp_path / "case.toml"
    case.write_text('[collect]\nmax_file_size = "lots"\n')
    with pytest.raises(InputError, match=str(case)):
        resolve_settings(Flags(case_file=str(case)), NOW)
    case.write_text('encryption = 42\n')
    with pytest.raises(InputError, match=f"case file {case}"):
        plan_encryption(resolve_settings(Flags(case_file=str(case)), NOW).case, (), False, None)


def test_process_test_fails_what_collect_refuses(tmp_path: Path) -> None:
    """-r KEY with a passphrase: collect exits 2; process-test must not say PASS for the same flags."""
    key = subprocess.run(["age-keygen"], capture_output=True, text=True, check=True).stdout
    public = next(line.split(": ")[1] for line in key.splitlines() if line.startswith("# public key"))
    env = {**os.environ, "PP": "a passphrase for the bundle"}
    flags = ["-r", public, "--passphrase-env", "PP", "-o", str(tmp_path)]
    collect = subprocess.run(CLI + ["collect", "--no-input", *flags], capture_output=True, text=True, env=env)
    assert collect.returncode == 2 and "cannot be combined" in collect.stderr
    proc = subprocess.run(CLI + ["process-test", "--json", *flags], capture_output=True, text=True, env=env,
                          timeout=120)
    report = json.loads(proc.stdout)
    enc = [f for f in report["findings"] if f["subject"] == "encryption"]
    assert enc and enc[0]["result"] == "fail" and "cannot be combined" in enc[0]["detail"]
    assert proc.returncode == 1
