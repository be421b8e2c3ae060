"""``casepack report`` on a generated three-host bundle with known inputs (tests/reportkit.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from collector.bundle.crypto import Encryption, keygen, parse_recipients
from tests.cryptokit import run
from tests.reportkit import T0, build_fleet


def iso(ts: float) -> str:
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(bundle file, opened directory)."""
    tmp = tmp_path_factory.mktemp("fleet")
    bundle = build_fleet(tmp)
    opened = tmp / "opened"
    proc = run("open", str(bundle), "-o", str(opened))
    assert proc.returncode == 0, proc.stderr
    return bundle, opened


@pytest.fixture(scope="module")
def report(fleet: tuple[Path, Path]) -> dict:
    proc = run("report", str(fleet[1]), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def sig(report: dict, prefix: str) -> dict:
    found = [s for s in report["errors"]["signatures"] if s["signature"].startswith(prefix)]
    assert len(found) == 1, [s["signature"] for s in report["errors"]["signatures"]]
    return found[0]


def test_signatures_merge_lines_that_differ_only_in_variable_parts(report: dict) -> None:
    s = sig(report, "07-0013 client")
    assert s["signature"] == "07-0013 client '<q>' disconnected from <ip>"
    assert s["count"] == 9 and s["hosts"] == {"n1": 3, "n2": 3, "n3": 3} and s["level"] == "ERROR"
    assert s["first_seen"] == iso(T0 + 60) and s["last_seen"] == iso(T0 + 360)
    assert "client 'c-17' disconnected from 10.0.0.1:4000" in s["example"]
    assert s["example_at"]["line"] == 2 and s["example_at"]["host"] == "n1"
    login = sig(report, "07-0014")
    assert login["signature"] == "07-0014 login refused token [REDACTED]" and login["count"] == 6
    warn = sig(report, "02-0010")
    assert warn["level"] == "WARN" and warn["signature"] == "02-0010 slow consumer <hex> queue <n>"
    assert warn["count"] == 3


def test_stack_traces_fold_into_their_entry(report: dict) -> None:
    s = sig(report, "processor failed")
    assert s["signature"] == "processor failed for order <uuid>" and s["count"] == 3
    assert "java.lang.IllegalStateException: boom" in s["example"] and "Caused by: java.io.IOException" in s["example"]
    assert not any("IllegalState" in x["signature"] or "Caused" in x["signature"]
                   for x in report["errors"]["signatures"])


def test_counts_ranking_and_info_lines(report: dict) -> None:
    e = report["errors"]
    assert e["by_level"] == {"ERROR": 38, "WARN": 3}
    assert e["by_host"] == {"n1": {"error": 6, "warn": 1}, "n2": {"error": 6, "warn": 1},
                            "n3": {"error": 26, "warn": 1}}
    top = e["signatures"][0]
    assert top["signature"] == "09-0001 timeout after <n> ms on /data/q<n>" and top["count"] == 20
    assert top["hosts"] == {"n3": 20}
    assert e["signatures"][-1]["level"] == "WARN"  # errors first
    assert not any("no error here" in s["example"] for s in e["signatures"])


def test_timeline_buckets_show_the_spike(report: dict) -> None:
    t = report["timeline"]
    assert t["bucket_seconds"] == 60 and t["start"] == iso(T0 + 60)
    n3 = t["hosts"]["n3"]["error"]
    assert n3[49] == 20 and sum(n3) == 26
    assert t["hosts"]["n1"]["error"][0] == 1 and t["hosts"]["n1"]["warn"][3] == 1
    assert t["spike"]["host"] == "n3" and t["spike"]["count"] == 20 and t["spike"]["at"] == iso(T0 + 3000)


def test_config_diff_names_the_odd_host(report: dict) -> None:
    d = next(x for x in report["config_diffs"] if x["file"] == "config.xml")
    assert d["same"] == ["n1", "n2"] and d["reference"] == "n1"
    assert [x["host"] for x in d["differing"]] == ["n3"]
    diff = d["differing"][0]["diff"]
    assert "-<Transports><Transport><Name>tcp</Name><ClientBufferThreshold>128MB" in diff.replace("  ", "")
    assert "+<Transports><Transport><Name>tcp</Name><ClientBufferThreshold>1MB" in diff.replace("  ", "")
    assert d["differing"][0]["changed_lines"] == 2
    same = next(x for x in report["config_diffs"] if x["file"] == "logging.xml")
    assert same["differing"] == [] and same["same"] == ["n1", "n2", "n3"]


def test_stats_summary(report: dict) -> None:
    assert len(report["stats"]) == 3
    db = report["stats"][0]
    assert db["error"] is None
    t = db["tables"][0]
    assert t["name"] == "ifaces" and t["rows"] == 30 and t["time_column"] == "ts"
    assert t["time_range"] == {"start": iso(T0), "end": iso(T0 + 29 * 60)}
    series = {s["column"]: s for s in t["series"]}
    assert set(series) == {"messages", "ratio"}
    m = series["messages"]
    assert (m["min"], m["max"], m["last"], m["count"]) == (5, 295, 295, 30)
    assert m["points"][0] == 5.0 and m["points"][-1] == 295.0 and len(m["points"]) <= 60
    assert series["ratio"]["last"] == pytest.approx(2.9)


def test_case_versions_checks_and_redaction(report: dict) -> None:
    assert report["format"] == "casepack-report/1"
    assert report["case"]["severity"] == "high"
    assert report["version_mismatches"] == ["amps: AMPS 5.3.4 on n1, n2, AMPS 5.3.5 on n3"]
    assert [h["name"] for h in report["hosts"]] == ["n1", "n2", "n3"]
    assert report["hosts"][2]["versions"]["amps"] == "AMPS 5.3.5"
    checks = report["checks"]
    assert checks[0]["host"] == "n3" and checks[0]["result"] == "fail" and checks[0]["remedy"] == "drain the queue"
    assert [c["result"] for c in checks[1:]] == ["pass", "pass"]
    assert report["redaction"]["enabled"] is True and report["failures"] == []
    for key in ("bundle", "hosts", "errors", "timeline", "config_diffs", "stats", "checks", "index", "generated"):
        assert key in report


def test_text_report_is_loud_about_differences(fleet: tuple[Path, Path]) -> None:
    proc = run("report", str(fleet[1]), "--no-index")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "!!! VERSION MISMATCH between hosts — amps: AMPS 5.3.4 on n1, n2, AMPS 5.3.5 on n3" in out
    assert "!!! error spike on n3" in out and "!!! amps/config.xml: n3 differs from n1" in out
    assert "FAIL  n3 health/depth" in out and "remedy: drain the queue" in out
    assert "[ERROR] ×20  09-0001 timeout after <n> ms on /data/q<n>" in out


def test_index_gains_signatures_and_lines(fleet: tuple[Path, Path], tmp_path: Path) -> None:
    proc = run("report", str(fleet[1]), "--format", "json", "-o", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    db = sqlite3.connect(fleet[1] / "index.sqlite")
    rows = db.execute("select signature, level, count, first_seen from error_signatures order by count desc").fetchall()
    assert rows[0] == ("09-0001 timeout after <n> ms on /data/q<n>", "ERROR", 20, iso(T0 + 3000))
    n = db.execute("select count(*) from error_lines l join error_signatures s on s.id = l.signature_id "
                   "where s.signature like '07-0013%' and l.host = 'n2'").fetchone()[0]
    assert n == 3
    assert db.execute("select count(*) from artifacts").fetchone()[0] > 0  # the manifest tables stay
    line = db.execute("select file, line_no from error_lines l join error_signatures s on s.id = l.signature_id "
                      "where s.signature like 'processor%' and host = 'n1'").fetchone()
    assert line[1] == 6 and line[0].startswith("hosts/n1/amps/log/")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["index"]["path"] == str(fleet[1] / "index.sqlite")


def test_report_on_an_encrypted_bundle_file(tmp_path: Path) -> None:
    ident = tmp_path / "id.txt"
    public, _ = keygen(ident)
    bundle = build_fleet(tmp_path, Encryption(parse_recipients([public])))
    assert bundle.name.endswith(".age")
    out = tmp_path / "r.html"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    proc = run("report", str(bundle), "-k", str(ident), "--format", "html", "-o", str(out),
               "--index", str(tmp_path / "a.sqlite"), env={"TMPDIR": str(scratch)})
    assert proc.returncode == 0, proc.stderr
    assert "<svg" in out.read_text() and (tmp_path / "a.sqlite").exists()
    assert list(scratch.iterdir()) == []  # the decrypted copy is gone
    wrong = tmp_path / "other.txt"
    keygen(wrong)
    proc = run("report", str(bundle), "-k", str(wrong))
    assert proc.returncode == 1 and "casepack: error:" in proc.stderr


def test_not_a_bundle_directory(tmp_path: Path) -> None:
    proc = run("report", str(tmp_path))
    assert proc.returncode == 2 and "no manifest.json" in proc.stderr


def test_sample_bundle_reports(tmp_path: Path) -> None:
    """The committed sample opens with its demo identity and shows the misbehaving host."""
    here = Path(__file__).resolve().parents[1] / "sample_bundles"
    bundles = sorted(here.glob("casepack-demo-*.tar.zst.age"))
    assert bundles, "sample_bundles/ has no bundle: run sample_bundles/make_samples.py"
    proc = run("report", str(bundles[-1]), "-k", str(here / "demo-identity.txt"), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["timeline"]["spike"]["host"] == "amps-3"
    assert [x["host"] for d in r["config_diffs"] for x in d["differing"]] == ["amps-3"]
