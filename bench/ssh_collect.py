"""Benchmarks over SSH against a real sshd fleet on loopback (needs root and openssh-server).

    python bench/ssh_collect.py [--size-mb 1024] [--hosts 16]

1. one host, a 1 GiB file needing no redaction: casepack's wall time vs `ssh host cat FILE > /dev/null`
2. 16 hosts with the same artifacts vs 1 host
3. peak RSS of casepack while collecting the 1 GiB log over SSH (wait4 ru_maxrss)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.genlog import generate  # noqa: E402
from tests.sshfleet import SshFleet  # noqa: E402

FLEET_PROBE = '''name = "fleet"
[[artifact]]
name = "version"
kind = "version"
command = "uname -a"
[[artifact]]
name = "logs"
kind = "log"
paths = ["{small}/*.log"]
[[artifact]]
name = "ps"
kind = "command"
command = "ps -eo pid,args | head -n 200"
[[artifact]]
name = "disk"
kind = "check"
command = "df -P / | awk 'NR==2 {{print $5}}'"
check = {{ value_regex = "(\\\\d+)%", fail_above = 99 }}
'''


def small_logs(work: Path) -> Path:
    """20 logs of 256 KiB, readable by the fleet's users: the artifacts of the many-hosts runs."""
    small = work / "small"
    small.mkdir(mode=0o755)
    for i in range(20):
        generate(small / f"app-{i}.log", 256 * 1024, seed=i, secret_every=10**12)
        (small / f"app-{i}.log").chmod(0o644)
    return small


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 3):
        raise SystemExit(f"{' '.join(cmd[:3])}… failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--hosts", type=int, default=16)
    ap.add_argument("--level", type=int, default=None, help="zstd level (CASEPACK_ZSTD_LEVEL)")
    args = ap.parse_args()
    casepack = shutil.which("casepack") or sys.exit("install casepack first (pip install -e .)")
    work = Path(tempfile.mkdtemp(prefix="casepack-bench-"))
    work.chmod(0o755)
    env = dict(os.environ)
    if args.level is not None:
        env["CASEPACK_ZSTD_LEVEL"] = str(args.level)
    try:
        log = work / "app.log"
        print(f"generating {args.size_mb:.0f} MB log …", flush=True)
        generate(log, int(args.size_mb * 1024 * 1024), secret_every=10**12)
        log.chmod(0o644)
        small = small_logs(work)
        with SshFleet(work / "fleet") as fleet:
            for i in range(args.hosts):
                fleet.add_host(f"h{i + 1}")
            out = work / "out"
            out.mkdir()
            base = [casepack, "collect", "--ssh-config", str(fleet.ssh_config), "-o", str(out), "--no-input",
                    "--max-file-size", "2GiB"]
            big_probe = work / "big.toml"
            raw_probe = work / "raw.toml"
            for path, extra in ((big_probe, ""), (raw_probe, "redact = false\n")):
                path.write_text(f'name = "big"\n[[artifact]]\nname = "log"\nkind = "log"\npaths = ["{log}"]\n{extra}')
            ssh_t, _ = timed(fleet.ssh_command("h1", "cat", str(log)))
            raw_t, raw_rss = timed([*base, "h1", "-p", str(raw_probe)], env)
            cp_t, cp_rss = timed([*base, "h1", "-p", str(big_probe)], env)
            ssh_t2, _ = timed(fleet.ssh_command("h1", "cat", str(log)))
            ssh_best = min(ssh_t, ssh_t2)
            zstart = time.perf_counter()
            subprocess.run(["sh", "-c", " ".join(fleet.ssh_command("h1", "cat", str(log)))
                            + " | zstd -2 -T0 -q > /dev/null"], check=True)
            z_t = time.perf_counter() - zstart
            print(f"\n1 host, {log.stat().st_size / 1e6:.0f} MB file")
            print(f"  ssh cat > /dev/null          {ssh_best:6.2f} s")
            print(f"  ssh cat | zstd -2 -T0        {z_t:6.2f} s   (same work minus redaction and tar)")
            print(f"  casepack, redact = false     {raw_t:6.2f} s   ratio {raw_t / ssh_best:.2f}x   "
                  f"peak RSS {raw_rss:.0f} MiB")
            print(f"  casepack, redaction on       {cp_t:6.2f} s   ratio {cp_t / ssh_best:.2f}x   "
                  f"peak RSS {cp_rss:.0f} MiB")
            fleet_probe = work / "fleet.toml"
            fleet_probe.write_text(FLEET_PROBE.format(small=small))
            one_t, _ = timed([*base, "h1", "-p", str(fleet_probe)], env)
            names = [f"h{i + 1}" for i in range(args.hosts)]
            many_t, many_rss = timed([*base, *names, "-p", str(fleet_probe), "-j", str(args.hosts)], env)
            print(f"\n{args.hosts} hosts × (version, 20 logs of 256 KiB, ps, check)")
            print(f"  1 host                  {one_t:6.2f} s")
            print(f"  {args.hosts} hosts (-j {args.hosts})      {many_t:6.2f} s   ratio {many_t / one_t:.2f}x   "
                  f"peak RSS {many_rss:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
