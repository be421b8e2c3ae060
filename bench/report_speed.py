"""Benchmark: ``casepack report`` of the old scanner (8bf2126) and this tree, side by side, on 1 GB of logs.

    python bench/report_speed.py [--size-mb 1024] [--hosts 2] [--rounds 3] [--bundle-file] [--warn-share 0.18]

Generates realistic logs once under bench/out/report/ (bench/genlog.py, as bench/report.py does),
collects them into a bundle (redaction on) and opens it. The old code is a plain tree of commit
8bf2126 (``git archive``, no worktree registered) under bench/out/old-8bf2126/. Each round runs,
interleaved, ``casepack report DIR --format json --index FILE`` of the old tree and of this one
(on one core, $CASEPACK_REPORT_JOBS=1, and on all), each in a child process (``python -P`` from a
neutral directory, PYTHONPATH naming the tree), timed with its CPU seconds and peak RSS (os.wait4:
the largest of the child and its worker processes). Baselines: ``grep -ci error`` over the log
files and ``zstd -dc BUNDLE | wc -l`` (the floor for a report from the bundle file). Medians;
MB/s of log. The scan's cost is mostly per warning/error line: ``--warn-share`` sets their share
(bench/genlog.py's default mix has 18 %; 1–5 % is common in production logs). ``--bundle-file``
also times the report from the bundle file (open + verify +
extract + report). The machine may be busy: compare the paired figures, and CPU seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.genlog import generate  # noqa: E402
from bench.report import COLLECT  # noqa: E402

OLD = "8bf2126"
REPORT = "from collector.cli import main; main()"


def child(cmd: list[str] | str, root: Path | None, cwd: Path, shell: bool = False, ok_status: int = 0,
          jobs: int | None = None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (with its children's) and peak RSS (MiB, the largest process) of one child."""
    env = {**os.environ, "PYTHONPATH": str(root)} if root else dict(os.environ)
    if jobs:
        env["CASEPACK_REPORT_JOBS"] = str(jobs)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, shell=shell, stdout=subprocess.PIPE,  # noqa: S602
                            stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    proc.stdout.read()  # a pipe, not /dev/null: GNU grep stops at the first match when its output is /dev/null
    _, status, usage = os.wait4(proc.pid, 0)  # the child's usage with its (waited-for) worker processes'
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) > ok_status:
        raise SystemExit(f"{cmd if shell else ' '.join(cmd)[:120]} … failed with status {status}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def note(cases: dict[str, list[tuple[float, float, float]]], name: str, run: tuple[float, float, float],
         mb: float) -> None:
    """Keep one run's figures, and show them at once (a long benchmark on a busy machine)."""
    cases.setdefault(name, []).append(run)
    print(f"  {name}: {run[0]:.2f} s wall, {run[1]:.2f} s CPU ({mb / run[1]:.0f} MB/s of CPU), "
          f"peak RSS {run[2]:.0f} MiB", flush=True)


def old_tree(work: Path) -> Path:
    tree = work.parent / f"old-{OLD}"
    if not (tree / "collector").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(HERE.parent), "archive", OLD], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


def prepare(work: Path, size_mb: float, hosts: int, warn_share: float = 0.18) -> tuple[list[Path], Path, Path]:
    """(log files, bundle file, opened directory), made once."""
    per_host = int(size_mb * 1024 * 1024 / hosts)
    logs = []
    for i in range(hosts):
        log = work / f"node{i + 1}.log"
        if not log.exists() or log.stat().st_size < per_host:
            print(f"generating {log} ({per_host >> 20} MiB)…", flush=True)
            generate(log, per_host, seed=i + 1, warn_share=warn_share)
        logs.append(log)
    opened = work / "opened"
    bundles = sorted(work.glob("casepack-bench-*.tar.zst"))
    made_of = work / "bundle-of.txt"  # the logs the bundle holds (bench/report.py makes one of other sizes)
    logs_now = " ".join(f"{log.name}:{log.stat().st_size}" for log in logs)
    if not bundles or not (opened / "manifest.json").exists() or not made_of.exists() or \
            made_of.read_text() != logs_now:
        for old in work.glob("casepack-bench-*"):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        shutil.rmtree(opened, ignore_errors=True)
        print("collecting the bundle (redaction on)…", flush=True)
        out = subprocess.run([sys.executable, "-c", COLLECT, str(work), *map(str, logs)], check=True,
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(HERE.parent)})
        bundle = Path(out.stdout.strip().splitlines()[-1])
        subprocess.run([sys.executable, "-c", REPORT, "open", str(bundle), "-o", str(opened)], check=True,
                       env={**os.environ, "PYTHONPATH": str(HERE.parent)}, capture_output=True)
        bundles = [bundle]
        made_of.write_text(logs_now)
    return logs, bundles[0], opened


