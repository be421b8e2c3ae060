"""A real terminal (pexpect, a pty): collect asks for every case field, then shows the running artifact."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from collector.casefile import FIELDS
from tests.cliutil import CLI, env, write_probe

pexpect = pytest.importorskip("pexpect")

ANSWERS = {
    "title": "orders stuck in queue", "product": "AMPS 5.3", "severity": "high", "impact_class": "partial-outage",
    "category": "software", "impact": "EU orders since 02:00", "observed": "queue depth grows",
    "expected": "queue drains", "reference": "CASE-4711", "contact_name": "Ada Ops",
    "contact_email": "ada@example.com", "contact_phone": "+44 20 7946 0000", "company": "Acme Ltd",
}


def test_prompts_for_every_field_and_shows_the_running_artifact(tmp_path: Path) -> None:
    probe = write_probe(tmp_path / "slow.toml", ("slow", "sleep 3; echo done"), ("quick", "echo hi"))
    out = tmp_path / "out"
    child = pexpect.spawn(CLI[0], [*CLI[1:], "collect", "-p", str(probe), "-o", f"{out}/"], env=env(),
                          cwd=str(tmp_path), encoding="utf-8", timeout=30, dimensions=(40, 120))
    try:
        asked = []
        for spec in FIELDS:
            if not spec.prompt:
                continue
            child.expect(re.escape(f"  {spec.label}: {spec.description}"))
            asked.append(spec.name)
            if spec.name == "severity":  # a wrong choice is explained and asked again
                child.sendline("urgent")
                child.expect("severity must be one of")
                child.expect(re.escape(f"  {spec.label}:"))
            child.sendline(ANSWERS[spec.name])
        assert set(asked) == set(ANSWERS)
        child.expect(r"running slow/slow (\d+\.\d)s")
        assert float(child.match.group(1)) < 3.5
        child.expect(r"bundle:\s+(\S+\.tar\.zst)")
        bundle = child.match.group(1)
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    doc = subprocess.run(["tar", "--zstd", "-xOf", bundle, "SUPPORT_CASE.md"], capture_output=True, text=True,
                         check=True).stdout
    assert "Missing" not in doc
    for value in ANSWERS.values():
        assert value in doc
