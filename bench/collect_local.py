"""Benchmark: collect one big log locally vs plain ``tar --zstd -cf`` of the same file.

    python bench/collect_local.py [--size-mb 1024] [--redact]

Prints wall times, the ratio casepack/tar and peak RSS of each (children measured with wait4).
The log is generated once under bench/out/ and reused.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.genlog import generate  # noqa: E402

RUN_ONE = """
import sys
from pathlib import Path
from collector.engine.artifacts import RunOptions
from collector.engine.run import CollectRequest, HostTarget, collect
from collector.transport.local import local_host
from probes.spec import Artifact, Probe
import collector.bundle.writer
log, out, redact = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
collector.bundle.writer.LEVEL = int(sys.argv[4])
probe = Probe("bench", artifacts=(Artifact("log", "log", paths=(log,)),))
req = CollectRequest(hosts=[HostTarget("bench", "local", local_host)], probes=[probe], output=Path(out),
                     options=RunOptions(max_file_size=1 << 40, redact=redact))
res = collect(req)
print(res.path, res.size)
"""


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB, stdout of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=cwd)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{cmd[0]} failed with status {status}")
    return wall, usage.ru_maxrss / 1024, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--redact", action="store_true", help="also run with redaction on")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    log = out_dir / f"app-{int(args.size_mb)}MB.log"
    if not log.exists():
        print(f"generating {log} …", flush=True)
        generate(log, int(args.size_mb * 1024 * 1024))
    size_mb = log.stat().st_size / 1e6
    print(f"log: {log} ({size_mb:.0f} MB)")
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        rows = []
        for rnd in range(args.rounds):
            tar_t, tar_rss, _ = timed(["tar", "--zstd", "-cf", f"{tmp}/tar-{rnd}.tar.zst", "-C", str(log.parent),
                                       log.name])
            cp_t, cp_rss, _ = timed([sys.executable, "-c", RUN_ONE, str(log), tmp, "0", "2"], cwd=HERE.parent)
            rows.append(("no redaction", tar_t, tar_rss, cp_t, cp_rss))
            c3_t, c3_rss, _ = timed([sys.executable, "-c", RUN_ONE, str(log), tmp, "0", "3"], cwd=HERE.parent)
            rows.append(("no redact, -3", tar_t, tar_rss, c3_t, c3_rss))
            if args.redact:
                cr_t, cr_rss, _ = timed([sys.executable, "-c", RUN_ONE, str(log), tmp, "1", "2"], cwd=HERE.parent)
                rows.append(("redaction on", tar_t, tar_rss, cr_t, cr_rss))
            for f in Path(tmp).iterdir():
                f.unlink()
    print(f"{'mode':<14} {'tar s':>7} {'tar MiB':>8} {'casepack s':>11} {'casepack MiB':>13} {'ratio':>6} {'MB/s':>6}")
    for mode, tar_t, tar_rss, cp_t, cp_rss in rows:
        print(f"{mode:<14} {tar_t:7.2f} {tar_rss:8.0f} {cp_t:11.2f} {cp_rss:13.0f} {cp_t / tar_t:6.2f} "
              f"{size_mb / cp_t:6.0f}")


if __name__ == "__main__":
    main()
