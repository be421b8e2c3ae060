"""casepack review: each redaction shown in context for the security team — values masked, terminal safe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-c", "from collector.cli import main; main()"]
SECRET = "Zq8-review-S3cret-77"


def test_review_lists_each_redaction_in_context(tmp_path: Path) -> None:
    conf = tmp_path / "app.conf"
    conf.write_text(f"threads = 4\ndb_password = {SECRET}\nbanner = \x1b[31mred\x1b[0m\nport = 5432\n")
    clean = tmp_path / "plain.conf"
    clean.write_text("workers = 8\n")
    probe = tmp_path / "p.toml"
    probe.write_text(f'name = "rv"\n[[artifact]]\nname = "conf"\nkind = "config"\npaths = ["{conf}", "{clean}"]\n')
    env = {**os.environ, "PP": "review passphrase 123"}
    proc = subprocess.run(CLI + ["collect", "-p", str(probe), "-o", str(tmp_path), "--no-input", "--json",
                                 "--passphrase-env", "PP"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    bundle = json.loads(proc.stdout)["bundle"]
    text = subprocess.run(CLI + ["review", bundle, "--passphrase-env", "PP", "-C", "1"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert SECRET not in out and "[REDACTED:" in out
    assert "app.conf:2" in out and "threads = 4" in out and "\\x1b[31mred" in out  # context, escaped
    assert "\x1b" not in out
    data = json.loads(subprocess.run(CLI + ["review", bundle, "--passphrase-env", "PP", "--json"],
                                     capture_output=True, text=True, env=env, timeout=60).stdout)
    assert [(r["line"], r["file"].endswith("app.conf")) for r in data["redactions"]] == [(2, True)]
    assert any(f.endswith("plain.conf") for f in data["files_without_redactions"])
