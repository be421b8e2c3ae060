"""The manifest schema is what docs/manifest.md documents, and index.sqlite mirrors it."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import fields
from pathlib import Path

from collector.bundle.index import build_index
from collector.bundle.manifest import FORMAT, ArtifactResult, HostResult, Manifest

DOC = Path(__file__).resolve().parents[1] / "docs" / "manifest.md"


def documented(section: str) -> list[str]:
    text = DOC.read_text().split(f"<!-- keys:{section} -->", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", text, re.MULTILINE)


def sample() -> Manifest:
    art = ArtifactResult("n1", "amps", "config", "config", "/opt/amps/config.xml", path="hosts/n1/x", size=3,
                         sha256="ab", redactions={"key-value": 2}, check=None, notes=["n"])
    return Manifest(tool={"name": "casepack", "version": "0"}, created="2026-11-24T00:00:00Z",
                    case={"severity": "low"}, window={"since": None, "until": "x"}, options={"jobs": 1},
                    hosts=[HostResult("n1", "local", "local")], artifacts=[art],
                    redaction={"enabled": True, "total": 2, "files": {"hosts/n1/x": {"key-value": 2}}})


def test_manifest_keys_are_exactly_the_documented_ones() -> None:
    data = sample().to_dict()
    assert data["format"] == FORMAT == "casepack/1"
    assert list(data) == documented("top")
    assert list(data["hosts"][0]) == documented("host") == [f.name for f in fields(HostResult)]
    assert list(data["artifacts"][0]) == documented("artifact") == [f.name for f in fields(ArtifactResult)]


def test_index_mirrors_the_manifest(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    build_index(sample(), path)
    db = sqlite3.connect(path)
    cols = [r[1] for r in db.execute("pragma table_info(artifacts)")]
    assert cols[1:] == documented("artifact")
    assert db.execute("select host, probe, sha256 from artifacts").fetchall() == [("n1", "amps", "ab")]
    assert db.execute("select rule, count from redactions").fetchall() == [("key-value", 2)]
    assert db.execute("select value from case_fields where field='severity'").fetchone() == ("low",)


def test_documented_artifact_statuses_are_the_code_ones() -> None:
    from collector.defaults import STATUSES

    row = next(ln for ln in DOC.read_text().split("<!-- keys:artifact -->", 1)[1].splitlines()
               if ln.startswith("| `status` |"))
    described = row.split("|")[3].strip()
    named = re.findall(r"(?:^|, )`(\w+)`", described)
    assert tuple(named) == STATUSES
