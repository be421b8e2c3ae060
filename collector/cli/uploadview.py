"""What ``casepack upload`` shows: a progress line with rate and ETA on a terminal, ``--events`` lines."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from collector.bundle.casedoc import human_size
from collector.bundle.display import safe
from collector.cli.events import EventLog
from collector.upload.receipt import Receipt

TICK = 0.25  # seconds between redraws of the progress line
EVENT_EVERY = 1.0  # seconds between upload_progress events


def eta_text(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class TerminalProgress:
    """``NAME  42%  430.0 MiB / 1.0 GiB  212.3 MiB/s  ETA 0:03`` redrawn in place on stderr."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._shown = 0.0
        self._start = 0.0
        self._base = -1  # bytes already on the server when this attempt began (a resume)

    def file_started(self, name: str, size: int, target: str) -> None:
        self._start, self._base, self._shown = time.monotonic(), -1, 0.0
        if self.enabled:
            self._write(f"sending {safe(name)} ({human_size(size)}) to {safe(target)}\n")

    def progress(self, name: str, done: int, size: int) -> None:
        now = time.monotonic()
        if self._base < 0:
            self._base, self._start = done, now
        if not self.enabled or (now - self._shown < TICK and done < size):
            return
        self._shown = now
        elapsed = max(now - self._start, 1e-6)
        rate = (done - self._base) / elapsed
        pct = 100.0 * done / size if size else 100.0
        eta = eta_text((size - done) / rate) if rate > 0 else "?"
        self._write(f"\r  {pct:3.0f}%  {human_size(done)} / {human_size(size)}  {human_size(rate)}/s  ETA {eta}"
                    "\x1b[K")

    def retrying(self, name: str, reason: str, wait: float, attempt: int) -> None:
        if self.enabled:
            self._write(f"\r\x1b[K  {safe(reason, 200)}; retry {attempt} in {wait:.0f} s\n")
        self._base = -1

    def file_done(self, receipt: Receipt) -> None:
        if self.enabled:
            self._write("\r\x1b[K")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False


class UploadEvents:
    """``upload_started``, ``upload_progress`` (at most once a second), ``upload_retry``, ``upload_done``."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._last = 0.0

    def file_started(self, name: str, size: int, target: str) -> None:
        self.log.emit("upload_started", file=name, bytes=size, target=target)

    def progress(self, name: str, done: int, size: int) -> None:
        now = time.monotonic()
        if now - self._last >= EVENT_EVERY or done >= size:
            self._last = now
            self.log.emit("upload_progress", file=name, done=done, bytes=size)

    def retrying(self, name: str, reason: str, wait: float, attempt: int) -> None:
        self.log.emit("upload_retry", file=name, reason=reason, wait=wait, attempt=attempt)

    def file_done(self, receipt: Receipt) -> None:
        self.log.emit("upload_done", **receipt.to_dict())


class Both:
    """Several upload reporters as one."""

    def __init__(self, *reporters: object) -> None:
        self.reporters = [r for r in reporters if r is not None]

    def __getattr__(self, name: str) -> object:
        def call(*args: object) -> None:
            for r in self.reporters:
                getattr(r, name)(*args)
        return call
