"""The block scanner (prefilter + masked signature keys) against the old line-by-line scanner's tables.

tests/data/report_golden.json was written by tests/data/make_report_golden.py running the scanner of
8bf2126 (before issue 16) on tests/reportlogs.py's logs and on the sample bundle.
"""

from __future__ import annotations

import io
import json
import random
import resource
from pathlib import Path

import pytest

from collector.report import build_report, load_source, parallel, signatures
from collector.report.blocks import read_blocks
from collector.report.logscan import MAX_LINE, LogScanner
from collector.report.prefilter import HyperFinder, PureFinder, make_finder
from collector.report.signatures import LEVEL_RE, LEVELS, Normaliser, SignatureTable, normalise
from tests.reportlogs import dump_scan, write_logs

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = json.loads((ROOT / "tests" / "data" / "report_golden.json").read_text())
FINDERS = ["re", "hyperscan"]


def plain(x: object) -> object:
    return json.loads(json.dumps(x))


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path]]:
    return write_logs(tmp_path_factory.mktemp("logs"))


def scan(files: list[tuple[str, Path]], finder: str, block: int) -> dict:
    scanner = LogScanner(2026, finder=make_finder(finder))
    for host, path in files:
        with open(path, "rb") as f:
            scanner.stats.files += 1
            scanner._scan(f, host, path.name, block)
    return plain(dump_scan(scanner, ["n1", "n2"]))


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("block", [4 << 20, 70_001, 4096])
def test_same_tables_as_the_old_scanner(logs: list[tuple[str, Path]], finder: str, block: int) -> None:
    got, want = scan(logs, finder, block), GOLDEN["generated"]
    assert got["stats"] == want["stats"] and got["entries"] == want["entries"]
    assert got["timeline"] == want["timeline"]
    by_key = {(s["level"], s["text"]): s for s in want["signatures"]}
    assert len(got["signatures"]) == len(want["signatures"])
    for s in got["signatures"]:
        assert s == by_key[(s["level"], s["text"])]
    assert got == want


def test_same_report_of_the_sample_bundle_as_the_old_scanner() -> None:
    want = GOLDEN["sample_bundle"]
    bundle = ROOT / "sample_bundles" / want["bundle"]
    with load_source(bundle, identity=str(ROOT / "sample_bundles" / "demo-identity.txt")) as src:
        analysis = build_report(src, top=1000)
    errors = plain(analysis.report["errors"])
    assert errors == want["errors"] and plain(analysis.report["timeline"]) == want["timeline"]
    assert plain([[s.id, s.locations] for s in analysis.signatures.ranked()]) == want["locations"]


@pytest.mark.skipif(not hasattr(make_finder(), "_db"), reason="hyperscan is not installed")
def test_both_finders_give_the_same_candidates(logs: list[tuple[str, Path]]) -> None:
    hyper, pure = HyperFinder(), PureFinder()
    for _, path in logs:
        with open(path, "rb") as f:
            for block, _ in read_blocks(f, MAX_LINE, 100_000):
                h, p = hyper(block), pure(block)
                assert set(h) <= set(p)  # the pure finder is looser (no word start): both are supersets of …
                for s in set(p) - set(h):  # … the lines with a level word, which only it adds none of
                    e = block.find(b"\n", s)
                    m = LEVEL_RE.search(block, s, min(s + 160, e))
                    assert m is None or LEVELS.get(m.group(1).lower()) is None


PIECES = ["abcdef12", "ABCDEF0123", "1234abcd5678", "deadbeef", "0x1f", "x", "T", "Z", "-", ":", ".", ",", "+", "=",
          "/", "(", ")", "[", "]", "'", '"', " ", "  ", "\t", "<", ">", "_", "é", "١٢", "12", "7", "0", "2026-11-24",
          "08:00:00", "[REDACTED:k:", "07-0013", "ORA-00600", "ABCD1234", "a1b2c3d4e5", "fe80", "g", "\xa0",
          "é12ab34cd", "10.1.2.3", "10.1.2.345:8080", "1.2.3.4.5", "12ms", "123456us", "0xab", "7x", "1_2", "v1",
          "١٢ab", "\u2003", "12345678", "<hex>", "<n>", "1abcdefab", "a1234567", "ABCDEF1"]


@pytest.mark.parametrize("seed", range(4))
def test_masked_keys_never_change_a_signature(seed: int) -> None:
    """Messages glued from pieces that sit next to each other in every awkward way: the memoised
    signature is always normalise()'s (the cache is shared, so keys collide as often as they can)."""
    rnd = random.Random(seed)
    norm = Normaliser()
    for _ in range(40_000):
        text = "".join(rnd.choice(PIECES) for _ in range(rnd.randrange(1, 14)))
        raw = text.encode()
        assert norm(raw) == normalise(text), text
    assert len(norm.masked) < 40_000  # the keys did meet


