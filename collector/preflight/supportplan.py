"""Checks of the case file's support plan: vendor coverage vs required availability, contacts."""

from __future__ import annotations

import re
from typing import Any

from collector.preflight.inspect import Finding

_ALWAYS = re.compile(r"^\s*(24\s*[x×/]\s*7|24/7|always|continuous)\s*$", re.IGNORECASE)
_HOURS = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?")
_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def weekly_hours(text: str) -> float | None:
    """Hours per week a coverage string describes: ``24x7``, ``Mon-Fri 08:00-18:00``; None if unreadable."""
    if _ALWAYS.match(text):
        return 168.0
    hours = _HOURS.search(text)
    if not hours:
        return None
    start = int(hours.group(1)) + int(hours.group(2) or 0) / 60
    end = int(hours.group(3)) + int(hours.group(4) or 0) / 60
    per_day = (end - start) % 24 or 24
    days = re.findall(r"(mon|tue|wed|thu|fri|sat|sun)[a-z]*", text.lower())
    if len(days) >= 2 and "-" in text[: hours.start()]:
        first, last = _DAYS[days[0]], _DAYS[days[1]]
        count = (last - first) % 7 + 1
    elif days:
        count = len(days)
    else:
        count = 5 if re.search(r"week\s*days?|business", text, re.IGNORECASE) else 7
    return per_day * count


def check_support_plan(support: dict[str, Any] | None, case: dict[str, str], has_case_file: bool = True
                       ) -> list[Finding]:
    """``[support]``: ``vendor_hours``, ``vendor_timezone``, ``availability``, ``internal_plan``."""
    out: list[Finding] = []
    if not support:
        where = "in the case file" if has_case_file else "(no --case file given)"
        out.append(Finding("-", "support plan", "warn", f"no [support] section {where}",
                           'add [support] vendor_hours = "Mon-Fri 08:00-18:00", vendor_timezone = "Europe/London", '
                           'availability = "24x7"'))
    else:
        vendor = str(support.get("vendor_hours", ""))
        need = str(support.get("availability", ""))
        tz = str(support.get("vendor_timezone", ""))
        v_hours, n_hours = weekly_hours(vendor) if vendor else None, weekly_hours(need) if need else None
        if v_hours is None or n_hours is None:
            shown = f"coverage {vendor or '(unset)'!r} with availability {need or '(unset)'!r}"
            out.append(Finding("-", "support plan", "warn", f"cannot compare {shown}",
                               'use forms like "24x7" or "Mon-Fri 08:00-18:00"'))
        elif v_hours < n_hours:
            plan = support.get("internal_plan")
            level = "pass" if plan else "warn"
            detail = (f"the application needs {need} ({n_hours:g} h/week) but vendor support covers {vendor}"
                      f"{' ' + tz if tz else ''} ({v_hours:g} h/week)")
            out.append(Finding("-", "support plan", level,
                               detail + (f"; internal plan: {plan}" if plan else ""),
                               "" if plan else "out-of-hours incidents need an internal plan (on-call, runbook, "
                               "escalation): describe it in [support] internal_plan"))
        else:
            out.append(Finding("-", "support plan", "pass", f"vendor coverage {vendor} {tz} covers {need}".strip()))
        if not tz and v_hours is not None and v_hours < 168:
            out.append(Finding("-", "support plan", "warn", "vendor_timezone is not set",
                               "coverage hours mean little without the vendor's time zone"))
    missing = [f for f in ("contact_name", "contact_email") if not case.get(f)]
    if not case.get("contact_phone") and not case.get("contact_email"):
        missing.append("contact_phone")
    if missing:
        out.append(Finding("-", "contacts", "fail" if len(missing) == 3 and has_case_file else "warn",
                           f"case contact incomplete: {', '.join(missing)} missing",
                           "fill [contact] name, email and phone in the case file"))
    else:
        out.append(Finding("-", "contacts", "pass", f"contact {case['contact_name']} <{case['contact_email']}>"))
    return out
