"""Benchmark the write path: local collect with redaction vs ``tar --zstd -cf``, old casepack beside new.

    python bench/write_path.py [--size-mb 1024] [--rounds 3] [--old 8bf2126] [--level N]

Runs, interleaved and in rotating order, ``tar --zstd -cf`` (zstd -3 in a second process),
casepack at ``--old`` (that commit exported with ``git archive`` under bench/out/, run through
PYTHONPATH) and casepack of this tree, each as a child process measured with ``wait4``: wall,
user+sys CPU, peak RSS, bytes the child dirtied on disk (``ru_oublock``: spool files count even
when deleted before they reach the disk), bundle size. Prints per-round rows, then medians and
ratios to tar. The log (1 GB by default: timestamps, IPs, secrets, Java stack traces) is
generated once under bench/out/. Both casepack runs must list the same member sizes and redaction counts.

With ``--gz`` the log is collected gzipped (a rotated ``.gz``: gunzip → redact → spool), against
``gzip -dc | zstd -3`` as the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import zstandard

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from bench.genlog import generate  # noqa: E402

# one local collect of one log artifact (the zstd level comes from $CASEPACK_ZSTD_LEVEL, as in collect)
RUN_ONE = """
import sys
from pathlib import Path
from collector.engine.artifacts import RunOptions
from collector.engine.run import CollectRequest, HostTarget, collect
from collector.transport.local import local_host
from probes.spec import Artifact, Probe
log, out, redact = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
probe = Probe("bench", artifacts=(Artifact("log", "log", paths=(log,), timeout=3600),))  # a busy machine is slow
req = CollectRequest(hosts=[HostTarget("bench", "local", local_host)], probes=[probe], output=Path(out),
                     options=RunOptions(max_file_size=1 << 40, redact=redact))
