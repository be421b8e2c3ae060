"""Write the corpus: real Debian config files with a planted secret in every credential slot, look-alikes
in the neighbouring settings, plus the adversarial generators; and the ground truth beside it.

    python3 -m bench.corpus.plant [--cache /work/corpus/debs] [--out /work/corpus/out] [--seed 12]

Layout of OUT: ``tree/conffiles/PKG/PATH`` (real files, planted), ``tree/adversarial/CLASS/FILE``,
``truth.json`` (every planted item: file, line, value, class, format, shape; look-alikes with the
``needle`` that must survive byte for byte) and ``summary.json``. Same seed, same corpus.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

from bench.corpus import adversarial
from bench.corpus.shapes import lookalike, secret
from bench.corpus.slots import Slot, find_slots, iter_config_files, parses

STRUCTURED = ("json", "yaml", "xml")
# characters a planted value must not hold, per format and quote (so the file stays valid and the value whole)
BASE_FORBID = "\\\n\r\t`"


def forbidden(fmt: str, quote: str, kind: str) -> tuple[str, str]:
    """(characters the value must not hold, quote to add around it when it needs one)."""
    if fmt == "positional":
        return BASE_FORBID + " \"'#:;,", ""
    if fmt == "json":
        return BASE_FORBID + '"', '"'
    if fmt == "xml":
        return BASE_FORBID + "&<>\"'", ""
    if fmt == "yaml":
        return BASE_FORBID + ("'" if quote != '"' else '"'), "'"
    if fmt in ("shell", "env"):
        return BASE_FORBID + ("'" if quote != '"' else '"$!'), "'"
    if fmt == "php":
        return BASE_FORBID + (quote or "'") + "$", ""
    if fmt == "properties":
        return BASE_FORBID, ""
    if fmt == "nginx":
        return BASE_FORBID + '"$;{}', '"'
    return BASE_FORBID + '"', '"'


def needs_quote(value: str) -> bool:
    return bool(re.search(r"[\s#;'\"!&%=,{}\[\]:*|>@]", value)) or value[:1] in "-?"


def uncomment(line: str, slot: Slot) -> tuple[str, int]:
    """The line with its comment mark removed, and the shift of the value span."""
    m = re.match(r"(?:#|;|//|!)[ \t]*", line[slot.comment:])
    if not m:
        return line, 0
    return line[: slot.comment] + line[slot.comment + m.end():], m.end()


class Planter:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.truth: list[dict] = []
        self.seen: set[str] = set()

    def plant_file(self, pkg: str, rel: str, text: str, corpus_rel: str, secrets_only: bool = False) -> str | None:
        slots = find_slots(rel, text)
        if secrets_only and not any(s.role == "secret" for s in slots):
            return None
        if not slots:
            return None
        fmt = slots[0].fmt
        structured = fmt in STRUCTURED
        parsed_before = parses(fmt, text) if structured else None
        lines = text.split("\n")
        items = []
        for slot in slots:
            line = lines[slot.line]
            start, end = slot.start, slot.end
            commented = slot.comment >= 0
            if commented and not structured and self.rng.random() < 0.5:
                line, shift = uncomment(line, slot)
                start, end, commented = start - shift, end - shift, False
            forbid, wrap = forbidden(fmt, slot.quote, slot.kind)
            if slot.kind == "inline":  # inside another value: no quotes of our own, no separators
                forbid, wrap = forbid + " #;'\"!&%=,{}[]:*|>@-?$", ""
            if slot.role == "secret" and self.rng.random() < 0.1:
                role, shape, value = "lookalike", "placeholder", lookalike(self.rng, "placeholder")
                if any(c in value for c in forbid) or fmt == "xml" and "{" in value:
                    value = "${DB_PASSWORD}" if "$" not in forbid else "%(db_password)s"
            elif slot.role == "secret":
                role = "secret"
                shape, value = secret(self.rng, forbid)
                while value in self.seen:
                    shape, value = secret(self.rng, forbid)
            else:
                role, shape = "lookalike", slot.kind
                value = lookalike(self.rng, shape, pkg)
                if any(c in value for c in forbid):
                    continue
            text_value = value
            if not slot.quote and needs_quote(value):
                if not wrap and fmt not in ("properties", "xml", "php"):
                    if role == "secret":
                        shape, value = secret(self.rng, forbid + " #;'\"!&%=,{}[]:*|>@-?", "alnum")
                    text_value = value
                else:
                    text_value = f"{wrap}{value}{wrap}"
            if fmt == "json" and slot.quote == "" and not text_value.startswith('"'):
                text_value = f'"{value}"'
            self.seen.add(value)
            new = line[:start] + text_value + line[end:]
            lines[slot.line] = new
            item = {"file": corpus_rel, "line": slot.line + 1, "format": fmt, "role": role, "shape": shape,
                    "class": f"conffile:{slot.kind}" if role == "secret" else f"lookalike:{shape}",
                    "key": slot.key, "value": value, "package": pkg, "commented": commented}
            if role == "lookalike":
                item["needle"] = new.strip()
            items.append(item)
        out = "\n".join(lines)
        if structured and parsed_before and not parses(fmt, out):
            return None  # our planting broke it: leave the file out rather than measure our own mistake
        if structured:
            for it in items:
                it["parses"] = bool(parsed_before)
        self.truth.extend(items)
        return out


def build(packages: Path, out: Path, seed: int, max_per_package: int = 60, adversarial_n: int = 6,
          classes: list[str] | None = None, variants: int = 3) -> dict:
    """Plant the config files of ``packages/PKG/...`` and the adversarial ``classes`` (all by default)."""
    tree = out / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    planter = Planter(seed)
    digests: set[str] = set()
    per_pkg: Counter = Counter()
    files: list[dict] = []
    for pkg, rel, text in iter_config_files(packages):
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest in digests or per_pkg[pkg] >= max_per_package:
            continue
        digests.add(digest)
        # variant 1 of every file with a slot; further variants (other secrets, other lines uncommented)
        # of files with a secret slot, under conffiles-vN/ with the same relative path
        wrote = False
        for v in range(1, variants + 1):
            top = "conffiles" if v == 1 else f"conffiles-v{v}"
            corpus_rel = f"{top}/{pkg}/{rel}"
            before = len(planter.truth)
            planted = planter.plant_file(pkg, rel, text, corpus_rel, secrets_only=v > 1)
            if planted is None:
                break
            if v > 1 and not any(t["role"] == "secret" for t in planter.truth[before:]):
                del planter.truth[before:]
                break
            dest = tree / corpus_rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(planted)
            files.append({"file": corpus_rel, "package": pkg})
            wrote = True
        if wrote:
            per_pkg[pkg] += 1
    adv = adversarial.generate(tree / "adversarial", random.Random(seed + 1), n=adversarial_n, only=classes)
    truth = planter.truth + adv
    (out / "truth.json").write_text(json.dumps({"seed": seed, "items": truth}, indent=0) + "\n")
    summary = summarize(truth, per_pkg)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def summarize(truth: list[dict], per_pkg: Counter | None = None) -> dict:
    by_fmt: dict[str, Counter] = {}
    by_class: Counter = Counter()
    for it in truth:
        by_fmt.setdefault(it["format"], Counter())[it["role"]] += 1
        by_class[it["class"]] += 1
    return {"packages": len(per_pkg or {}), "files": len({t["file"] for t in truth}),
            "secrets": sum(t["role"] == "secret" for t in truth),
            "lookalikes": sum(t["role"] == "lookalike" for t in truth),
            "per_format": {k: dict(v) for k, v in sorted(by_fmt.items())}, "per_class": dict(sorted(by_class.items()))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path("/work/corpus/debs"), help="where fetch.py unpacked")
    ap.add_argument("--out", type=Path, default=Path("/work/corpus/out"))
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--max-per-package", type=int, default=60, help="config files kept per package")
    ap.add_argument("--adversarial", type=int, default=6, help="instances per adversarial class")
    ap.add_argument("--variants", type=int, default=3, help="plantings of each file that has a secret slot")
    args = ap.parse_args(argv)
    summary = build(args.cache / "tree", args.out, args.seed, args.max_per_package, args.adversarial,
                    variants=args.variants)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
