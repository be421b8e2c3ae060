"""Error signatures and log-line locations as SQL tables (in the bundle's index.sqlite, or another file)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlite_utils

from collector.errors import InputError
from collector.report.signatures import SignatureTable
from collector.safefile import copy_own_file, private_workdir, replace_with


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_index(table: SignatureTable, path: Path) -> int:
    """(Re)write tables ``error_signatures`` and ``error_lines`` in ``path``; returns the number of lines.

    The database is changed in a copy in a private directory beside ``path`` and renamed over it
    (0600): a symlink or another user's file at ``path`` is refused, never written through.
    """
    with private_workdir(path) as work:
        tmp = work / path.name
        copy_own_file(path, tmp)
        lines = _write_tables(table, tmp)
        replace_with(tmp, path)
    return lines


def _write_tables(table: SignatureTable, path: Path) -> int:
    try:
        db = sqlite_utils.Database(path)
    except Exception as exc:  # noqa: BLE001 - sqlite3 and sqlite_utils raise several kinds
        raise InputError(f"cannot write the index {path}: {exc}") from None
    try:
        for name in ("error_lines", "error_signatures"):
            db[name].drop(ignore=True)
        sigs = table.ranked()
        db["error_signatures"].insert_all(
            [{"id": s.id, "signature": s.text, "level": s.level, "count": s.count, "first_seen": _iso(s.first_seen),
              "last_seen": _iso(s.last_seen), "hosts": len(s.hosts), "example": s.example,
              "example_host": s.example_at[0], "example_file": s.example_at[1], "example_line": s.example_at[2]}
             for s in sigs],
            pk="id", columns={"first_seen": str, "last_seen": str, "example": str})
        if not sigs:
            db["error_signatures"].create({"id": int, "signature": str, "level": str, "count": int,
                                           "first_seen": str, "last_seen": str, "hosts": int, "example": str,
                                           "example_host": str, "example_file": str, "example_line": int},
                                          pk="id", if_not_exists=True)
        rows = [{"signature_id": s.id, "host": h, "file": f, "line_no": n, "ts": _iso(ts)}
                for s in sigs for h, f, n, ts in s.locations]
        db["error_lines"].insert_all(rows, columns={"signature_id": int, "host": str, "file": str, "line_no": int,
                                                    "ts": str}, foreign_keys=[("signature_id", "error_signatures")])
        if not rows:
            db["error_lines"].create({"signature_id": int, "host": str, "file": str, "line_no": int, "ts": str},
                                     if_not_exists=True)
        db["error_lines"].create_index(["signature_id"], if_not_exists=True)
        db.conn.commit()
        return len(rows)
    except Exception as exc:  # noqa: BLE001 - a read-only or broken index is reported, not a traceback
        raise InputError(f"cannot write the index {path}: {exc}", hint="use --index FILE or --no-index") from None
    finally:
        db.close()
