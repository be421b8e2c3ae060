"""Redaction throughput (MB/s on one core) on a realistic application log, as the collector streams it.

    python -m bench.redaction_speed [SIZE_MB=500]    # writes bench/out/app-<SIZE>MB.log once
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path

from bench.genlog import generate
from redaction import Redactor

CHUNK = 1 << 20


def measure(path: Path, scanner: str, pseudonymize: bool) -> dict:
    redactor = Redactor(scanner=scanner, pseudonymize=pseudonymize)
    stream = redactor.stream(path.name)
    size = out = 0
    started = time.process_time()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            size += len(chunk)
            out += len(stream.feed(chunk))
    out += len(stream.close())
    cpu = time.process_time() - started
    return {"scanner": redactor.scanner.name, "pseudonymize": pseudonymize, "mb": round(size / 1e6, 1),
            "cpu_s": round(cpu, 2), "mb_per_s_per_core": round(size / 1e6 / cpu, 1),
            "replacements": sum(stream.counts.values())}


def main() -> int:
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    path = Path(__file__).parent / "out" / f"app-{size_mb}MB.log"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        generate(path, size_mb * 1024 * 1024)
    scanners = ["re"] + (["hyperscan"] if importlib.util.find_spec("hyperscan") else [])
    results = [measure(path, s, p) for s in scanners for p in (False, True)]
    print(json.dumps(results, indent=2))
    print(f"\nMB/s per core on {results[0]['mb']} MB   secrets-only   --pseudonymize")
    for s in scanners:
        row = {r["pseudonymize"]: r["mb_per_s_per_core"] for r in results if r["scanner"] == s}
        print(f"  {s:<28} {row[False]:>12.1f}   {row[True]:>13.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
