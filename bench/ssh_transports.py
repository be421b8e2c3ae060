"""casepack's two SSH clients (paramiko, openssh) against the stock pipeline, on a real sshd on loopback.

    python bench/ssh_transports.py [--size-mb 1024] [--rounds 3] [--hosts 16] [--redact]

Needs root and openssh-server (tests/sshfleet.py). Every round runs, one after the other (paired,
interleaved, so a busy machine slows all of them alike):

- ``ssh h1 cat FILE > /dev/null``                      (the transport alone)
- ``ssh h1 cat FILE | zstd -3 -T0 > /dev/null``        (the stock pipeline casepack replaces, unencrypted)
- ``casepack collect --ssh-client paramiko`` and ``--ssh-client openssh`` of the same file (a probe with
  ``redact = false`` unless ``--redact``; zstd at casepack's level, collector/bundle/writer.py LEVEL)

and prints medians, ratios and casepack's peak RSS. Then 16 hosts vs 1 host (small artifacts) per client.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.genlog import generate  # noqa: E402
from bench.ssh_collect import FLEET_PROBE, small_logs, timed  # noqa: E402
from tests.sshfleet import SSH_CLIENTS, SshFleet  # noqa: E402

CLI = [sys.executable, "-c", "from collector.cli import main; main()"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hosts", type=int, default=16)
    ap.add_argument("--redact", action="store_true", help="redaction on (default: redact = false, the transport)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="casepack-bench-"))
    work.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    try:
        log = work / "app.log"
        print(f"generating {args.size_mb:.0f} MiB log …", flush=True)
        generate(log, int(args.size_mb * 1024 * 1024), secret_every=10**12)
        log.chmod(0o644)
        small = small_logs(work)
        probe = work / "big.toml"
        probe.write_text(f'name = "big"\n[[artifact]]\nname = "log"\nkind = "log"\npaths = ["{log}"]\n'
                         + ("" if args.redact else "redact = false\n"))
        with SshFleet(work / "fleet") as fleet:
            for i in range(args.hosts):
                fleet.add_host(f"h{i + 1}")
            out = work / "out"
            out.mkdir()

            def casepack(client: str, *more: str) -> list[str]:
                return [*CLI, "collect", "--ssh-config", str(fleet.ssh_config), "--ssh-client", client,
                        "-o", f"{out}/", "--force", "--no-input", "--quiet", "--max-file-size", "2GiB", *more]

            ssh_cat = fleet.ssh_command("h1", "cat", str(log))
            runs: dict[str, list[str]] = {
                "ssh cat > /dev/null": ssh_cat,
                "ssh cat | zstd -3 -T0": ["sh", "-c", " ".join(ssh_cat) + " | zstd -3 -T0 -q > /dev/null"],
            }
            for client in SSH_CLIENTS:
                runs[f"casepack --ssh-client {client}"] = casepack(client, "h1", "-p", str(probe))
            walls: dict[str, list[float]] = {k: [] for k in runs}
            rss: dict[str, float] = {}
            for r in range(args.rounds):
                for name, cmd in runs.items():
                    wall, peak = timed(cmd, env)
                    walls[name].append(wall)
                    rss[name] = max(rss.get(name, 0.0), peak)
                    for p in out.iterdir():
                        p.unlink()
                print(f"  round {r + 1}: " + ", ".join(f"{k.split()[-1]} {v[-1]:.2f}s" for k, v in walls.items()),
                      flush=True)
            med = {k: statistics.median(v) for k, v in walls.items()}
            cat, pipe = med["ssh cat > /dev/null"], med["ssh cat | zstd -3 -T0"]
            size = log.stat().st_size / 1e6
            print(f"\n1 host, {size:.0f} MB file, {'redaction on' if args.redact else 'redact = false'}, "
                  f"medians of {args.rounds} paired rounds")
            for name, wall in med.items():
                ratios = f"{wall / cat:5.2f}x ssh cat   {wall / pipe:5.2f}x ssh cat|zstd"
                mem = f"   peak RSS {rss[name]:.0f} MiB" if name.startswith("casepack") else ""
                print(f"  {name:30s} {wall:6.2f} s  {size / wall:5.0f} MB/s   {ratios}{mem}")
            fleet_probe = work / "fleet.toml"
            fleet_probe.write_text(FLEET_PROBE.format(small=small))
            names = [f"h{i + 1}" for i in range(args.hosts)]
            print(f"\n{args.hosts} hosts vs 1 host × (version, 20 logs of 256 KiB, ps, check), "
                  f"medians of {args.rounds}")
            for client in SSH_CLIENTS:
                one, many, peak = [], [], 0.0
                for _ in range(args.rounds):
                    one.append(timed(casepack(client, "h1", "-p", str(fleet_probe)), env)[0])
                    wall, mem = timed(casepack(client, *names, "-p", str(fleet_probe), "-j", str(args.hosts)), env)
                    many.append(wall)
                    peak = max(peak, mem)
                o, m = statistics.median(one), statistics.median(many)
                print(f"  {client:9s} 1 host {o:5.2f} s   {args.hosts} hosts {m:5.2f} s   ratio {m / o:.2f}x   "
                      f"peak RSS {peak:.0f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
