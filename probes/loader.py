"""Load probes from TOML files and find the built-in ones."""

from __future__ import annotations

import importlib
import os
import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from probes.spec import ENV_NAME_RE, KINDS, NAME_RE, Artifact, Check, Probe, ProbeSpecError, parse_size

BUILTIN_DIR = Path(__file__).parent / "builtin"
# Probes that need logic are Python modules exposing ``PROBE``.
# ``load()`` (when present) builds the probe at each load, so ``env``-sourced variables are current.
PYTHON_PROBES = {"amps": "probes.amps", "redis": "probes.redis", "nginx": "probes.nginx",
                 "postgresql": "probes.postgresql", "mariadb": "probes.mariadb"}

_ARTIFACT_KEYS = {
    "name", "kind", "description", "command", "paths", "path", "first_match", "needs_root",
    "optional", "requires", "timeout", "max_size", "max_files", "tail_lines", "check", "redact",
    "env", "error_output",
}
_VAR_KEYS = {"value", "secret", "env", "help"}
_CHECK_KEYS = {
    "expect_exit", "expect_output", "value_regex", "warn_above", "fail_above", "warn_below",
    "fail_below", "on_mismatch", "remedy",
}


def _typed(table: dict[str, Any], key: str, types: type | tuple[type, ...], where: str) -> Any:
    value = table.get(key)
    if value is not None and not isinstance(value, types):
        names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
        raise ProbeSpecError(f"{where}: {key!r} must be a {names}, not {type(value).__name__}")
    return value


def _check_from(table: dict[str, Any], where: str) -> Check:
    unknown = set(table) - _CHECK_KEYS
    if unknown:
        raise ProbeSpecError(f"{where}: unknown check field(s) {', '.join(sorted(unknown))}")
    num = (int, float)
    kw: dict[str, Any] = {}
    templates = []
    for key in ("warn_above", "fail_above", "warn_below", "fail_below"):
        value = _typed(table, key, (*num, str), where)
        if isinstance(value, str):  # "{disk_warn}": a probe variable, resolved when the plan is expanded
            if not re.fullmatch(r"\s*\{[A-Za-z_][A-Za-z0-9_]*\}\s*", value):
                raise ProbeSpecError(f"{where}: check {key} must be a number or a \"{{variable}}\", not {value!r}")
            templates.append((key, value.strip()))
        else:
            kw[key] = value
    kw["threshold_vars"] = tuple(templates)
    for key in ("expect_output", "value_regex", "remedy"):
        if key in table:
            kw[key] = _typed(table, key, str, where)
    if "expect_exit" in table:
        kw["expect_exit"] = _typed(table, "expect_exit", int, where)
    on_mismatch = table.get("on_mismatch", "fail")
    if on_mismatch not in ("warn", "fail"):
        raise ProbeSpecError(f"{where}: on_mismatch must be 'warn' or 'fail'")
    kw["on_mismatch"] = on_mismatch
    for key in ("expect_output", "value_regex"):
        if kw.get(key):
            try:
                re.compile(kw[key])
            except re.error as exc:
                raise ProbeSpecError(f"{where}: bad regex in {key}: {exc}") from None
    return Check(**kw)


def artifact_from_table(table: dict[str, Any], where: str) -> Artifact:
    """Build one :class:`Artifact` from a TOML table, with clear errors."""
    unknown = set(table) - _ARTIFACT_KEYS
    if unknown:
        raise ProbeSpecError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    name = _typed(table, "name", str, where)
    if not name or not NAME_RE.match(name):
        raise ProbeSpecError(f"{where}: 'name' is required: lowercase letters, digits, . _ -")
    where = f"{where} ({name})"
    kind = table.get("kind")
    if kind not in KINDS:
        raise ProbeSpecError(f"{where}: 'kind' must be one of {', '.join(KINDS)}, not {kind!r}")
    paths = table.get("paths", table.get("path", []))
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ProbeSpecError(f"{where}: 'paths' must be a list of strings")
    command = _typed(table, "command", str, where)
    if kind in ("config", "log", "stats") and not paths:
        raise ProbeSpecError(f"{where}: a {kind} artifact needs 'paths'")
    if kind in ("version", "command", "check") and not command:
        raise ProbeSpecError(f"{where}: a {kind} artifact needs 'command'")
    requires = table.get("requires", [])
    if isinstance(requires, str):
        requires = [requires]
    check_table = _typed(table, "check", dict, where)
    if check_table is not None and kind != "check":
        raise ProbeSpecError(f"{where}: only check artifacts take a [check] table")
    env = _typed(table, "env", dict, where) or {}
    for key, value in env.items():
        if not ENV_NAME_RE.match(key) or not isinstance(value, str):
            raise ProbeSpecError(f"{where}: env: {key!r} must be an environment name with a string value")
    if env and not command:
        raise ProbeSpecError(f"{where}: only command artifacts take 'env'")
    error_output = _typed(table, "error_output", str, where)
    if error_output:
        try:
            re.compile(error_output)
        except re.error as exc:
            raise ProbeSpecError(f"{where}: bad regex in error_output: {exc}") from None
    timeout = _typed(table, "timeout", (int, float), where)
    if timeout is not None and timeout <= 0:
        raise ProbeSpecError(f"{where}: 'timeout' must be positive")
    return Artifact(
        name=name,
        kind=kind,
        description=_typed(table, "description", str, where) or "",
        command=command,
        paths=tuple(paths),
        first_match=bool(_typed(table, "first_match", bool, where)),
        needs_root=bool(_typed(table, "needs_root", bool, where)),
        optional=bool(_typed(table, "optional", bool, where)),
        requires=tuple(requires),
        timeout=float(timeout) if timeout is not None else 60.0,
        max_size=parse_size(table.get("max_size"), f"{where}: max_size"),
        max_files=_typed(table, "max_files", int, where),
        tail_lines=_typed(table, "tail_lines", int, where),
        check=_check_from(check_table or {}, where) if kind == "check" else None,
        redact=_typed(table, "redact", bool, where) is not False,
        env=tuple(env.items()),
        error_output=error_output or None,
    )


