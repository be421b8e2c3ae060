"""casepack's two SSH clients (paramiko, openssh) against the stock pipeline, on a real sshd on loopback.

    python bench/ssh_transports.py [--size-mb 1024] [--rounds 3] [--hosts 16] [--redact]

Needs root and openssh-server (tests/sshfleet.py). Every round runs, one after the other (paired,
interleaved, so a busy machine slows all of them alike):

- ``ssh h1 cat FILE > /dev/null``                      (the transport alone)
- ``ssh h1 cat FILE | zstd -3 -T0 > /dev/null``        (the stock pipeline casepack replaces, unencrypted)
- ``casepack collect --ssh-client paramiko`` and ``--ssh-client openssh`` of the same file (a probe with
  ``redact = false`` unless ``--redact``; zstd at casepack's level, collector/bundle/writer.py LEVEL)

and prints medians of wall time, ratios, CPU seconds on this side (user + sys of the command and the
children it waited for: ssh, zstd; sshd and cat on the "host" are the same for all) and casepack's
peak RSS. Then 16 hosts vs 1 host (small artifacts) per client, and the CPU one command costs on this
side (``--only commands``: in-process, casepack's own CPU + any ``ssh`` it runs + the master's; the
figure a loaded machine disturbs least).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.genlog import generate  # noqa: E402
from bench.ssh_collect import FLEET_PROBE, small_logs, timed  # noqa: E402
from tests.sshfleet import SSH_CLIENTS, SshFleet  # noqa: E402

CLI = [sys.executable, "-c", "from collector.cli import main; main()"]


def cpu_timed(cmd: list[str], env: dict) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds on this side (the command and its waited-for children) and peak RSS (MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, peak = timed(cmd, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, peak


def big_file(fleet: SshFleet, work: Path, casepack: Callable[..., list[str]], env: dict, args: Namespace) -> None:
    log = work / "app.log"
    print(f"generating {args.size_mb:.0f} MiB log …", flush=True)
    generate(log, int(args.size_mb * 1024 * 1024), secret_every=10**12)
    log.chmod(0o644)
    probe = work / "big.toml"
    probe.write_text(f'name = "big"\n[[artifact]]\nname = "log"\nkind = "log"\npaths = ["{log}"]\n'
                     + ("" if args.redact else "redact = false\n"))
    ssh_cat = fleet.ssh_command("h1", "cat", str(log))
    runs: dict[str, list[str]] = {
        "ssh cat > /dev/null": ssh_cat,
        "ssh cat | zstd -3 -T0": ["sh", "-c", " ".join(ssh_cat) + " | zstd -3 -T0 -q > /dev/null"],
    }
    for client in SSH_CLIENTS:
        runs[f"casepack --ssh-client {client}"] = casepack(client, "h1", "-p", str(probe))
    walls: dict[str, list[float]] = {k: [] for k in runs}
    cpus: dict[str, list[float]] = {k: [] for k in runs}
    rss: dict[str, float] = {}
    for r in range(args.rounds):
        for name, cmd in runs.items():
            wall, cpu, peak = cpu_timed(cmd, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
            rss[name] = max(rss.get(name, 0.0), peak)
            for bundle in (work / "out").iterdir():
                bundle.unlink()
        print(f"  round {r + 1}: " + ", ".join(f"{k.split()[-1]} {v[-1]:.2f}s" for k, v in walls.items()), flush=True)
    med = {k: statistics.median(v) for k, v in walls.items()}
    cat, pipe = med["ssh cat > /dev/null"], med["ssh cat | zstd -3 -T0"]
    size = log.stat().st_size / 1e6
    print(f"\n1 host, {size:.0f} MB file, {'redaction on' if args.redact else 'redact = false'}, "
          f"medians of {args.rounds} paired rounds")
    for name, wall in med.items():
        mem = f"   peak RSS {rss[name]:.0f} MiB" if name.startswith("casepack") else ""
        print(f"  {name:30s} {wall:6.2f} s  {size / wall:5.0f} MB/s  {wall / cat:5.2f}x ssh cat  "
              f"{wall / pipe:5.2f}x ssh cat|zstd   CPU here {statistics.median(cpus[name]):5.2f} s{mem}")


def many_hosts(_fleet: SshFleet, work: Path, casepack: Callable[..., list[str]], env: dict, args: Namespace) -> None:
    fleet_probe = work / "fleet.toml"
    fleet_probe.write_text(FLEET_PROBE.format(small=small_logs(work)))
    names = [f"h{i + 1}" for i in range(args.hosts)]
    print(f"\n{args.hosts} hosts vs 1 host × (version, 20 logs of 256 KiB, ps, check), medians of {args.rounds}")
    cores = len(os.sched_getaffinity(0))
    for client in SSH_CLIENTS:
        one, many, cpu, there, peak = [], [], [], [], 0.0
        for _ in range(args.rounds):
            one.append(cpu_timed(casepack(client, "h1", "-p", str(fleet_probe)), env)[0])
            before = _busy()
            wall, used, mem = cpu_timed(casepack(client, *names, "-p", str(fleet_probe), "-j", str(args.hosts)), env)
            there.append(max(0.0, _busy() - before - used))  # the hosts' sshd and commands (and anything else)
            many.append(wall)
            cpu.append(used)
            peak = max(peak, mem)
        o, m = statistics.median(one), statistics.median(many)
        here, far = statistics.median(cpu), statistics.median(there)
        print(f"  {client:9s} 1 host {o:5.2f} s   {args.hosts} hosts {m:5.2f} s   ratio {m / o:.2f}x   "
              f"CPU here {here:5.2f} s   rest of the machine {far:5.2f} s   peak RSS {peak:.0f} MiB")
        print(f"  {'':9s} both sides share {cores} cores here: {args.hosts} hosts cannot take less than "
              f"{(here + far) / cores:.2f} s ({(here + far) / cores / o:.2f}x one host); this side alone needs "
              f"{here / cores:.2f} s ({here / cores / o:.2f}x)")


def _busy() -> float:
    """CPU seconds this machine has spent busy (all processes: /proc/stat's first line, not idle/iowait)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_command(fleet: SshFleet, count: int = 200) -> None:
    """``count`` × ``true`` through one connection per client: wall and CPU per command on this side."""
    from collector.hosts.resolve import SshOptions, resolve_hosts

    print(f"\nper command ({count} × 'true' on h1, in this process)")
    for client in SSH_CLIENTS:
        host = resolve_hosts(["h1"], None, SshOptions(ssh_config=str(fleet.ssh_config), client=client))[0].connect()
        try:
            master = getattr(host.conn, "_master", None)
            host.conn.execute("true", lambda data: None, timeout=30)
            before = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN),
                      _cpu_of(master.proc.pid) if master else 0.0)
            start = time.perf_counter()
            for _ in range(count):
                host.conn.execute("true", lambda data: None, timeout=30)
            wall = time.perf_counter() - start
            after = (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN),
                     _cpu_of(master.proc.pid) if master else 0.0)
        finally:
            host.close()
        own = after[0].ru_utime + after[0].ru_stime - before[0].ru_utime - before[0].ru_stime
        kids = max(0.0, after[1].ru_utime + after[1].ru_stime - before[1].ru_utime - before[1].ru_stime)
        ms = 1000 / count
        print(f"  {client:9s} wall {wall * ms:5.1f} ms   CPU here {(own + kids + after[2] - before[2]) * ms:4.1f} ms "
              f"(casepack {own * ms:.1f}, ssh processes {kids * ms:.1f}, master {(after[2] - before[2]) * ms:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hosts", type=int, default=16)
    ap.add_argument("--redact", action="store_true", help="redaction on (default: redact = false, the transport)")
    ap.add_argument("--kex", metavar="ALG", help="KexAlgorithms for ssh (e.g. curve25519-sha256, what paramiko "
                    "negotiates; OpenSSH 9's default sntrup761x25519 costs ~0.3 s of CPU per login on each side)")
    ap.add_argument("--only", choices=("big", "hosts", "commands"), help="run only one part")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="casepack-bench-"))
    work.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    try:
        with SshFleet(work / "fleet") as fleet:
            for i in range(args.hosts if args.only in (None, "hosts") else 1):
                fleet.add_host(f"h{i + 1}")
            if args.kex:  # appended to the fleet's final "Host *" block
                fleet.ssh_config.write_text(fleet.ssh_config.read_text() + f"  KexAlgorithms {args.kex}\n")
            out = work / "out"
            out.mkdir()

            def casepack(client: str, *more: str) -> list[str]:
                return [*CLI, "collect", "--ssh-config", str(fleet.ssh_config), "--ssh-client", client,
                        "-o", f"{out}/", "--force", "--no-input", "--quiet", "--max-file-size", "2GiB", *more]

            if args.only in (None, "big"):
                big_file(fleet, work, casepack, env, args)
            if args.only in (None, "hosts"):
                many_hosts(fleet, work, casepack, env, args)
            if args.only in (None, "commands"):
                per_command(fleet)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
