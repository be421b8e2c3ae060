"""Statistics databases: tables, row counts, time range, and numeric series (min / max / last, chart points).

The database comes from an untrusted bundle: it is opened read-only and immutable,
with ``trusted_schema`` off (no views or triggers run), only real tables are read, at
most ``MAX_ROWS`` newest rows of each are scanned (aggregated in SQL, never loaded),
and a deadline interrupts any query that runs too long.
"""

from __future__ import annotations

import re
import sqlite3
import time
import urllib.parse
from pathlib import Path
from typing import Any

MAX_TABLES = 50
MAX_ROWS = 200_000
MAX_SERIES_PER_TABLE = 12
MAX_SERIES_TOTAL = 80
MAX_GROUPS = 8
POINTS = 60
DEADLINE = 20.0  # seconds per database
SAMPLE = 200

_TIME_NAME = re.compile(r"(^|_)(ts|time|timestamp|date|datetime|epoch|created|updated|when)$|_at$|^t$", re.I)
_ID_NAME = re.compile(r"(^|_)(id|pk|rowid|key|seq|port|pid)$", re.I)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?")
_EPOCHS = ((1e9, 4.2e9, 1.0, "epoch_s"), (1e12, 4.2e12, 1e3, "epoch_ms"), (1e15, 4.2e15, 1e6, "epoch_us"))


def q(name: str) -> str:
    """A quoted SQL identifier (whatever the name holds)."""
    return '"' + name.replace('"', '""') + '"'


def _connect(path: Path, deadline: float) -> sqlite3.Connection:
    uri = "file:" + urllib.parse.quote(str(path.absolute())) + "?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, timeout=0.1)
    conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
    conn.execute("PRAGMA trusted_schema=OFF")
    conn.execute("PRAGMA query_only=ON")
    return conn


def _time_kind(name: str, values: list[Any]) -> tuple[str, float] | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    if all(isinstance(v, str) and _ISO.match(v) for v in vals):
        return "iso", 1.0
    if not _TIME_NAME.search(name) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
        return None
    for lo, hi, scale, kind in _EPOCHS:
        if all(lo <= v < hi for v in vals):
            return kind, scale
    return None


def _time_expr(col: str, kind: str, scale: float) -> str:
    if kind == "iso":
        return f"CAST(strftime('%s', {q(col)}) AS REAL)"
    return f"({q(col)} / {scale})"


def summarize_table(conn: sqlite3.Connection, table: str, budget: list[int]) -> dict[str, Any]:
    t = q(table)
    info: dict[str, Any] = {"name": table, "rows": None, "columns": [], "time_column": None, "time_range": None,
                            "scanned_rows": 0, "group_column": None, "series": [], "error": None}
    cols = [(str(r[1]), str(r[2] or "")) for r in conn.execute(f"PRAGMA table_info({t})")]
    info["columns"] = [c for c, _ in cols]
    info["rows"] = conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    if not cols or not info["rows"]:
        return info
    capped = f"(SELECT * FROM {t} ORDER BY rowid DESC LIMIT {MAX_ROWS})"
    try:
        sample = conn.execute(f"SELECT * FROM {capped} LIMIT {SAMPLE}").fetchall()
    except sqlite3.OperationalError:  # WITHOUT ROWID: the first rows, in key order
        capped = f"(SELECT * FROM {t} LIMIT {MAX_ROWS})"
        sample = conn.execute(f"SELECT * FROM {capped} LIMIT {SAMPLE}").fetchall()
    info["scanned_rows"] = min(info["rows"], MAX_ROWS)
    columns = {name: [row[i] for row in sample] for i, (name, _) in enumerate(cols)}
    time_col = next(((c, k) for c, v in columns.items() if (k := _time_kind(c, v))), None)
    texpr = None
    if time_col:
        col, (kind, scale) = time_col[0], time_col[1]
        texpr = _time_expr(col, kind, scale)
        lo, hi = conn.execute(f"SELECT min({texpr}), max({texpr}) FROM {capped}").fetchone()
        info["time_column"] = col
        if lo is not None and hi is not None:
            info["time_range"] = {"start": float(lo), "end": float(hi)}
    metrics = [c for c, v in columns.items()
               if (not time_col or c != time_col[0]) and not _ID_NAME.search(c)
               and any(x is not None for x in v)
               and all(x is None or (isinstance(x, int | float) and not isinstance(x, bool)) for x in v)]
    group_col, groups = None, [None]
    for c, v in columns.items():
        distinct = {x for x in v if x is not None}
        if c not in metrics and (not time_col or c != time_col[0]) and distinct \
                and all(isinstance(x, str) for x in distinct) and 2 <= len(distinct) <= MAX_GROUPS:
            found = [r[0] for r in conn.execute(f"SELECT DISTINCT {q(c)} FROM {capped} LIMIT {MAX_GROUPS + 1}")]
            if len(found) <= MAX_GROUPS:
                group_col, groups = c, sorted(found, key=lambda x: (x is None, str(x)))
                break
    info["group_column"] = group_col
    order = texpr or "rowid"
    for metric in metrics:
        for g in groups:
            if len(info["series"]) >= MAX_SERIES_PER_TABLE or budget[0] <= 0:
                return info
            budget[0] -= 1
            where = f"typeof({q(metric)}) IN ('integer', 'real')"
            args: tuple[Any, ...] = ()
            if group_col is not None:
                where += f" AND {q(group_col)} IS ?"
                args = (g,)
            mn, mx, n = conn.execute(f"SELECT min({q(metric)}), max({q(metric)}), count(*) FROM {capped} "
                                     f"WHERE {where}", args).fetchone()
            if not n:
                continue
            try:
                last = conn.execute(f"SELECT {q(metric)} FROM {capped} WHERE {where} ORDER BY {order} DESC LIMIT 1",
                                    args).fetchone()[0]
            except sqlite3.OperationalError:
                last = None
            info["series"].append({"column": metric, "group": g, "min": mn, "max": mx, "last": last, "count": n,
                                   "points": _points(conn, capped, metric, where, args, texpr, info["time_range"], n)})
    return info


