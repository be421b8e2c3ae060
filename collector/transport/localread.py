"""Reading a file of this machine in casepack's own process, instead of through ``cat``/``tail -c +N``.

Collecting locally, ``cat`` costs a process chain (``sh``, ``timeout``, ``ionice``, ``nice``, ``sh``,
``cat``), a second copy of every byte through a pipe and a wake-up per 64 KiB pipe buffer: ~0.5 s
of CPU per GB of log, about 5 % of a local collect (docs/write-path.md). Reading the file here does
what the command did — bytes from ``offset`` to the end of the file as it is while read, the same
deadline and stop handling, the same low I/O priority — and hands anything it cannot do the same
way back to the command (:meth:`collector.transport.host.Host.read`): a file that cannot be opened
or read from its first byte (missing, denied, a directory, a FIFO or device), or whose size is 0 (empty,
or a /proc-like file, which may block: the command's timeout can end it, a read here could not), so the
errors, their messages and the fall-back to sudo stay those of the command.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat
import time

from collector import interrupt
from collector.transport.base import CHUNK, CommandResult, Sink, SinkFull

# ioprio_get / ioprio_set syscall numbers; elsewhere the read runs at the thread's I/O priority
_IOPRIO_SYSCALLS = {"x86_64": (252, 251), "aarch64": (31, 30), "arm64": (31, 30), "i686": (290, 289),
                    "armv7l": (315, 314), "ppc64le": (274, 273), "s390x": (283, 282)}
_IOPRIO_WHO_PROCESS = 1  # with who = 0: the calling thread
GENTLE_IOPRIO = (2 << 13) | 7  # best effort, lowest level: what ``ionice -c2 -n7`` in gentle() sets
_libc: ctypes.CDLL | None = None


def _syscall(nr: int, *args: int) -> int:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return int(_libc.syscall(nr, *args))


class _GentleIO:
    """This thread at the I/O priority of ``ionice -c2 -n7`` while reading; the previous one restored after."""

    def __init__(self, on: bool) -> None:
        self._nrs = _IOPRIO_SYSCALLS.get(platform.machine()) if on else None
        self._before: int | None = None

    def __enter__(self) -> None:
        if self._nrs is None:
            return
        try:
            before = _syscall(self._nrs[0], _IOPRIO_WHO_PROCESS, 0)
            if before >= 0 and before != GENTLE_IOPRIO and _syscall(self._nrs[1], _IOPRIO_WHO_PROCESS, 0,
                                                                     GENTLE_IOPRIO) == 0:
                self._before = before
        except (OSError, AttributeError):  # no libc syscall(): the thread's own priority
            pass

    def __exit__(self, *exc: object) -> None:
        if self._nrs is not None and self._before is not None:
            _syscall(self._nrs[1], _IOPRIO_WHO_PROCESS, 0, self._before)


def read_here(path: str, sink: Sink, *, offset: int, timeout: float, gentle: bool) -> CommandResult | None:
    """Stream ``path`` from ``offset`` to its end into ``sink``, as ``cat``/``tail -c +N`` would.

    Returns what the command's run would have returned (exit 0; ``stopped`` when the sink is full;
    ``timed_out`` past ``timeout`` seconds; exit 1 with the command's message on a read error after
    the first byte), or None when the command should run instead: the file cannot be opened, is not
    a regular file, has size 0, or its first read fails — the command then fails (or succeeds with sudo)
    as before.
    """
    interrupt.check()  # SIGTERM/SIGHUP: no new read, except cleanup (as LocalConnection.execute)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)  # a FIFO must not block here
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not st.st_size:  # size 0: empty, or /proc-like (may block, e.g. kmsg)
            return None
        os.set_blocking(fd, True)
        if offset:
            os.lseek(fd, offset, os.SEEK_SET)  # past the end: nothing to read, as tail prints nothing
        end = time.monotonic() + timeout
        started = False
        with _GentleIO(gentle):
            while True:
                try:
                    data = os.read(fd, CHUNK)
                except OSError as exc:
                    if not started:
                        return None
                    return CommandResult(1, _message(path, offset, exc))
                started = True
                if not data:
                    break
                try:
                    sink(data)
                except SinkFull:
                    return CommandResult(0, "", stopped=True)
                interrupt.check()  # a stop ends the read as it killed the command
                if time.monotonic() > end:
                    return CommandResult(None, "", timed_out=True)
    finally:
        os.close(fd)
    return CommandResult(0, "")


def _message(path: str, offset: int, exc: OSError) -> str:
    """The line coreutils prints for a failed read (what the command path would quote)."""
    reason = os.strerror(exc.errno or errno.EIO)
    return f"tail: error reading '{path}': {reason}" if offset else f"cat: {path}: {reason}"
