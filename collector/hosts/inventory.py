"""Inventories: casepack's TOML format and Ansible's INI and YAML ones.

Every format becomes a list of :class:`InventoryHost` — a name, connection
settings and probe variables — plus the groups each host is in, for ``--limit``.
"""

from __future__ import annotations

import configparser
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.errors import InputError

# connection settings: casepack names and their Ansible spellings
CONNECTION_KEYS = {
    "address": "address", "ansible_host": "address", "hostname": "address",
    "port": "port", "ansible_port": "port", "ansible_ssh_port": "port",
    "user": "user", "ansible_user": "user", "ansible_ssh_user": "user",
    "identity_file": "identity_file", "ansible_ssh_private_key_file": "identity_file",
    "sudo": "sudo", "ansible_become": "sudo",
    "proxy_jump": "proxy_jump",
    "connect_timeout": "connect_timeout", "ansible_ssh_timeout": "connect_timeout",
    "ansible_timeout": "connect_timeout",
    "keepalive": "keepalive",
    "host_timeout": "host_timeout", "casepack_host_timeout": "host_timeout",
}


@dataclass
class InventoryHost:
    name: str
    settings: dict[str, Any] = field(default_factory=dict)  # address, port, user, identity_file, sudo, proxy_jump
    variables: dict[str, str] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)


