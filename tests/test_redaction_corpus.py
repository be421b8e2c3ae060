"""The redaction corpus: real Debian configs with planted secrets plus synthetic files (cases.toml)."""

from __future__ import annotations

import importlib.util
import re

import pytest

from bench.genlog import generate
from redaction import Redactor
from redaction.rules import BUILTIN_RULES
from tests.redaction_corpus import load_cases, run_corpus

HAVE_HYPERSCAN = importlib.util.find_spec("hyperscan") is not None


@pytest.mark.parametrize("chunk", [0, 1, 7, 4096])
def test_no_leak_no_lost_lookalike_everything_parses(chunk: int) -> None:
    outcome, _ = run_corpus(scanner="re", chunk=chunk)
    assert outcome.secrets >= 80
    assert outcome.leaks == []
    assert outcome.lost == []
    assert outcome.parse_failures == []


def test_markers_are_keyed_hashes_equal_for_equal_secrets() -> None:
    _, outputs = run_corpus(scanner="re")
    jaas = outputs["kafka_jaas.conf"].decode()
    tags = re.findall(r"\[REDACTED:[\w-]+:([0-9a-f]{6})\]", jaas)
    assert len(tags) == 3 and len(set(tags)) == 2  # JaasAdminPw1 appears twice (two rules), same tag
    other = Redactor(salt=b"another bundle")
    assert other.marker("x", b"JaasAdminPw1") != Redactor(salt=b"corpus").marker("x", b"JaasAdminPw1")


def test_every_rule_match_contains_one_of_its_anchors() -> None:
    """The prefilter may only skip lines no rule could match: each match holds an anchor of its rule."""
    for case in load_cases():
        for line in case.text.splitlines(keepends=True):
            low = line.lower()
            for rule in BUILTIN_RULES:
                if rule.pattern.search(line):
                    assert any(a in low for a in rule.anchors), (rule.name, line)


@pytest.mark.skipif(not HAVE_HYPERSCAN, reason="hyperscan not installed")
def test_hyperscan_and_pure_scanners_give_identical_output(tmp_path) -> None:
    _, pure = run_corpus(scanner="re", chunk=1000)
    _, fast = run_corpus(scanner="hyperscan", chunk=1000)
    assert pure == fast
    log = tmp_path / "app.log"
    generate(log, 3 << 20, secret_every=50)
    data = log.read_bytes()
    outs = []
    for scanner in ("re", "hyperscan"):
        for pseudonymize in (False, True):
            r = Redactor(salt=b"s", scanner=scanner, pseudonymize=pseudonymize, pseudonym_key=b"k" * 32)
            s = r.stream("app.log")
            outs.append(b"".join(s.feed(data[i:i + 65536]) for i in range(0, len(data), 65536)) + s.close())
    assert outs[0] == outs[2] and outs[1] == outs[3]
    assert b"S3cr" not in outs[0] and b"[REDACTED:url-credentials:" in outs[0]
