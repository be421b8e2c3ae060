"""Fleet benchmark and issue 14's "done when", on a loopback fleet of real sshds (needs root, openssh-server, rsync,
ansible-core):

    python bench/fleet.py [--targets 64] [--broken 3] [--log-mb 3] [--runners 4] [--rounds 1]

1. done when, part 1: one runner (casepack on the controller, -j 16) with --broken targets down → exit 3 with
   targets-broken hosts ok; the targets come back; ``--resume`` collects exactly the broken ones.
2. figures: one runner -j 16 vs --runners shards dispatched by contrib/ansible (install included in the first
   playbook run, already installed in the next ones): wall time, controller peak RSS (ansible-playbook's
   process tree and casepack's, wait4), runners' casepack peak RSS (/proc VmHWM), bytes moved (bundles,
   rsync's bytes received).
3. done when, part 2: the shards merged into one case set that open/report read as one fleet, every host
   accounted for once, pseudonyms identical across shards (one case key).
Rounds are interleaved (single, playbook, single, playbook …); medians are printed.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from redaction.pseudonym import load_mapping  # noqa: E402
from tests.ansiblefleet import CLI, ROOT, SHARED_EMAIL, LoopbackFleet, run_measured  # noqa: E402
from tests.cliutil import env as cli_env  # noqa: E402


class Check(Exception):
    """A "done when" condition did not hold."""


def check(cond: bool, what: str) -> None:
    if not cond:
        raise Check(what)
    print(f"  ok: {what}", flush=True)


class RunnerRss:
    """Samples /proc for the runners' casepack processes: peak VmHWM and the span they were seen running."""

    def __init__(self, marker: str) -> None:
        self.marker, self.peak_kib, self.first, self.last = marker.encode(), 0, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RunnerRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            seen = False
            for pid in Path("/proc").iterdir():
                try:
                    cmdline = (pid / "cmdline").read_bytes() if pid.name.isdigit() else b""
                    if self.marker in cmdline and b"/venv/bin/casepack" in cmdline:
                        status = (pid / "status").read_text()
                        m = re.search(r"VmHWM:\s+(\d+)", status)
                        self.peak_kib = max(self.peak_kib, int(m.group(1)) if m else 0)
                        seen = True
                except OSError:
                    continue
            if seen:
                now = time.perf_counter()
                self.first, self.last = self.first or now, now


def cli(*args: str, timeout: float = 1800):
    return run_measured([*CLI, *args], env=cli_env(), timeout=timeout)


def bundle_of(out_dir: Path) -> Path:
    found = sorted(p for p in out_dir.iterdir() if re.search(r"\.tar\.zst(\.age)?$", p.name))
    if len(found) != 1:
        raise Check(f"expected one bundle in {out_dir}, found {[p.name for p in found]}")
    return found[0]


def record_of(bundle: Path) -> dict[str, Any]:
    return json.loads(bundle.with_name(bundle.name + ".status.json").read_text())


def single_runner(fleet: LoopbackFleet, out: Path, key: Path, jobs: int, *extra: str):
    ssh = ["--identity", str(fleet.fleet.client_key), "--known-hosts", str(fleet.fleet.known_hosts)]
    return cli("collect", "-i", str(fleet.target_inventory), "-p", "app", "-j", str(jobs), "--no-input", "--json",
               "--pseudonymize", "--case-key", str(key), "-o", f"{out}/", *ssh, *extra)


