"""Benchmark: casepack's streaming age encryption vs the stock ``age`` CLI, and collect with vs without -r.

    python bench/encrypt.py [--size-mb 1024] [--rounds 2] [--skip-collect]

1. A 1 GiB bundle-like file (incompressible, as a .tar.zst is) is encrypted by casepack's
   EncryptingSink (pyrage through a pipe; and the scrypt/passphrase stream) and by
   ``age -r KEY`` in the same run. Wall time, MB/s and peak RSS of each child (os.wait4).
2. ``collect`` of a generated 1 GiB log with and without a recipient (redaction off, as in
   bench/collect_local.py), to show the overhead of encrypting in the same pass.
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

ENCRYPT_ONE = """
import os, sys
from collector.bundle.crypto import EncryptingSink, Encryption, parse_recipients
src, dst, mode, key = sys.argv[1:5]
enc = Encryption(passphrase=key) if mode == "passphrase" else Encryption(parse_recipients([key]))
fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
sink = EncryptingSink(os.fdopen(fd, "wb"), enc)
with open(src, "rb") as f:
    while data := f.read(1 << 20):
        sink.write(data)
print(sink.finish()[0])
"""

COLLECT_ONE = """
import sys
from pathlib import Path
from collector.engine.artifacts import RunOptions
from collector.bundle.crypto import Encryption, parse_recipients
from collector.engine.run import CollectRequest, HostTarget, collect
from collector.transport.local import local_host
from probes.spec import Artifact, Probe
log, out, key = sys.argv[1:4]
probe = Probe("bench", artifacts=(Artifact("log", "log", paths=(log,)),))
enc = Encryption(parse_recipients([key])) if key != "-" else None
req = CollectRequest(hosts=[HostTarget("bench", "local", local_host)], probes=[probe], output=Path(out),
                     options=RunOptions(max_file_size=1 << 40, redact=False), encryption=enc)
res = collect(req)
print(res.path, res.size)
"""


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{cmd[:3]} failed with status {status}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def row(label: str, wall: float, rss: float, mb: float) -> str:
    return f"  {label:<34} {wall:6.2f} s  {mb / wall:7.0f} MB/s  peak RSS {rss:6.1f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--skip-collect", action="store_true")
    args = ap.parse_args()
    out_dir = HERE / "out"
    out_dir.mkdir(exist_ok=True)
    root = HERE.parent
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        ident = Path(tmp) / "id.txt"
        subprocess.run(["age-keygen", "-o", str(ident)], check=True, capture_output=True)
        key = subprocess.run(["age-keygen", "-y", str(ident)], check=True, capture_output=True,
                             text=True).stdout.strip()
        data = Path(tmp) / "bundle.tar.zst"
        with open(data, "wb") as f:  # incompressible, like a compressed bundle
            block = os.urandom(1 << 20)
            for i in range(args.size_mb):
                f.write(block[i % 997:] + block[:i % 997])
        mb = data.stat().st_size / 1e6
        print(f"encrypting {mb:.0f} MB ({data.name}, incompressible), {args.rounds} rounds, best of:")
        results: dict[str, list[tuple[float, float]]] = {}
        for rnd in range(args.rounds):
            runs = {
                "age -r KEY (stock CLI)": ["age", "-r", key, "-o", f"{tmp}/age-{rnd}.age", str(data)],
                "casepack EncryptingSink -r KEY": [sys.executable, "-c", ENCRYPT_ONE, str(data),
                                                   f"{tmp}/cp-{rnd}.age", "key", key],
                "casepack passphrase (scrypt)": [sys.executable, "-c", ENCRYPT_ONE, str(data),
                                                 f"{tmp}/pp-{rnd}.age", "passphrase", "bench-pass"],
            }
            for label, cmd in runs.items():
                results.setdefault(label, []).append(timed(cmd, cwd=root))
            for f in Path(tmp).glob("*-*.age"):
                f.unlink()
        for label, res in results.items():
            wall = min(w for w, _ in res)
            print(row(label, wall, max(r for _, r in res), mb))
        data.unlink()
        if args.skip_collect:
            return
        log = out_dir / f"app-{args.size_mb}MB.log"
        if not log.exists():
            print(f"generating {log} …", flush=True)
            generate(log, args.size_mb * 1024 * 1024)
        lmb = log.stat().st_size / 1e6
        print(f"\ncollect of a {lmb:.0f} MB log (redaction off), best of {args.rounds}:")
        coll: dict[str, list[tuple[float, float]]] = {}
        for _ in range(args.rounds):
            for label, k in (("collect, no recipient", "-"), ("collect -r KEY (age, same pass)", key)):
                coll.setdefault(label, []).append(timed([sys.executable, "-c", COLLECT_ONE, str(log), tmp, k],
                                                        cwd=root))
                for f in Path(tmp).glob("casepack-*"):
                    f.unlink()
        best = {label: min(w for w, _ in res) for label, res in coll.items()}
        for label, res in coll.items():
            print(row(label, best[label], max(r for _, r in res), lmb))
        plain, enc = best.values()
        print(f"  encryption overhead: {enc - plain:+.2f} s ({(enc / plain - 1) * 100:+.0f}%)")


if __name__ == "__main__":
    main()
