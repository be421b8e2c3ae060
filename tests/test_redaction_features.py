"""User rules and allowlists, pseudonyms and unmask, SQLite rows, `casepack redact`, collection hooks."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from collector.artifacts import RunOptions
from probes.spec import Artifact
from redaction import Redactor, RuleError, parse_config
from redaction.pseudonym import load_mapping, unmask
from redaction.sqlite import redact_database
from tests.fakes import FakeTransport
from tests.test_engine import members, run


def redact(text: bytes, **kw) -> bytes:
    r = Redactor(salt=b"t", **kw)
    s = r.stream("f.conf")
    return s.feed(text) + s.close()


def test_user_rules_keys_keywords_and_allowlist() -> None:
    config = parse_config({"rules": [{"name": "ticket", "regex": r"TCK-(?P<s>\d{6})"}], "keys": ["license"],
                           "keywords": ["Acme Corp"], "allow": ["^demo-"]})
    out = redact(b"see TCK-123456 now\nlicense = L1C-99\npassword = demo-123\nuser from acme corp\n", config=config)
    assert b"123456" not in out and b"[REDACTED:user-ticket:" in out
    assert b"L1C-99" not in out and b"password = demo-123" in out
    assert b"acme corp" not in out.lower() and b"[REDACTED:keyword:" in out


@pytest.mark.parametrize("table, message", [
    ({"rules": [{"name": "x", "regex": "(unclosed"}]}, "bad regex"),
    ({"rules": [{"name": "x"}]}, "needs name"),
    ({"rules": [{"name": "x", "regex": "a*"}]}, "empty string"),
    ({"allow": ["[z-a]"]}, "bad regex"),
    ({"keywords": "Acme"}, "list of non-empty strings"),
    ({"nope": 1}, "unknown setting"),
])
def test_bad_user_rules_are_one_line_errors(table: dict, message: str) -> None:
    with pytest.raises(RuleError, match=message) as err:
        parse_config(table)
    assert "\n" not in str(err.value)


def test_bad_rule_in_case_file_exits_2(tmp_path: Path) -> None:
    case = tmp_path / "case.toml"
    case.write_text('[redaction]\nrules = [{name = "x", regex = "(oops"}]\n')
    proc = subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "redact", str(case),
                           "--case", str(case), "-o", str(tmp_path / "o")], capture_output=True, text=True)
    assert proc.returncode == 2 and "bad regex" in proc.stderr and "Traceback" not in proc.stderr


def test_pseudonyms_are_consistent_and_unmask_restores(tmp_path: Path) -> None:
    r = Redactor(salt=b"t", pseudonymize=True, config=parse_config({"keywords": ["Acme"]}))
    a, b = r.stream("a.log"), r.stream("b.log")
    out_a = a.feed(b"conn from 10.1.2.3 to db1.prod.example.com user=alice mac 00:1a:2b:3c:4d:5e\n") + a.close()
    out_b = b.feed(b"again 10.1.2.3 fe80::1 bob@acme.example.com Acme ticket, 127.0.0.1 v1.2.3.4\n") + b.close()
    assert b"10.1.2.3" not in out_a + out_b and out_a.count(b"ip-0001") == 1 and out_b.count(b"ip-0001") == 1
    assert b"host-0001" in out_a and b"user-0001" in out_a and b"mac-0001" in out_a
    assert b"ip6-0001" in out_b and b"email-0001" in out_b and b"name-0001" in out_b
    assert b"127.0.0.1" in out_b and b"v1.2.3.4" in out_b
    mapping = r.pseudonymizer.mapping()
    assert mapping["ip-0001"] == "10.1.2.3"
    reply = "Please check ip-0001 and host-0001 (user-0001)."
    assert unmask(reply, mapping) == "Please check 10.1.2.3 and db1.prod.example.com (alice)."


def test_sqlite_rows_redacted_integrity_ok_no_old_values(tmp_path: Path) -> None:
    src = tmp_path / "stats.db"
    db = sqlite3.connect(src)
    db.execute("create table users (id integer primary key, name text, password text, note text)")
    db.execute("create table kv (k text primary key, v text) without rowid")
    db.execute("create table metrics (t integer, cpu real)")
    db.execute("create trigger t1 after update on users begin insert into metrics values (0, 0); end")
    for i in range(200):
        db.execute("insert into users (name, password, note) values (?, ?, ?)",
                   (f"user{i}", f"RowSecret{i:04d}", f"login url postgres://u:NoteSecret{i}@db/x"))
        db.execute("insert into metrics values (?, ?)", (i, i / 3))
    db.execute("insert into kv values ('api_token', 'token=KvSecretTok1')")
    db.commit()
    db.close()
    dest = tmp_path / "out.db"
    counts = redact_database(str(src), str(dest), Redactor(salt=b"t"), "stats.db")
    raw = dest.read_bytes()
    assert b"RowSecret" not in raw and b"NoteSecret" not in raw and b"KvSecretTok1" not in raw
    out = sqlite3.connect(dest)
    assert out.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert out.execute("select count(*) from metrics").fetchone()[0] == 200  # trigger did not fire
    assert out.execute("select name from users where id = 5").fetchone()[0] == "user4"
    assert out.execute("pragma freelist_count").fetchone()[0] == 0
    assert counts["column-secret"] == 200 and counts["url-credentials"] == 200
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o600


def test_redact_command_tree_gz_sqlite_report_mapping(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "logs").mkdir(parents=True)
    (src / "app.conf").write_text("password = TreePw1\nhost = 10.9.8.7\n")
    with gzip.open(src / "logs" / "old.log.gz", "wb") as f:
        f.write(b"Authorization: Bearer TreeGzTok2 from 10.9.8.7\n")
    db = sqlite3.connect(src / "s.db")
    db.execute("create table t (secret text)")
    db.execute("insert into t values ('TreeDbSecret3')")
    db.commit()
    db.close()
    out, report = tmp_path / "out", tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "redact", str(src),
                           "-o", str(out), "--pseudonymize", "--report", str(report)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert b"TreePw1" not in (out / "app.conf").read_bytes() and b"ip-0001" in (out / "app.conf").read_bytes()
    gz = gzip.decompress((out / "logs" / "old.log.gz").read_bytes())
    assert b"TreeGzTok2" not in gz and b"ip-0001" in gz
    assert b"TreeDbSecret3" not in (out / "s.db").read_bytes()
    rep = json.loads(report.read_text())
    assert rep["files"]["app.conf"]["key-value"] == 1 and "TreePw1" not in report.read_text()
    mapping = Path(f"{out}.mapping.json")
    assert stat.S_IMODE(os.stat(mapping).st_mode) == 0o600 and load_mapping(mapping)["ip-0001"] == "10.9.8.7"
    proc = subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "unmask", "--mapping",
                           str(mapping), "-"], input="look at ip-0001\n", capture_output=True, text=True)
    assert proc.stdout == "look at 10.9.8.7\n"


def test_collection_redacts_stats_db_and_pseudonymizes(tmp_path: Path) -> None:
    src = tmp_path / "stats.db"
    db = sqlite3.connect(src)
    db.execute("create table c (host text, password text)")
    db.execute("insert into c values ('10.0.0.9', 'CollectDbPw1')")
    db.commit()
    db.close()
    t = FakeTransport(files={"/app.conf": b"password = CollectPw2\npeer = 10.0.0.9\n", "/stats.db": src.read_bytes()})
    arts = (Artifact("c", "config", paths=("/app.conf",)), Artifact("s", "stats", paths=("/stats.db",)))
    result = run(tmp_path, t, *arts, options=RunOptions(pseudonymize=True))
    body = members(result.path)
    conf = body["hosts/fake/t/config/app.conf"]
    assert b"CollectPw2" not in conf and b"10.0.0.9" not in conf and b"ip-0001" in conf
    stats = body["hosts/fake/t/stats/stats.db"]
    assert b"CollectDbPw1" not in stats and b"10.0.0.9" not in stats
    mapping = load_mapping(f"{result.path}.mapping.json")
    assert mapping == {"ip-0001": "10.0.0.9"}
    assert "10.0.0.9" not in json.dumps({k: v.decode("latin-1") for k, v in body.items()})
