"""User rules and allowlists, pseudonyms and unmask, SQLite rows, `casepack redact`, collection hooks."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from collector.engine.artifacts import RunOptions
from probes.spec import Artifact
from redaction import Redactor, RuleError, casekey, parse_config
from redaction.pseudonym import load_mapping, unmask
from redaction.sqlite import redact_database
from tests.fakes import FakeTransport
from tests.test_engine import members, run

KEY = bytes(range(32))


@pytest.fixture(autouse=True)
def case_key() -> object:
    """Every run here uses KEY (as with --case-key), so pseudonyms are known in advance."""
    casekey.use_key(KEY, "test")
    yield
    casekey.reset()


def pn(prefix: str, value: str, key: bytes = KEY) -> str:
    """The documented pseudonym, computed independently: kind + 16 hex digits of HMAC-SHA256(key, kind NUL value)."""
    import hmac

    message = prefix.encode() + b"\0" + value.encode()
    return f"{prefix}-{hmac.digest(key, message, 'sha256')[:8].hex()}"


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
    ip = pn("ip", "10.1.2.3").encode()
    assert b"10.1.2.3" not in out_a + out_b and out_a.count(ip) == 1 and out_b.count(ip) == 1
    assert pn("host", "db1.prod.example.com").encode() in out_a and pn("user", "alice").encode() in out_a
    assert pn("mac", "00:1a:2b:3c:4d:5e").encode() in out_a
    assert pn("ip6", "fe80::1").encode() in out_b and b"email-" in out_b and b"bob" not in out_b
    assert pn("name", "acme").encode() in out_b
    assert b"127.0.0.1" in out_b and b"v1.2.3.4" in out_b
    mapping = r.pseudonymizer.mapping()
    assert mapping[pn("ip", "10.1.2.3")] == "10.1.2.3"
    reply = f"Please check {pn('ip', '10.1.2.3')} and {pn('host', 'db1.prod.example.com')} ({pn('user', 'alice')})."
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
    mapping = Path(f"{out}.mapping.json")
    ip = {v: k for k, v in load_mapping(mapping).items()}["10.9.8.7"]  # a random run key: not known in advance
    assert b"TreePw1" not in (out / "app.conf").read_bytes() and ip.encode() in (out / "app.conf").read_bytes()
    gz = gzip.decompress((out / "logs" / "old.log.gz").read_bytes())
    assert b"TreeGzTok2" not in gz and ip.encode() in gz
    assert b"TreeDbSecret3" not in (out / "s.db").read_bytes()
    rep = json.loads(report.read_text())
    assert rep["files"]["app.conf"]["key-value"] == 1 and "TreePw1" not in report.read_text()
    assert stat.S_IMODE(os.stat(mapping).st_mode) == 0o600
    proc = subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "unmask", "--mapping",
                           str(mapping), "-"], input=f"look at {ip}\n", capture_output=True, text=True)
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
    conf = body[f"hosts/{pn('name', 'fake')}/t/config/app.conf"]  # the host's own name is pseudonymized too
    assert b"CollectPw2" not in conf and b"10.0.0.9" not in conf and pn("ip", "10.0.0.9").encode() in conf
    stats = body[f"hosts/{pn('name', 'fake')}/t/stats/stats.db"]
    assert b"CollectDbPw1" not in stats and b"10.0.0.9" not in stats
    mapping = load_mapping(f"{result.path}.mapping.json")
    assert mapping == {pn("ip", "10.0.0.9"): "10.0.0.9", pn("name", "fake"): "fake"}
    assert "10.0.0.9" not in json.dumps({k: v.decode("latin-1") for k, v in body.items()})


IDENTIFIERS = (b"conn 10.1.2.3:80 -> 192.168.0.1, 10.1.2.3 again; keep 127.0.0.1 0.1.2.3 v1.2.3.4 300.1.2.3 1.2.3.256 "
               b"1.2.3.4.5 10.0.0.1x\n"
               b"1.2.3.4 at line start; 255.255.255.255. end; [10.9.9.9]:443 x=172.16.0.10,172.16.0.11\n"
               b"inet6 2001:0db8:85a3:0000:0000:8a2e:0370:7334/64 peer [2001:db8:1:2:3:4:5:6]:443\n"
               b"mapped 0:0:0:0:0:ffff:192.0.2.1 nat64 64:ff9b::192.0.2.33 short 2001:db8::1 loop ::1 "
               b"time 12:34:56:78\n"
               b"FE80:0000:0000:0000:0202:B3FF:FE1E:8329 and fe80:0:0:0:202:b3ff:fe1e:8329 and 1:2:3:4:5:6:7:8:9\n"
               b"mac 00:1a:2b:3c:4d:5e 00-1A-2B-3C-4D-5F mail bob.smith@corp.example.com host db1.prod.example.com\n"
               b"user=alice login: carol /home/dave owner=root User=Erin\n")


@pytest.mark.parametrize("scanner", ["re", "hyperscan"])
def test_identifier_shapes_ipv4_ipv6_full_and_embedded(scanner: str) -> None:
    if scanner == "hyperscan":
        pytest.importorskip("hyperscan")
    r = Redactor(salt=b"t", pseudonymize=True, scanner=scanner)
    s = r.stream("ids.log")
    out = s.feed(IDENTIFIERS) + s.close()
    lines = out.decode().splitlines()
    ip, ip6 = (lambda v: pn("ip", v)), (lambda v: pn("ip6", v))
    assert lines[0] == (f"conn {ip('10.1.2.3')}:80 -> {ip('192.168.0.1')}, {ip('10.1.2.3')} again; keep 127.0.0.1 "
                        "0.1.2.3 v1.2.3.4 300.1.2.3 1.2.3.256 1.2.3.4.5 10.0.0.1x")
    assert lines[1] == (f"{ip('1.2.3.4')} at line start; {ip('255.255.255.255')}. end; [{ip('10.9.9.9')}]:443 "
                        f"x={ip('172.16.0.10')},{ip('172.16.0.11')}")
    assert lines[2] == f"inet6 {ip6('2001:db8:85a3::8a2e:370:7334')}/64 peer [{ip6('2001:db8:1:2:3:4:5:6')}]:443"
    assert lines[3] == (f"mapped {ip6('::ffff:c000:201')} nat64 {ip6('64:ff9b::c000:221')} short "
                        f"{ip6('2001:db8::1')} loop ::1 time 12:34:56:78")
    one = ip6("fe80::202:b3ff:fe1e:8329")
    assert lines[4] == f"{one} and {one} and 1:2:3:4:5:6:7:8:9"  # one address, two spellings
    for kind, value in (("mac", "00:1a:2b:3c:4d:5e"), ("mac", "00:1a:2b:3c:4d:5f"),  # 00-1A-… normalised
                        ("email", "bob.smith@corp.example.com"), ("host", "db1.prod.example.com")):
        assert pn(kind, value) in lines[5]
    assert lines[6] == (f"user={pn('user', 'alice')} login: {pn('user', 'carol')} /home/{pn('user', 'dave')} "
                        f"owner=root User={pn('user', 'Erin')}")
    for real in (b"192.0.2", b"8a2e", b"0db8", b"alice", b"bob.smith"):
        assert real not in out
    mapping = r.pseudonymizer.mapping()
    assert mapping[ip("10.1.2.3")] == "10.1.2.3" and mapping[ip6("2001:db8:85a3::8a2e:370:7334")] == (
        "2001:db8:85a3::8a2e:370:7334")


@pytest.mark.skipif(importlib.util.find_spec("hyperscan") is None, reason="hyperscan not installed")
def test_pseudonyms_identical_pure_and_hyperscan_in_any_chunking() -> None:
    data = IDENTIFIERS * 50 + b"password = Secret1 from 10.7.7.7\n" + IDENTIFIERS
    outs = set()
    for scanner in ("re", "hyperscan"):
        for chunk in (1, 333, len(data)):
            r = Redactor(salt=b"t", pseudonymize=True, scanner=scanner)
            s = r.stream("ids.log")
            outs.add(b"".join(s.feed(data[i:i + chunk]) for i in range(0, len(data), chunk)) + s.close())
    assert len(outs) == 1


def test_pure_scanner_finds_every_line_with_an_anchor() -> None:
    """The pure scanner enters each anchor at its rarest byte: check it against the plain definition."""
    import random

    from redaction.scan import PureScanner
    r = Redactor(salt=b"t")
    anchors = sorted({a for rule in r.rules for a in rule.anchors} | {b"-----begin", b"data:", b'data"'})
    scanner = PureScanner(anchors)
    rnd = random.Random(5)
    filler = [b"info", b"GET /x", b"10.1.2.3", b"a-b", b"x:y", b"[1]", b"_", b"{", b"}", b"k", b"q", b"w", b"ur"]
    lines = []
    for i in range(4000):
        words = [rnd.choice(filler) for _ in range(rnd.randrange(1, 6))]
        if i % 3 == 0:
            a = rnd.choice(anchors)
            a = bytes(c if rnd.random() < 0.5 else bytes([c]).upper()[0] for c in a)
            cut = rnd.randrange(len(a)) if i % 7 == 0 else None  # a broken anchor must not count
            words.insert(rnd.randrange(len(words) + 1), a if cut is None else a[:cut] + b" " + a[cut:])
        lines.append(b" ".join(words) + b"\n")
    block = b"".join(lines)
    expected, pos = [], 0
    for line in lines:
        if any(a in line.lower() for a in anchors):
            expected.append(pos)
        pos += len(line)
    assert scanner.line_starts(block) == expected


def test_sasl_passwd_lines_and_json_objects_under_secret_keys() -> None:
    out = redact(b"relayhost = [smtp.example.com]:587\n[smtp.example.com]:587 me@example.com:SaslPw1\n")
    assert b"SaslPw1" not in out and b"relayhost = [smtp.example.com]:587\n" in out
    r = Redactor(salt=b"t")
    s = r.stream("etc/postfix/sasl_passwd")
    out = s.feed(b"# x:y\nsmtp.example.net  carol:Sasl Pw 2\n") + s.close()
    assert out.startswith(b"# x:y\nsmtp.example.net  carol:[REDACTED:sasl-passwd:") and b"Pw 2" not in out
    text = b'{"db": {"password": {"pin": 123456, "port": 5432}}, "auth_token": {"value": 0.5e3}, "n": 7}\n'
    out = redact(text)
    assert b"123456" not in out and b"0.5e3" not in out and b'"port": 5432' in out and b'"n": 7' in out
    assert json.loads(out)["db"]["password"]["pin"].startswith("[REDACTED:secret-object:")


def test_collect_reports_where_the_mapping_was_written(tmp_path: Path) -> None:
    from collector.cli.render import summary

    t = FakeTransport(files={"/app.conf": b"peer = 10.0.0.9\n"})
    result = run(tmp_path, t, Artifact("c", "config", paths=("/app.conf",)), options=RunOptions(pseudonymize=True))
    assert result.mapping == Path(f"{result.path}.mapping.json") and result.mapping.exists()
    assert f"mapping:  {result.mapping}" in summary(result)
    plain = run(tmp_path / "p", t, Artifact("c", "config", paths=("/app.conf",)))
    assert plain.mapping is None and "mapping:" not in summary(plain)


def test_flag_values_under_mid_word_keys_survive() -> None:
    """A sysctl such as ``bridge-nf-pass-vlan-input-dev = 0`` is a setting; ``password = 12`` is a password."""
    from redaction import Redactor

    stream = Redactor().stream("sysctl.txt")
    out = stream.feed(b"net.bridge.bridge-nf-pass-vlan-input-dev = 0\npassword = 12\n") + stream.close()
    assert b"bridge-nf-pass-vlan-input-dev = 0\n" in out
    assert b"password = 12" not in out and b"[REDACTED:key-value:" in out
