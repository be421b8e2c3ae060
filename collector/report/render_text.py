"""The report for a terminal. Every text from the bundle goes through ``clean`` (bundle.display.safe)."""

from __future__ import annotations

from typing import Any

from collector.bundle.casedoc import human_size
from collector.bundle.display import safe

BARS = "▁▂▃▄▅▆▇█"
WIDTH = 100


def clean(value: Any, limit: int = 400) -> str:
    """Bundle text as one printable line (escapes shown, never sent to the terminal), cut to ``limit``."""
    return safe(value, limit)


def sparkline(values: list[float | None], width: int = 60, floor: float | None = None,
              top: float | None = None) -> str:
    """Unicode block sparkline; gaps (None) are spaces; longer series are averaged down to ``width``."""
    if len(values) > width:
        step = len(values) / width
        chunks = [values[int(i * step):int((i + 1) * step)] for i in range(width)]
        values = [max((v for v in c if v is not None), default=None) for c in chunks]
    nums = [v for v in values if v is not None]
    if not nums:
        return ""
    lo, hi = min(nums) if floor is None else floor, max(nums) if top is None else top
    span = hi - lo
    return "".join(" " if v is None else BARS[0 if span == 0 else min(7, int((v - lo) / span * 7.999))]
                   for v in values)


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return clean(v, 40)


def _heading(title: str) -> list[str]:
    return ["", title, "=" * len(title)]


def render_text(r: dict[str, Any]) -> str:
    if "fleet" in r:  # a case set: the fleet, then each shard as below
        from collector.report.render_fleet import fleet_text

        return fleet_text(r, render_text)
    out: list[str] = [f"casepack report — {clean(r['source'])}",
                      f"bundle {clean(r['bundle']['format'])}, created {clean(r['bundle']['created'])}, "
                      f"status {clean(r['bundle']['status'])}; report generated {clean(r['generated'])}"]
    out += _heading("Case")
    for k, v in r["case"].items():
        if v not in (None, ""):
            out.append(f"  {clean(k, 30):<16} {clean(v, 300)}")
    out += _heading("Hosts")
    for h in r["hosts"]:
        arts = ", ".join(f"{n} {clean(s)}" for s, n in h["artifacts"].items())
        out.append(f"  {clean(h['name'], 40):<16} {clean(h['status']):<8} {clean(h['address'], 60)}  ({arts})")
        if h["error"]:
            out.append(f"      error: {clean(h['error'])}")
        for probe, version in h["versions"].items():
            out.append(f"      {clean(probe, 30)}: {clean(version, 120)}")
    for line in r["version_mismatches"]:
        out.append(f"  !!! VERSION MISMATCH between hosts — {clean(line)}")
    if r["failures"]:
        out += _heading("What failed")
        for f in r["failures"]:
            opt = " (optional)" if f["optional"] else ""
            out.append(f"  {clean(f['host'], 40)} {clean(f['probe'], 30)}/{clean(f['artifact'], 40)}: "
                       f"{clean(f['status'])}{opt} — {clean(f['error'])}")
    red = r["redaction"]
    out.append("")
    out.append(f"Redaction: {'on' if red['enabled'] else 'OFF'}, {red['total']} value(s) in {red['files']} file(s)"
               + (": " + ", ".join(f"{clean(k, 40)} {v}" for k, v in red["by_rule"].items()) if red["by_rule"] else ""))
    out += _errors(r["errors"])
    out += _timeline(r["timeline"])
    out += _configs(r["config_diffs"])
    out += _stats(r["stats"])
    out += _heading("Health checks")
    if not r["checks"]:
        out.append("  (no check artifacts)")
    for c in r["checks"]:
        out.append(f"  {clean(c['result'], 10).upper():<5} {clean(c['host'], 40)} {clean(c['probe'], 30)}/"
                   f"{clean(c['check'], 40)}: {clean(c['message'], 200)}")
        if c["result"] in ("fail", "warn") and c["remedy"]:
            out.append(f"        remedy: {clean(c['remedy'], 200)}")
    out.append("")
    return "\n".join(out)


