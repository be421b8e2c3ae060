"""``casepack review``: every redaction of a bundle shown in context, for the customer's security team.

Reads ``redaction-report.json``'s audit (file, line, rule, keyed tag — never a value) and prints
each redacted line of the bundle with its neighbours. The values are already replaced by
``[REDACTED:rule:tag]`` in the bundle, so nothing secret is shown; text from the bundle is made
safe for a terminal (``collector.bundle.display.safe``: control and escape characters shown escaped).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from collector.bundle.display import safe
from collector.report.load import Source

MAX_REPORT = 64 << 20
MAX_LINE_SHOWN = 400
@dataclass
class ReviewItem:
    file: str
    line: int
    rule: str
    tag: str
    context: list[tuple[int, str]] = field(default_factory=list)  # (line number, text)


@dataclass
class Review:
    items: list[ReviewItem]
    clean_files: list[str]  # files the audit lists with no redaction
    missing: list[str]  # audited files not found in the bundle

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"redactions": [asdict(i) for i in self.items], "files_without_redactions": self.clean_files,
                "missing": self.missing}


def build_review(src: Source, context: int = 1) -> Review:
    path = src.member("redaction-report.json")
    if path is None or path.stat().st_size > MAX_REPORT:
        return Review([], [], ["redaction-report.json"])
    try:
        audit = json.loads(path.read_bytes()).get("audit", {})
    except (ValueError, UnicodeDecodeError, AttributeError):
        audit = {}
    items: list[ReviewItem] = []
    clean, missing = [], []
    for name, entries in sorted(audit.items() if isinstance(audit, dict) else []):
        if not isinstance(entries, list) or not entries:
            clean.append(name)
            continue
        member = src.member(name)
        if member is None:
            missing.append(name)
            continue
        wanted = {}
        for e in entries:
            if isinstance(e, dict) and isinstance(e.get("line"), int):
                wanted[e["line"]] = wanted.get(e["line"], []) + [e]
        lines = _lines_near(member, set(wanted), context)
        for number in sorted(wanted):
            for e in wanted[number]:
                ctx = [(n, lines[n]) for n in range(number - context, number + context + 1) if n in lines]
                items.append(ReviewItem(name, number, str(e.get("rule", "?")), str(e.get("tag", "")), ctx))
    return Review(items, clean, missing)


def _lines_near(path: Any, numbers: set[int], context: int) -> dict[int, str]:
    keep = {n + d for n in numbers for d in range(-context, context + 1)}
    out: dict[int, str] = {}
    last = max(keep, default=0)
    with open(path, "rb") as f:
        for i, raw in enumerate(f, start=1):
            if i in keep:
                out[i] = raw.decode("utf-8", "replace").rstrip("\r\n")[:MAX_LINE_SHOWN]
            if i >= last:
                break
    return out


def render_review(review: Review) -> str:
    out = []
    for item in review.items:
        out.append(f"{safe(item.file)}:{item.line}  [{safe(item.rule)} {safe(item.tag)}]")
        for n, text in item.context:
            out.append(f"  {'>' if n == item.line else ' '} {n:>6}  {safe(text)}")
    out.append(f"{len(review.items)} redaction(s) in {len({i.file for i in review.items})} file(s); "
               f"{len(review.clean_files)} file(s) without any")
    if review.missing:
        out.append(f"not in the bundle: {', '.join(safe(m) for m in review.missing)}")
    return "\n".join(out)
