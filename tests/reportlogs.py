"""Deterministic, deliberately awkward logs for the report scanner's equivalence tests.

``write_logs(dir)`` writes a few files mixing every timestamp format of collector/timefmt.py,
levels in any case (and level words where they do not count), AMPS message ids, stack traces
(Java, C++, Python, with and without a log line before them), CRLF endings, blank lines, quoted
values, redaction markers, unicode, hex runs next to every kind of punctuation, lines longer
than the scanner's cap and a last line without a newline. The signature table the old scanner
(8bf2126) made of them is stored in tests/data/report_golden.json (tests/data/make_report_golden.py).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

T0 = 1795507200  # 2026-11-24T08:00:00Z
LEVELS = ("ERROR", "error", "Error", "WARN", "warning", "Warning", "FATAL", "fatal", "CRIT", "critical", "SEVERE",
          "err", "panic", "alert", "emerg", "INFO", "info", "debug", "notice", "trace")


def _stamp(rnd: random.Random, ts: float) -> str:
    g = time.gmtime(ts)
    kind = rnd.randrange(12)
    frac = f"{int(ts * 1000) % 1000:03d}"
    return [
        time.strftime("%Y-%m-%dT%H:%M:%S", g) + f".{frac}000+0000",
        time.strftime("%Y-%m-%d %H:%M:%S", g) + f",{frac}",
        "[" + time.strftime("%Y-%m-%dT%H:%M:%S", g) + "Z]",
        time.strftime("%Y/%m/%d %H:%M:%S", g),
        f"{rnd.randrange(99999)}:M " + time.strftime("%d %b %Y %H:%M:%S", g) + f".{frac} #",
        time.strftime("%b %e %H:%M:%S", g) + " host app[42]:",
        time.strftime("%Y-%m-%d ", g) + f"{g.tm_hour:2d}" + time.strftime(":%M:%S", g) + " 0",
        time.strftime("%y%m%d ", g) + f"{g.tm_hour:2d}" + time.strftime(":%M:%S", g),
        time.strftime("%Y-%m-%d %H:%M:%S", g) + f".{frac} UTC [{rnd.randrange(999)}]",
        time.strftime("%Y-%m-%dT%H:%M:%S", g) + "-05:00",
        "10.0.0.7 - - [" + time.strftime("%d/%b/%Y:%H:%M:%S", g) + " +0000] \"GET /x HTTP/1.1\" 500",
        "",  # no timestamp at all
    ][kind]


def _hexy(rnd: random.Random) -> str:
    return "".join(rnd.choice("0123456789abcdefABCDEF") for _ in range(rnd.choice((6, 8, 9, 12, 16, 32))))


def _message(rnd: random.Random) -> str:
    h = _hexy(rnd)
    n = rnd.randrange(100000)
    ip = f"10.{rnd.randrange(255)}.{rnd.randrange(255)}.{rnd.randrange(255)}"
    return rnd.choice([
        f"07-0013 client 'c-{n}' disconnected from {ip}:{rnd.randrange(65535)}",
        f"07-0013 client disconnected: client \"c {n}\" exceeded the buffer ({n * 7} bytes queued)",
        f"02-0010 slow consumer 0x{h} queue {n}",
        f"12-0004 subscription {h} matched {n} records in {n % 977}us",
        f"GET /api/v1/orders/{n}?session={h} from {ip} status=500 took={n % 300}ms",
        f"ORA-00600: internal error code, arguments: [{n}], [{h}]",
        f"ERR{n % 9999} login refused token [REDACTED:key-value:{h}] for user '{h}'",
        f"open /var/data/part-{n:04d}.db failed: errno {n % 40}",
        f"uuid {h[:8]}-0000-4000-8000-{h[:12]:0>12} at 2026-11-24T08:{n % 60:02d}:00.{h} lag",
        f"peer fe80:0:0:0:{h[:4]}:1:2:3 and {ip}:{n} said x:{h} y.{h} z,{h} w+{h} v-{h} {h}-u ({h}) [{h}]",
        f"id={h} key{h} {h}_x é{h} {h}é ١٢٣ {n}",
        f"ABCD1234 code-like {h} then  two   spaces\tand a tab {n}",
        f"timeout after {n} ms on /data/q{n % 20} at {n % 24:02d}:{n % 60:02d}:{n % 60:02d}",
        "",
        f": :: ]| >  -=, leading junk {n}",
        f"unclosed \"quote {h} and 'another {n}",
    ])


def _trace(rnd: random.Random) -> list[str]:
    return rnd.choice([
        ["java.lang.IllegalStateException: boom error", "\tat com.example.Processor.run(Processor.java:42)",
         "\tat com.example.ErrorHandler.handle(ErrorHandler.java:7)", "Caused by: java.io.IOException: broken pipe",
         "\t... 12 more", "Suppressed: java.lang.RuntimeException: error in close"],
        ["    at amps::MessageProcessor::enqueue(Message&) (processor.cpp:412)",
         "Caused by: amps::BufferFull: client buffer threshold 1048576 exceeded"],
        ["Traceback (most recent call last):", '  File "x.py", line 3, in <module>', "    f()",
         f"ValueError: bad value {rnd.randrange(99)} error"],
        ["  ERROR indented continuation with a level word"],
    ])


def _lines(rnd: random.Random, count: int, start: float) -> list[str]:
    out: list[str] = []
    ts = start
    for _ in range(count):
        ts += rnd.random() * 20
        r = rnd.random()
        if r < 0.03:  # a Python traceback with no log line before it
            out += ["Traceback (most recent call last):", '  File "y.py", line 9, in main',
                    f"KeyError: 'k{rnd.randrange(50)}'"]
            continue
        if r < 0.05:
            out.append(rnd.choice(["", "\r", "   ", "java.lang.NullPointerException", "\tat orphan.Frame(x:1)",
                                   "ERROR", "warn:", "error: " + "x" * 300, "/var/log/error.log rotated",
                                   "errors: 0 warnings: 0", "WARNING" + "-" * 200]))
            continue
        level = rnd.choice(LEVELS)
        sep = rnd.choice([": ", " ", " [", "] ", " - ", ":  "])
        pad = "x" * (170 if rnd.random() < 0.02 else 0)  # the level word beyond the first 160 bytes
        mention = " (no error here)" if level.lower() in ("info", "debug") and rnd.random() < 0.3 else ""
        line = f"{_stamp(rnd, ts)} {pad}{level}{sep}{_message(rnd)}{mention}"
        out.append(line + ("\r" if rnd.random() < 0.05 else ""))
        if level.lower() not in ("info", "debug", "notice", "trace") and rnd.random() < 0.12:
            out += _trace(rnd)
    return out


def write_logs(root: Path, seed: int = 16) -> list[tuple[str, Path]]:
    """``(host, path)`` of the generated logs (about 2 MB in all), in scan order."""
    rnd = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    files = []
    for host, name, count in (("n1", "app.log", 9000), ("n1", "small.log", 40), ("n2", "app.log", 7000)):
        path = root / f"{host}-{name}"
        lines = _lines(rnd, count, T0 + rnd.randrange(3600))
        if name == "app.log":  # lines over the scanner's 64 KiB cap, one with a level word
            lines.insert(500, "2026-11-24T08:10:00Z ERROR huge " + "'quoted " * 20000)
            lines.insert(900, "y" * 70000 + " ERROR late")
        data = "\n".join(lines)
        if host == "n2":
            data += "\n2026-11-24T09:00:00Z FATAL last line without a newline " + "z" * 80000
        else:
            data += "\n"
        path.write_bytes(data.encode("utf-8", "surrogateescape") + (b"\xff\xfe error: bad utf-8 \xc3\n"
                                                                      if host == "n1" else b""))
        files.append((host, path))
    return files


def dump_scan(scanner: Any, hosts: list[str]) -> dict[str, Any]:
    """Everything a ``LogScanner`` found, as JSON-able data (what the golden file holds)."""
    sigs = [{"id": s.id, "level": s.level, "text": s.text, "count": s.count, "hosts": s.hosts,
             "first_seen": s.first_seen, "last_seen": s.last_seen, "example": s.example,
             "example_at": list(s.example_at), "locations": [list(x) for x in s.locations]}
            for s in scanner.table.ranked()]
    st = scanner.stats
    return {"signatures": sigs, "entries": scanner.table.entries, "locations": scanner.table.locations,
            "stats": {"files": st.files, "lines": st.lines, "bytes": st.bytes, "truncated_lines": st.truncated_lines,
                      "unreadable": st.unreadable},
            "timeline": scanner.timeline.result(hosts)}