def _errors(e: dict[str, Any]) -> list[str]:
    out = _heading("Errors and warnings in the logs")
    out.append(f"  {e['entries']} entries ({', '.join(f'{k} {v}' for k, v in e['by_level'].items()) or 'none'}) "
               f"in {e['files']} file(s), {e['lines']} lines, {human_size(e['bytes'])}; "
               f"{e['distinct_signatures']} signature(s)")
    for host, c in e["by_host"].items():
        out.append(f"  {clean(host, 40):<16} errors {c['error']:>8}   warnings {c['warn']:>8}")
    if e["truncated_lines"]:
        out.append(f"  note: {e['truncated_lines']} over-long line(s) were cut to 64 KiB")
    for s in e["signatures"]:
        hosts = ", ".join(f"{clean(h, 40)} {n}" for h, n in s["hosts"].items())
        out += ["", f"  [{clean(s['level'], 10)}] ×{s['count']}  {clean(s['signature'], 300)}",
                f"      hosts: {hosts}", f"      first {s['first_seen'] or '?'}   last {s['last_seen'] or '?'}"]
        example = s["example"].split("\n")
        out.append(f"      e.g. {clean(example[0], 300)}")
        out += [f"           {clean(x, 200)}" for x in example[1:4]]
        where = s["example_at"]
        out.append(f"      at   {clean(where['file'], 200)}:{where['line']}")
    if e["distinct_signatures"] > e["shown"]:
        out.append(f"\n  … {e['distinct_signatures'] - e['shown']} more signature(s): --top N, --format json or "
                   "the index (error_signatures)")
    return out


def _timeline(t: dict[str, Any]) -> list[str]:
    out = _heading("Timeline (errors per host)")
    if not t["bucket_seconds"]:
        return [*out, "  (no timestamped errors)"]
    b = t["bucket_seconds"]
    size = f"{b // 86400}d" if b % 86400 == 0 else f"{b // 3600}h" if b % 3600 == 0 else f"{b // 60}m"
    out.append(f"  from {t['start']}, {t['buckets']} buckets of {size}")
    top = max((max(s["error"] or [0]) for s in t["hosts"].values()), default=0)
    out.append(f"  (one scale for all hosts: █ = {top} errors per bucket)")
    for host, s in t["hosts"].items():
        errs = s["error"]
        line = sparkline([float(x) if x else None for x in errs], 80, 0.0, float(top))
        out.append(f"  {clean(host, 20):<16} |{line}| max {max(errs or [0])}")
    if t.get("spike"):
        sp = t["spike"]
        out.append(f"  !!! error spike on {clean(sp['host'], 40)}: {sp['count']} errors in the bucket at {sp['at']}, "
                   f"rising from {sp['started']}")
    return out


def _configs(diffs: list[dict[str, Any]]) -> list[str]:
    out = _heading("Configuration differences between hosts")
    if not diffs:
        return [*out, "  (no config file collected on two or more hosts)"]
    for d in diffs:
        name = f"{clean(d['probe'], 30)}/{clean(d['file'], 200)}"
        if not d["differing"]:
            out.append(f"  same on {', '.join(clean(h, 40) for h in d['same'])}: {name}")
        for x in d["differing"]:
            out.append(f"  !!! {name}: {clean(x['host'], 40)} differs from {clean(d['reference'], 40)} "
                       f"(same on {', '.join(clean(h, 40) for h in d['same'])}), {x['changed_lines']} changed line(s)")
            out += ["      " + clean(line, 300) for line in x["diff"].splitlines()]
        out += [f"  note: {clean(n)}" for n in d["notes"]]
    return out


def _stats(dbs: list[dict[str, Any]]) -> list[str]:
    out = _heading("Statistics databases")
    if not dbs:
        return [*out, "  (none collected)"]
    for db in dbs:
        out.append(f"  {clean(db['host'], 40)}: {clean(db['file'], 200)}")
        if db["error"]:
            out.append(f"      error: {clean(db['error'])}")
        for note in db["notes"]:
            out.append(f"      note: {clean(note)}")
        for t in db["tables"]:
            tr = t["time_range"]
            span = f", {tr['start']} .. {tr['end']}" if tr else ""
            out.append(f"    table {clean(t['name'], 60)}: {t['rows'] if t['rows'] is not None else '?'} rows{span}"
                       + (f"  error: {clean(t['error'])}" if t["error"] else ""))
            for s in t["series"]:
                label = clean(s["column"], 40) + (f"[{clean(s['group'], 30)}]" if s["group"] is not None else "")
                out.append(f"      {label:<28} min {_num(s['min']):>10} max {_num(s['max']):>10} "
                           f"last {_num(s['last']):>10}  {sparkline(s['points'], 40)}")
    return out
