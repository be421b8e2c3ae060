"""Upload speed over loopback SFTP: ``casepack upload`` vs the stock ``scp`` and ``sftp`` clients (needs root,
openssh-server; starts its own sshd from tests/sshfleet.py).

    python bench/upload.py [--size-mb 1024] [--rounds 5]

Paired rounds (casepack, scp, sftp in turn, the order rotated each round, the remote copies removed in
between), medians, the ratio casepack/scp and casepack/sftp, and casepack's peak RSS (wait4 ru_maxrss).
The file is age-encrypted random data, as ``collect -r`` writes, so nothing compresses on the way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.sshfleet import USER_SUDO, SshFleet  # noqa: E402

CLI = [sys.executable, "-c", "from collector.cli import main; main()"]


def timed(cmd: list[str], stdin: bytes | None = None) -> tuple[float, float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(HERE.parent)})
    if stdin:
        proc.stdin.write(stdin)  # type: ignore[union-attr]
        proc.stdin.close()  # type: ignore[union-attr]
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}… failed: {proc.stderr.read().decode()[-2000:]}")  # type: ignore
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # scp/sftp: their ssh child included


def make_file(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        f.write(b"age-encryption.org/v1\n")  # recognised as encrypted; the rest is incompressible
        left = size - 22
        while left > 0:
            n = min(left, 8 << 20)
            f.write(os.urandom(n))
            left -= n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="casepack-bench-upload-"))
    work.chmod(0o755)
    try:
        src = work / "bundle.tar.zst.age"
        make_file(src, int(args.size_mb * 1024 * 1024))
        with SshFleet(work / "fleet") as fleet:
            host = fleet.add_host("drop")
            drop = Path(f"/home/{USER_SUDO}/casepack-bench-drop")
            shutil.rmtree(drop, ignore_errors=True)
            drop.mkdir()
            shutil.chown(drop, USER_SUDO, USER_SUDO)
            url = f"sftp://{USER_SUDO}@{host.address}:{host.port}{drop}/"
            ssh = ["-F", str(fleet.ssh_config)]
            tools = {
                "casepack": lambda: timed([*CLI, "upload", str(src), "--to", url, "--known-hosts",
                                           str(fleet.known_hosts), "--identity", str(fleet.client_key), "-q"]),
                "scp": lambda: timed(["scp", "-q", *ssh, str(src), f"drop:{drop}/scp.bin"]),
                "sftp": lambda: timed(["sftp", "-q", *ssh, "-b", "-", "drop"],
                                      stdin=f"put {src} {drop}/sftp.bin\n".encode()),
            }
            times: dict[str, list[float]] = {k: [] for k in tools}
            cpu: dict[str, list[float]] = {k: [] for k in tools}
            rss: list[float] = []
            order = list(tools)
            for r in range(args.rounds):
                for name in order[r % 3:] + order[:r % 3]:
                    for f in drop.iterdir():
                        f.unlink()
                    wall, peak, used = tools[name]()
                    times[name].append(wall)
                    cpu[name].append(used)
                    if name == "casepack":
                        rss.append(peak)
                print(f"round {r + 1}: " + "  ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
            shutil.rmtree(drop, ignore_errors=True)
        med = {k: statistics.median(v) for k, v in times.items()}
        mcpu = {k: statistics.median(v) for k, v in cpu.items()}
        size = src.stat().st_size
        print(f"\n{size / 2**20:.0f} MiB over loopback SFTP, {args.rounds} paired rounds, medians "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
        for k, v in med.items():
            print(f"  {k:<9} {v:6.2f} s wall  {size / v / 2**20:7.1f} MiB/s   client CPU {mcpu[k]:5.2f} s")
        for other in ("scp", "sftp"):
            print(f"  casepack / {other:<4} = {med['casepack'] / med[other]:.2f}x wall, "
                  f"{mcpu['casepack'] / mcpu[other]:.2f}x CPU")
        print(f"  casepack peak RSS {max(rss):.0f} MiB (median {statistics.median(rss):.0f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
