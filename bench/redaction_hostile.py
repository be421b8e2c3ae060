"""Redaction on hostile input: seconds and MB/s per crafted line (linear time means flat MB/s across sizes).

    python -m bench.redaction_hostile [SIZE_MB=1] [--scanner re|hyperscan] [--pseudonymize]
"""

from __future__ import annotations

import argparse
import sys
import time

from redaction import Redactor

UNITS = [b"pass", b"pass ", b"password", b"--pass ", b"password= ", b"<password>", b'"pass', b"&token", b"token",
         b"mysql ", b"key ", b"a=", b"x:", b" ", b"\t", b"://", b"$1$", b"-----BEGIN ", b"authorization ", b"eyJ",
         b"a@", b"1.2.", b"::", b"user ", b'"a":{']


def one(unit: bytes, size: int, scanner: str | None, pseudonymize: bool, name: str) -> float:
    line = (unit * (size // len(unit) + 1))[:size] + b"\n"
    r = Redactor(salt=b"bench", scanner=scanner, pseudonymize=pseudonymize)
    started = time.perf_counter()
    s = r.stream(name)
    for i in range(0, len(line), 1 << 20):
        s.feed(line[i:i + (1 << 20)])
    s.close()
    return time.perf_counter() - started


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("size_mb", nargs="?", type=float, default=1.0)
    ap.add_argument("--scanner", default=None)
    ap.add_argument("--pseudonymize", action="store_true")
    ap.add_argument("--name", default="app.log", help="artifact name (e.g. etc/app.conf: configuration mode)")
    args = ap.parse_args()
    size = int(args.size_mb * (1 << 20))
    worst = 0.0
    print(f"{'line of':<22}{'seconds':>9}{'MB/s':>9}")
    for unit in UNITS:
        dt = one(unit, size, args.scanner, args.pseudonymize, args.name)
        worst = max(worst, dt)
        print(f"{unit.decode()!r:<22}{dt:>9.3f}{size / 1e6 / dt:>9.1f}")
    print(f"worst: {worst:.3f} s for a {args.size_mb:g} MiB line")
    return 0


if __name__ == "__main__":
    sys.exit(main())
