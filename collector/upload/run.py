"""``upload()``: check, connect, send each file (retrying with backoff, resuming over SFTP), write receipts.

Progress flows through a reporter the caller supplies (the CLI's terminal line and ``--events``);
nothing here prints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from collector import interrupt
from collector.errors import UploadError
from collector.hosts.resolve import SshOptions
from collector.upload.files import check, outgoing
from collector.upload.receipt import Receipt, append_receipt, now_utc
from collector.upload.target import Target

RETRIES = 3
BACKOFF = 1.0  # seconds before the first retry; doubled each time
MAX_WAIT = 30.0


class UploadReporter(Protocol):
    def file_started(self, name: str, size: int, target: str) -> None: ...
    def progress(self, name: str, done: int, size: int) -> None: ...
    def retrying(self, name: str, reason: str, wait: float, attempt: int) -> None: ...
    def file_done(self, receipt: Receipt) -> None: ...


class QuietReporter:
    def file_started(self, name: str, size: int, target: str) -> None: ...
    def progress(self, name: str, done: int, size: int) -> None: ...
    def retrying(self, name: str, reason: str, wait: float, attempt: int) -> None: ...
    def file_done(self, receipt: Receipt) -> None: ...


@dataclass
class UploadRequest:
    source: Path  # a bundle, or a case-set folder
    target: Target
    ssh: SshOptions = field(default_factory=SshOptions)
    ca_file: str | None = None
    max_size: int | None = None
    allow_unencrypted: bool = False
    retries: int = RETRIES
    backoff: float = BACKOFF


def _sender(request: UploadRequest) -> Any:
    if request.target.scheme == "sftp":
        from collector.upload.sftp import SftpSender

        return SftpSender(request.target, request.ssh)
    from collector.upload.https import HttpsSender

    return HttpsSender(request.target, request.ca_file)


def upload(request: UploadRequest, reporter: UploadReporter | None = None) -> list[Receipt]:
    """Send the bundle (or every file of a set); one receipt per file, appended to ``uploads.jsonl``."""
    report = reporter or QuietReporter()
    out = outgoing(request.source)
    check(out, request.max_size, request.allow_unencrypted)
    sender = _sender(request)
    receipts: list[Receipt] = []
    try:
        folder: str | None = None
        for path in out.files:
            receipt = None
            attempt = 0
            while receipt is None:
                try:
                    if folder is None:
                        sender.connect()
                        folder = sender.remote_dir(out.folder)
                    receipt = _send_one(sender, folder, path, request.target, report)
                except UploadError as exc:
                    if not exc.retry or attempt >= request.retries:
                        raise
                    attempt += 1
                    wait = min(MAX_WAIT, request.backoff * 2 ** (attempt - 1))
                    report.retrying(path.name, exc.message, wait, attempt)
                    time.sleep(wait)
                    interrupt.check()
                    folder = None  # reconnect; an SFTP upload resumes from its verified partial file
            append_receipt(out.receipts, receipt)
            receipts.append(receipt)
            report.file_done(receipt)
    finally:
        sender.close()
    return receipts


def _send_one(sender: Any, folder: str, path: Path, target: Target, report: UploadReporter) -> Receipt:
    size = path.stat().st_size
    report.file_started(path.name, size, target.shown)
    start = time.monotonic()
    fields = sender.send(path, folder, path.name, lambda done: report.progress(path.name, done, size))
    return Receipt(file=str(path), target=target.shown, remote=str(fields["remote"]), bytes=size,
                   sha256=str(fields["sha256"]), duration=round(time.monotonic() - start, 3),
                   bytes_sent=int(fields["bytes_sent"]), resumed_from=int(fields["resumed_from"]), time=now_utc(),
                   note=str(fields.get("note", "")))
