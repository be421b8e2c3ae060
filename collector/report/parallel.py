"""Scan several big log files on several cores: a worker process per file, merged in file order.

The bundle is already decrypted and extracted (``load.load_source``), so a worker gets a path and
reads the file itself: nothing is copied between processes but the per-file results (bounded:
signature aggregates, at most ``MAX_LOCATIONS_TOTAL`` locations, the timeline's counts). Results
are merged in the order the files would have been scanned (``SignatureTable.merge`` replays the
locations), so the report is the one a single process makes; a file whose table overflowed into the
"other" bucket is scanned again in order, in this process, where the bucket means the same.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path

from collector.report.logscan import LogScanner, ScanStats
from collector.report.signatures import SignatureTable
from collector.report.timeline import Timeline

MIN_BYTES = 64 << 20  # below this in all, one process is as fast (workers cost ~50 ms to start)


@dataclass
class LogFile:
    host: str
    name: str  # its path in the bundle
    path: Path | None  # None: not in the bundle


@dataclass
class _Part:
    table: SignatureTable
    timeline: Timeline
    stats: ScanStats


def jobs() -> int:
    """Worker processes: $CASEPACK_REPORT_JOBS, else the CPUs this process may use."""
    with suppress(ValueError):
        return max(1, int(os.environ.get("CASEPACK_REPORT_JOBS", "")))
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path else 0
    except OSError:
        return 0


def _scan_one(year: int, f: LogFile) -> _Part:
    scanner = LogScanner(year, table=SignatureTable(log=True))
    assert f.path is not None
    scanner.scan_file(f.path, f.host, f.name)
    return _Part(scanner.table, scanner.timeline, scanner.stats)


def scan_files(scanner: LogScanner, year: int, files: list[LogFile], workers: int | None = None) -> None:
    """Scan ``files`` in order into ``scanner``, on up to ``workers`` processes when it pays."""
    workers = min(workers or jobs(), sum(1 for f in files if f.path))
    if workers < 2 or sum(_size(f.path) for f in files) < MIN_BYTES:
        for f in files:
            _scan_here(scanner, f)
        return
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=_worker_signals)
    try:
        for f, part in zip(files, _parts(pool, year, files, 2 * workers), strict=True):
            if part is None or part.table.overflowed:
                _scan_here(scanner, f)
                continue
            scanner.table.merge(part.table)
            scanner.timeline.merge(part.timeline)
            st, more = scanner.stats, part.stats
            st.files, st.lines, st.bytes = st.files + more.files, st.lines + more.lines, st.bytes + more.bytes
            st.truncated_lines += more.truncated_lines
            st.unreadable += more.unreadable
    finally:  # also on Ctrl-C / SIGTERM in this process: the workers go with it
        pool.terminate()
        pool.join()


def _worker_signals() -> None:
    """Workers leave Ctrl-C to the parent and die on SIGTERM (no inherited handler, no traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _parts(pool: Pool, year: int, files: list[LogFile], ahead: int) -> Iterator[_Part | None]:
    """Each file's result in order; at most ``ahead`` files in flight (finished results wait bounded)."""
    pending: deque[AsyncResult[_Part] | None] = deque()
    todo = iter(files)
    while True:
        while len(pending) < ahead and (f := next(todo, None)) is not None:
            pending.append(pool.apply_async(_scan_one, (year, f)) if f.path else None)
        if not pending:
            return
        job = pending.popleft()
        try:
            yield job.get() if job is not None else None
        except Exception:  # noqa: BLE001 - scanned again in this process, where a real error is reported
            yield None


def _scan_here(scanner: LogScanner, f: LogFile) -> None:
    if f.path is None:
        scanner.stats.unreadable.append(f"{f.name}: not in the bundle")
    else:
        scanner.scan_file(f.path, f.host, f.name)