def done_when_resume(fleet: LoopbackFleet, work: Path, key: Path, broken: list[str]) -> dict[str, float]:
    """First run with ``broken`` down exits 3 with the others ok; --resume after the fix collects only those."""
    n = len(fleet.targets)
    print(f"\n[done when 1] one runner -j 16, {len(broken)} of {n} targets down", flush=True)
    fleet.stop_targets(broken)
    try:
        first = single_runner(fleet, work / "first", key, 16)
    finally:
        fleet.start_targets(broken)
    check(first.returncode == 3, f"first run exits 3 (got {first.returncode})")
    rec = record_of(bundle_of(work / "first"))
    collected = [h for h in rec["hosts"] if h["status"] != "failed"]
    check(len(collected) == n - len(broken), f"{len(collected)} hosts in the first bundle (want {n - len(broken)})")
    not_ok = sorted(h["name"] for h in rec["hosts"] if h["status"] != "ok")
    if len(not_ok) > len(broken):  # a loaded machine can drop a channel now and then: resume must take it too
        extra = [f"{h['name']}: {h['error']}" for h in rec["hosts"] if h["status"] not in ("ok", "failed")]
        print(f"  note: besides the {len(broken)} broken targets, not ok in the first run: {extra}", flush=True)
    resumed = cli(
        "collect", "--resume", str(bundle_of(work / "first")), "--no-input", "--json", "--case-key", str(key),
        "--identity", str(fleet.fleet.client_key), "--known-hosts", str(fleet.fleet.known_hosts))
    check(resumed.returncode == 0, f"--resume exits 0 once the targets are fixed (got {resumed.returncode}: "
                                   f"{resumed.stderr.strip()[-300:]})")
    again = json.loads(resumed.stdout)
    rrec = json.loads(Path(again["record"]).read_text())
    check(sorted(h["name"] for h in rrec["hosts"]) == not_ok and all(h["status"] == "ok" for h in rrec["hosts"]),
          f"--resume collected exactly the {len(not_ok)} hosts not ok in the first run, all ok now")
    return {"first_wall": first.wall, "resume_wall": resumed.wall}


def playbook_round(fleet: LoopbackFleet, out: Path, key: Path, **extra: object) -> dict[str, Any]:
    with RunnerRss(f"{fleet.shared}/runners/") as sampler:
        res = fleet.run_playbook(out, casepack_pseudonymize=True, casepack_case_key_file=str(key), casepack_jobs=16,
                                 **extra)
    if res.returncode != 0:
        raise Check(f"playbook exited {res.returncode}: {res.stdout[-3000:]}{res.stderr[-1000:]}")
    shards = sorted(p for p in (out / "shards").rglob("*") if re.search(r"\.tar\.zst(\.age)?$", p.name))
    received = sum(int(n) for n in re.findall(r"bytes_received\s+\S+\s+(\d+)", res.stdout))
    return {"wall": res.wall, "rss_kib": res.maxrss_kib, "runner_rss_kib": sampler.peak_kib,
            "collect_span": sampler.last - sampler.first, "shard_bytes": sum(p.stat().st_size for p in shards),
            "rsync_received": received, "shards": shards, "stdout": res.stdout}


def done_when_set(fleet: LoopbackFleet, out: Path) -> list[str]:
    """The playbook's shards merged: open/report read one fleet; every host once; pseudonyms equal.

    Returns what open/report could not do (reported at the end: the figures are still measured)."""
    print("\n[done when 2] the playbook's case set", flush=True)
    (the_set,) = sorted(out.glob("set-*"))
    caseset = json.loads((the_set / "caseset.json").read_text())
    real: dict[str, str] = {}
    by_runner = {}
    for f in (out / "mappings").rglob("*.mapping.json"):
        table = load_mapping(f)
        by_runner[f.parent.name] = {v: k for k, v in table.items()}
        real.update(table)
    names = sorted(real.get(h["name"], h["name"]) for h in caseset["hosts"])
    check(names == sorted(fleet.targets), f"every one of the {len(fleet.targets)} targets is in the set exactly once")
    check(caseset["unaccounted"] == [], "no inventory host unaccounted for")
    not_ok = [f"{h['name']}: {h['error']}" for h in caseset["hosts"] if h["status"] != "ok"]
    if not_ok:  # nothing was down: these are dropped SSH channels on a loaded machine (see docs/scale.md)
        print(f"  note: set {caseset['status']}, not ok: {not_ok}", flush=True)
    shared = {t[SHARED_EMAIL] for t in by_runner.values() if SHARED_EMAIL in t}
    check(len(by_runner) >= 2 and len(shared) == 1, f"the shared user has one pseudonym in all {len(by_runner)} shards")
    problems = []
    report = cli("report", str(the_set), "-f", "json", "-o", str(out / "report.json"))
    if report.returncode not in (0, 3):
        problems.append(f"report on the set exited {report.returncode}: {report.stderr.strip().splitlines()[0]}")
    else:
        text = (out / "report.json").read_text()
        check(all(h["name"] in text for h in caseset["hosts"]), "report on the set names every host of the fleet")
    opened = cli("open", str(the_set), "-o", str(out / "opened"))
    if opened.returncode not in (0, 3):
        problems.append(f"open on the set exited {opened.returncode}: {opened.stderr.strip().splitlines()[0]}")
    else:
        print("  ok: open reads the set", flush=True)
    for p in problems:
        print(f"  NOT YET: {p}", flush=True)
    return problems


