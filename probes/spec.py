"""Probe specifications: declarative descriptions of what to collect.

A probe is data: a name, default variables and a list of artifacts. Probes never
do I/O themselves; the collection engine runs them through a transport. A probe
that needs logic to find its files (see ``probes/amps.py``) supplies a
``discover`` function that receives a read-only :class:`DiscoveryContext`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

KINDS = ("version", "config", "log", "stats", "command", "check")
FILE_KINDS = ("config", "log", "stats")
COMMAND_KINDS = ("version", "command", "check")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
DEFAULT_TIMEOUT = 60.0


class ProbeSpecError(ValueError):
    """A probe definition is invalid (bad file, unknown field, bad variable)."""


@dataclass(frozen=True)
class Check:
    """How a ``check`` artifact's command output becomes pass / warn / fail."""

    expect_exit: int | None = 0
    expect_output: str | None = None  # regex that must match the output
    value_regex: str | None = None  # group 1 (or the whole match) is the number
    warn_above: float | None = None
    fail_above: float | None = None
    warn_below: float | None = None
    fail_below: float | None = None
    on_mismatch: str = "fail"  # result when expect_output / expect_exit is not met
    remedy: str = ""
    # thresholds given as ``"{var}"`` templates (e.g. ``warn_above = "{disk_warn}"``): set by ``Artifact.expand``
    threshold_vars: tuple[tuple[str, str], ...] = ()

    def expand(self, variables: Mapping[str, str], where: str) -> Check:
        """A copy with the ``{var}`` thresholds set from the variables (each must be a number)."""
        values: dict[str, float] = {}
        for key, template in self.threshold_vars:
            text = expand_text(template, variables, f"{where}: check {key}", quote=False)
            try:
                values[key] = float(text)
            except ValueError:
                raise ProbeSpecError(f"{where}: check {key} = {template} gives {text!r}, not a number") from None
        return replace(self, threshold_vars=(), **values) if values else self

    @property
    def has_thresholds(self) -> bool:
        return any(
            v is not None for v in (self.warn_above, self.fail_above, self.warn_below, self.fail_below)
        )


@dataclass(frozen=True)
class Artifact:
    """One thing to collect. ``paths`` are globs; ``command`` is a shell command."""

    name: str
    kind: str
    description: str = ""
    command: str | None = None
    paths: tuple[str, ...] = ()
    first_match: bool = False  # paths are alternatives: use the first that matches
    needs_root: bool = False
    optional: bool = False  # a failure is recorded but does not make the run partial
    requires: tuple[str, ...] = ()  # commands that must exist, else the artifact is skipped
    timeout: float = DEFAULT_TIMEOUT
    max_size: int | None = None  # bytes; None: the run's --max-file-size
    max_files: int | None = None  # logs: newest N files
    tail_lines: int | None = None  # logs: last N lines of each file
    check: Check | None = None
    redact: bool = True  # False only for content that cannot hold secrets (binary dumps, generated data)
    # environment for the command on the host, ``{var}`` templates; sent on stdin, never in argv
    env: tuple[tuple[str, str], ...] = ()
    error_output: str | None = None  # regex: output matching it means the command answered an error
    secret_vars: frozenset[str] = frozenset()  # the probe's secret variables: only usable in ``env``

    def expand(self, variables: Mapping[str, str]) -> Artifact:
        """Return a copy with ``{var}`` references replaced (shell-quoted in commands).

        Secret variables may only appear in ``env``; an ``env`` entry whose value is empty is dropped
        (an unset password means "no password", not an empty one).
        """
        where = f"artifact {self.name!r}"
        public = {k: v for k, v in variables.items() if k not in self.secret_vars}
        try:
            command = expand_text(self.command, public, where, quote=True) if self.command else None
            paths = tuple(expand_text(p, public, where, quote=False) for p in self.paths)
        except ProbeSpecError:
            leaked = [v for v in self.secret_vars if f"{{{v}}}" in (self.command or "") + " ".join(self.paths)]
            if leaked:
                raise ProbeSpecError(f"{where}: secret variable {{{leaked[0]}}} may only be used in 'env'") from None
            raise
        env = []
        for name, template in self.env:
            value = expand_text(template, variables, where, quote=False)
            if "\n" in value or "\0" in value:
                raise ProbeSpecError(f"{where}: env {name}: a value with a newline cannot be passed")
            if value:
                env.append((name, value))
        check = self.check.expand(public, where) if self.check else None
        return replace(self, command=command, paths=paths, env=tuple(env), check=check)


class DiscoveryIncomplete(Exception):  # noqa: N818 - a result, not a programming error
    """Raised by ``discover`` when it found some artifacts but could not follow every reference.

    The run keeps ``artifacts`` and records ``reason`` as a failed discovery, so the host is
    ``partial``: a bundle is complete only when nothing the configuration names is unaccounted for.
    """

    def __init__(self, reason: str, artifacts: list[Artifact]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.artifacts = artifacts


class DiscoveryContext(Protocol):
    """What a probe's ``discover`` function may use: read-only access to the host."""

    variables: Mapping[str, str]

    def read_text(self, path: str, limit: int = 4 << 20) -> str | None:
        """The file's text (as the login user, else with sudo when allowed); None if unreadable."""
        ...

    def run(self, command: str, timeout: float = 30.0, privileged: bool = False) -> str | None:
        """stdout of a shell command (with sudo first when ``privileged`` and allowed); None if it failed."""
        ...


Discover = Callable[[DiscoveryContext], "list[Artifact]"]


@dataclass(frozen=True)
class Probe:
    name: str
    description: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)
    variable_help: Mapping[str, str] = field(default_factory=dict)
    artifacts: tuple[Artifact, ...] = ()
    discover: Discover | None = None
    discover_help: str = ""
    source: str = "built-in"
    secrets: frozenset[str] = frozenset()  # variables never shown, only passed to commands via ``env``

    def shown_variables(self, overrides: Mapping[str, str] | None = None) -> dict[str, str]:
        """Variables as they may be displayed: secret ones as ``[secret]`` (or empty when unset)."""
        merged = {**self.variables, **(overrides or {})}
        return {k: ("[secret]" if v and k in self.secrets else v) for k, v in merged.items()}


_VAR = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def expand_text(text: str, variables: Mapping[str, str], where: str, quote: bool) -> str:
    """Replace ``{name}`` with variables (shell-quoted when ``quote``).

    Only ``{identifier}`` is a reference, so shell and awk braces (``{print $1}``)
    stay as written; ``{{`` and ``}}`` give literal braces.
    """

    def sub(m: re.Match[str]) -> str:
        token, key = m.group(0), m.group(1)
        if key is None:
            return token[0]
        if key not in variables:
            known = ", ".join(sorted(variables)) or "none"
            raise ProbeSpecError(f"{where}: unknown variable {{{key}}} (known: {known}); set it with --var {key}=VALUE")
        value = str(variables[key])
        return shlex.quote(value) if quote else value

    return _VAR.sub(sub, text)


def parse_size(value: int | str | None, where: str = "size") -> int | None:
    """``"50MB"``, ``"1 GiB"``, ``2048`` → bytes. Decimal and binary units."""
    if value is None or isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*", str(value), re.IGNORECASE)
    if not m:
        raise ProbeSpecError(f"{where}: cannot read size {value!r} (use e.g. 500KB, 50MB, 2GiB)")
    number, unit, binary = float(m.group(1)), m.group(2).lower(), m.group(3)
    base = 1024 if binary else 1000
    return int(number * base ** " kmgt".index(unit or " "))
