"""Consistent copies of SQLite statistics databases, even while a server writes them.

First choice: the transport's own snapshot (``VACUUM INTO`` — one read
transaction, so a busy writer cannot tear or restart it — locally through the
sqlite3 module, on a remote host through its ``sqlite3`` CLI). Fallback: copy the database with its
``-wal`` / ``-journal`` files, let SQLite recover the copy, verify it with
``PRAGMA integrity_check`` and retry a bounded number of times.
"""

from __future__ import annotations

import os
import sqlite3
import time

from collector.errors import ArtifactError
from collector.transport.host import Host

ATTEMPTS = 5


def integrity_ok(path: str) -> tuple[bool, str]:
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute("PRAGMA integrity_check").fetchall()
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        return False, str(exc)
    text = "; ".join(str(r[0]) for r in rows[:3])
    return text == "ok", text


def copy_database(transport: Host, path: str, dest: str, *, timeout: float, as_root: bool,
                  spool_dir: str) -> str:
    """Write a consistent copy of ``path`` to local ``dest``; return how it was obtained."""
    reasons = []
    try:
        method = transport.sqlite_backup(path, dest, timeout=timeout, as_root=as_root)
        ok, detail = integrity_ok(dest)
        if ok:
            return f"{method}; integrity_check ok"
        reasons.append(f"{method} gave a copy failing integrity_check: {detail}")
    except ArtifactError as exc:
        if exc.status in ("missing", "timed_out"):
            raise
        reasons.append(exc.reason)
    for attempt in range(1, ATTEMPTS + 1):
        raw = os.path.join(spool_dir, f"raw-{os.getpid()}-{attempt}.sqlite")
        try:
            copied = _copy_files(transport, path, raw, timeout, as_root)
            ok, detail = integrity_ok(raw)
            if ok:
                _clean_copy(raw, dest)
                return f"file copy of {'+'.join(copied)} (attempt {attempt}); integrity_check ok"
            reasons.append(f"attempt {attempt}: {detail}")
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists(raw + suffix):
                    os.unlink(raw + suffix)
        time.sleep(0.1 * 2**attempt)  # 0.2 … 3.2 s: let a periodic writer finish its burst
    raise ArtifactError("failed", "no consistent copy: " + " | ".join(reasons))


def _copy_files(transport: Host, path: str, raw: str, timeout: float, as_root: bool) -> list[str]:
    copied = []
    for suffix in ("", "-wal", "-journal"):
        if suffix and transport.stat(path + suffix, as_root=as_root) is None:
            continue
        with open(raw + suffix, "wb") as f:
            try:
                transport.read(path + suffix, f.write, timeout=timeout, as_root=as_root)
            except ArtifactError:
                if not suffix:
                    raise
                continue
        copied.append(os.path.basename(path + suffix))
    return copied


def _clean_copy(raw: str, dest: str) -> None:
    """Fold the WAL into one self-contained file at ``dest``."""
    src = sqlite3.connect(raw)
    try:
        out = sqlite3.connect(dest)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()
