"""Report building blocks against hostile or odd input: huge lines, weird databases, markup in logs."""

from __future__ import annotations

import io
import json
import resource
import sqlite3
from pathlib import Path

from collector.report.logscan import MAX_LINE, LogScanner, iter_lines
from collector.report.render_html import render_html
from collector.report.render_text import clean
from collector.report.signatures import OTHER, SignatureTable, normalise
from collector.report.stats import summarize_db
from collector.report.timeline import Timeline
from tests.cryptokit import run


def test_normalise_removes_variable_parts() -> None:
    a = normalise(": user 'bob' from 10.1.2.3:55 id=0x1f uuid 123e4567-e89b-12d3-a456-426614174000 at 12:00:01")
    b = normalise(": user 'eve' from 10.9.9.9:1 id=0xff uuid 00000000-0000-4000-8000-000000000000 at 23:59:59")
    assert a == b == "user '<q>' from <ip> id=<hex> uuid <uuid> at <ts>"
    assert normalise("ORA-00600 internal error 42") == "ORA-00600 internal error <n>"
    assert normalise("x [REDACTED:email:a1b2c3] y") == "x [REDACTED] y"
    assert normalise("open /var/data/part-0042.db failed") == normalise("open /var/data/part-0917.db failed")


def test_a_50mb_line_without_newline_is_capped(tmp_path: Path) -> None:
    log = tmp_path / "huge.log"
    with open(log, "wb") as f:
        f.write(b"2026-11-24T08:00:00 ERROR first\n")
        f.write(b"2026-11-24T08:00:01 ERROR " + b"A" * (50 << 20))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scanner = LogScanner(2026)
    scanner.scan_file(log, "h", "huge.log")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 30, grown_mib  # the 50 MiB line is never held whole
    assert scanner.stats.truncated_lines == 1 and scanner.table.entries == 2
    sigs = scanner.table.ranked()
    assert max(len(s.example) for s in sigs) <= 2000


def test_iter_lines_skips_the_rest_of_a_long_line() -> None:
    data = b"a\n" + b"x" * (MAX_LINE * 3) + b"\nb\n"
    lines = list(iter_lines(io.BytesIO(data)))
    assert lines[0] == (b"a", False) and lines[1] == (b"x" * MAX_LINE, True) and lines[2] == (b"b", False)
    assert len(lines) == 3


def test_python_traceback_becomes_one_entry() -> None:
    text = (b"Traceback (most recent call last):\n  File \"x.py\", line 3, in <module>\n    f()\n"
            b"ValueError: bad value 42\n2026-11-24 08:00:00 INFO fine\n")
    scanner = LogScanner(2026)
    scanner._scan(io.BytesIO(text), "h", "f")
    (s,) = scanner.table.ranked()
    assert s.text == "ValueError: bad value <n>" and s.count == 1 and "File" in s.example


def test_signature_table_is_bounded() -> None:
    table = SignatureTable(max_signatures=5)
    for i in range(50):
        table.add("ERROR", f"distinct {chr(65 + i % 26)}{i}", "h", "f", i, None, "x")
    assert len(table.by_key) == 6 and any(s.text == OTHER for s in table.ranked())
    assert sum(s.count for s in table.ranked()) == 50


def test_timeline_coarsens_instead_of_growing() -> None:
    t = Timeline(max_keys=100)
    for i in range(5000):
        t.add("h", "ERROR", 1.8e9 + i * 600)
    assert len(t.counts) <= 100 and t.res > 60
    r = t.result(["h"])
    assert sum(r["hosts"]["h"]["error"]) == 5000 and r["buckets"] <= 120
    t.add("h", "ERROR", 12.0)  # 1970: not plausible, not on the timeline
    assert t.untimed == 1


