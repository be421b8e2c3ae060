"""Leaving the process: normally ``sys.exit``; after a stop signal, at once (workers may still be winding down)."""

from __future__ import annotations

import os
import sys
import threading
import time

from collector import interrupt

WORKER_WAIT = 0.5  # seconds an interrupted run waits for its workers to kill their commands before exiting


def exit_now(code: int) -> None:
    """Exit; after a stop at once, without waiting for a worker thread that is still winding down."""
    if not interrupt.stop_signal():
        sys.exit(code)
    end = time.monotonic() + WORKER_WAIT  # workers kill their commands (remote ones from a fresh channel)
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, end - time.monotonic()))
    interrupt.run_abort_hooks()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
