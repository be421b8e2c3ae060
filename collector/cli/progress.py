"""Live progress on a terminal: a status block per host (the artifact now running, its elapsed time)
and a totals line, redrawn in place; each finished artifact and host is printed above it and stays."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

from collector import interrupt
from collector.bundle.casedoc import human_size
from collector.bundle.display import safe
from collector.bundle.manifest import ArtifactResult, HostResult

TICK = 0.5  # seconds between redraws
_MARK = {"ok": "ok", "missing": "MISSING", "skipped": "skipped", "denied": "DENIED", "failed": "FAILED",
         "timed_out": "TIMEOUT", "interrupted": "CUT"}


@dataclass
class _Host:
    started: float
    running: dict[str, list[float]] = field(default_factory=dict)  # task → start times (a name may repeat)
    done: int = 0
    total: int = 0
    size: int = 0
    finished: bool = False


class LiveProgress:
    """A :class:`~collector.engine.run.Reporter` that draws on a terminal; silent when ``enabled`` is false."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True, tick: float = TICK) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self._tick = tick
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {}
        self._drawn = 0  # lines of the status block now on screen
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- Reporter -------------------------------------------------------------------------------
    def host_started(self, host: str) -> None:
        with self._lock:
            self._hosts[host] = _Host(time.monotonic())
        self._ensure_ticker()
        self._redraw()

    def artifact_started(self, host: str, task: str, total: int) -> None:
        with self._lock:
            h = self._hosts.setdefault(host, _Host(time.monotonic()))
            h.total = max(h.total, total)
            h.running.setdefault(task, []).append(time.monotonic())
        self._redraw()

    def artifact_done(self, r: ArtifactResult) -> None:
        with self._lock:
            h = self._hosts.setdefault(r.host, _Host(time.monotonic()))
            starts = h.running.get(f"{r.probe}/{r.artifact}")
            if starts:  # one task may give several results (files): the first one finishes the task
                starts.pop(0)
                if not starts:
                    del h.running[f"{r.probe}/{r.artifact}"]
                h.done += 1
            h.size += r.size if r.path else 0
        self.log(artifact_line(r))

    def host_done(self, h: HostResult) -> None:
        with self._lock:
            state = self._hosts.setdefault(h.name, _Host(time.monotonic()))
            state.finished, state.running = True, {}
        self.log(f"[{safe(h.name)}] {h.status} in {h.duration:.1f}s{': ' + safe(h.error) if h.error else ''}")

    # --- drawing --------------------------------------------------------------------------------
    def log(self, text: str) -> None:
        """A line that stays, printed above the status block."""
        if not self.enabled:
            return
        with self._lock:
            self._write(self._clear() + self._fit(text) + "\n" + self._block())

    def close(self) -> None:
        """Stop redrawing and remove the status block (the summary follows)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.enabled:
            with self._lock:
                self._write(self._clear())

    def status_lines(self) -> list[str]:
        """The block as it is now: one line per host still running, then the totals."""
        now = time.monotonic()
        lines = []
        for name, h in self._hosts.items():
            if h.finished:
                continue
            if h.running:
                task, since = min(((t, s[0]) for t, s in h.running.items()), key=lambda ts: ts[1])
                more = f" +{sum(len(s) for s in h.running.values()) - 1}" if len(h.running) > 1 else ""
                doing = f"running {safe(task)} {now - since:.1f}s{more}"
            else:
                doing = "connecting…" if not h.total else "finishing…"
            lines.append(f"  [{safe(name)}] {doing}  ({h.done}/{h.total or '?'}, {human_size(h.size)})")
        done = sum(h.done for h in self._hosts.values())
        total = sum(h.total for h in self._hosts.values())
        size = sum(h.size for h in self._hosts.values())
        hosts_done = sum(h.finished for h in self._hosts.values())
        lines.append(f"  total: {done}/{total} artifacts, {human_size(size)}, hosts {hosts_done}/{len(self._hosts)}"
                     f", {now - self._started:.0f}s")
        return lines

    def _ensure_ticker(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="casepack-progress", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interrupt.worker_thread()  # signals go to the main thread
        while not self._stop.wait(self._tick):
            self._redraw()

    def _redraw(self) -> None:
        if not self.enabled or self._stop.is_set():
            return
        with self._lock:
            self._write(self._clear() + self._block())

    def _block(self) -> str:
        if self._stop.is_set() or interrupt.requested():  # after Ctrl-C the engine prints below: freeze
            self._drawn = 0
            return ""
        lines = [self._fit(line) for line in self.status_lines()]
        self._drawn = len(lines)
        return "".join(line + "\n" for line in lines)

    def _clear(self) -> str:
        if interrupt.requested():  # the last block stays above the engine's "interrupted" line
            self._drawn = 0
        text = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        self._drawn = 0
        return text

    def _fit(self, text: str) -> str:
        width = shutil.get_terminal_size((100, 24)).columns - 1  # a wrapped line would break the redraw
        return text if len(text) <= width else text[:max(width - 1, 1)] + "…"

    def _write(self, text: str) -> None:
        if text:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):  # a closed terminal must not fail the collection
                self.enabled = False


def artifact_line(r: ArtifactResult) -> str:
    size = human_size(r.size) if r.path else ""
    extra = r.error or ("truncated" if r.truncated else "")
    if r.check:
        extra = f"check {r.check['result']}: {r.check['message']}"
    return (f"[{safe(r.host)}] {safe(r.probe)}/{safe(r.artifact):<22} {_MARK.get(r.status, r.status):<8} "
            f"{size:>10}  {safe(extra, 200)}").rstrip()