def log_bytes(opened: Path) -> int:
    return sum(p.stat().st_size for p in opened.rglob("*.log"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=1024)
    ap.add_argument("--hosts", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bundle-file", action="store_true", help="also time the report from the bundle file")
    ap.add_argument("--warn-share", type=float, default=0.18, help="share of warning/error lines in the logs")
    args = ap.parse_args()
    work = HERE / "out" / ("report" if args.warn_share == 0.18 else f"report-w{args.warn_share:g}")
    work.mkdir(parents=True, exist_ok=True)
    trees = {"old": old_tree(work), "new": HERE.parent}
    logs, bundle, opened = prepare(work, args.size_mb, args.hosts, args.warn_share)
    mb = log_bytes(opened) / 1e6
    print(f"{mb:.0f} MB of log in {opened} ({len(logs)} files); bundle {bundle.stat().st_size / 1e6:.0f} MB")
    cases: dict[str, list[tuple[float, float, float]]] = {}
    py = [sys.executable, "-P", "-c", REPORT, "report"]
    for r in range(args.rounds):
        for name, root, jobs in (("old", trees["old"], None), ("new, 1 core", trees["new"], 1),
                                 ("new, all cores", trees["new"], None)):
            index = work / "index-bench.sqlite"
            index.unlink(missing_ok=True)
            out = work / f"report-{name[:3]}.json"
            cmd = [*py, str(opened), "--format", "json", "-o", str(out), "--index", str(index)]
            note(cases, f"report DIR, {name}", child(cmd, root, work, jobs=jobs), mb)
            if args.bundle_file and r == 0:
                cmd = [*py, str(bundle), "--format", "json", "-o", str(work / f"report-{name[:3]}-file.json")]
                note(cases, f"report BUNDLE, {name}", child(cmd, root, work, jobs=jobs), mb)
        note(cases, "grep -ci error (logs)", child(["grep", "-ci", "error", *map(str, logs)], None, work, ok_status=1),
             mb)
        note(cases, "zstd -dc BUNDLE | wc -l", child(f"zstd -dc '{bundle}' | wc -l", None, work, shell=True), mb)
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    print(f"\n{'case':28} {'wall s':>8} {'cpu s':>8} {'MB/s wall':>10} {'MB/s cpu':>9} {'peak RSS MiB':>13}")
    for name, runs in cases.items():
        wall = statistics.median(w for w, _, _ in runs)
        cpu = statistics.median(c for _, c, _ in runs)
        rss = max(m for _, _, m in runs)
        print(f"{name:28} {wall:8.2f} {cpu:8.2f} {mb / wall:10.0f} {mb / max(cpu, 1e-9):9.0f} {rss:13.0f}")
    old, new = cases["report DIR, old"], cases["report DIR, new, 1 core"]
    wall = statistics.median(o[0] / n[0] for o, n in zip(old, new, strict=True))
    cpu = statistics.median(o[1] / n[1] for o, n in zip(old, new, strict=True))
    print(f"\nnew (1 core) vs old, report of the opened directory: {wall:.1f}x less wall time, {cpu:.1f}x less CPU "
          f"(medians of {len(old)} paired rounds)")
    same = (work / "report-old.json").read_text().count('"signature"') == (work / "report-new.json").read_text().count(
        '"signature"')
    print(f"same number of signatures in both reports: {same}")

if __name__ == "__main__":
    main()