def _points(conn: sqlite3.Connection, capped: str, metric: str, where: str, args: tuple[Any, ...],
            texpr: str | None, span: dict[str, float] | None, n: int) -> list[float | None]:
    """Up to ``POINTS`` averages, in time order (row order without a time column)."""
    if texpr and span and span["end"] > span["start"]:
        lo, width = span["start"], span["end"] - span["start"]
        bucket = f"CAST(({texpr} - {lo!r}) * {POINTS - 1} / {width!r} AS INTEGER)"
    else:
        bucket = f"CAST((row_number() OVER () - 1) * {POINTS} / {max(n, 1)} AS INTEGER)"
    rows = conn.execute(f"SELECT b, avg(v) FROM (SELECT {bucket} AS b, {q(metric)} AS v FROM {capped} "
                        f"WHERE {where}) WHERE b IS NOT NULL GROUP BY b ORDER BY b", args).fetchall()
    out: list[float | None] = [None] * POINTS
    for b, v in rows:
        if isinstance(b, int) and 0 <= b < POINTS:
            out[b] = float(v)
    last = max((i for i, v in enumerate(out) if v is not None), default=-1)
    out = out[:last + 1]
    return out[::-1] if not texpr and "DESC" in capped else out  # newest rows came first


def summarize_db(path: Path) -> dict[str, Any]:
    """``{"tables": [...], "error", "notes"}`` for one statistics database."""
    out: dict[str, Any] = {"tables": [], "error": None, "notes": []}
    deadline = time.monotonic() + DEADLINE
    try:
        conn = _connect(path, deadline)
    except sqlite3.Error as exc:
        out["error"] = f"cannot open: {exc}"
        return out
    budget = [MAX_SERIES_TOTAL]
    try:
        names = [str(r[0]) for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            f"ORDER BY name LIMIT {MAX_TABLES + 1}")]
        if len(names) > MAX_TABLES:
            out["notes"].append(f"more than {MAX_TABLES} tables: only the first {MAX_TABLES} are summarised")
        for name in names[:MAX_TABLES]:
            try:
                out["tables"].append(summarize_table(conn, name, budget))
            except (sqlite3.Error, OverflowError, ValueError) as exc:
                why = "took too long (the report's time limit)" if "interrupt" in str(exc) else str(exc)
                out["tables"].append({"name": name, "rows": None, "columns": [], "time_column": None,
                                      "time_range": None, "scanned_rows": 0, "group_column": None, "series": [],
                                      "error": why})
    except sqlite3.Error as exc:
        out["error"] = "took too long (the report's time limit)" if "interrupt" in str(exc) else str(exc)
    finally:
        conn.close()
    return out
