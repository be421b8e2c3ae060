"""Keyed (HMAC) pseudonyms vs the numbered ones they replaced: pseudonymisation MB/s, paired and interleaved.

    python -m bench.pseudonym_speed [SIZE_MB=64] [ROUNDS=5] [BASELINE=c195809]

Two inputs: the realistic application log (bench/genlog.py: few distinct IPs, values cached) and a
worst case where every line brings a new IPv4 address and host name (one HMAC per distinct value,
~2 per line). Each round runs the baseline Pseudonymizer (redaction/pseudonym.py at BASELINE, loaded
with ``git show``) and the current one on the same 1 MiB blocks, alternating which goes first;
medians of CPU seconds are printed with the ratio current/baseline.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.genlog import generate
from redaction import pseudonym as current

CHUNK = 1 << 20


def baseline_module(commit: str):  # noqa: ANN201 - a module object
    source = subprocess.run(["git", "show", f"{commit}:redaction/pseudonym.py"], capture_output=True, check=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout
    path = Path(tempfile.mkdtemp()) / "pseudonym_baseline.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("pseudonym_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def blocks(path: Path) -> list[bytes]:
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        end = data.find(b"\n", pos + CHUNK) + 1 or len(data)
        out.append(data[pos:end])
        pos = end
    return out


def distinct_log(path: Path, size: int) -> None:
    with open(path, "w") as f:
        written, i = 0, 0
        while written < size:
            line = (f"2026-12-01T10:00:{i % 60:02d} INFO conn {i} from 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} "
                    f"via gw-{i}.corp.example.com ok\n")
            f.write(line)
            written += len(line)
            i += 1


def run(module, data: list[bytes]) -> tuple[float, int]:  # noqa: ANN001
    p = module.Pseudonymizer(scanner="re")
    counts: dict[str, int] = {}
    started = time.process_time()
    for b in data:
        p.apply(b, counts)
    return time.process_time() - started, len(p.mapping())


def main() -> int:
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    base = baseline_module(sys.argv[3] if len(sys.argv) > 3 else "c195809")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    realistic, worst = out / f"app-{size_mb}MB.log", out / f"distinct-{size_mb}MB.log"
    if not realistic.exists():
        generate(realistic, size_mb << 20)
    if not worst.exists():
        distinct_log(worst, size_mb << 20)
    results = {}
    for name, path in (("realistic log", realistic), ("every line new values", worst)):
        data = blocks(path)
        times: dict[str, list[float]] = {"baseline": [], "keyed": []}
        values = 0
        for r in range(rounds):
            order = [("baseline", base), ("keyed", current)]
            for label, module in order if r % 2 == 0 else order[::-1]:
                cpu, values = run(module, data)
                times[label].append(cpu)
        mb = sum(map(len, data)) / 1e6
        med = {k: statistics.median(v) for k, v in times.items()}
        results[name] = {"mb": round(mb, 1), "distinct_values": values, "rounds": rounds,
                         "baseline_mb_s": round(mb / med["baseline"], 1), "keyed_mb_s": round(mb / med["keyed"], 1),
                         "ratio_keyed_over_baseline_cpu": round(med["keyed"] / med["baseline"], 3)}
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
