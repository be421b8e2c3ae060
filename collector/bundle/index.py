"""``index.sqlite``: the manifest as SQL tables, for engineers who query bundles."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from collector.bundle.manifest import Manifest


def _sqlite_utils():  # noqa: ANN202 - the module
    """sqlite_utils, imported without numpy/pandas: it loads them only to convert their values (never ours),
    and numpy's import costs ~0.13 s of CPU and starts a BLAS thread pool that spins (measured, local collect)."""
    if "sqlite_utils" in sys.modules:
        return sys.modules["sqlite_utils"]
    blocked = [m for m in ("numpy", "pandas") if m not in sys.modules]
    for m in blocked:
        sys.modules[m] = None  # type: ignore[assignment]  # "import numpy" raises ImportError
    try:
        import sqlite_utils
    finally:
        for m in blocked:
            if sys.modules.get(m, 0) is None:
                del sys.modules[m]
    return sqlite_utils


def build_index(manifest: Manifest, path: Path) -> None:
    """Write the manifest's hosts, artifacts, case fields and redaction counts as tables."""
    db = _sqlite_utils().Database(path)
    data = manifest.to_dict()
    db["bundle"].insert_all(
        [{"key": k, "value": json.dumps(v) if not isinstance(v, str) else v}
         for k, v in (("format", data["format"]), ("created", data["created"]), ("status", data["status"]),
                      ("tool", data["tool"]), ("window", data["window"]), ("options", data["options"]))],
        pk="key",
    )
    db["case_fields"].insert_all(
        [{"field": k, "value": v if isinstance(v, str) else json.dumps(v)} for k, v in data["case"].items()],
        pk="field",
    )
    db["hosts"].insert_all(
        [{**h, "probes": json.dumps(h["probes"]), "facts": json.dumps(h["facts"])} for h in data["hosts"]],
        pk="name",
        columns={"error": str},
    )
    rows = []
    for i, a in enumerate(data["artifacts"]):
        row = {"id": i + 1, **a}
        for key in ("redactions", "check", "notes"):
            row[key] = json.dumps(a[key]) if a[key] else None
        rows.append(row)
    db["artifacts"].insert_all(
        rows, pk="id", columns={"error": str, "path": str, "sha256": str, "check": str, "version": str,
                                "method": str, "exit_code": int, "source_size": int, "redactions": str,
                                "notes": str},
    )
    db["redactions"].insert_all(
        [{"file": f, "rule": r, "count": n}
         for f, counts in manifest.redaction.get("files", {}).items() for r, n in counts.items()],
        columns={"file": str, "rule": str, "count": int},
    )
    for table, cols in (("artifacts", ["host", "probe"]), ("artifacts", ["status"])):
        db[table].create_index(cols, if_not_exists=True)
    db.conn.commit()
    db.close()
