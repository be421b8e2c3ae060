"""Redact the rows of an SQLite database; the result opens, passes integrity_check, keeps old values nowhere.

The copy is loaded into memory and cleaned there:

* every text cell goes through the same engine as files; a column whose *name* is secret
  (``password``, ``api_token``) loses its whole value;
* key/value tables (a ``key``/``name``/``setting`` column beside a ``value`` column): the value of a
  row whose key names a secret (``smtp_password``) is redacted;
* view and trigger definitions (SQL text, e.g. a view holding ``password = 'x'``) are redacted and
  re-created; one that no longer compiles is dropped and recorded (``sql-dropped``);
* full-text (FTS3/4/5) tables: their rows are cleaned through the virtual table and the index is
  rebuilt from the cleaned content (``fts-rebuilt``) so no shadow table keeps an old term; an FTS
  table whose content cannot be read (contentless / external content) is dropped (``fts-dropped``);

and ``VACUUM INTO`` writes a fresh, compact file: no free page or journal holds an old value.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections import Counter

from redaction.engine import Redactor
from redaction.rules import NOT_SECRET, NOT_SECRET_SUFFIX, SECRET_WORDS

SECRET_COLUMN = re.compile(rb"(?:" + SECRET_WORDS + rb")", re.IGNORECASE)
SECRET_KEY_CELL = re.compile(rb"^[\w.:/\[\]-]*?(?:" + SECRET_WORDS + rb")[\w.:/\[\]-]*+$", re.IGNORECASE)
KEY_COLUMNS = ("key", "name", "k", "setting", "option", "param", "parameter", "property", "config_key", "var",
               "variable", "option_name", "setting_name", "attr", "attribute", "field")
VALUE_COLUMNS = ("value", "val", "v", "setting_value", "option_value", "data", "config_value", "content")
FTS_SHADOWS = ("_content", "_data", "_idx", "_docsize", "_config", "_segments", "_segdir", "_stat")
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
    audit: list[dict[str, object]] = []
    ctx = _Ctx(redactor, counts, audit)
    triggers = mem.execute("select name, sql from sqlite_master where type = 'trigger' and sql is not null").fetchall()
    for tname, _ in triggers:
        mem.execute(f"drop trigger {_quote(tname)}")
    fts = [t for (t, sql) in mem.execute("select name, sql from sqlite_master where type = 'table'").fetchall()
           if sql and re.match(r"(?is)\s*create\s+virtual\s+table.*\busing\s+fts[345]", sql)]
    shadows = {t + s for t in fts for s in FTS_SHADOWS}
    tables = mem.execute("select name, sql from sqlite_master where type = 'table' and name not like 'sqlite_%'"
                         " and sql not like 'CREATE VIRTUAL%'").fetchall()
    for table, sql in tables:
        if table not in shadows:
            _clean_table(mem, table, sql, ctx)
    for table in fts:
        _clean_fts(mem, table, ctx)
    _clean_views(mem, ctx)
    for tname, trigger_sql in triggers:
        new = _sql_text(ctx, trigger_sql)
        try:
            mem.execute(new)
        except sqlite3.Error:
            counts["sql-dropped"] += 1
            audit.append({"line": 0, "rule": "sql-dropped", "tag": redactor.tag(tname.encode())})
    mem.commit()
    if os.path.exists(dest):
        raise FileExistsError(dest)
    mem.execute("vacuum into ?", (dest,))
    mem.close()
    os.chmod(dest, 0o600)
    redactor.record(name, counts, audit)
    return counts


class _Ctx:
    def __init__(self, redactor: Redactor, counts: Counter, audit: list[dict[str, object]]) -> None:
        self.redactor, self.counts, self.audit = redactor, counts, audit

    def mark(self, rule: str, data: bytes, row: object) -> bytes:
        self.counts[rule] += 1
        tag = self.redactor.tag(data)
        self.audit.append({"line": row, "rule": rule, "tag": tag})
        return f"[REDACTED:{rule}:{tag}]".encode()


def _clean_table(mem: sqlite3.Connection, table: str, sql: str | None, ctx: _Ctx) -> None:
    info = mem.execute(f"pragma table_info({_quote(table)})").fetchall()
    columns = [row[1] for row in info]
    rowid = "without rowid" not in (sql or "").lower()
    key = ["rowid"] if rowid else [r[1] for r in info if r[5]]
    if not key:
        return
    lower = [c.lower() for c in columns]
    kcol = next((columns[lower.index(k)] for k in KEY_COLUMNS if k in lower), None)
    vcol = next((columns[lower.index(v)] for v in VALUE_COLUMNS if v in lower), None)
    select = ", ".join(_quote(c) if c != "rowid" else "rowid" for c in key + columns)
    for row in mem.execute(f"select {select} from {_quote(table)}").fetchall():
        keys, values = row[: len(key)], row[len(key):]
        cells = dict(zip(columns, values, strict=True))
        secret_row = kcol is not None and vcol is not None and kcol != vcol and _names_secret(cells[kcol])
        changes = {}
        for column, value in cells.items():
            if secret_row and column == vcol:
                new = _secret_value(ctx, value, "kv-secret", keys[0])
            else:
                new = _cell(ctx, column, value, keys[0])
            if new is not value:
                changes[column] = new
        if changes:
            sets = ", ".join(f"{_quote(c)} = ?" for c in changes)
            where = " and ".join(f"{_quote(k) if k != 'rowid' else 'rowid'} = ?" for k in key)
            mem.execute(f"update {_quote(table)} set {sets} where {where}", [*changes.values(), *keys])


def _names_secret(cell: object) -> bool:
    if isinstance(cell, str):
        cell = cell.encode("utf-8", "surrogatepass")
    if not isinstance(cell, bytes) or len(cell) > 200:
        return False
    return SECRET_KEY_CELL.match(cell) is not None and not NOT_SECRET_SUFFIX.search(cell)


def _as_bytes(value: object) -> bytes | None:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return value if isinstance(value, bytes) else None


def _back(value: object, new: bytes) -> object:
    return new.decode("utf-8", "replace") if isinstance(value, str) else new


def _secret_value(ctx: _Ctx, value: object, rule: str, row: object) -> object:
    data = _as_bytes(value)
    if data is None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return _back("", ctx.mark(rule, str(value).encode(), row))
        return value
    if not data or NOT_SECRET.match(data.strip()) or data.startswith(b"[REDACTED:") or ctx.redactor.allowed(data):
        return value
    return _back(value, ctx.mark(rule, data, row))


def _cell(ctx: _Ctx, column: str, value: object, row: object) -> object:
    data = _as_bytes(value)
    if data is None:
        return value
    col = column.encode()
    if SECRET_COLUMN.search(col) and not NOT_SECRET_SUFFIX.search(col):
        return _secret_value(ctx, value, "column-secret", row)
    new, found = ctx.redactor.redact_value(data)
    ctx.counts.update(found)
    return value if new == data else _back(value, new)


def _sql_text(ctx: _Ctx, sql: str) -> str:
    new, found = ctx.redactor.redact_value(sql.encode("utf-8", "surrogatepass"), "sql")
    ctx.counts.update({f"sql-{k}": v for k, v in found.items()})
    return new.decode("utf-8", "replace")


def _clean_views(mem: sqlite3.Connection, ctx: _Ctx) -> None:
    for view, sql in mem.execute("select name, sql from sqlite_master where type = 'view'").fetchall():
        new = _sql_text(ctx, sql or "")
        if new == sql:
            continue
        mem.execute(f"drop view {_quote(view)}")
        try:
            mem.execute(new)
        except sqlite3.Error:
            ctx.counts["sql-dropped"] += 1
            ctx.audit.append({"line": 0, "rule": "sql-dropped", "tag": ctx.redactor.tag(view.encode())})


def _clean_fts(mem: sqlite3.Connection, table: str, ctx: _Ctx) -> None:
    """Clean an FTS table through itself and rebuild its index; drop it when its content is not readable."""
    q = _quote(table)
    try:
        columns = [d[0] for d in mem.execute(f"select * from {q} limit 0").description]
        rows = mem.execute(f"select rowid, * from {q}").fetchall()
        if rows and all(v is None for r in rows for v in r[1:]):
            raise sqlite3.OperationalError("contentless")
        cleaned = [(r[0], [_cell(ctx, c, v, r[0]) for c, v in zip(columns, r[1:], strict=True)]) for r in rows]
        mem.execute(f"delete from {q}")
        marks = ", ".join("?" for _ in columns)
        names = ", ".join(_quote(c) for c in columns)
        mem.executemany(f"insert into {q} (rowid, {names}) values (?, {marks})", [(i, *v) for i, v in cleaned])
        mem.execute(f"insert into {q}({q}) values ('rebuild')")
        mem.execute(f"insert into {q}({q}) values ('optimize')")
        ctx.counts["fts-rebuilt"] += 1
    except sqlite3.Error:
        mem.execute(f"drop table {q}")
        ctx.counts["fts-dropped"] += 1
        ctx.audit.append({"line": 0, "rule": "fts-dropped", "tag": ctx.redactor.tag(table.encode())})
