"""Evaluate a ``check`` artifact's output against its expectation: pass / warn / fail."""

from __future__ import annotations

import re
from typing import Any

from probes.spec import Check

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def evaluate(check: Check, output: str, exit_code: int | None) -> dict[str, Any]:
    """Return ``{"result", "value", "message", "remedy"}`` for one check run."""
    result: dict[str, Any] = {"result": "pass", "value": None, "message": "", "remedy": check.remedy}
    if check.has_thresholds:
        values = _values(check, output)
        if not values:
            return {**result, "result": "fail", "message": "no number found in the output"}
        worst = "pass"
        messages = []
        for label, value in values:
            level = _level(check, value)
            if level != "pass":
                messages.append(f"{label or 'value'}={value:g} ({level})")
            if ("pass", "warn", "fail").index(level) > ("pass", "warn", "fail").index(worst):
                worst = level
        upper = check.warn_above is not None or check.fail_above is not None
        label, shown = (max if upper else min)(values, key=lambda lv: lv[1])
        where = f"{label} = " if label else ""
        result.update(result=worst, value=shown,
                      message="; ".join(messages) or f"{len(values)} value(s) within limits, worst {where}{shown:g}")
        return result
    if check.expect_output is not None:
        if re.search(check.expect_output, output, re.MULTILINE):
            result["message"] = f"output matches /{check.expect_output}/"
        else:
            first = output.strip().splitlines()[:1]
            shown = first[0][:120] if first else "(empty)"
            result.update(result=check.on_mismatch,
                          message=f"output does not match /{check.expect_output}/: {shown}")
        return result
    if check.expect_exit is not None and exit_code != check.expect_exit:
        result.update(result=check.on_mismatch, message=f"exit status {exit_code}, expected {check.expect_exit}")
    else:
        result["message"] = f"exit status {exit_code}"
    return result


def _values(check: Check, output: str) -> list[tuple[str, float]]:
    """Every number the check measures, with a label (the rest of its line)."""
    out = []
    for line in output.splitlines():
        if check.value_regex:
            m = re.search(check.value_regex, line)
            if not m:
                continue
            text = m.group(1) if m.groups() else m.group(0)
        else:
            m = _NUMBER.search(line)
            if not m:
                continue
            text = m.group(0)
        try:
            value = float(text)
        except ValueError:
            continue
        label = line.replace(m.group(0), "").strip()[:80]
        out.append((label, value))
    return out


def _level(check: Check, value: float) -> str:
    if (check.fail_above is not None and value > check.fail_above) or (
        check.fail_below is not None and value < check.fail_below
    ):
        return "fail"
    if (check.warn_above is not None and value > check.warn_above) or (
        check.warn_below is not None and value < check.warn_below
    ):
        return "warn"
    return "pass"
