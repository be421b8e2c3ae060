"""Run casepack's redaction over the corpus and score it against the ground truth.

    python3 -m bench.corpus.score [--corpus /work/corpus/out] [--engine-path /work/wt-redact] [--cli]
                                  [--json FILE] [--leaks 40]

A secret *leaks* when its whole value or any 12-character fragment of it is in the redacted file; a
look-alike is *retained* when its needle (the planted line) is there byte for byte; a JSON/YAML/XML file
that parsed before redaction must parse after it. Prints recall and retention per format, per class and
per shape, and the leaks (file, class, line) for developers.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.corpus.slots import parses

FRAGMENT = 12
REPO = Path(__file__).resolve().parents[2]


def load_engine(engine_path: str | None):
    """The ``redaction`` package from ``engine_path`` (another checkout) or from this one."""
    if engine_path:
        root = str(Path(engine_path).resolve())
        for name in [m for m in sys.modules if m == "redaction" or m.startswith("redaction.")]:
            del sys.modules[name]
        sys.path.insert(0, root)
    return importlib.import_module("redaction")


def redact_with_api(src: Path, dest: Path, engine_path: str | None) -> str:
    """Redact every file of ``src`` into ``dest`` through ``Redactor().stream(name)``; the engine's location."""
    redaction = load_engine(engine_path)
    try:
        tree = importlib.import_module("redaction.tree")
        tree.redact_tree(src, dest, redaction.Redactor())
    except (ImportError, AttributeError):
        redactor = redaction.Redactor()
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            rel = path.relative_to(src).as_posix()
            stream = redactor.stream(rel)
            out = dest / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "rb") as f, open(out, "wb") as w:
                for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                    w.write(stream.feed(chunk))
                w.write(stream.close())
    return str(Path(redaction.__file__).parent)


def redact_with_cli(src: Path, dest: Path, engine_path: str | None) -> str:
    root = str(Path(engine_path).resolve()) if engine_path else str(REPO)
    env = dict(os.environ, PYTHONPATH=root)
    subprocess.run([sys.executable, "-c", "from collector.cli import main; main()", "redact", str(src), "-o",
                    str(dest)], check=True, env=env)
    return root + "/redaction (casepack redact)"


@dataclass
class Tally:
    secrets: int = 0
    leaked: int = 0
    lookalikes: int = 0
    lost: int = 0

    def add(self, item: dict, bad: bool) -> None:
        if item["role"] == "secret":
            self.secrets += 1
            self.leaked += bad
        else:
            self.lookalikes += 1
            self.lost += bad

    def row(self) -> dict:
        out = {"secrets": self.secrets, "leaked": self.leaked, "lookalikes": self.lookalikes, "lost": self.lost}
        if self.secrets:
            out["recall"] = round(1 - self.leaked / self.secrets, 4)
        if self.lookalikes:
            out["retention"] = round(1 - self.lost / self.lookalikes, 4)
        return out


@dataclass
class Result:
    total: Tally = field(default_factory=Tally)
    per_part: dict = field(default_factory=lambda: defaultdict(Tally))
    per_state: dict = field(default_factory=lambda: defaultdict(Tally))
    per_format: dict = field(default_factory=lambda: defaultdict(Tally))
    per_class: dict = field(default_factory=lambda: defaultdict(Tally))
    per_shape: dict = field(default_factory=lambda: defaultdict(Tally))
    leaks: list = field(default_factory=list)
    lost: list = field(default_factory=list)
    parse_failures: list = field(default_factory=list)
    structured_files: int = 0
    missing: list = field(default_factory=list)
    engine: str = ""
    seconds: float = 0.0
    bytes: int = 0

    def summary(self) -> dict:
        return {"engine": self.engine, "total": self.total.row(),
                "structured_files": self.structured_files, "parse_failures": len(self.parse_failures),
                "missing_outputs": len(self.missing), "mb_per_s": round(self.bytes / 1e6 / max(self.seconds, 1e-9), 1),
                "per_part": {k: v.row() for k, v in sorted(self.per_part.items())},
                "per_state": {k: v.row() for k, v in sorted(self.per_state.items())},
                "per_format": {k: v.row() for k, v in sorted(self.per_format.items())},
                "per_class": {k: v.row() for k, v in sorted(self.per_class.items())},
                "per_shape": {k: v.row() for k, v in sorted(self.per_shape.items())},
                "leaks": self.leaks, "lookalikes_lost": self.lost, "parse_failure_files": self.parse_failures}


