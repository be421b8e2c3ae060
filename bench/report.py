"""Benchmark: ``casepack report`` on a bundle holding 1 GB of logs (streaming; goal < 300 MB peak RSS).

    python bench/report.py [--size-mb 1024] [--hosts 2]

Generates the logs once under bench/out/report/ (bench/genlog.py, split over HOSTS hosts),
collects them with redaction on through the Python API (one local target per host),
then times ``casepack report`` on the bundle file (open + verify + extract into a temp
dir + report) and on the opened directory (report + index), measuring each child's
peak RSS with os.wait4.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.genlog import generate  # noqa: E402

COLLECT = """
import sys
from pathlib import Path
from collector.engine.artifacts import RunOptions
from collector.engine.run import CollectRequest, HostTarget, collect
from collector.transport.local import local_host
from probes.spec import Artifact, Probe
out, logs = Path(sys.argv[1]), sys.argv[2:]
probe = Probe("bench", variables={"log": ""}, artifacts=(Artifact("log", "log", paths=("{log}",)),))
hosts = [HostTarget(f"node{i + 1}", "local", lambda i=i: local_host(f"node{i + 1}"), variables={"log": log})
         for i, log in enumerate(logs)]
res = collect(CollectRequest(hosts=hosts, probes=[probe], output=out, label="bench",
                             options=RunOptions(max_file_size=1 << 40, redact=True)))
print(res.path)
"""
CLI = [sys.executable, "-c", "from collector.cli import main; main()"]


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stdout of one child process."""
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} … failed with status {status}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--hosts", type=int, default=2)
    args = ap.parse_args()
    work = HERE / "out" / "report"
    work.mkdir(parents=True, exist_ok=True)
    per_host = int(args.size_mb * 1024 * 1024 / args.hosts)
    logs = []
    for i in range(args.hosts):
        log = work / f"node{i + 1}.log"
        if not log.exists() or log.stat().st_size < per_host:
            print(f"generating {log} ({per_host >> 20} MiB)…", flush=True)
            generate(log, per_host, seed=i + 1)
        logs.append(str(log))
    for old in work.glob("casepack-bench-*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    wall, rss, out = timed([sys.executable, "-c", COLLECT, str(work), *logs])
    bundle = Path(out.strip().splitlines()[-1])
    print(f"collect (redaction on): {wall:.1f} s, peak RSS {rss:.0f} MiB, bundle {bundle.stat().st_size >> 20} MiB")
    wall, rss, _ = timed([*CLI, "report", str(bundle), "--format", "json", "-o", str(work / "report.json")])
    print(f"report on the bundle file (open + verify + extract + report): {wall:.1f} s, peak RSS {rss:.0f} MiB")
    opened = work / "opened"
    shutil.rmtree(opened, ignore_errors=True)
    timed([*CLI, "open", str(bundle), "-o", str(opened)])
    wall, rss, _ = timed([*CLI, "report", str(opened), "--format", "html", "-o", str(work / "report.html")])
    print(f"report on the opened directory (report + index.sqlite tables): {wall:.1f} s, peak RSS {rss:.0f} MiB")
    shutil.rmtree(opened, ignore_errors=True)


if __name__ == "__main__":
    main()
