"""SIGTERM and SIGHUP take the same way out as Ctrl-C, so every ``finally:`` cleans up.

``install()`` (called by the CLI entry) turns the first SIGTERM/SIGHUP into :class:`Terminated`, a
``KeyboardInterrupt`` raised in the main thread: the spool directory, the raw database snapshots, a
``.partial`` bundle and ``open``'s unverified tree are removed by the code that made them. Worker
threads are stopped too: the commands they run are killed (each transport registers a killer while a
command runs) and :func:`check` refuses to start new ones, except inside :func:`cleanup` (removing a
temp dir on a host). A second signal while cleaning up is noted, not raised, so cleanup finishes.
"""

from __future__ import annotations

import itertools
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """The process got SIGTERM or SIGHUP; exit status 128 + signal number."""

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


def _handler(signum: int, frame: object) -> None:
    global _signum
    first = not _stop.is_set()
    _signum = _signum or signum
    stop()
    if first:
        raise Terminated(signum)


def install() -> None:
    """Route SIGTERM and SIGHUP through :func:`_handler` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in SIGNALS:
        signal.signal(sig, _handler)


def worker_thread() -> None:
    """Thread-pool initializer: block SIGTERM/SIGHUP here so the kernel delivers them to the main thread.

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
    global _signum
    _stop.clear()
    _signum = 0