def read_text(path: Path) -> str:
    """A corpus or output file as text (gunzipped when it is a .gz)."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            pass
    return data.decode("utf-8", "replace")


def leaked_at(value: str, out: str) -> int | None:
    """Index in ``out`` of the value or of one of its 12-character fragments, else None."""
    i = out.find(value)
    if i >= 0:
        return i
    for k in range(0, len(value) - FRAGMENT + 1):
        i = out.find(value[k:k + FRAGMENT])
        if i >= 0:
            return i
    return None


def line_at(text: str, index: int) -> tuple[int, str]:
    """(line number, the line — or 200 characters of it around ``index`` when it is longer)."""
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    line = text[start:end if end >= 0 else len(text)]
    if len(line) > 200:
        at = max(0, index - start - 100)
        line = ("…" if at else "") + line[at:at + 200] + "…"
    return text.count("\n", 0, index) + 1, line


def spread(rows: list[dict], n: int) -> list[dict]:
    """Up to ``n`` rows taken round-robin across classes, so that every class shows up."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["class"]].append(r)
    out: list[dict] = []
    while len(out) < min(n, len(rows)):
        for g in groups.values():
            if g and len(out) < n:
                out.append(g.pop(0))
    return out


def score(truth: list[dict], tree: Path, redacted: Path) -> Result:
    res = Result()
    by_file: dict[str, list[dict]] = defaultdict(list)
    for it in truth:
        by_file[it["file"]].append(it)
    for rel, items in sorted(by_file.items()):
        path = redacted / rel
        if not path.exists():
            res.missing.append(rel)
            out = ""
        else:
            out = read_text(path)
        if any(it.get("parses") for it in items):
            res.structured_files += 1
            if path.exists() and not parses(items[0]["format"], out):
                res.parse_failures.append(rel)
        for it in items:
            if it["role"] == "secret":
                at = leaked_at(it["value"], out)
                bad = at is not None
                if bad:
                    n, line = line_at(out, at)
                    res.leaks.append({"file": rel, "class": it["class"], "format": it["format"], "line": n,
                                      "shape": it["shape"], "key": it.get("key", ""), "value": it["value"],
                                      "output_line": line})
            else:
                bad = it["needle"] not in out
                if bad:
                    res.lost.append({"file": rel, "class": it["class"], "format": it["format"], "line": it["line"],
                                     "needle": it["needle"]})
            part = "adversarial" if rel.startswith("adversarial/") else "conffiles"
            res.total.add(it, bad)
            res.per_part[part].add(it, bad)
            if part == "conffiles":
                res.per_state["conffiles: " + ("commented-out line" if it.get("commented") else "active line")].add(
                    it, bad)
            res.per_format[f"{part}: {it['format']}"].add(it, bad)
            res.per_class[it["class"] if it["role"] == "secret" or it["class"].startswith("adv:")
                          else "conffile:lookalike"].add(it, bad)
            res.per_shape[it["shape"]].add(it, bad)
    return res


def run(corpus: Path, engine_path: str | None = None, cli: bool = False, redacted: Path | None = None,
        redact: Callable[[Path, Path], None] | None = None) -> Result:
    """Redact ``corpus/tree`` into ``redacted`` (default ``corpus/redacted``) and score it.

    ``redact(src, dest)`` replaces casepack's engine (the tests use an identity and a drop-all redactor).
    """
    truth = json.loads((corpus / "truth.json").read_text())["items"]
    tree = corpus / "tree"
    redacted = redacted or corpus / "redacted"
    if redacted.exists():
        subprocess.run(["rm", "-rf", str(redacted)], check=True)
    redacted.mkdir(parents=True)
    t0 = time.perf_counter()
    if redact is not None:
        redact(tree, redacted)
        engine = getattr(redact, "__name__", "custom")
    elif cli:
        engine = redact_with_cli(tree, redacted, engine_path)
    else:
        engine = redact_with_api(tree, redacted, engine_path)
    seconds = time.perf_counter() - t0
    res = score(truth, tree, redacted)
    res.engine, res.seconds = engine, seconds
    res.bytes = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    return res


