"""Errors per host per time bucket, counted at an adaptive resolution (bounded memory)."""

from __future__ import annotations

from collections import Counter
from typing import Any

LADDER = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
COARSEN = (60, 3600, 86400, 7 * 86400)  # counting resolutions; each divides the bucket sizes above it
MAX_KEYS = 200_000
TARGET_BUCKETS = 120
PLAUSIBLE = (946684800.0, 4102444800.0)  # 2000-01-01 .. 2100-01-01: other "timestamps" are ignored


class Timeline:
    """``add(host, level, ts)``; ``result()`` picks a bucket size from the time span."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.res = COARSEN[0]
        self.max_keys = max_keys
        self.counts: Counter[tuple[str, str, int]] = Counter()
        self.untimed = 0

    def add(self, host: str, level: str, ts: float | None) -> None:
        if ts is None or not PLAUSIBLE[0] <= ts < PLAUSIBLE[1]:
            self.untimed += 1
            return
        self.counts[(host, "warn" if level == "WARN" else "error", int(ts // self.res))] += 1
        if len(self.counts) > self.max_keys:
            self._coarsen()

    def add_many(self, host: str, levels: list[str], stamps: list[float | None]) -> None:
        """``add(host, levels[i], stamps[i])`` for each i."""
        lo, hi = PLAUSIBLE
        if not stamps or None in stamps or min(stamps) < lo or max(stamps) >= hi:  # type: ignore[type-var]
            for level, ts in zip(levels, stamps, strict=True):
                self.add(host, level, ts)
            return
        res = float(self.res)
        for (level, slot), n in Counter(zip(levels, map(int, map(res.__rfloordiv__, stamps)), strict=True)).items():  # type: ignore[arg-type]
            self.counts[(host, "warn" if level == "WARN" else "error", slot)] += n
        while len(self.counts) > self.max_keys and self._coarsen():
            pass

    def _coarsen(self) -> bool:
        bigger = [r for r in COARSEN if r > self.res]
        if not bigger:
            return False
        factor = bigger[0] // self.res
        self.res = bigger[0]
        merged: Counter[tuple[str, str, int]] = Counter()
        for (host, cls, slot), n in self.counts.items():
            merged[(host, cls, slot // factor)] += n
        self.counts = merged
        return True

    def merge(self, other: Timeline) -> None:
        """Add the counts of ``other`` (of other files), at the coarser of the two resolutions."""
        self.untimed += other.untimed
        while self.res < other.res and self._coarsen():
            pass
        factor = self.res // other.res
        for (host, cls, slot), n in other.counts.items():
            self.counts[(host, cls, slot // factor)] += n
        while len(self.counts) > self.max_keys and self._coarsen():
            pass

    def result(self, hosts: list[str]) -> dict[str, Any]:
        """The timeline section of the report (see docs/report.md)."""
        if not self.counts:
            return {"bucket_seconds": None, "start": None, "buckets": 0, "hosts": {}, "untimed": self.untimed}
        slots = [slot for _, _, slot in self.counts]
        lo, hi = min(slots) * self.res, (max(slots) + 1) * self.res
        bucket = next((b for b in LADDER if b >= self.res and (hi - lo) / b <= TARGET_BUCKETS), LADDER[-1])
        bucket = max(bucket, self.res)
        start = lo // bucket * bucket
        n = int((hi - start + bucket - 1) // bucket)
        names = sorted({h for h, _, _ in self.counts} | set(hosts))
        series = {h: {"error": [0] * n, "warn": [0] * n} for h in names}
        for (host, cls, slot), count in self.counts.items():
            idx = int((slot * self.res - start) // bucket)
            series[host][cls][min(idx, n - 1)] += count
        return {"bucket_seconds": bucket, "start": start, "buckets": n, "hosts": series, "untimed": self.untimed}


def spike(timeline: dict[str, Any]) -> dict[str, Any] | None:
    """The bucket with the most errors on one host, if it stands out (≥ 3× that host's median, ≥ 5)."""
    best = None
    for host, s in (timeline.get("hosts") or {}).items():
        errs = s["error"]
        if not errs:
            continue
        peak = max(errs)
        median = sorted(errs)[len(errs) // 2]
        if peak >= 5 and peak >= 3 * max(median, 1) and (best is None or peak > best["count"]):
            first = next(i for i, v in enumerate(errs) if v >= max(peak / 3, 5))
            width = timeline["bucket_seconds"]
            best = {"host": host, "count": peak, "at": timeline["start"] + errs.index(peak) * width,
                    "started": timeline["start"] + first * width}
    return best