collect(req)
"""


def measure(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> dict[str, float]:
    """One child: wall s, cpu s (user+sys, with its children), user, sys, rss MiB, written MB.

    ``cwd`` is the tree whose ``collector`` runs (``python -c`` puts the working directory first on sys.path).
    A child killed by a signal (the machine is shared) is run again, twice at most.
    """
    for _ in range(3):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, cwd=cwd, env=env)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if not os.WIFSIGNALED(status):
            break
        print(f"  ({cmd[0]} killed by signal {os.WTERMSIG(status)}; again)", flush=True)
    if status != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} … failed with status {status}")
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "user": ru.ru_utime, "sys": ru.ru_stime,
            "rss": ru.ru_maxrss / 1024, "written": ru.ru_oublock * 512 / 1e6}


def old_tree(rev: str) -> Path:
    """``rev`` of this repository exported under bench/out/ (once)."""
    dest = HERE / "out" / f"old-{rev}"
    if not dest.exists():
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        tmp.rename(dest)
    return dest


def member_digests(bundle: Path) -> dict[str, tuple[int, dict[str, int]]]:
    """arcname → (size, redaction counts) of the collected members, from the bundle's manifest.

    (Not sha256: redaction tags are keyed per run, so the same input gives other bytes each run.)
    """
    with open(bundle, "rb") as f, zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True) as z:
        with tarfile.open(fileobj=z, mode="r|") as tar:
            for info in tar:
                if info.name == "manifest.json":
                    doc = json.load(tar.extractfile(info))
                    return {a["path"]: (a["size"], a.get("redactions") or {}) for a in doc["artifacts"]
                            if a.get("sha256")}
    raise SystemExit(f"{bundle}: no manifest.json")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--old", default="8bf2126", help="the baseline commit")
    ap.add_argument("--level", type=int, default=None, help="zstd level for both casepack runs (default: theirs)")
    ap.add_argument("--no-redact", action="store_true")
    ap.add_argument("--gz", action="store_true", help="collect the log gzipped (gzip -1, made once)")
    args = ap.parse_args()
    (HERE / "out").mkdir(exist_ok=True)
    log = HERE / "out" / f"real-{int(args.size_mb)}MB.log"
    if not log.exists():
        print(f"generating {log} …", flush=True)
        generate(log, int(args.size_mb * 1024 * 1024), trace_every=200)
    if args.gz:  # in its own folder: beside the log it would be collected with it, as its rotated form
        gz = HERE / "out" / "gz" / (log.name + ".gz")
        gz.parent.mkdir(exist_ok=True)
        if not gz.exists():
            print(f"compressing {gz} …", flush=True)
            subprocess.run(f"gzip -1 -c {log} > {gz}.tmp && mv {gz}.tmp {gz}", shell=True, check=True)
        log = gz
    old = old_tree(args.old)
    size_mb = log.stat().st_size / 1e6
    redact = "0" if args.no_redact else "1"
    print(f"log: {log} ({size_mb:.0f} MB); old = {args.old}; load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(dir=HERE / "out") as tmp:
        def run(name: str, rnd: int) -> dict[str, float]:
            out = Path(tmp) / f"{name}-{rnd}"
            out.mkdir()
            if name == "tar" and args.gz:
                row = measure(["sh", "-c", f"gzip -dc {log} | zstd -3 -q -o {out / 't.zst'}"])
            elif name == "tar":
                row = measure(["tar", "--zstd", "-cf", str(out / "t.tar.zst"), "-C", str(log.parent), log.name])
            else:
                tree = old if name == "old" else ROOT
                env = dict(os.environ, PYTHONPATH=str(tree))
                if args.level is not None:
                    env["CASEPACK_ZSTD_LEVEL"] = str(args.level)
                row = measure([sys.executable, "-c", RUN_ONE, str(log), str(out), redact], env=env, cwd=tree)
            bundle = next(p for p in out.iterdir() if p.name.endswith(".zst"))
            row["bundle"] = bundle.stat().st_size / 1e6
            if name != "tar" and rnd == 0:
                digests[name] = member_digests(bundle)
            for p in out.iterdir():
                p.unlink()
            out.rmdir()
            return row

        names = ["tar", "old", "new"]
        rows: dict[str, list[dict[str, float]]] = {n: [] for n in names}
        digests: dict[str, dict[str, tuple[int, dict[str, int]]]] = {}
        for rnd in range(args.rounds):
            order = names[rnd % 3:] + names[:rnd % 3]
            for name in order:
                r = run(name, rnd)
                rows[name].append(r)
                print(f"round {rnd} {name:<4} wall {r['wall']:6.2f}  cpu {r['cpu']:6.2f} (user {r['user']:5.2f} "
                      f"sys {r['sys']:4.2f})  rss {r['rss']:4.0f} MiB  written {r['written']:6.0f} MB  "
                      f"bundle {r['bundle']:5.0f} MB", flush=True)
    same = digests.get("old") == digests.get("new")
    print(f"\nmedians of {args.rounds} rounds, load now {os.getloadavg()[0]:.2f}; "
          f"old and new members {'identical' if same else 'DIFFER'}")
    print(f"{'run':<5} {'wall s':>7} {'cpu s':>6} {'user':>6} {'sys':>5} {'RSS MiB':>8} {'written MB':>11} "
          f"{'bundle MB':>10} {'wall/tar':>9} {'cpu/tar':>8}")
    med = {n: {k: statistics.median(r[k] for r in rows[n]) for k in rows[n][0]} for n in names}
    for n in names:
        m = med[n]
        print(f"{n:<5} {m['wall']:7.2f} {m['cpu']:6.2f} {m['user']:6.2f} {m['sys']:5.2f} {m['rss']:8.0f} "
              f"{m['written']:11.0f} {m['bundle']:10.1f} {m['wall'] / med['tar']['wall']:9.2f} "
              f"{m['cpu'] / med['tar']['cpu']:8.2f}")
    if not same:
        raise SystemExit("old and new bundles hold different member bytes")


if __name__ == "__main__":
    main()
