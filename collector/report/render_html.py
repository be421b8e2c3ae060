"""The report as ONE self-contained HTML file: inline CSS, inline SVG charts, no script, no fetches.

Everything from the bundle is untrusted: every string goes through ``html.escape``,
numbers are formatted by this module, and a Content-Security-Policy forbids scripts
and any network access should anything slip through.
"""

from __future__ import annotations

import html
import math
from typing import Any

from collector.bundle.casedoc import human_size

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #d9dde3}
.sub{color:#5a6170}.card{background:#fff;border:1px solid #d9dde3;border-radius:6px;padding:10px 14px;margin:8px 0}
table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid #e6e8ec;vertical-align:top}th{background:#eef0f3;font-weight:600}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}pre{white-space:pre-wrap;
word-break:break-all;margin:4px 0;background:#f7f7f9;padding:6px;border-radius:4px;max-height:320px;overflow:auto}
.alert{background:#fdecea;border:1px solid #f5c2c0;color:#8a1c17;padding:8px 12px;border-radius:6px;margin:8px 0;
font-weight:600}.pass{color:#1e7b34;font-weight:600}.warn{color:#9a6700;font-weight:600}
.fail,.unknown{color:#b42318;font-weight:600}.lvl-ERROR,.lvl-FATAL{color:#b42318;font-weight:600}
.lvl-WARN{color:#9a6700;font-weight:600}.num{text-align:right;font-variant-numeric:tabular-nums}
.add{color:#1e7b34}.del{color:#b42318}.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}svg{display:block}
.signatures td:nth-child(4),.signatures td:nth-child(5),.signatures td:nth-child(6){white-space:nowrap}
"""


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _n(v: Any) -> str:
    if isinstance(v, float):
        return e(f"{v:.6g}")
    return e(v)


def sparkline_svg(points: list[float | None], width: int = 220, height: int = 36, color: str = COLORS[1]) -> str:
    nums = [p for p in points if p is not None and math.isfinite(p)]
    if not nums:
        return '<svg class="spark" width="0" height="0"></svg>'
    lo, hi = min(nums), max(nums)
    span = (hi - lo) or 1.0
    step = width / max(len(points) - 1, 1)
    coords = [f"{i * step:.1f},{height - 3 - (p - lo) / span * (height - 6):.1f}"
              for i, p in enumerate(points) if p is not None and math.isfinite(p)]
    if len(coords) == 1:
        coords.append(f"{width:.1f},{coords[0].split(',')[1]}")
    return (f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
            f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{" ".join(coords)}"/></svg>')


def timeline_svg(t: dict[str, Any]) -> str:
    hosts = list(t["hosts"].items())
    n = t["buckets"]
    width, height, left, bottom = 1000, 240, 48, 28
    top = max((max(s["error"] or [0]) for _, s in hosts), default=0) or 1
    plot_w, plot_h = width - left - 10, height - bottom - 10
    parts = [f'<svg id="timeline" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'style="max-width:100%;height:auto;background:#fff">',
             f'<line x1="{left}" y1="{10 + plot_h}" x2="{width - 10}" y2="{10 + plot_h}" stroke="#888"/>',
             f'<line x1="{left}" y1="10" x2="{left}" y2="{10 + plot_h}" stroke="#888"/>',
             f'<text x="{left - 6}" y="16" font-size="11" text-anchor="end">{top}</text>',
             f'<text x="{left - 6}" y="{10 + plot_h}" font-size="11" text-anchor="end">0</text>',
             f'<text x="{left}" y="{height - 8}" font-size="11">{e(t["start"])}</text>',
             f'<text x="{width - 10}" y="{height - 8}" font-size="11" text-anchor="end">'
             f'+{n} × {e(_bucket(t["bucket_seconds"]))}</text>']
    bar_w = plot_w / max(n, 1) / max(len(hosts), 1)
    for hi, (_, s) in enumerate(hosts):
        color = COLORS[hi % len(COLORS)]
        for i, v in enumerate(s["error"]):
            if v:
                h = v / top * plot_h
                x = left + (i * len(hosts) + hi) * bar_w
                parts.append(f'<rect class="bar" x="{x:.2f}" y="{10 + plot_h - h:.2f}" width="{max(bar_w, 1):.2f}" '
                             f'height="{max(h, 1):.2f}" fill="{color}"><title>{v}</title></rect>')
    parts.append("</svg>")
    legend = "".join(f'<span><i class="sw" style="background:{COLORS[i % len(COLORS)]}"></i>{e(h)}</span>'
                     for i, (h, _) in enumerate(hosts))
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _bucket(b: int | None) -> str:
    if not b:
        return "?"
    return f"{b // 86400}d" if b % 86400 == 0 else f"{b // 3600}h" if b % 3600 == 0 else f"{b // 60}m"


def render_html(r: dict[str, Any]) -> str:
    if "fleet" in r:  # a case set: the fleet, then each shard's report
        from collector.report.render_fleet import fleet_html

        body = fleet_html(r, e, _table)
        for shard in r["shards"]:
            if shard["report"] is not None:
                body += [f'<hr><h1 id="shard-{e(shard["file"])}">Shard {e(shard["file"])}</h1>',
                         *_body(shard["report"])]
        return _page(str(r["fleet"]["case"].get("title") or "case set"), body)
    return _page(r["case"].get("title") or "support bundle", _body(r))


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>casepack report — {e(title)}</title><style>{CSS}</style></head>\n<body><main>\n"
            + "\n".join(body) + "\n</main></body></html>\n")


def _body(r: dict[str, Any]) -> list[str]:
    title = r["case"].get("title") or "support bundle"
    body = [f"<h1>casepack report — {e(title)}</h1>",
            f'<div class="sub">{e(r["source"])} · bundle {e(r["bundle"]["format"])} created '
            f'{e(r["bundle"]["created"])}, status {e(r["bundle"]["status"])} · generated {e(r["generated"])}</div>']
    body += [f'<div class="alert">Version mismatch between hosts — {e(m)}</div>' for m in r["version_mismatches"]]
    sp = r["timeline"].get("spike")
    if sp:
        body.append(f'<div class="alert">Error spike on {e(sp["host"])}: {e(sp["count"])} errors in the bucket at '
                    f'{e(sp["at"])}, rising from {e(sp["started"])}</div>')
    for d in r["config_diffs"]:
        for x in d["differing"]:
            body.append(f'<div class="alert">Configuration differs: {e(d["probe"])}/{e(d["file"])} on {e(x["host"])} '
                        f'(vs {e(d["reference"])})</div>')
    body += _case(r) + _errors(r["errors"]) + _timeline(r["timeline"]) + _configs(r["config_diffs"])
    body += _stats(r["stats"]) + _checks(r["checks"])
    return body


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>'


def _case(r: dict[str, Any]) -> list[str]:
    out = ['<h2 id="case">Case</h2>',
           _table(["field", "value"], [[e(k), e(v)] for k, v in r["case"].items() if v not in (None, "")], "case")]
    rows = [[e(h["name"]), f'<span class="{"pass" if h["status"] == "ok" else "fail"}">{e(h["status"])}</span>',
             e(h["address"]), "<br>".join(f"{e(p)}: {e(v)}" for p, v in h["versions"].items()),
             ", ".join(f"{n} {e(s)}" for s, n in h["artifacts"].items()), e(h["error"])] for h in r["hosts"]]
    out += ['<h2 id="hosts">Hosts</h2>', _table(["host", "status", "address", "versions", "artifacts", "error"], rows)]
    if r["failures"]:
        out += ["<h3>What failed</h3>", _table(["host", "item", "status", "why"], [
            [e(f["host"]), f"{e(f['probe'])}/{e(f['artifact'])}", e(f["status"]) + (" (optional)" * f["optional"]),
             e(f["error"])] for f in r["failures"]])]
    red = r["redaction"]
    rules = ", ".join(f"{e(k)} {v}" for k, v in red["by_rule"].items())
    out.append(f'<div class="card">Redaction {"on" if red["enabled"] else "<b>OFF</b>"}: {red["total"]} value(s) '
               f'in {red["files"]} file(s){": " + rules if rules else ""}</div>')
    return out


def _errors(x: dict[str, Any]) -> list[str]:
    levels = ", ".join(f"{e(k)} {v}" for k, v in x["by_level"].items()) or "none"
    out = ['<h2 id="errors">Errors and warnings in the logs</h2>',
           f'<div class="card">{x["entries"]} entries ({levels}) in {x["files"]} file(s), {x["lines"]} lines, '
           f'{e(human_size(x["bytes"]))}; {x["distinct_signatures"]} signature(s), top {x["shown"]} below.</div>']
    rows = []
    for s in x["signatures"]:
        hosts = "<br>".join(f"{e(h)}&nbsp;{n}" for h, n in s["hosts"].items())
        at = s["example_at"]
        rows.append([f'<span class="lvl-{e(s["level"])}">{e(s["level"])}</span>', f'<span class="num">{s["count"]}'
                     "</span>", f"<code>{e(s['signature'])}</code><details><summary>example</summary><pre>"
                     f"{e(s['example'])}</pre><div class=\"sub\">{e(at['file'])}:{e(at['line'])}</div></details>",
                     hosts, e(s["first_seen"]), e(s["last_seen"])])
    out.append(_table(["level", "count", "signature", "hosts", "first seen", "last seen"], rows, "signatures"))
    return out


def _timeline(t: dict[str, Any]) -> list[str]:
    out = ['<h2 id="timeline-h">Timeline: errors per host</h2>']
    if not t["bucket_seconds"]:
        return [*out, '<div class="card">No timestamped errors.</div>']
    out.append(f'<div class="sub">from {e(t["start"])}, {t["buckets"]} buckets of {e(_bucket(t["bucket_seconds"]))}'
               f'{"; " + str(t["untimed"]) + " entries without a time" if t["untimed"] else ""}</div>')
    return [*out, timeline_svg(t)]


def _configs(diffs: list[dict[str, Any]]) -> list[str]:
    out = ['<h2 id="config">Configuration differences between hosts</h2>']
    if not diffs:
        return [*out, '<div class="card">No config file was collected on two or more hosts.</div>']
    for d in diffs:
        name = f"{e(d['probe'])}/{e(d['file'])}"
        if not d["differing"]:
            out.append(f'<div class="card">{name}: same on {e(", ".join(d["same"]))}</div>')
        for x in d["differing"]:
            lines = []
            for line in x["diff"].splitlines():
                cls = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
                lines.append(f'<span class="{cls}">{e(line)}</span>')
            out.append(f'<div class="card"><b>{name}</b>: <b>{e(x["host"])}</b> differs from {e(d["reference"])} '
                       f'(same on {e(", ".join(d["same"]))}), {x["changed_lines"]} changed line(s)'
                       f'<pre class="diff">{chr(10).join(lines)}</pre></div>')
        out += [f'<div class="sub">{e(n)}</div>' for n in d["notes"]]
    return out


def _stats(dbs: list[dict[str, Any]]) -> list[str]:
    out = ['<h2 id="stats">Statistics databases</h2>']
    if not dbs:
        return [*out, '<div class="card">None collected.</div>']
    for db in dbs:
        out.append(f'<h3>{e(db["host"])}: <code>{e(db["file"])}</code></h3>')
        if db["error"]:
            out.append(f'<div class="alert">{e(db["error"])}</div>')
        out += [f'<div class="sub">{e(n)}</div>' for n in db["notes"]]
        rows = []
        for t in db["tables"]:
            tr = t["time_range"]
            head = [f"<code>{e(t['name'])}</code>", f'<span class="num">{e(t["rows"])}</span>',
                    f"{e(tr['start'])} – {e(tr['end'])}" if tr else "", e(t["error"])]
            rows.append(head + ["", "", "", "", ""])
            for i, s in enumerate(t["series"]):
                label = e(s["column"]) + (f" [{e(s['group'])}]" if s["group"] is not None else "")
                rows.append(["", "", "", "", label, _n(s["min"]), _n(s["max"]), _n(s["last"]),
                             sparkline_svg(s["points"], color=COLORS[i % len(COLORS)])])
        out.append(_table(["table", "rows", "time range", "error", "series", "min", "max", "last", "chart"],
                          [r[:9] for r in rows], "stats"))
    return out


def _checks(checks: list[dict[str, Any]]) -> list[str]:
    out = ['<h2 id="checks">Health checks</h2>']
    if not checks:
        return [*out, '<div class="card">No check artifacts.</div>']
    rows = [[f'<span class="{e(c["result"])}">{e(c["result"].upper())}</span>', e(c["host"]),
             f"{e(c['probe'])}/{e(c['check'])}", e(c["message"]), e(c["remedy"]) if c["result"] != "pass" else ""]
            for c in checks]
    return [*out, _table(["result", "host", "check", "message", "remedy"], rows, "checks")]
