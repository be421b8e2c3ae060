"""The error tree and exit statuses shared by the library and the CLI."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0  # bundle complete
    ERROR = 1  # nothing usable written
    USAGE = 2  # bad usage or bad input files
    PARTIAL = 3  # bundle written, but some artifact or host failed
    HANGUP = 129  # SIGHUP (128 + 1): partial bundle written (collect) or nothing written
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT): partial bundle written (collect) or nothing written
    TERMINATED = 143  # SIGTERM (128 + 15): partial bundle written (collect) or nothing written


UPLOAD_FAILED = 5  # collect --upload: the bundle was written and is kept, but its upload failed


class CasepackError(Exception):
    """An expected failure: one line for the user, an optional hint, an exit status."""

    exit_status = ExitStatus.ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(CasepackError):
    """Bad usage or a bad input file (probe, case file, inventory)."""

    exit_status = ExitStatus.USAGE


class TransportError(CasepackError):
    """A host cannot be reached or used at all."""


class UploadError(CasepackError):
    """A bundle could not be delivered (DNS, refused, TLS, auth, quota, HTTP status, connection lost)."""

    def __init__(self, message: str, hint: str | None = None, retry: bool = False) -> None:
        super().__init__(message, hint)
        self.retry = retry  # worth another attempt after a pause (5xx, a dropped connection)


class ArtifactError(Exception):
    """One artifact could not be collected; ``status`` goes into the manifest."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