def median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=64)
    ap.add_argument("--broken", type=int, default=3)
    ap.add_argument("--log-mb", type=float, default=3.0, help="application log per target")
    ap.add_argument("--runners", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds after the install run")
    ap.add_argument("--work", default="/var/tmp/casepack-bench-fleet")
    args = ap.parse_args()
    work = Path(args.work)
    if work.exists():
        sys.exit(f"{work} exists: remove it or give --work")
    targets = [f"t{i:03d}" for i in range(1, args.targets + 1)]
    runners = [f"runner{i}" for i in range(1, args.runners + 1)]
    started = time.perf_counter()
    fleet = LoopbackFleet(work, runners, targets, log_bytes=int(args.log_mb * 1024 * 1024))
    print(f"fleet: {args.runners} runner + {args.targets} target sshds up, {args.log_mb:g} MB log each, in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    try:
        key = work / "case.key"
        if cli("case-key", "-o", str(key)).returncode != 0:
            raise Check("casepack case-key failed")
        done_when_resume(fleet, work / "resume", key, targets[5:5 + args.broken])
        print("\n[install] first playbook run (builds the wheelhouse, venv + pip on every runner)", flush=True)
        install = playbook_round(fleet, work / "pb-0", key, casepack_source=str(ROOT))
        problems = done_when_set(fleet, work / "pb-0")
        wheelhouse = str(work / "pb-0" / "wheelhouse")
        singles, books = [], []
        for r in range(1, args.rounds + 1):
            print(f"\n[round {r}] one runner -j 16, then {args.runners} shards by the playbook", flush=True)
            one = single_runner(fleet, work / f"single-{r}", key, 16)
            if one.returncode not in (0, 3):
                raise Check(f"single runner exited {one.returncode}: {one.stderr[-500:]}")
            bundle = bundle_of(work / f"single-{r}")
            not_ok = [h["name"] for h in record_of(bundle)["hosts"] if h["status"] != "ok"]
            if not_ok:  # dropped SSH channels on a loaded machine: named, and counted in the figures
                print(f"  note: single runner exit {one.returncode}, not ok: {not_ok}", flush=True)
            singles.append({"wall": one.wall, "rss_kib": one.maxrss_kib, "bytes": bundle.stat().st_size})
            books.append(playbook_round(fleet, work / f"pb-{r}", key, casepack_wheelhouse=wheelhouse))
        data_mb = args.targets * args.log_mb
        print(f"\n== {args.targets} targets, ~{data_mb:.0f} MB of logs (+ config, stats DB), {args.rounds} round(s), "
              "medians ==")
        print(f"one runner -j 16:        wall {median(singles, 'wall'):6.1f} s   casepack peak RSS "
              f"{median(singles, 'rss_kib') / 1024:5.0f} MiB   bundle {median(singles, 'bytes') / 2**20:6.1f} MiB")
        print(f"{args.runners} shards (installed):    wall {median(books, 'wall'):6.1f} s   ansible-playbook tree "
              f"peak RSS {median(books, 'rss_kib') / 1024:5.0f} MiB   runner casepack peak RSS "
              f"{median(books, 'runner_rss_kib') / 1024:5.0f} MiB")
        print(f"   runners collecting:   {median(books, 'collect_span'):6.1f} s (first to last casepack seen)   "
              f"shards {median(books, 'shard_bytes') / 2**20:6.1f} MiB   rsync received "
              f"{median(books, 'rsync_received') / 2**20:6.1f} MiB")
        print(f"{args.runners} shards (first, install): wall {install['wall']:6.1f} s   rsync received "
              f"{install['rsync_received'] / 2**20:6.1f} MiB")
        print(f"ratio playbook/single:   {median(books, 'wall') / median(singles, 'wall'):.2f}x wall")
        if problems:
            raise Check("; ".join(problems))
    except Check as exc:
        sys.exit(f"FAILED: {exc}")
    finally:
        fleet.close()


if __name__ == "__main__":
    main()
