"""The fleet part of a case set's report, as text and HTML; each shard then renders as a bundle does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collector.bundle.casedoc import human_size
from collector.report.render_text import clean


def _alerts(f: dict[str, Any]) -> list[str]:
    out = [f"SHARD UNUSABLE — {p}" for p in f["problems"]]
    if f["unaccounted"]:
        out.append(f"INCOMPLETE — {len(f['unaccounted'])} inventory host(s) in no shard: "
                   + ", ".join(f["unaccounted"][:50]) + (" …" if len(f["unaccounted"]) > 50 else ""))
    out += [f"VERSION MISMATCH between hosts — {m}" for m in f["version_mismatches"]]
    return out


def _counts(f: dict[str, Any], esc: Callable[[Any], str]) -> str:
    ok = sum(h["status"] == "ok" for h in f["hosts"])
    signed = f"signed by {esc(f['signed_by'])}" if f["signed_by"] else "not signed"
    return (f"{len(f['shards'])} shard(s), {len(f['hosts'])} host(s) ({ok} ok, {len(f['hosts']) - ok} not ok, "
            f"{len(f['unaccounted'])} unaccounted); caseset.json {signed}")


def fleet_text(r: dict[str, Any], one: Callable[[dict[str, Any]], str]) -> str:
    f = r["fleet"]
    out = [f"casepack fleet report — {clean(r['source'])}",
           f"case set {clean(f['case_id'], 80)}: {_counts(f, lambda v: clean(v, 80))}; "
           f"report generated {clean(r['generated'])}"]
    out += [f"  !!! {clean(a, 600)}" for a in _alerts(f)]
    if f["case"].get("title"):
        out.append(f"  case: {clean(f['case']['title'], 200)}")
    out += ["", "Shards", "======"]
    for s in f["shards"]:
        size = human_size(s["size"]) if isinstance(s["size"], int) else "?"
        out.append(f"  {clean(s['status']):<9} {clean(s['file'], 100)}  {size}, {len(s['hosts'])} host(s)"
                   + (f" — {clean(s['error'], 300)}" if s["error"] else ""))
    out += ["", "Fleet: hosts × status × shard", "============================="]
    width = max([16, *(len(clean(h["name"], 60)) for h in f["hosts"])])
    for h in f["hosts"]:
        extra = f" (also in {len(h['shards']) - 1} other)" if len(h["shards"]) > 1 else ""
        gone = "" if h["readable"] else "  [its shard is unusable]"
        out.append(f"  {clean(h['name'], 60):<{width}} {clean(h['status']):<9} {clean(h['shard'], 100)}{extra}{gone}")
        if h["error"]:
            out.append(f"      error: {clean(h['error'], 300)}")
    for name in f["unaccounted"]:
        out.append(f"  {clean(name, 60):<{width}} {'MISSING':<9} (in the inventory, in no shard)")
    out += ["", "Versions across hosts", "====================="]
    if not f["versions"]:
        out.append("  (no version artifacts)")
    for probe, by_version in f["versions"].items():
        for version, hosts in by_version.items():
            out.append(f"  {clean(probe, 30):<12} {clean(version, 100)} — {len(hosts)} host(s): "
                       + ", ".join(clean(h, 60) for h in hosts[:12]) + (" …" if len(hosts) > 12 else ""))
    sig = f["signatures"]
    out += ["", "Error signatures across shards", "=============================="]
    out.append(f"  {sig['entries']} error/warning entries, {sig['distinct']} distinct signature(s) "
               f"(top {sig['shown']})")
    for s in sig["top"]:
        out.append(f"  {s['count']:>7}  {s['host_count']:>3} host(s) {len(s['shards']):>2} shard(s)  "
                   f"{clean(s['level'], 8):<5} {clean(s['signature'], 200)}")
    for shard in r["shards"]:
        if shard["report"] is not None:
            title = f"Shard {clean(shard['file'], 120)}"
            out += ["", "#" * len(title), title, "#" * len(title), one(shard["report"])]
    out.append("")
    return "\n".join(out)


def fleet_html(r: dict[str, Any], e: Callable[[Any], str], table: Callable[..., str]) -> list[str]:
    """The fleet section's HTML elements (the caller wraps the page and appends each shard's body)."""
    f = r["fleet"]
    body = [f"<h1>casepack fleet report — {e(f['case'].get('title') or f['case_id'])}</h1>",
            f'<div class="sub">{e(r["source"])} · {_counts(f, e)} · generated {e(r["generated"])}</div>']
    body += [f'<div class="alert">{e(a)}</div>' for a in _alerts(f)]
    body += ['<h2 id="shards">Shards</h2>', table(["shard", "status", "size", "hosts", "problem"], [
        [e(s["file"]), f'<span class="{"pass" if s["status"] == "ok" else "fail"}">{e(s["status"])}</span>',
         e(human_size(s["size"]) if isinstance(s["size"], int) else "?"), str(len(s["hosts"])), e(s["error"])]
        for s in f["shards"]])]
    rows = [[e(h["name"]), f'<span class="{"pass" if h["status"] == "ok" else "fail"}">{e(h["status"])}</span>',
             e(h["shard"]) + ("" if h["readable"] else " <b>(unusable)</b>"), e(", ".join(h["shards"])), e(h["error"])]
            for h in f["hosts"]]
    rows += [[e(n), '<span class="fail">MISSING</span>', "in no shard", "", "in the inventory"]
             for n in f["unaccounted"]]
    body += ['<h2 id="fleet">Fleet: hosts × status × shard</h2>',
             table(["host", "status", "shard", "all shards holding it", "error"], rows, "fleet")]
    body += ['<h2 id="versions">Versions across hosts</h2>', table(["probe", "version", "hosts"], [
        [e(p), e(v), f"{len(hs)}: " + e(", ".join(hs[:30]))]
        for p, bv in f["versions"].items() for v, hs in bv.items()])]
    sig = f["signatures"]
    body += ['<h2 id="fleet-errors">Error signatures across shards</h2>',
             f'<div class="card">{sig["entries"]} entries, {sig["distinct"]} distinct signature(s)</div>',
             table(["count", "hosts", "shards", "level", "signature"], [
                 [str(s["count"]), str(s["host_count"]), str(len(s["shards"])),
                  f'<span class="lvl-{e(s["level"])}">{e(s["level"])}</span>', f"<code>{e(s['signature'])}</code>"]
                 for s in sig["top"]], "signatures")]
    return body
