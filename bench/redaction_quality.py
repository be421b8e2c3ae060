"""Redaction quality on the corpus (tests/data/redaction/cases.toml), beside detect-secrets' recall.

    python -m bench.redaction_quality            # needs `pip install detect-secrets` for the comparison only
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from tests.redaction_corpus import load_cases, run_corpus


def detect_secrets_recall(cases: list) -> tuple[int, int] | None:
    """(secrets whose line detect-secrets flags, secrets) — or None when it is not installed."""
    try:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        return None
    found = total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            path = Path(tmp) / case.name
            path.write_bytes(case.text)
            collection = SecretsCollection()
            with default_settings():
                collection.scan_file(str(path))
            flagged = {s["line_number"] for items in collection.json().values() for s in items}
            lines = case.text.decode().splitlines()
            for secret in case.secrets:
                total += 1
                numbers = {i + 1 for i, line in enumerate(lines) if secret.split("\n")[0] in line}
                found += bool(numbers & flagged)
    return found, total


def main() -> int:
    cases = load_cases()
    outcome, _ = run_corpus()
    ours = 1 - len(outcome.leaks) / outcome.secrets
    report = {"files": outcome.files, "planted_secrets": outcome.secrets, "leaks": outcome.leaks,
              "lookalikes_lost": outcome.lost, "parse_failures": outcome.parse_failures,
              "casepack_recall": round(ours, 4)}
    ds = detect_secrets_recall(cases)
    if ds is not None:
        report["detect_secrets_recall"] = round(ds[0] / ds[1], 4)
        report["detect_secrets_found"] = f"{ds[0]}/{ds[1]}"
    print(json.dumps(report, indent=2))
    return 0 if not (outcome.leaks or outcome.lost or outcome.parse_failures) else 1


if __name__ == "__main__":
    sys.exit(main())
