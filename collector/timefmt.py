"""Timestamps at the start of log lines, for every built-in product's format, and ISO time.

Used by the collector's ``--since`` filter and by the report's timelines, so both
read the same formats: ISO 8601 / PostgreSQL / AMPS (``2026-12-02 02:00:23.152 UTC``,
``2026-12-02T02:00:23-05:00``), MariaDB (``2026-12-02  2:00:23``, ``261202  2:00:23``, slow log ``# Time: …``),
nginx error (``2026/12/02 02:00:23``), nginx/Apache access (``… [02/Dec/2026:02:00:23 +0000]``),
redis (``123:M 02 Dec 2026 02:00:23.152``) and syslog (``Dec  2 02:00:23``).
Times without a zone are read as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_TZ = rb"(?:[ ]?(?P<tz>Z|[+-]\d{2}:?\d{2})(?![\d:]))?"
# (pattern, strptime format of "date time"); most specific first; all anchored, no nested repeats
_PATTERNS = (
    (re.compile(rb"^(?:# Time: )?\[?(?P<d>\d{4}-\d{2}-\d{2})(?:T| {1,2})(?P<t>[ \d]?\d:\d{2}:\d{2})(?:[.,]\d+)?" + _TZ),
     "%Y-%m-%d %H:%M:%S"),
    (re.compile(rb"^\[?(?P<d>\d{4}/\d{2}/\d{2})[ :](?P<t>\d{2}:\d{2}:\d{2})"), "%Y/%m/%d %H:%M:%S"),
    (re.compile(rb"^\[?(?P<d>\d{2}/[A-Z][a-z]{2}/\d{4}):(?P<t>\d{2}:\d{2}:\d{2})" + _TZ), "%d/%b/%Y %H:%M:%S"),
    (re.compile(rb"^\d+:[A-Z] (?P<d>\d{2} [A-Z][a-z]{2} \d{4}) (?P<t>\d{2}:\d{2}:\d{2})"), "%d %b %Y %H:%M:%S"),
    (re.compile(rb"^(?:# Time: )?(?P<d>\d{6}) {1,2}(?P<t>[ \d]?\d:\d{2}:\d{2})"), "%y%m%d %H:%M:%S"),
    (re.compile(rb"^[^ \[\n]{1,256} [^ \n]{1,256} [^ \n]{1,256} \[(?P<d>\d{2}/[A-Z][a-z]{2}/\d{4}):"
                rb"(?P<t>\d{2}:\d{2}:\d{2})" + _TZ), "%d/%b/%Y %H:%M:%S"),
    (re.compile(rb"^(?P<d>[A-Z][a-z]{2} [ \d]\d) (?P<t>\d{2}:\d{2}:\d{2})"), "%b %d %H:%M:%S"),
)


def line_time(line: bytes, year: int) -> float | None:
    """The UTC epoch of a timestamp at the start of ``line``, if one can be read."""
    for pattern, fmt in _PATTERNS:
        m = pattern.match(line)
        if m:
            text = f"{m.group('d').decode()} {m.group('t').decode().strip()}"
            try:
                dt = datetime.strptime(text, fmt)
            except ValueError:
                return None
            if "%Y" not in fmt and "%y" not in fmt:
                dt = dt.replace(year=year)
            tz = m.groupdict().get("tz")
            zone = UTC if not tz or tz == b"Z" else _offset(tz.decode())
            return dt.replace(tzinfo=zone).timestamp()
    return None


def _offset(text: str) -> timezone:
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ``2026-12-02T02:00:23Z`` (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
