"""The receipt of one delivered file: a line for people, a JSON object appended to ``uploads.jsonl``.

``uploads.jsonl`` sits beside the bundle (in a case set's folder for a set), is created 0600 and
appended to, never followed through a symbolic link. It records the target as printed (no
password, no pre-signed query string) and never a credential.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from collector.bundle.casedoc import human_size
from collector.bundle.display import safe
from collector.errors import UploadError

RECEIPTS = "uploads.jsonl"


@dataclass
class Receipt:
    file: str  # the local path
    target: str  # the destination, without credentials or query string
    remote: str  # the name (path) on the server
    bytes: int
    sha256: str
    duration: float
    bytes_sent: int = 0  # less than bytes after a resume
    resumed_from: int = 0
    time: str = ""
    note: str = ""

    def line(self) -> str:
        rate = self.bytes_sent / self.duration if self.duration > 0 else 0.0
        resumed = f", resumed at {human_size(self.resumed_from)}" if self.resumed_from and self.bytes_sent else ""
        note = f" ({self.note})" if self.note else ""
        return (f"uploaded {safe(Path(self.file).name)} ({human_size(self.bytes)}) to {safe(self.target)} as "
                f"{safe(self.remote)} in {self.duration:.1f} s ({human_size(rate)}/s{resumed}){note}\n"
                f"  sha256 {self.sha256}  (quote it in the ticket)")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def append_receipt(folder: Path, receipt: Receipt) -> Path:
    """Append ``receipt`` to ``folder/uploads.jsonl`` (0600, never through a link)."""
    path = folder / RECEIPTS
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise UploadError(f"the upload succeeded but {path} cannot be written: {exc.strerror}",
                          hint=f"sha256 {receipt.sha256} — keep it for the ticket") from None
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(json.dumps(receipt.to_dict(), ensure_ascii=False) + "\n")
    return path