def variables_from_table(table: object, source: str) -> tuple[dict[str, str], dict[str, str], frozenset[str]]:
    """``[vars]``: ``name = "value"`` or ``name = {value, secret, env, help}`` → (values, help, secrets).

    ``env`` names an environment variable of the collecting machine whose value, when set, is the
    default (how a secret reaches casepack without a command line or a file).
    """
    if not isinstance(table, dict):
        raise ProbeSpecError(f"{source}: [vars] must be a table")
    values: dict[str, str] = {}
    helps: dict[str, str] = {}
    secrets = set()
    for name, spec in table.items():
        if not isinstance(spec, dict):
            values[name] = str(spec)
            continue
        unknown = set(spec) - _VAR_KEYS
        if unknown:
            raise ProbeSpecError(f"{source}: vars.{name}: unknown field(s) {', '.join(sorted(unknown))}")
        values[name] = str(spec.get("value", ""))
        if spec.get("env") and os.environ.get(str(spec["env"])):
            values[name] = os.environ[str(spec["env"])]
        if spec.get("help"):
            helps[name] = str(spec["help"])
        if spec.get("secret") is True:
            secrets.add(name)
    return values, helps, frozenset(secrets)


def probe_from_toml(text: str, source: str) -> Probe:
    """Parse a probe TOML document. ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProbeSpecError(f"{source}: not valid TOML: {exc}") from None
    name = data.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ProbeSpecError(f"{source}: 'name' is required (lowercase letters, digits, . _ -)")
    unknown = set(data) - {"name", "description", "vars", "var_help", "artifact"}
    if unknown:
        raise ProbeSpecError(f"{source}: unknown top-level field(s) {', '.join(sorted(unknown))}")
    variables, helps, secrets = variables_from_table(data.get("vars", {}), source)
    tables = data.get("artifact", [])
    if not isinstance(tables, list) or not tables:
        raise ProbeSpecError(f"{source}: a probe needs at least one [[artifact]]")
    artifacts = tuple(replace(artifact_from_table(t, f"{source}: artifact #{i + 1}"), secret_vars=secrets)
                      for i, t in enumerate(tables))
    names = [a.name for a in artifacts]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ProbeSpecError(f"{source}: duplicate artifact name(s) {', '.join(dupes)}")
    return Probe(
        name=name,
        description=str(data.get("description", "")),
        variables=variables,
        variable_help={**{k: str(v) for k, v in data.get("var_help", {}).items()}, **helps},
        artifacts=artifacts,
        source=source,
        secrets=secrets,
    )


def builtin_names() -> list[str]:
    names = {p.stem for p in BUILTIN_DIR.glob("*.toml")} | set(PYTHON_PROBES)
    return sorted(names)


def load_probe(name_or_path: str) -> Probe:
    """A built-in probe by name, or a probe TOML file by path."""
    if name_or_path in PYTHON_PROBES:
        module = importlib.import_module(PYTHON_PROBES[name_or_path])
        return module.load() if hasattr(module, "load") else module.PROBE
    builtin = BUILTIN_DIR / f"{name_or_path}.toml"
    if NAME_RE.match(name_or_path) and builtin.is_file():
        return probe_from_toml(builtin.read_text(), f"built-in probe {name_or_path}")
    path = Path(name_or_path)
    if path.suffix == ".toml" or "/" in name_or_path:
        try:
            text = path.read_text()
        except OSError as exc:
            raise ProbeSpecError(f"cannot read probe file {name_or_path}: {exc.strerror}") from None
        return probe_from_toml(text, str(path))
    raise ProbeSpecError(
        f"unknown probe {name_or_path!r}; built-in probes: {', '.join(builtin_names())}"
        " (or give a path to a probe .toml file)"
    )
