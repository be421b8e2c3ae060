"""Regenerate the sample bundles: a demo AMPS-like fleet of three hosts, one misbehaving.

    python sample_bundles/make_samples.py            # from the repository root

amps-1 and amps-2 are healthy. amps-3 has a different ClientBufferThreshold in its
config.xml and, in the last hour, a spike of slow-client disconnects, a growing queue
and a failing health check. All three "hosts" are directories on this machine,
collected in one bundle through the Python API (three local targets), encrypted to
demo-identity.txt (a demo key: it protects nothing real). Then ``report.txt`` and
``report.html`` are written beside it.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from collector.bundle.crypto import Encryption, keygen, parse_recipients  # noqa: E402
from collector.engine.artifacts import RunOptions  # noqa: E402
from collector.engine.run import CollectRequest, HostTarget, collect  # noqa: E402
from collector.transport.local import LocalTransport  # noqa: E402
from probes.loader import load_probe  # noqa: E402
from probes.spec import Artifact, Check, Probe  # noqa: E402

NOW = int(time.time()) // 3600 * 3600  # logs and statistics end at the last full hour
HOSTS = ("amps-1", "amps-2", "amps-3")
BAD = "amps-3"
VERSION = "AMPS 5.3.4.112.8f5d2b1.1234567 (Linux x86_64)"
IDENTITY = HERE / "demo-identity.txt"
CONFIG = """<?xml version="1.0"?>
<AMPSConfig>
  <Name>orders-{host}</Name>
  <Group>orders-fleet</Group>
  <Admin>
    <InetAddr>localhost:8085</InetAddr>
    <FileName>stats/stats.db</FileName>
    <Interval>60s</Interval>
  </Admin>
  <Authentication><Password>Fl33tAdm1nPW</Password></Authentication>
  <Transports>
    <Transport>
      <Name>json-tcp</Name>
      <Type>tcp</Type>
      <InetAddr>9007</InetAddr>
      <MessageType>json</MessageType>
      <ClientBufferThreshold>{threshold}</ClientBufferThreshold>
    </Transport>
  </Transports>
  <Include>logging.xml</Include>
</AMPSConfig>
"""
LOGGING = """<Logging>
  <Target><Protocol>file</Protocol><FileName>logs/%Y%m%d%H%M%S-%n.log</FileName><Level>info</Level></Target>
