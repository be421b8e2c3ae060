"""casepack's own secrets never leave: not in a child's environment, not in the bundle, not in metadata.

The sudo password and the bundle passphrase arrive through environment variables named by
--sudo-password-env / --passphrase-env. A probe command that dumps its environment, a config file that
happens to contain the same value under an innocent key, and a failing command whose stderr echoes it
must all come out without them — checked in every member of the bundle, gunzipped and SQL-dumped.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

SUDO_PW = "Wq7-sudo-Kx2v9"
PASSPHRASE = "bundle passphrase 4 casepack"
CLI = [sys.executable, "-c", "from collector.cli import main; main()"]


def _members(bundle: Path, passphrase: str, tmp: Path) -> dict[str, bytes]:
    subprocess.run(CLI + ["open", str(bundle), "--passphrase-env", "PP", "-o", str(tmp / "opened")],
                   check=True, capture_output=True, env={**os.environ, "PP": passphrase})
    files = {}
    for p in (tmp / "opened").rglob("*"):
        if p.is_file():
            data = p.read_bytes()
            if p.suffix == ".sqlite":
                con = sqlite3.connect(p)
                data += "\n".join(con.iterdump()).encode()
                con.close()
            files[str(p.relative_to(tmp / "opened"))] = data
    return files


def test_own_secrets_stay_out_of_children_and_bundle(tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text(f"threads = 4\nnote = {SUDO_PW}\nlabel = {PASSPHRASE}\n")
    probe = tmp_path / "p.toml"
    probe.write_text(f'''name = "own"
[[artifact]]
name = "env"
kind = "command"
command = "env"
[[artifact]]
name = "conf"
kind = "config"
paths = ["{conf}"]
[[artifact]]
name = "noisy"
kind = "command"
command = "grep -h note {conf} >&2; exit 3"
''')
    env = {**os.environ, "CP_SUDO": SUDO_PW, "PP": PASSPHRASE}
    proc = subprocess.run(CLI + ["collect", "-p", str(probe), "-o", str(tmp_path), "--no-input", "--json",
                                 "--sudo-password-env", "CP_SUDO", "--passphrase-env", "PP"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode in (0, 3), proc.stderr
    for secret in (SUDO_PW, PASSPHRASE):
        assert secret not in proc.stdout and secret not in proc.stderr
    result = json.loads(proc.stdout)
    by = {a["artifact"]: a for a in result["manifest"]["artifacts"]}
    assert by["noisy"]["status"] == "failed" and "[REDACTED" in by["noisy"]["error"]  # stderr kept, value gone
    files = _members(Path(result["bundle"]), PASSPHRASE, tmp_path)
    env_dump = next(v for k, v in files.items() if k.endswith("command/env.txt"))
    assert b"CP_SUDO=" not in env_dump and b"PP=" not in env_dump  # never in a child's environment
    assert b"threads = 4" in next(v for k, v in files.items() if k.endswith("app.conf"))
    for name, data in files.items():
        for secret in (SUDO_PW, PASSPHRASE):
            assert secret.encode() not in data, (name, secret)
            assert secret[:12].encode() not in data, (name, secret)

