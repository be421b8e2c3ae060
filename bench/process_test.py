"""Wall time of ``casepack process-test`` on a 10-host real-sshd fleet (needs root and openssh-server).

    python bench/process_test.py [--hosts 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.sshfleet import SshFleet  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=10)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="casepack-ptbench-"))
    work.chmod(0o755)
    try:
        logs = work / "logs"
        logs.mkdir(mode=0o755)
        for i in range(10):
            (logs / f"app.log.{i}").write_text("2026-11-24T00:00:00 INFO line\n" * 20000)
            (logs / f"app.log.{i}").chmod(0o644)
        probe = work / "app.toml"
        probe.write_text(f'name = "app"\n[[artifact]]\nname = "version"\nkind = "version"\ncommand = "uname -r"\n'
                         f'[[artifact]]\nname = "logs"\nkind = "log"\npaths = ["{logs}/app.log.*"]\n')
        with SshFleet(work / "fleet") as fleet:
            names = [f"n{i + 1}" for i in range(args.hosts)]
            for name in names:
                fleet.add_host(name)
            cmd = [shutil.which("casepack") or "casepack", "process-test", *names, "--ssh-config",
                   str(fleet.ssh_config), "-p", "system", "-p", str(probe), "-o", str(work), "-j", str(args.hosts),
                   "--json"]
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - start
            report = json.loads(proc.stdout)
            lines = sum(len(h["findings"]) for h in report["hosts"]) + len(report["findings"])
            print(f"process-test, {args.hosts} hosts × (system + app probes): {wall:.2f} s wall, {lines} findings, "
                  f"exit {proc.returncode}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