def _pct(row: dict, key: str) -> str:
    return f"{100 * row[key]:6.2f}%" if key in row else "      -"


def print_report(res: Result, leaks: int = 40, out=sys.stdout) -> None:
    s = res.summary()
    t = s["total"]
    print(f"engine: {s['engine']}   ({res.bytes / 1e6:.1f} MB in {res.seconds:.1f} s)", file=out)
    print(f"TOTAL  secrets {t['secrets']}  leaked {t['leaked']}  recall {_pct(t, 'recall')}   "
          f"look-alikes {t['lookalikes']}  lost {t['lost']}  retention {_pct(t, 'retention')}   "
          f"structured files {s['structured_files']}  parse failures {s['parse_failures']}"
          + (f"   missing outputs {s['missing_outputs']}" if s["missing_outputs"] else ""), file=out)
    tables = (("part", s["per_part"]), ("state", s["per_state"]), ("format", s["per_format"]),
              ("class", s["per_class"]), ("shape", s["per_shape"]))
    for title, table in tables:
        print(f"\nper {title}:", file=out)
        print(f"  {title:34} {'secrets':>8} {'leaked':>7} {'recall':>8}   {'look-al':>7} {'lost':>5} "
              f"{'retent':>8}", file=out)
        for k, r in table.items():
            print(f"  {k:34} {r['secrets']:8} {r['leaked']:7} {_pct(r, 'recall')}   {r['lookalikes']:7} "
                  f"{r['lost']:5} {_pct(r, 'retention')}", file=out)
    if res.parse_failures:
        print("\nstructured files that no longer parse:", file=out)
        for f in res.parse_failures[:leaks]:
            print(f"  {f}", file=out)
    if res.leaks:
        print(f"\nleaks ({len(res.leaks)}; {min(leaks, len(res.leaks))} shown, across classes):", file=out)
        for lk in spread(res.leaks, leaks):
            print(f"  {lk['file']}:{lk['line']}  [{lk['class']} / {lk['shape']}]  {lk['output_line'].strip()}",
                  file=out)
    if res.lost:
        print(f"\nlook-alikes removed ({len(res.lost)}; {min(leaks, len(res.lost))} shown, across classes):", file=out)
        for lk in spread(res.lost, leaks):
            print(f"  {lk['file']}:{lk['line']}  [{lk['class']}]  {lk['needle'][:150]}", file=out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("/work/corpus/out"))
    ap.add_argument("--engine-path", help="import `redaction` from this checkout (e.g. /work/wt-redact)")
    ap.add_argument("--cli", action="store_true", help="run `casepack redact SRC -o OUT` instead of the API")
    ap.add_argument("--redacted", type=Path, help="where the redacted tree goes (default CORPUS/redacted)")
    ap.add_argument("--json", dest="json_out", type=Path, help="write the full result (with all leaks) here")
    ap.add_argument("--leaks", type=int, default=40, help="how many leaks and lost look-alikes to print")
    ap.add_argument("--only", help="score only files whose path contains this "
                                   "(e.g. adversarial/, conffiles, adversarial/pgpass/)")
    args = ap.parse_args(argv)
    res = run(args.corpus, args.engine_path, args.cli, args.redacted)
    if args.only:
        truth = [t for t in json.loads((args.corpus / "truth.json").read_text())["items"] if args.only in t["file"]]
        engine, secs, nbytes = res.engine, res.seconds, res.bytes
        res = score(truth, args.corpus / "tree", args.redacted or args.corpus / "redacted")
        res.engine, res.seconds, res.bytes = engine, secs, nbytes
    print_report(res, args.leaks)
    if args.json_out:
        args.json_out.write_text(json.dumps(res.summary(), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