def test_a_200mb_line_without_a_newline_stays_small(tmp_path: Path) -> None:
    log = tmp_path / "huge.log"
    with open(log, "wb") as f:
        f.write(b"2026-11-24T08:00:00 ERROR first\n2026-11-24T08:00:01 ERROR " + b"A" * (200 << 20))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scanner = LogScanner(2026)
    scanner.scan_file(log, "h", "huge.log")
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 40, grown_mib
    assert scanner.stats.truncated_lines == 1 and scanner.table.entries == 2 and scanner.stats.lines == 2
    assert scanner.stats.bytes == len(b"2026-11-24T08:00:00 ERROR first\n") + MAX_LINE + 1


def test_blocks_cut_long_lines_inside_and_at_the_end() -> None:
    data = b"a\n" + b"x" * (MAX_LINE + 5) + b"\nb\n" + b"y" * (MAX_LINE * 3)
    blocks = list(read_blocks(io.BytesIO(data), MAX_LINE, 1000))
    joined = b"".join(b for b, _ in blocks)
    assert joined == b"a\n" + b"x" * MAX_LINE + b"\nb\n" + b"y" * MAX_LINE + b"\n"
    assert sum(c for _, c in blocks) == 2


@pytest.mark.parametrize("caps", [None, (7, 500, 300)])
def test_worker_processes_give_the_single_process_tables(logs: list[tuple[str, Path]], caps: tuple | None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Files scanned in worker processes and merged in order: the same tables, also when the location
    caps and the signature cap bind (workers are forked: they see the patched caps too)."""
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    if caps:
        monkeypatch.setattr(signatures, "MAX_LOCATIONS", caps[0])
        monkeypatch.setattr(signatures, "MAX_LOCATIONS_TOTAL", caps[1])
    files = [parallel.LogFile(h, p.name, p) for h, p in logs] + [parallel.LogFile("n3", "gone.log", None)]
    dumps = []
    for workers in (1, 3):
        scanner = LogScanner(2026, table=SignatureTable(max_signatures=caps[2] if caps else 10_000))
        parallel.scan_files(scanner, 2026, files, workers)
        dumps.append(plain(dump_scan(scanner, ["n1", "n2"])))
    assert dumps[0] == dumps[1]
    assert dumps[0]["stats"]["unreadable"] == ["gone.log: not in the bundle"]
    if caps:
        assert dumps[0]["locations"] == 500 and any(s["text"] == signatures.OTHER for s in dumps[0]["signatures"])
    else:
        want = dict(GOLDEN["generated"], stats=dict(GOLDEN["generated"]["stats"], files=3,
                                                  unreadable=["gone.log: not in the bundle"]))
        assert dumps[0] == want


def test_fresh_hex_ids_meet_in_the_cut_key_and_keep_the_signature() -> None:
    """A message with a new hex id each time: one regular-expression pass per shape, not per message."""
    rnd = random.Random(7)
    norm = Normaliser()
    for i in range(3000):
        hexid = f"{rnd.getrandbits(128):032x}"
        for text in (f"12-0004 subscription {hexid} matched {i} records", f"session={hexid[:12]} from x",
                     f"ab{hexid[:10]} starts with a run", f"id {rnd.getrandbits(40):010d} all digits"):
            assert norm(text.encode()) == normalise(text), text
    assert 0 < len(norm.spanned) < 200 and len(norm.shapes) < 400


def test_counting_many_entries_at_once_equals_counting_each() -> None:
    from collector.report.timeline import Timeline

    rnd = random.Random(3)
    stamps: list[float | None] = [1764583213.0 + rnd.choice([0, 5, -3, 70]) * i for i in range(500)]
    stamps[17] = None
    stamps[40] = 12.0  # implausible: untimed
    keys = [("ERROR" if rnd.random() < 0.5 else "WARN", f"sig {rnd.randrange(4)}") for _ in stamps]
    in_order = sorted(s for s in stamps if s is not None)
    for order in (stamps, in_order + in_order[-1:]):  # the second in time order: the fast branch
        one, many = SignatureTable(max_signatures=100), SignatureTable(max_signatures=100)
        for table in (one, many):
            for key in set(keys):
                for _ in range(signatures.MAX_LOCATIONS):
                    table.add(key[0], key[1], "h", "f", 1, 1764583213.0, "x")
        assert set(many.full) == set(keys)
        for key, ts in zip(keys, order, strict=True):
            assert one.count(key[0], key[1], "h2", ts)
        many.count_many(keys, list(order), "h2")
        assert plain([vars(s) for s in one.ranked()]) == plain([vars(s) for s in many.ranked()])
        t1, t2 = Timeline(), Timeline()
        for key, ts in zip(keys, order, strict=True):
            t1.add("h", key[0], ts)
        t2.add_many("h", [k[0] for k in keys], list(order))
        assert t1.counts == t2.counts and t1.untimed == t2.untimed