def test_weird_stats_databases(tmp_path: Path) -> None:
    db_path = tmp_path / "weird.db"
    db = sqlite3.connect(db_path)
    db.executescript("""
        CREATE TABLE "we""ird; DROP TABLE x" ("ts" TEXT, "va""l" REAL, blob BLOB, "" INTEGER);
        INSERT INTO "we""ird; DROP TABLE x" VALUES ('2026-11-24T08:00:00', 1.5, x'00ff', 1),
                                                   ('2026-11-24T09:00:00', 1e308, NULL, 2),
                                                   ('not a time', 'text', x'01', NULL);
        CREATE TABLE empty (a, b);
        CREATE TABLE norowid (k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;
        INSERT INTO norowid VALUES ('a', 1), ('b', 9);
        CREATE VIEW boom AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c;
    """)
    db.close()
    s = summarize_db(db_path)
    assert s["error"] is None
    tables = {t["name"]: t for t in s["tables"]}
    assert set(tables) == {'we"ird; DROP TABLE x', "empty", "norowid"}  # the view is never run
    assert tables["empty"]["rows"] == 0 and max(x["max"] for x in tables["norowid"]["series"]) == 9
    weird = tables['we"ird; DROP TABLE x']
    assert weird["rows"] == 3 and weird["error"] is None
    json.dumps(s)
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    assert summarize_db(tmp_path / "junk.db")["error"]


def test_html_escapes_everything_from_the_bundle() -> None:
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    report = {
        "source": evil, "generated": "now", "bundle": {"format": evil, "created": evil, "status": evil},
        "case": {"title": evil, evil: evil}, "version_mismatches": [evil],
        "hosts": [{"name": evil, "status": "ok", "address": evil, "versions": {evil: evil}, "artifacts": {evil: 1},
                   "error": evil}],
        "failures": [{"host": evil, "probe": evil, "artifact": evil, "status": evil, "error": evil, "optional": 0}],
        "redaction": {"enabled": True, "total": 1, "files": 1, "by_rule": {evil: 1}},
        "errors": {"entries": 1, "by_level": {"ERROR": 1}, "files": 1, "lines": 1, "bytes": 1,
                   "distinct_signatures": 1, "shown": 1,
                   "signatures": [{"level": "ERROR", "count": 1, "signature": evil, "example": evil,
                                   "hosts": {evil: 1}, "first_seen": evil, "last_seen": evil,
                                   "example_at": {"file": evil, "line": 1, "host": evil}}]},
        "timeline": {"bucket_seconds": 60, "start": evil, "buckets": 2, "untimed": 0,
                     "hosts": {evil: {"error": [1, 3], "warn": [0, 0]}}, "spike": None},
        "config_diffs": [{"probe": evil, "file": evil, "same": [evil], "reference": evil, "notes": [evil],
                          "differing": [{"host": evil, "diff": "-" + evil + "\n+" + evil, "changed_lines": 2}]}],
        "stats": [{"host": evil, "file": evil, "error": evil, "notes": [evil], "tables": [
            {"name": evil, "rows": 1, "time_range": {"start": evil, "end": evil}, "error": evil,
             "series": [{"column": evil, "group": evil, "min": evil, "max": 1.0, "last": 2, "points": [1.0, None]}]}]}],
        "checks": [{"result": "fail", "host": evil, "probe": evil, "check": evil, "message": evil, "remedy": evil}],
    }
    page = render_html(report)
    assert "<script" not in page.lower() and "<img" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Content-Security-Policy" in page and "http://" not in page and "https://" not in page


def test_text_output_strips_terminal_escapes() -> None:
    assert clean("a\x1b[31mred\x07") == "a\\x1b[31mred\\x07"  # shown escaped, never sent raw
    assert clean("x\nsigned by y\u202e") == "x\\nsigned by y\\u202e"


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    proc = run("report", str(tmp_path / "nope.tar.zst"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    junk = tmp_path / "junk.tar.zst"
    junk.write_bytes(b"junk" * 100)
    proc = run("report", str(junk))
    assert proc.returncode == 4 and "not a casepack bundle" in proc.stderr
