"""casepack's own secrets for this run: kept in the parent, scrubbed from children, known to the redactor.

The sudo password, the bundle passphrase, secret probe variables and upload
credentials are registered here when they are read. Child processes get an
environment without the variables they came from, and the redactor removes
every registered value wherever it appears (collected files, metadata, terminal).
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_values: set[str] = set()
_env_names: set[str] = set()
MIN_LENGTH = 4  # shorter values would redact ordinary text


def register(value: str | None, env_name: str | None = None) -> None:
    """Remember a secret value (and the environment variable it was read from, if any)."""
    with _lock:
        if value and len(value) >= MIN_LENGTH:
            _values.add(value)
        if env_name:
            _env_names.add(env_name)


def known_values() -> list[str]:
    with _lock:
        return sorted(_values, key=len, reverse=True)


def child_environment() -> dict[str, str]:
    """This process's environment without casepack's secret-bearing variables."""
    with _lock:
        names = set(_env_names)
        values = set(_values)
    return {k: v for k, v in os.environ.items() if k not in names and v not in values}


def reset() -> None:
    """Forget everything (tests; a new run in the same process)."""
    with _lock:
        _values.clear()
        _env_names.clear()
