"""Build an AMPS-like application tree for end-to-end tests (no real AMPS needed)."""

from __future__ import annotations

import gzip
import os
import sqlite3
import time
from pathlib import Path

VERSION_LINE = "AMPS 5.3.4.112.8f5d2b1.1234567 (Linux x86_64)"
SECRET = "Sup3rS3cretPW"

CONFIG = """<?xml version="1.0"?>
<AMPSConfig>
  <Name>amps-test</Name>
  <Admin>
    <InetAddr>localhost:8085</InetAddr>
    <FileName>stats/stats.db</FileName>
  </Admin>
  <Authentication><Password>{secret}</Password></Authentication>
  <Include>logging.xml</Include>
</AMPSConfig>
"""
LOGGING = """<Logging>
  <Target>
    <Protocol>file</Protocol>
    <FileName>logs/%Y%m%d%H%M%S-%n.log</FileName>
    <Level>info</Level>
    <RotationThreshold>1GB</RotationThreshold>
  </Target>
  <Target><Protocol>stdout</Protocol><Level>error</Level></Target>
</Logging>
"""


def log_line(ts: float, level: str, text: str) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    return f"{stamp}.000000+0000 [1] {level}: {text}\n"


def build_amps_tree(root: Path, now: float | None = None) -> dict[str, Path]:
    """``root``: bin/ampServer, config.xml + logging.xml, logs/ (current, rotated, .gz), stats/stats.db."""
    now = now or time.time()
    (root / "bin").mkdir(parents=True)
    server = root / "bin" / "ampServer"
    server.write_text(f"#!/bin/sh\nif [ \"$1\" = --version ]; then echo '{VERSION_LINE}'; exit 0; fi\nexit 1\n")
    server.chmod(0o755)
    (root / "config.xml").write_text(CONFIG.format(secret=SECRET))
    (root / "logging.xml").write_text(LOGGING)
    logs = root / "logs"
    logs.mkdir()
    old = logs / "20261101000000-1.log.gz"
    with gzip.open(old, "wt") as f:
        f.write(log_line(now - 20 * 86400, "error", "07-0013 old failure in rotated file"))
        f.write(log_line(now - 20 * 86400 + 5, "info", "connect with password=oldpass123"))
    os.utime(old, (now - 20 * 86400, now - 20 * 86400))
    prev = logs / "20261120000000-2.log"
    prev.write_text(log_line(now - 3 * 86400, "warning", "07-0002 slow consumer")
                    + log_line(now - 3 * 86400 + 1, "info", "ok"))
    os.utime(prev, (now - 3 * 86400, now - 3 * 86400))
    cur = logs / "20261124000000-3.log"
    cur.write_text(log_line(now - 7200, "info", "two hours ago")
                   + log_line(now - 600, "error", "07-0013 client disconnected abruptly")
                   + log_line(now - 60, "info", f"admin login token={SECRET}"))
    (root / "stats").mkdir()
    db = sqlite3.connect(root / "stats" / "stats.db")
    db.execute("create table ifaces_stats (ts integer, name text, messages_in integer)")
    db.executemany("insert into ifaces_stats values (?, ?, ?)",
                   [(int(now) - i * 60, "tcp", 1000 + i) for i in range(100)])
    db.commit()
    db.close()
    return {"root": root, "config": root / "config.xml", "current_log": cur, "stats": root / "stats" / "stats.db"}


def amps_vars(root: Path) -> list[str]:
    return ["--var", f"amps_home={root}", "--var", f"amps_config={root / 'config.xml'}",
            "--var", f"amps_workdir={root}"]
