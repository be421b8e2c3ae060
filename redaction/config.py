"""User redaction settings: the ``[redaction]`` table of a case file or a probe.

``rules = [{name = "ticket", regex = "TCK-\\d+"}]`` extra secret patterns (group ``s``, if
present, is the secret; else the whole match), ``keys = ["license"]`` extra secret
setting names, ``keywords = ["Acme Corp"]`` literal words (customer names) that are
redacted — or pseudonymized with ``--pseudonymize`` — and ``allow = ["^demo$"]``
regexes for values that are never redacted. ``case_key = "path"`` names the case key file that
makes ``--pseudonymize`` pseudonyms the same across a case's shards (:mod:`redaction.casekey`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from redaction.rules import BUILTIN_RULES, SECRET_WORDS, Rule, rule


class RuleError(ValueError):
    """A bad user rule or setting: one line, fit to show the user."""


@dataclass
class RedactionConfig:
    rules: list[Rule] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    allow: list[re.Pattern[bytes]] = field(default_factory=list)
    case_key: str | None = None  # path of the case key file (pseudonyms)

    def merged(self, other: RedactionConfig) -> RedactionConfig:
        return RedactionConfig(self.rules + other.rules, self.keys + other.keys, self.keywords + other.keywords,
                               self.allow + other.allow, self.case_key or other.case_key)

    def all_rules(self) -> tuple[Rule, ...]:
        """Built-in rules, then one for the extra key names and the user's own patterns."""
        extra: list[Rule] = []
        if self.keys:
            names = b"|".join(re.escape(k.encode()) for k in self.keys)
            extra.append(rule("key-value", rb"(?:^|(?<=[^\w.-]))(?P<kq>\")?(?P<k>(?:" + names + rb"))[\"']?[ \t]*"
                              rb"(?::|=|=>|:=|[ \t](?=[ \t]*[^\s=:]))[ \t]*(?:\"(?P<dq>[^\"\n]*)\"|'(?P<sq>[^'\n]*)'"
                              rb"|(?P<s>[^\s\"',;<>{}\[\]]+))",
                              tuple(k.lower().encode() for k in self.keys), check_value=True))
        return BUILTIN_RULES + tuple(extra) + tuple(self.rules)


def _compile(text: str, where: str) -> re.Pattern[bytes]:
    try:
        return re.compile(text.encode())
    except re.error as exc:
        raise RuleError(f"{where}: bad regex {text!r}: {exc}") from None


def _strings(data: dict[str, Any], key: str, where: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RuleError(f"{where}: {key} must be a list of non-empty strings")
    return list(value)


def parse_config(data: Any, where: str = "[redaction]") -> RedactionConfig:
    """Check and compile a ``[redaction]`` table; raises :class:`RuleError` with one clear line."""
    if data is None:
        return RedactionConfig()
    if not isinstance(data, dict):
        raise RuleError(f"{where} must be a table")
    unknown = set(data) - {"rules", "keys", "keywords", "allow", "case_key"}
    if unknown:
        raise RuleError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))} "
                        "(known: rules, keys, keywords, allow, case_key)")
    case_key = data.get("case_key")
    if case_key is not None and (not isinstance(case_key, str) or not case_key):
        raise RuleError(f"{where}: case_key must be the path of a key file (casepack case-key -o FILE)")
    rules: list[Rule] = []
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise RuleError(f"{where}: rules must be a list of {{name = ..., regex = ...}} tables")
    for i, item in enumerate(raw_rules):
        here = f"{where} rules[{i}]"
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("name", "regex")):
            raise RuleError(f"{here}: needs name = \"...\" and regex = \"...\"")
        name = item["name"]
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", name):
            raise RuleError(f"{here}: name {name!r} may only hold letters, digits, '_', '.', '-'")
        pattern = _compile(item["regex"], here)
        if pattern.search(b""):
            raise RuleError(f"{here}: regex {item['regex']!r} matches the empty string")
        rules.append(Rule(f"user-{name}", pattern, ()))
    keys = _strings(data, "keys", where)
    for k in keys:
        if not re.fullmatch(r"[\w.-]+", k):
            raise RuleError(f"{where}: key {k!r} may only hold letters, digits, '_', '.', '-'")
    allow = [_compile(a, f"{where} allow") for a in _strings(data, "allow", where)]
    return RedactionConfig(rules, keys, _strings(data, "keywords", where), allow, case_key)


__all__ = ["RedactionConfig", "RuleError", "parse_config", "SECRET_WORDS"]
