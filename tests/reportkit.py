"""A small fleet with known inputs for the ``casepack report`` tests, collected through the Python API."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from collector.bundle.crypto import Encryption
from collector.engine.artifacts import RunOptions
from collector.engine.run import CollectRequest, HostTarget, collect
from collector.transport.local import local_host
from probes.loader import load_probe
from probes.spec import Artifact, Check, Probe

T0 = 1795507200  # 2026-11-24T08:00:00Z
HOSTS = ("n1", "n2", "n3")
CONFIG = """<?xml version="1.0"?>
<AMPSConfig>
  <Name>fleet</Name>
  <Admin><FileName>stats/stats.db</FileName></Admin>
  <Transports><Transport><Name>tcp</Name><ClientBufferThreshold>{threshold}</ClientBufferThreshold></Transport>
  </Transports>
  <Include>logging.xml</Include>
</AMPSConfig>
"""
LOGGING = "<Logging><Target><Protocol>file</Protocol><FileName>logs/app-%n.log</FileName></Target></Logging>\n"
HEALTH = Probe(name="health", variables={"amps_home": ""}, artifacts=(
    Artifact("depth", "check", command="cat {amps_home}/depth",
             check=Check(value_regex=r"(\d+)", warn_above=100, fail_above=1000, remedy="drain the queue")),
))


def stamp(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".000000+0000"


def log_lines(host: str) -> list[str]:
    """Per host: 3 disconnects (ids, IPs differ), 2 refused logins (redaction markers differ), 1 warning,
    info noise, a Java-style stack trace;
    n3 also 20 timeouts in the minute from T0 + 50 min (the spike)."""
    lines = [f"{stamp(T0)} [1] info: started",
             f"{stamp(T0 + 60)} [1] error: 07-0013 client 'c-17' disconnected from 10.0.0.1:4000",
             f"{stamp(T0 + 120)} [1] info: no error here, just info",
             f"{stamp(T0 + 180)} [1] error: 07-0013 client 'c-99' disconnected from 10.0.0.2:4111",
             f"{stamp(T0 + 240)} [1] warning: 02-0010 slow consumer 0xdeadbeef queue 12",
             f"{stamp(T0 + 300)} [1] ERROR processor failed for order 5d0f2a1c-0000-4000-8000-000000000001",
             "java.lang.IllegalStateException: boom",
             "\tat com.example.Processor.run(Processor.java:42)",
             "Caused by: java.io.IOException: broken pipe",
             f"{stamp(T0 + 360)} [1] error: 07-0013 client 'c-5' disconnected from 192.168.1.9:80",
             f"{stamp(T0 + 420)} [1] error: 07-0014 login refused token [REDACTED:key-value:abc123]",
             f"{stamp(T0 + 480)} [1] error: 07-0014 login refused token [REDACTED:key-value:ffee00]"]
    if host == "n3":
        lines += [f"{stamp(T0 + 3000 + i)} [1] error: 09-0001 timeout after {100 + i} ms on /data/q{i}"
                  for i in range(20)]
    return lines


def build_host(root: Path, host: str) -> Path:
    root.mkdir(parents=True)
    (root / "bin").mkdir()
    version = "AMPS 5.3.4" if host != "n3" else "AMPS 5.3.5"
    server = root / "bin" / "ampServer"
    server.write_text(f"#!/bin/sh\necho '{version}'\n")
    server.chmod(0o755)
    (root / "config.xml").write_text(CONFIG.format(threshold="1MB" if host == "n3" else "128MB"))
    (root / "logging.xml").write_text(LOGGING)
    (root / "logs").mkdir()
    (root / "logs" / "app-1.log").write_text("\n".join(log_lines(host)) + "\n")
    (root / "stats").mkdir()
    db = sqlite3.connect(root / "stats" / "stats.db")
    db.execute("CREATE TABLE ifaces (ts INTEGER, messages INTEGER, ratio REAL)")
    db.executemany("INSERT INTO ifaces VALUES (?, ?, ?)", [(T0 + 60 * i, 10 * i + 5, i / 10) for i in range(30)])
    db.commit()
    db.close()
    (root / "depth").write_text("5000\n" if host == "n3" else "7\n")
    return root


def build_fleet(tmp: Path, encryption: Encryption | None = None) -> Path:
    """A three-host bundle (n3: other version, other config, an error spike, a failing check); its path."""
    targets = []
    for host in HOSTS:
        root = build_host(tmp / "trees" / host, host)
        variables = {"amps_home": str(root), "amps_config": str(root / "config.xml"), "amps_workdir": str(root)}
        targets.append(HostTarget(host, "local", lambda h=host: local_host(h), variables=variables))
    out = tmp / "bundles"
    out.mkdir()
    result = collect(CollectRequest(hosts=targets, probes=[load_probe("amps"), HEALTH], output=out, label="fleet",
                                    case={"title": "fleet <script>alert(1)</script>", "severity": "high"},
                                    options=RunOptions(), encryption=encryption))
    return result.path
