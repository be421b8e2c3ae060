"""Case fields, case files and the SUPPORT_CASE.md template."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.bundle.casedoc import case_context, version_mismatches
from collector.bundle.manifest import ArtifactResult, HostResult, Manifest
from collector.casefile import load_case_file, parse_field_args, render_case
from collector.errors import InputError

CASE = """
[case]
title = "Orders stuck"
severity = "Critical"
impact_class = "partial outage"
category = "software"
impact = "EU customers cannot trade"
[contact]
name = "Ann Ops"
email = "ann@example.com"
[vars]
amps_home = "/opt/amps"
[collect]
probes = ["amps"]
"""


def manifest(versions: dict[str, str]) -> Manifest:
    arts = [ArtifactResult(h, "amps", "version", "version", "ampServer --version", version=v, path="x", size=10)
            for h, v in versions.items()]
    arts.append(ArtifactResult("n1", "amps", "logs", "log", "/var/log/x | y", status="denied",
                               error="permission denied"))
    return Manifest(tool={"version": "0"}, created="2026-11-24T00:00:00Z", case={"severity": "high"},
                    window={"since": None, "until": "now"}, options={},
                    hosts=[HostResult(h, h, "ssh") for h in versions], artifacts=arts, redaction={"total": 3})


def test_case_file_normalises_and_collects_sections(tmp_path: Path) -> None:
    path = tmp_path / "case.toml"
    path.write_text(CASE)
    case = load_case_file(str(path))
    assert case.fields["severity"] == "critical" and case.fields["impact_class"] == "partial-outage"
    assert case.fields["contact_name"] == "Ann Ops"
    assert case.variables == {"amps_home": "/opt/amps"}
    assert case.collect["probes"] == ["amps"]


@pytest.mark.parametrize("text, message", [
    ("[case]\nseverity = 'meh'", "severity must be one of"),
    ("[case]\ncolour = 'red'", "unknown case field"),
    ("[cases]\n", "unknown section"),
    ("[case\n", "not valid TOML"),
])
def test_bad_case_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "case.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_case_file(str(path))


def test_field_flags() -> None:
    assert parse_field_args(["category=Integration", "observed=a=b"]) == {"category": "integration",
                                                                        "observed": "a=b"}
    with pytest.raises(InputError, match="NAME=VALUE"):
        parse_field_args(["severity"])


def test_template_fills_versions_problems_and_flags_mismatch() -> None:
    text = render_case(case_context(manifest({"n1": "AMPS 5.3.4", "n2": "AMPS 5.3.4", "n3": "AMPS 5.3.1"})))
    assert "| Severity | high" in text
    assert "**n1** · amps: `AMPS 5.3.4`" in text
    assert "Hosts run different versions" in text and "AMPS 5.3.1 on n3" in text
    assert "`/var/log/x \\| y`" in text  # table cells are escaped
    assert "permission denied" in text


def test_no_mismatch_when_versions_agree() -> None:
    assert version_mismatches({"a": {"amps": "1"}, "b": {"amps": "1"}}) == []


def test_user_template_and_template_errors(tmp_path: Path) -> None:
    good = tmp_path / "mine.md.j2"
    good.write_text("Case for {{ case.severity }} with {{ hosts | length }} hosts\n")
    assert render_case(case_context(manifest({"n1": "1"})), str(good)) == "Case for high with 1 hosts\n"
    bad = tmp_path / "bad.md.j2"
    bad.write_text("{% for %}")
    with pytest.raises(InputError, match="template"):
        render_case(case_context(manifest({"n1": "1"})), str(bad))
    with pytest.raises(InputError, match="cannot read template"):
        render_case(case_context(manifest({"n1": "1"})), str(tmp_path / "none.j2"))
