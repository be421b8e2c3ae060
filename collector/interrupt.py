"""Ctrl-C, SIGTERM and SIGHUP: stop the workers, then either finish a partial result or unwind.

``install()`` (called by the CLI entry) routes SIGINT, SIGTERM and SIGHUP through one handler.

Inside :func:`graceful` (``collect`` while it collects), the first signal only *stops*: the running
commands are killed (each transport registers a killer, or polls :func:`requested`), :func:`check`
refuses to start new ones, and the main thread goes on to write a partial bundle of what was collected.

Otherwise — and for the second signal inside :func:`graceful` — the signal raises :class:`Terminated`
(a ``KeyboardInterrupt``) in the main thread: the spool directory, the raw database snapshots, a
``.partial`` bundle and ``open``'s unverified tree are removed by the code that made them. After a
graceful stop that second signal also arms a watchdog: if unwinding has not ended the process within
:data:`ABANDON_GRACE` seconds, the :func:`on_abort` hooks remove the temp files and the process exits.
Later signals while cleaning up are noted, not raised, so cleanup finishes.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
ABANDON_GRACE = 0.7  # seconds the main thread may unwind after an abandoning signal before the hard exit


class Terminated(KeyboardInterrupt):
    """The process got SIGINT, SIGTERM or SIGHUP; exit status 128 + signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.name = signal.Signals(signum).name


_stop = threading.Event()
_signum = 0
_lock = threading.Lock()
_killers: dict[int, Callable[[], None]] = {}
_ids = itertools.count()
_local = threading.local()


_graceful = 0  # depth of graceful() blocks
_raised = False  # a Terminated was raised in the main thread already
_aborts: dict[int, Callable[[], None]] = {}
_announce: Callable[[int], None] | None = None


def _handler(signum: int, frame: object) -> None:
    global _signum, _raised
    first = not _stop.is_set()
    _signum = _signum or signum
    if first and _graceful:
        stop()
        if _announce is not None:
            _announce(signum)
        return
    stop()
    if _raised:
        return  # already unwinding: let cleanup finish
    _raised = True
    if not first:  # a second signal after a graceful stop: abandon, and never wait long for it
        threading.Thread(target=_watchdog, args=(signum,), daemon=True).start()
    raise Terminated(signum)


def _watchdog(signum: int) -> None:
    threading.Event().wait(ABANDON_GRACE)
    run_abort_hooks()
    try:
        sys.stderr.write(f"casepack: {describe(signum)}; nothing written\n")
        sys.stderr.flush()
    finally:
        os._exit(128 + signum)


def describe(signum: int) -> str:
    """How the run ended, for one line on stderr: ``interrupted (Ctrl-C)`` or ``terminated by SIGTERM``."""
    return "interrupted (Ctrl-C)" if signum == signal.SIGINT else f"terminated by {signal.Signals(signum).name}"


@contextmanager
def graceful(announce: Callable[[int], None] | None = None) -> Iterator[None]:
    """Inside this block the first signal only stops the workers (see the module docstring)."""
    global _graceful, _announce
    _graceful += 1
    before, _announce = _announce, announce or _announce
    try:
        yield
    finally:
        _graceful -= 1
        _announce = before


def stop_signal() -> int:
    """The signal that asked for a stop (0: none)."""
    return _signum if _stop.is_set() else 0


def on_abort(hook: Callable[[], None]) -> int:
    """Until :func:`forget_abort`, a hard exit runs ``hook`` first (remove a temp dir or file)."""
    key = next(_ids)
    with _lock:
        _aborts[key] = hook
    return key


def forget_abort(key: int) -> None:
    with _lock:
        _aborts.pop(key, None)


def run_abort_hooks() -> None:
    """Run (once) what must not survive the process: temp dirs, a ``.partial`` bundle."""
    with _lock:
        hooks = list(_aborts.values())
        _aborts.clear()
    for hook in hooks:
        try:
            hook()
        except Exception:  # noqa: BLE001, S110 - best effort on the way out
            pass


def install() -> None:
    """Route SIGINT, SIGTERM and SIGHUP through :func:`_handler` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in SIGNALS:
        signal.signal(sig, _handler)


def worker_thread() -> None:
    """Thread-pool initializer: block SIGINT/SIGTERM/SIGHUP here so the kernel delivers them to the main thread.

    A signal caught by a worker only sets a flag; a main thread blocked in ``future.result()`` would
    never wake to run the handler. Threads a worker starts (timers, stderr readers) inherit the mask.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)


def stop() -> None:
    """Ask every worker to stop: set the flag and kill the commands running now."""
    _stop.set()
    with _lock:
        killers = list(_killers.values())
    for kill in killers:
        try:
            kill()
        except Exception:  # noqa: BLE001, S110 - a command that already ended
            pass


def requested() -> bool:
    return _stop.is_set()


def check() -> None:
    """Raise :class:`Terminated` in a worker once a stop was asked for (not inside :func:`cleanup`)."""
    if _stop.is_set() and not getattr(_local, "cleanup", False):
        raise Terminated(_signum or signal.SIGTERM)


def in_cleanup() -> bool:
    """Whether this thread runs inside :func:`cleanup` (its commands survive a stop)."""
    return bool(getattr(_local, "cleanup", False))


@contextmanager
def cleanup() -> Iterator[None]:
    """Commands in this block still run after a stop (they remove what the interrupted ones left)."""
    before = getattr(_local, "cleanup", False)
    _local.cleanup = True
    try:
        yield
    finally:
        _local.cleanup = before


def register(kill: Callable[[], None]) -> int:
    """Until :func:`unregister`, a stop calls ``kill`` (e.g. kill a command's process group)."""
    key = next(_ids)
    with _lock:
        _killers[key] = kill
    if _stop.is_set() and not getattr(_local, "cleanup", False):
        kill()  # the stop came between the check and the start
    return key


def unregister(key: int) -> None:
    with _lock:
        _killers.pop(key, None)


def reset() -> None:
    """Forget a stop (tests running several commands in one process)."""
    global _signum, _raised
    _stop.clear()
    _signum = 0
    _raised = False
