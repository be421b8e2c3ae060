"""Parsing user-facing option values: durations, times, sizes, NAME=VALUE pairs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from collector.errors import InputError
from probes.spec import ProbeSpecError, parse_size

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float) -> float:
    """``90m``, ``2h``, ``1d``, ``1w`` (ago) or an ISO date/time (UTC unless it says otherwise)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--since {text!r}: use a duration (30m, 2h, 1d, 1w) or an ISO time "
                         "(2026-11-24T06:00, UTC)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if dt.timestamp() > now:
        raise InputError(f"--since {text!r} is in the future")
    return dt.timestamp()


def parse_size_option(text: str, flag: str) -> int:
    try:
        size = parse_size(text, flag)
    except ProbeSpecError as exc:
        raise InputError(str(exc)) from None
    if not size or size <= 0:
        raise InputError(f"{flag} must be positive")
    return size


def parse_pairs(items: tuple[str, ...] | list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise InputError(f"{flag} {item!r}: expected NAME=VALUE")
        out[key] = value
    return out
