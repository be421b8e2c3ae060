"""Redact the rows of an SQLite database; the result opens, passes integrity_check, keeps old values nowhere.

The copy is loaded into memory, every text cell goes through the same engine as
files (a column whose *name* is secret — ``password``, ``api_token`` — loses its
whole value), and ``VACUUM INTO`` writes a fresh, compact file: no free page or
journal holds an old value.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections import Counter

from redaction.engine import Redactor
from redaction.rules import NOT_SECRET, NOT_SECRET_SUFFIX, SECRET_WORDS

SECRET_COLUMN = re.compile(rb"(?:" + SECRET_WORDS + rb")", re.IGNORECASE)
MAGIC = b"SQLite format 3\x00"


def is_sqlite(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == MAGIC
    except OSError:
        return False


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def redact_database(src: str, dest: str, redactor: Redactor, name: str) -> Counter:
    """Write a redacted copy of database ``src`` to ``dest`` (which must not exist); return the counts."""
    mem = sqlite3.connect(":memory:")
    disk = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        disk.backup(mem)
    finally:
        disk.close()
    counts: Counter = Counter()
    triggers = mem.execute("select sql from sqlite_master where type = 'trigger' and sql is not null").fetchall()
    for (tname,) in mem.execute("select name from sqlite_master where type = 'trigger'").fetchall():
        mem.execute(f"drop trigger {_quote(tname)}")
    tables = mem.execute("select name, sql from sqlite_master where type = 'table' and name not like 'sqlite_%'"
                         " and sql not like 'CREATE VIRTUAL%'").fetchall()
    for table, sql in tables:
        columns = [row[1] for row in mem.execute(f"pragma table_info({_quote(table)})")]
        rowid = "without rowid" not in (sql or "").lower()
        key = ["rowid"] if rowid else [r[1] for r in mem.execute(f"pragma table_info({_quote(table)})") if r[5]]
        if not key:
            continue
        select = ", ".join(_quote(c) if c != "rowid" else "rowid" for c in key + columns)
        rows = mem.execute(f"select {select} from {_quote(table)}").fetchall()
        for row in rows:
            keys, values = row[: len(key)], row[len(key):]
            changes = {}
            for column, value in zip(columns, values, strict=True):
                new = _cell(redactor, column, value, counts)
                if new is not value:
                    changes[column] = new
            if changes:
                sets = ", ".join(f"{_quote(c)} = ?" for c in changes)
                where = " and ".join(f"{_quote(k) if k != 'rowid' else 'rowid'} = ?" for k in key)
                mem.execute(f"update {_quote(table)} set {sets} where {where}", [*changes.values(), *keys])
    for (trigger_sql,) in triggers:
        mem.execute(trigger_sql)
    mem.commit()
    if os.path.exists(dest):
        raise FileExistsError(dest)
    mem.execute("vacuum into ?", (dest,))
    mem.close()
    os.chmod(dest, 0o600)
    redactor.record(name, counts)
    return counts


def _cell(redactor: Redactor, column: str, value: object, counts: Counter) -> object:
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
    elif isinstance(value, bytes):
        data = value
    else:
        return value
    col = column.encode()
    secret_column = SECRET_COLUMN.search(col) and not NOT_SECRET_SUFFIX.search(col)
    if data and secret_column and not NOT_SECRET.match(data.strip()) and not data.startswith(b"[REDACTED:") \
            and not redactor.allowed(data):
        counts["column-secret"] += 1
        new = redactor.marker("column-secret", data)
    else:
        new, found = redactor.redact_value(data)
        counts.update(found)
        if new == data:
            return value
    return new.decode("utf-8", "replace") if isinstance(value, str) else new
