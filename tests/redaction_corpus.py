"""The redaction corpus (tests/data/redaction/cases.toml): build it, redact it, count leaks, losses, parse failures."""

from __future__ import annotations

import configparser
import json
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from redaction import Redactor

DATA = Path(__file__).parent / "data" / "redaction"


@dataclass
class Case:
    name: str
    text: bytes
    secrets: list[str]
    keep: list[str]
    parse: str | None


@dataclass
class Outcome:
    files: int = 0
    secrets: int = 0
    leaks: list[str] = field(default_factory=list)  # "file: secret"
    lost: list[str] = field(default_factory=list)  # "file: look-alike"
    parse_failures: list[str] = field(default_factory=list)


def load_cases() -> list[Case]:
    spec = tomllib.loads((DATA / "cases.toml").read_text())
    cases = []
    for item in spec["file"]:
        text = (DATA / item["src"]).read_text() if "src" in item else ""
        for old, new in item.get("replace", []):
            assert old in text, f"{item['name']}: {old!r} not in the source file"
            text = text.replace(old, new, 1)
        text += item.get("append", "") + item.get("text", "")
        cases.append(Case(item["name"], text.encode(), item.get("secrets", []), item.get("keep", []),
                          item.get("parse")))
    return cases


def parses(kind: str, data: bytes) -> str | None:
    """``None`` when ``data`` parses as ``kind``, else the error."""
    try:
        text = data.decode()
        if kind == "json":
            json.loads(text)
        elif kind == "yaml":
            list(yaml.safe_load_all(text))
        elif kind == "xml":
            ET.fromstring(text)
        elif kind == "ini":
            configparser.ConfigParser(strict=False, allow_no_value=True, interpolation=None).read_string(text)
    except Exception as exc:  # noqa: BLE001 - any failure to parse counts
        return f"{type(exc).__name__}: {exc}"
    return None


def redact_case(redactor: Redactor, case: Case, chunk: int = 0) -> bytes:
    stream = redactor.stream(case.name)
    if not chunk:
        return stream.feed(case.text) + stream.close()
    out = [stream.feed(case.text[i:i + chunk]) for i in range(0, len(case.text), chunk)]
    return b"".join(out) + stream.close()


def evaluate(outputs: dict[str, bytes], cases: list[Case]) -> Outcome:
    res = Outcome()
    for case in cases:
        out = outputs[case.name]
        res.files += 1
        res.secrets += len(case.secrets)
        res.leaks += [f"{case.name}: {s}" for s in case.secrets if s.encode() in out]
        res.lost += [f"{case.name}: {k}" for k in case.keep if k.encode() not in out]
        if case.parse:
            assert parses(case.parse, case.text) is None, f"{case.name} does not parse before redaction"
            error = parses(case.parse, out)
            if error:
                res.parse_failures.append(f"{case.name}: {error}")
    return res


def run_corpus(scanner: str | None = None, chunk: int = 0) -> tuple[Outcome, dict[str, bytes]]:
    cases = load_cases()
    redactor = Redactor(salt=b"corpus", scanner=scanner)
    outputs = {c.name: redact_case(redactor, c, chunk) for c in cases}
    return evaluate(outputs, cases), outputs
