"""The report as JSON (format ``casepack-report/1``, documented in docs/report.md)."""

from __future__ import annotations

import json
import math
from typing import Any


def _finite(value: Any) -> Any:
    """NaN and infinities (possible in a hostile statistics database) become null: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(_finite(report), indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"
