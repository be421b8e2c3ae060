"""SQLite: key/value rows, views, triggers and full-text indexes keep no secret."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from redaction import Redactor
from redaction.sqlite import redact_database


def build(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript("""
        create table settings (id integer primary key, name text, value text);
        insert into settings (name, value) values ('smtp_password', 'KvSmtpPw-7781'), ('smtp_host', 'mail.local'),
            ('api.token', 'KvApiTok-5512'), ('retries', '5'), ('token_ttl', '3600');
        create table users (id integer primary key, login text, pin integer);
        insert into users (login, pin) values ('alice', 4321);
        create view admin_creds as select 'alice' as u, 'ViewSecretPw1' as password_literal
            where 'x' = 'x' and 'password' = 'ViewPw2' or 1;
        create view v_ok as select name from settings;
        create table audit (id integer primary key, stmt text);
        create trigger t_pw after insert on users begin
            insert into audit (stmt) values ('ALTER USER app PASSWORD ''TriggerPw-3''');
        end;
        create virtual table notes using fts5(body);
        insert into notes (body) values ('call alice, token=FtsTok3nSecret99 expires soon'),
            ('plain note about upgrades');
        create virtual table notes4 using fts4(body);
        insert into notes4 (body) values ('password=Fts4Passw0rd!x and more');
        create virtual table cl using fts5(body, content='');
        insert into cl (rowid, body) values (1, 'ContentlessSecret token=ClTok3nQ');
    """)
    db.commit()
    db.close()


def test_key_value_rows_views_triggers_and_fts(tmp_path: Path) -> None:
    src, dest = tmp_path / "in.db", tmp_path / "out.db"
    build(src)
    r = Redactor(salt=b"t")
    counts = redact_database(str(src), str(dest), r, "app.db")
    raw = dest.read_bytes()
    for secret in (b"KvSmtpPw-7781", b"KvApiTok-5512", b"ViewPw2", b"TriggerPw-3", b"FtsTok3nSecret99",
                   b"Fts4Passw0rd", b"ClTok3nQ"):
        assert secret not in raw, secret
    out = sqlite3.connect(dest)
    assert out.execute("pragma integrity_check").fetchone()[0] == "ok"
    rows = dict(out.execute("select name, value from settings"))
    assert rows["smtp_host"] == "mail.local" and rows["retries"] == "5" and rows["token_ttl"] == "3600"
    assert rows["smtp_password"].startswith("[REDACTED:kv-secret:")
    assert out.execute("select count(*) from v_ok").fetchone()[0] == 5
    # the FTS index answers from the cleaned text only
    assert out.execute("select count(*) from notes where notes match 'FtsTok3nSecret99'").fetchone()[0] == 0
    assert out.execute("select count(*) from notes where notes match 'upgrades'").fetchone()[0] == 1
    assert out.execute("select count(*) from notes where notes match 'alice'").fetchone()[0] == 1
    assert counts["fts-rebuilt"] == 2 and counts["fts-dropped"] == 1 and counts["kv-secret"] == 2
    names = {n for (n,) in out.execute("select name from sqlite_master")}
    assert "cl" not in names and "t_pw" in names and "admin_creds" in names
    out.execute("insert into users (login, pin) values ('bob', 1)")  # the re-created trigger still works
    assert "TriggerPw-3" not in out.execute("select stmt from audit").fetchone()[0]
    assert {a["rule"] for a in r.audit["app.db"]} >= {"kv-secret", "fts-dropped"}
    assert "KvSmtpPw" not in repr(r.audit)
