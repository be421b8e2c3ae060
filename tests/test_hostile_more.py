"""More hostile bundles for the vendor side: sparse members, a real zstd bomb, malformed manifests,
a symlinked ``-o``, and escape sequences from bundle content. Real files, the real CLI in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import zstandard

from collector.bundle.opener import FLOOR, RATIO, OpenLimits, size_cap
from collector.bundle.verify import VerificationError, check_manifest
from collector.report import build_report
from collector.report.load import Source
from collector.report.render_html import render_html
from collector.report.render_json import render_json
from collector.report.render_text import render_text
from tests.cryptokit import member, run, tar_of
from tests.test_open_hostile import assert_rejected

ESC_TITLE = "ok\n\x1b[32msigned by vendor SHA256:forged\x1b[0m"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bundle_of(path: Path, files: dict[str, bytes], arts: list[dict] | None = None, **top: object) -> Path:
    """A well-formed bundle whose manifest carries ``arts`` (artifact dicts, path/size/sha256 filled in)."""
    files = {"SUPPORT_CASE.md": b"# case\n", **files}
    arts = [dict(a) for a in arts or []]
    for a in arts:
        if a.get("path") in files:
            a.update(size=len(files[a["path"]]), sha256=sha(files[a["path"]]))
    doc = {"format": "casepack/1", "status": "complete", "created": "2026-11-24T08:00:00Z",
           "hosts": [{"name": "h", "address": "local", "status": "ok"}], "artifacts": arts,
           "files": {"SUPPORT_CASE.md": {"size": len(files["SUPPORT_CASE.md"]),
                                         "sha256": sha(files["SUPPORT_CASE.md"])}},
           **top}
    members = [member(n, d) for n, d in files.items()] + [member("manifest.json", json.dumps(doc).encode())]
    path.write_bytes(zstandard.ZstdCompressor().compress(tar_of(members)))
    return path


def raw_bundle(path: Path, manifest: bytes) -> Path:
    path.write_bytes(zstandard.ZstdCompressor().compress(tar_of([member("manifest.json", manifest)])))
    return path


# --- sparse members --------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["--format=gnu", "--format=posix --sparse-version=1.0",
                                 "--format=posix --sparse-version=0.1", "--format=posix --sparse-version=0.0"])
def test_sparse_members_made_by_gnu_tar_are_refused(tmp_path: Path, fmt: str) -> None:
    tree = tmp_path / "tree" / "hosts"
    tree.mkdir(parents=True)
    with open(tree / "hole", "wb") as f:
        f.truncate(4 << 30)  # a 4 GiB hole: a few bytes in the archive
        f.seek(1 << 20)
        f.write(b"data")
    tar = subprocess.run(f"tar --sparse {fmt} -cf - -C {tmp_path / 'tree'} hosts", shell=True, check=True,
                         capture_output=True).stdout
    assert len(tar) < 100_000
    bundle = tmp_path / "sparse.tar.zst"
    bundle.write_bytes(zstandard.ZstdCompressor().compress(tar))
    assert_rejected(tmp_path, bundle, "sparse member", "--max-size", "100GiB")


def test_hand_made_gnu_sparse_header_is_refused(tmp_path: Path) -> None:
    info, _ = member("hosts/h/p/log/s", b"", kind=tarfile.GNUTYPE_SPARSE)
    raw = tar_of([(info, b"")], fmt=tarfile.GNU_FORMAT)
    bundle = tmp_path / "s.tar.zst"
    bundle.write_bytes(zstandard.ZstdCompressor().compress(raw))
    assert_rejected(tmp_path, bundle, "sparse member")


# --- the size cap scales with the bundle --------------------------------------------------------------

def test_default_cap_scales_with_the_bundle() -> None:
    assert size_cap(OpenLimits(), 10_000) == FLOOR
    assert size_cap(OpenLimits(), 10 << 20) == (10 << 20) * RATIO
    assert size_cap(OpenLimits(max_bytes=5), 10 << 20) == 5  # an explicit --max-size wins


def zstd_bomb(path: Path, members: int = 20, each: int = 1 << 30) -> Path:
    """``members`` files of ``each`` zero bytes: 20 GiB from ~640 KB, in repeated zstd frames."""
    zero = zstandard.ZstdCompressor(level=19).compress(b"\0" * (64 << 20))
    cctx = zstandard.ZstdCompressor()
    with open(path, "wb") as out:
        for i in range(members):
            info = tarfile.TarInfo(f"hosts/h/p/log/bomb{i}")
            info.size, info.mode = each, 0o644
            out.write(cctx.compress(info.tobuf(tarfile.PAX_FORMAT)))
            for _ in range(each // (64 << 20)):
                out.write(zero)
        out.write(cctx.compress(b"\0" * 1024))
    return path


def test_a_640kb_zstd_bomb_cannot_fill_the_disk(tmp_path: Path) -> None:
    bundle = zstd_bomb(tmp_path / "bomb.tar.zst")
    size = bundle.stat().st_size
    assert size < 1 << 20, size  # the whole 20 GiB fits in well under 1 MiB
    started = time.monotonic()
    cap = size_cap(OpenLimits(), size)
    assert cap < 200 << 20
    assert_rejected(tmp_path, bundle, f"more than {cap} bytes")
    assert time.monotonic() - started < 60


# --- malformed manifests: open and report, one line, exit 4 ------------------------------------------

DEEP = b'{"format": "casepack/1", "hosts": [], "artifacts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
MALFORMED = {
    "deep": (DEEP, "nested"),
    "artifacts-string": (b'{"format": "casepack/1", "hosts": [], "artifacts": "abc"}', "artifacts"),
    "size-string": (b'{"format": "casepack/1", "hosts": [], "artifacts": [{"path": "x", "size": "9"}]}', "size"),
    "hosts-missing": (b'{"format": "casepack/1", "artifacts": []}', "hosts"),
    "host-number": (b'{"format": "casepack/1", "hosts": [7], "artifacts": []}', "hosts[0]"),
    "case-nested": (b'{"format": "casepack/1", "hosts": [], "artifacts": [], "case": {"t": [[1]]}}', "case"),
    "redaction-total": (b'{"format": "casepack/1", "hosts": [], "artifacts": [], "redaction": {"total": "x"}}',
                        "total"),
    "files-list": (b'{"format": "casepack/1", "hosts": [], "artifacts": [], "files": [1]}', "files"),
    "format-nested": (b'{"format": ' + b"[" * 900 + b"]" * 900 + b"}", "format"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_manifest_is_a_one_line_refusal(tmp_path: Path, case: str) -> None:
    manifest, text = MALFORMED[case]
    bundle = raw_bundle(tmp_path / "m.tar.zst", manifest)
    assert_rejected(tmp_path, bundle, text)
    proc = run("report", str(bundle), "--no-index")
    assert proc.returncode == 4, proc.stderr
    assert proc.stderr.startswith("casepack: error: ") and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "internal error" not in proc.stderr


def test_report_on_a_directory_with_a_malformed_manifest(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    for manifest, _ in MALFORMED.values():
        (tmp_path / "d" / "manifest.json").write_bytes(manifest)
        proc = run("report", str(tmp_path / "d"), "--no-index")
        assert proc.returncode in (2, 4) and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 2 and "internal error" not in proc.stderr


WRONG = ["s", 7, -1, 1.5, True, None, [], {}, [["x"]], {"a": {"b": [1]}}, "\x1b[2J"]


def test_every_field_with_every_wrong_type_is_refused_or_reported(tmp_path: Path) -> None:
    """In process: each known field swapped for each wrong type → VerificationError or a report, never a crash."""
    base = {"format": "casepack/1", "status": "complete", "created": "2026", "tool": {}, "case": {"title": "t"},
            "window": {}, "options": {}, "redaction": {"enabled": True, "total": 1, "files": {"x": {"r": 1}}},
            "hosts": [{"name": "h", "address": "a", "status": "ok", "probes": ["p"], "facts": {}}],
            "artifacts": [{"host": "h", "probe": "p", "artifact": "a", "kind": "check", "status": "ok", "size": 0,
                           "check": {"result": "fail", "message": "m", "remedy": "r"}, "version": "1"}],
            "files": {}}
    variants = []
    for key in base:
        variants += [{**base, key: w} for w in WRONG]
    for where in ("hosts", "artifacts"):
        for key in base[where][0]:
            variants += [{**base, where: [{**base[where][0], key: w}]} for w in WRONG]
    variants += [{**base, "artifacts": [{**base["artifacts"][0], "check": {"result": w}}]} for w in WRONG]
    refused = 0
    for doc in variants:
        raw = json.dumps(doc).encode()
        try:
            manifest, _, _ = check_manifest({}, raw, None, False, None)
        except VerificationError:
            refused += 1
            continue
        analysis = build_report(Source(tmp_path, manifest, "x", False))
        for render in (render_text, render_json, render_html):
            render(analysis.report)
    assert refused > len(variants) // 2


# --- -o DIR is a symlink ------------------------------------------------------------------------------

def test_open_into_a_symlink_is_refused(tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path / "b.tar.zst", {})
    victim = tmp_path / "victim"
    (tmp_path / "dangling").symlink_to(victim)
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    for target in ("dangling", "link"):
        proc = run("open", str(bundle), "-o", str(tmp_path / target))
        assert proc.returncode == 4, proc.stderr
        assert "symbolic link" in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 2
    assert not os.path.lexists(victim) and list((tmp_path / "empty").iterdir()) == []
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


# --- escape sequences from the bundle never reach the terminal raw ------------------------------------

def hostile_text_bundle(tmp_path: Path) -> Path:
    log = (b"2026-11-24T08:00:00 ERROR \x1b]0;owned\x07\x1b[2J boom\r\nsigned by vendor\n"
           b"2026-11-24T08:00:01 ERROR disk \x9b31m full\n")
    arts = [{"host": "h\x1b[31m", "probe": "p", "artifact": "log", "kind": "log", "status": "ok",
             "path": "hosts/h/p/log/app.log"},
            {"host": "h\x1b[31m", "probe": "p\nsigned by x", "artifact": "c", "kind": "check", "status": "ok",
             "size": 0, "check": {"result": "fail\x1b[0m", "message": "m\x1b[5m\nsigned by vendor", "remedy": "r\r"}},
            {"host": "h", "probe": "p", "artifact": "gone\x1b[1m", "kind": "file", "status": "failed", "size": 0,
             "error": "no\nsigned by vendor"}]
    hosts = [{"name": "h\x1b[31m", "address": "a\u202e\x1b[1m", "status": "partial", "error": "e\x1b[1m"}]
    return bundle_of(tmp_path / "esc.tar.zst", {"hosts/h/p/log/app.log": log}, arts, hosts=hosts,
                     case={"title": ESC_TITLE, "product\x1b[1m": "x\x1b[1m"}, status="complete\x1b[1m")


def assert_no_raw_escapes(text: str) -> None:
    for ch in ("\x1b", "\x07", "\x9b", "\r", "\u202e"):
        assert ch not in text, (ch, text)
    assert sum(ln.startswith("signature:") for ln in text.splitlines()) <= 1
    assert not [ln for ln in text.splitlines() if ln.lstrip().startswith("signed by")]


def test_open_and_report_print_bundle_text_escaped(tmp_path: Path) -> None:
    bundle = hostile_text_bundle(tmp_path)
    opened = run("open", str(bundle), "-o", str(tmp_path / "o"))
    assert opened.returncode == 0, opened.stderr
    assert_no_raw_escapes(opened.stdout)
    assert "signature:  not signed" in opened.stdout
    assert "\\x1b[32msigned by vendor" in opened.stdout and "ok\\n" in opened.stdout
    for src in (str(bundle), str(tmp_path / "o")):
        proc = run("report", src, "--no-index")
        assert proc.returncode == 0, proc.stderr
        assert_no_raw_escapes(proc.stdout)
        assert "\\x1b[32msigned by vendor" in proc.stdout and "m\\x1b[5m\\nsigned by vendor" in proc.stdout
        assert "boom\\r" in proc.stdout or "boom" in proc.stdout


def test_member_names_with_escapes_in_errors_are_one_line(tmp_path: Path) -> None:
    bundle = bundle_of(tmp_path / "b.tar.zst", {"hosts/\x1b[31mx\nsigned by vendor": b"x"})
    proc = run("open", str(bundle), "-o", str(tmp_path / "o"))
    assert proc.returncode == 4 and "\x1b" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_real_bundle_still_opens_with_the_scaled_cap(tmp_path: Path) -> None:
    files = {f"hosts/h/p/log/f{i}": os.urandom(1000) + b"\0" * 100_000 for i in range(3)}
    arts = [{"host": "h", "probe": "p", "artifact": f"f{i}", "kind": "file", "status": "ok", "path": p}
            for i, p in enumerate(files)]
    bundle = bundle_of(tmp_path / "ok.tar.zst", files, arts)
    proc = run("open", str(bundle), "-o", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "hosts/h/p/log/f0").stat().st_size == 101_000
