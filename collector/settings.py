"""One settings object for every command: the precedence chain, decided once.

Precedence (lowest first): probe defaults < inventory group < host (both applied per host by
:mod:`collector.plan`) < case file < command-line flags. :func:`resolve_settings` applies the
run-wide part — probes, time window, size cap, variables, case fields and the redaction table —
for ``collect`` and ``process-test`` alike. :func:`plan_encryption` is the one encryption policy:
``collect`` refuses what it refuses (exit 2), ``process-test`` reports the same refusal as a FAIL.
Nothing here prompts or prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from collector.bundle.crypto import Recipient, parse_recipients
from collector.casefile import CaseFile, encryption_section, load_case_file, parse_field_args, redaction_section
from collector.defaults import MAX_FILE_SIZE
from collector.engine.artifacts import RunOptions
from collector.errors import InputError
from collector.hosts.resolve import positive
from probes.loader import load_probe
from probes.spec import Probe, ProbeSpecError, parse_size

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float) -> float:
    """``90m``, ``2h``, ``1d``, ``1w`` (ago) or an ISO date/time (UTC unless it says otherwise)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if m:
        return now - float(m.group(1)) * _UNITS[m.group(2)]
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--since {text!r}: use a duration (30m, 2h, 1d, 1w) or an ISO time "
                         "(2026-11-24T06:00, UTC)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    if dt.timestamp() > now:
        raise InputError(f"--since {text!r} is in the future")
    return dt.timestamp()


def parse_size_option(text: str, flag: str) -> int:
    try:
        size = parse_size(text, flag)
    except ProbeSpecError as exc:
        raise InputError(str(exc)) from None
    if not size or size <= 0:
        raise InputError(f"{flag} must be positive")
    return size


def parse_pairs(items: tuple[str, ...] | list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise InputError(f"{flag} {item!r}: expected NAME=VALUE")
        out[key] = value
    return out


@dataclass
class Flags:
    """What was given on the command line (empty / None: not given)."""

    probes: tuple[str, ...] = ()
    case_file: str | None = None
    since: str | None = None
    max_file_size: str | None = None
    variables: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    passphrase: bool = False  # --passphrase or --passphrase-env given
    sign_key: str | None = None
    pseudonymize: bool = False
    mapping: str | None = None
    host_timeout: float | None = None


@dataclass
class EncryptionPlan:
    """Whom the bundle is encrypted to, decided before anything is collected."""

    recipients: list[Recipient] = field(default_factory=list)
    passphrase: bool = False
    sign_key: Path | None = None
    required: bool = False


@dataclass
class Settings:
    case: CaseFile | None
    probes: list[Probe]
    fields: dict[str, str]
    variables: dict[str, str]  # case file [vars] < --var
    options: RunOptions
    host_timeout: float | None = None  # --host-timeout < case file [collect] host_timeout (None: per host, if any)


def resolve_settings(flags: Flags, now: float) -> Settings:
    """Apply the precedence chain; every bad value is a one-line :class:`InputError` naming its source."""
    case = load_case_file(flags.case_file) if flags.case_file else None
    collect = case.collect if case else {}
    names = list(flags.probes) or [str(p) for p in collect.get("probes", [])] or ["system"]
    try:
        probes = [load_probe(name) for name in names]
    except ProbeSpecError as exc:
        raise InputError(str(exc)) from None
    since_text = flags.since or collect.get("since")
    whole = str(since_text).strip().lower() in ("all", "none") if since_text else False
    cap_text = flags.max_file_size or str(collect.get("max_file_size") or MAX_FILE_SIZE)
    options = RunOptions(
        since=parse_since(str(since_text), now) if since_text and not whole else None,
        since_origin="--since" if flags.since else "case file" if since_text else None,
        max_file_size=parse_size_option(cap_text, "--max-file-size" if flags.max_file_size else
                                        f"case file {flags.case_file} [collect] max_file_size"),
        pseudonymize=flags.pseudonymize, mapping=flags.mapping,
        redaction=redaction_section(case),
    )
    fields = {**(case.fields if case else {}), **parse_field_args(flags.fields)}
    variables = {**(case.variables if case else {}), **parse_pairs(flags.variables, "--var")}
    host_timeout = flags.host_timeout
    if host_timeout is None and collect.get("host_timeout") is not None:
        host_timeout = positive(collect["host_timeout"], f"case file {flags.case_file} [collect] host_timeout")
    return Settings(case, probes, fields, variables, options, host_timeout)


def plan_encryption(case: CaseFile | None, recipients: tuple[str, ...] | list[str], passphrase: bool,
                    sign_key: str | None) -> EncryptionPlan:
    """The case file's ``[encryption]`` policy with the flags on top; raises (exit 2) when unusable."""
    section = encryption_section(case)
    keys = parse_recipients(list(recipients)) + parse_recipients(section.recipients, section.base)
    if passphrase and keys:
        raise InputError("a passphrase cannot be combined with recipients (age allows one or the other)")
    if section.required and not keys and not passphrase:
        raise InputError("the case file requires encryption, but no recipient was given; nothing collected",
                         hint="add -r KEY (the vendor's age or SSH public key) or --passphrase-env NAME")
    sign = sign_key or (str(section.base / section.sign) if section.sign and section.base else section.sign)
    return EncryptionPlan(keys, passphrase, Path(sign) if sign else None, section.required)