</Logging>
"""
HEALTH = Probe(
    name="health",
    description="demo fleet health checks",
    variables={"amps_home": ""},
    artifacts=(
        Artifact("queue-depth", "check", command="cat {amps_home}/health/queue-depth",
                 check=Check(value_regex=r"(\d+)", warn_above=10000, fail_above=100000,
                             remedy="find the slow consumer (see the disconnect errors) and raise its buffer")),
        Artifact("replication", "check", command="cat {amps_home}/health/replication",
                 check=Check(expect_output="^in sync$", remedy="check the replication link to the peers")),
    ),
)


def line(ts: float, level: str, text: str) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    return f"{stamp}.{int(ts * 1e6) % 1000000:06d}+0000 [7] {level}: {text}\n"


def build_tree(root: Path, host: str, rnd: random.Random) -> None:
    bad = host == BAD
    (root / "bin").mkdir(parents=True)
    server = root / "bin" / "ampServer"
    server.write_text(f"#!/bin/sh\n[ \"$1\" = --version ] && echo '{VERSION}' && exit 0\nexit 1\n")
    server.chmod(0o755)
    (root / "config.xml").write_text(CONFIG.format(host=host, threshold="1MB" if bad else "128MB")
                                     .replace(f"orders-{host}", "orders"))
    (root / "logging.xml").write_text(LOGGING)
    (root / "logs").mkdir()
    out = []
    t = NOW - 86400 + rnd.random() * 60
    while t < NOW:
        r = rnd.random()
        if r < 0.02:
            out.append(line(t, "error", f"07-0013 client disconnected: client 'c-{rnd.randrange(9999)}' from "
                                        f"10.1.{rnd.randrange(255)}.{rnd.randrange(255)}:{rnd.randrange(65535)} "
                                        "reset the connection"))
        elif r < 0.06:
            out.append(line(t, "warning", f"02-0010 slow consumer 'c-{rnd.randrange(9999)}': "
                                          f"{rnd.randrange(1000, 9000)} messages queued"))
        else:
            out.append(line(t, "info", f"05-0021 published {rnd.randrange(1000, 5000)} messages to orders/"
                                       f"{rnd.randrange(99)} in {rnd.randrange(100, 900)}us"))
        if bad and t > NOW - 3600:
            for _ in range(rnd.randrange(3, 8)):
                out.append(line(t + rnd.random(), "error",
                                f"07-0013 client disconnected: client 'c-{rnd.randrange(9999)}' from "
                                f"10.1.{rnd.randrange(255)}.{rnd.randrange(255)}:{rnd.randrange(65535)} exceeded "
                                f"the client buffer threshold ({rnd.randrange(1048576, 2097152)} bytes queued)"))
        t += rnd.uniform(40, 120)
    if bad:
        out.append(line(NOW - 900, "error", "30-0003 exception in message processor thread 12"))
        out += ["    at amps::MessageProcessor::enqueue(Message&) (processor.cpp:412)\n",
                "    at amps::ClientSession::deliver() (session.cpp:88)\n",
                "Caused by: amps::BufferFull: client buffer threshold 1048576 exceeded\n"]
    (root / "logs" / "20261123120000-1.log").write_text("".join(out))
    (root / "stats").mkdir()
    db = sqlite3.connect(root / "stats" / "stats.db")
    db.execute("CREATE TABLE ifaces_stats (ts INTEGER, iface TEXT, messages_in INTEGER, messages_out INTEGER, "
               "queue_depth INTEGER)")
    rows = []
    for i in range(24 * 60, 0, -2):
        ts = NOW - i * 60
        for iface in ("json-tcp", "admin"):
            rate = 1000 + int(200 * rnd.random()) if iface == "json-tcp" else 5
            depth = rnd.randrange(0, 50)
            if bad and iface == "json-tcp" and ts > NOW - 3600:
                depth = int((ts - (NOW - 3600)) * 40 + rnd.randrange(500))
            rows.append((ts, iface, rate, rate - min(depth, rate), depth))
    db.executemany("INSERT INTO ifaces_stats VALUES (?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    (root / "health").mkdir()
    (root / "health" / "queue-depth").write_text(f"{rows[-2][4]}\n")
    (root / "health" / "replication").write_text("lagging 1200 messages\n" if bad else "in sync\n")


def public_key() -> str:
    if not IDENTITY.exists():
        keygen(IDENTITY)
    for text in IDENTITY.read_text().splitlines():
        if text.startswith("# public key: "):
            return text.split(": ", 1)[1].strip()
    raise SystemExit(f"{IDENTITY}: no '# public key:' line")


def main() -> None:
    rnd = random.Random(8)
    for old in HERE.glob("casepack-demo-*"):
        old.unlink()
    tmp = Path(tempfile.gettempdir()) / "casepack-demo-fleet"  # a fixed path: the bundle's paths stay the same
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        targets = []
        for host in HOSTS:
            root = tmp / host / "opt" / "amps"
            build_tree(root, host, rnd)
            variables = {"amps_home": str(root), "amps_config": str(root / "config.xml"), "amps_workdir": str(root)}
            targets.append(HostTarget(host, "local", lambda h=host: LocalTransport(host=h), variables=variables))
        request = CollectRequest(
            hosts=targets, probes=[load_probe("amps"), HEALTH], output=HERE, label="demo",
            case={"title": "Clients disconnected from the orders fleet", "severity": "high",
                  "observed": "clients of amps-3 disconnect repeatedly since about an hour ago",
                  "expected": "no disconnects; the three nodes behave the same"},
            options=RunOptions(), encryption=Encryption(parse_recipients([public_key()])))
        result = collect(request)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bundle = result.path
    print(f"bundle: {bundle} ({result.size} bytes)")
    cli = [sys.executable, "-c", "from collector.cli import main; main()", "report", bundle.name, "-k", IDENTITY.name]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    for fmt, name in (("text", "report.txt"), ("html", "report.html"), ("json", "report.json")):
        subprocess.run([*cli, "--format", fmt, "-o", name], check=True, cwd=HERE, env=env)
        print(f"{name}: written")


if __name__ == "__main__":
    main()