def _split(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    settings, variables = {}, {}
    for key, value in values.items():
        if key in CONNECTION_KEYS:
            settings[CONNECTION_KEYS[key]] = value
        elif key.startswith("ansible_"):
            continue  # other Ansible connection settings do not apply here
        else:
            variables[key] = value if isinstance(value, str) else str(value)
    return settings, variables


def _merge(hosts: dict[str, InventoryHost], name: str, values: dict[str, Any], group: str | None) -> None:
    host = hosts.setdefault(name, InventoryHost(name))
    settings, variables = _split(values)
    host.settings.update(settings)
    host.variables.update(variables)
    if group and group not in host.groups:
        host.groups.append(group)


def load_inventory(path: str) -> list[InventoryHost]:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise InputError(f"cannot read inventory {path}: {exc.strerror}") from None
    try:
        if p.suffix == ".toml":
            hosts = _from_toml(tomllib.loads(text))
        elif p.suffix in (".yml", ".yaml"):
            hosts = _from_yaml(text)
        else:
            hosts = _from_ini(text)
    except InputError as exc:
        raise InputError(f"inventory {path}: {exc.message}") from None
    except (tomllib.TOMLDecodeError, ValueError, TypeError, AttributeError, configparser.Error) as exc:
        raise InputError(f"inventory {path} cannot be read: {str(exc).splitlines()[0]}") from None
    if not hosts:
        raise InputError(f"inventory {path} lists no hosts")
    return hosts


def _from_toml(data: dict[str, Any]) -> list[InventoryHost]:
    """``[defaults]``, ``[groups.NAME]`` (``hosts = [...]`` + settings + ``vars``), ``[hosts.NAME]``."""
    unknown = set(data) - {"defaults", "groups", "hosts"}
    if unknown:
        raise InputError(f"unknown section(s) {', '.join(sorted(unknown))} (use defaults, groups, hosts)")
    hosts: dict[str, InventoryHost] = {}
    defaults = dict(data.get("defaults", {}))
    default_vars = defaults.pop("vars", {})
    host_tables = data.get("hosts", {})
    for name in host_tables:
        _merge(hosts, name, {**defaults, **default_vars}, None)
    for group, table in data.get("groups", {}).items():
        table = dict(table)
        members = table.pop("hosts", [])
        gvars = table.pop("vars", {})
        if not isinstance(members, list):
            raise InputError(f"groups.{group}.hosts must be a list")
        for name in members:
            if name not in hosts:
                _merge(hosts, name, {**defaults, **default_vars}, None)
            _merge(hosts, name, {**table, **gvars}, group)
    for name, table in host_tables.items():
        table = dict(table)
        hvars = table.pop("vars", {})
        _merge(hosts, name, {**table, **hvars}, None)
    return list(hosts.values())


def _ini_values(tokens: list[str]) -> dict[str, str]:
    out = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep:
            out[key] = value
    return out


def _from_ini(text: str) -> list[InventoryHost]:
    hosts: dict[str, InventoryHost] = {}
    children: dict[str, list[str]] = {}
    group_vars: dict[str, dict[str, str]] = {}
    members: dict[str, list[str]] = {}
    section, kind = "ungrouped", "hosts"
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        m = re.fullmatch(r"\[([^\]:]+)(?::(\w+))?\]", line)
        if m:
            section, kind = m.group(1), m.group(2) or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise InputError(f"unknown section kind [{section}:{kind}]")
            continue
        tokens = shlex.split(line, comments=True)
        if kind == "vars":
            key, _, value = line.partition("=")
            group_vars.setdefault(section, {})[key.strip()] = value.strip().strip("'\"")
        elif kind == "children":
            children.setdefault(section, []).append(tokens[0])
        else:
            for name in _expand_range(tokens[0]):
                members.setdefault(section, []).append(name)
                _merge(hosts, name, _ini_values(tokens[1:]), section)
    _apply_groups(hosts, members, children, group_vars)
    return list(hosts.values())


def _expand_range(name: str) -> list[str]:
    """Ansible's ``web[01:03].example.com`` ranges."""
    m = re.search(r"\[(\d+):(\d+)\]", name)
    if not m:
        return [name]
    lo, hi = m.group(1), m.group(2)
    width = len(lo) if lo.startswith("0") else 0
    return [name[: m.start()] + str(i).zfill(width) + name[m.end():] for i in range(int(lo), int(hi) + 1)]


def _apply_groups(hosts: dict[str, InventoryHost], members: dict[str, list[str]],
                  children: dict[str, list[str]], group_vars: dict[str, dict[str, Any]]) -> None:
    """Group vars apply under host vars; child groups inherit membership for parents."""

    def all_members(group: str, seen: frozenset[str] = frozenset()) -> list[str]:
        if group in seen:
            raise InputError(f"group {group!r} is its own child")
        out = list(members.get(group, []))
        for child in children.get(group, []):
            out += all_members(child, seen | {group})
        return out

    groups = set(members) | set(children) | set(group_vars)
    # host vars are already set and win; then the most specific groups (fewest children) before their parents
    depth = {g: _depth(g, children) for g in groups}
    for group in sorted(groups, key=lambda g: (depth[g], g)):
        for name in all_members(group):
            host = hosts[name]
            if group not in host.groups:
                host.groups.append(group)
            settings, variables = _split(group_vars.get(group, {}))
            host.settings = {**settings, **host.settings}
            host.variables = {**variables, **host.variables}
    if "all" in group_vars:
        for host in hosts.values():
            settings, variables = _split(group_vars["all"])
            host.settings = {**settings, **host.settings}
            host.variables = {**variables, **host.variables}


def _depth(group: str, children: dict[str, list[str]], seen: frozenset[str] = frozenset()) -> int:
    """How many levels of children a group has (children are applied before their parents)."""
    if group in seen:
        return 0
    kids = children.get(group, [])
    return 1 + max((_depth(k, children, seen | {group}) for k in kids), default=0) if kids else 0


def _from_yaml(text: str) -> list[InventoryHost]:
    import yaml

    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise InputError("a YAML inventory must be a mapping of groups")
    hosts: dict[str, InventoryHost] = {}
    members: dict[str, list[str]] = {}
    children: dict[str, list[str]] = {}
    group_vars: dict[str, dict[str, Any]] = {}

    def walk(group: str, body: dict[str, Any] | None) -> None:
        body = body or {}
        if not isinstance(body, dict):
            raise InputError(f"group {group!r} must be a mapping")
        for name, hvars in (body.get("hosts") or {}).items():
            for expanded in _expand_range(str(name)):
                members.setdefault(group, []).append(expanded)
                _merge(hosts, expanded, dict(hvars or {}), group)
        if body.get("vars"):
            group_vars[group] = dict(body["vars"])
        for child, child_body in (body.get("children") or {}).items():
            children.setdefault(group, []).append(child)
            walk(child, child_body)

    for group, body in data.items():
        walk(group, body)
    _apply_groups(hosts, members, children, group_vars)
    return list(hosts.values())


def select(hosts: list[InventoryHost], limit: str | None) -> list[InventoryHost]:
    """``--limit``: comma-separated group or host names (or globs)."""
    if not limit:
        return hosts
    import fnmatch

    wanted = [w.strip() for w in limit.split(",") if w.strip()]
    chosen = [h for h in hosts if any(fnmatch.fnmatch(h.name, w) or w in h.groups for w in wanted)]
    if not chosen:
        groups = sorted({g for h in hosts for g in h.groups})
        raise InputError(f"--limit {limit!r} matches no host or group",
                         hint=f"groups: {', '.join(groups) or 'none'}; hosts: {', '.join(h.name for h in hosts[:10])}")
    return chosen
