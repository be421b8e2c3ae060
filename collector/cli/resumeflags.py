"""``collect --resume``: the earlier run's options (its record's ``rerun``) under the flags given now.

``rerun`` holds what a rerun needs and nothing secret: paths made absolute, ``-r`` keys as public
key text, ``--var`` values except the probes' secret variables (their names are kept to remind the
user), and for secrets only *how* they were given (``--passphrase-env NAME``, ``--sudo-password``):
they are read or asked for again.
"""

from __future__ import annotations

import os
from typing import Any

import click
from click.core import ParameterSource

from collector import secrets
from collector.bundle.crypto import parse_recipients
from collector.fleet.resume import Prior
from probes.spec import Probe

PATHS = ("inventory", "case_file", "template", "sign_key", "mapping", "ssh_config", "known_hosts")
PLAIN = ("limit", "label", "jobs", "max_file_size", "host_timeout", "connect_timeout", "ssh_user",
         "passphrase_env", "sudo_password_env")
FLAGS = ("pseudonymize", "ask_passphrase", "sudo_prompt", "accept_new_host_keys")
LISTS = ("hosts", "probes", "identities", "fields", "variables", "recipients")
# options given together: one given now replaces the whole group from the record
GROUPS = (("ask_passphrase", "passphrase_env", "recipients"), ("sudo_prompt", "sudo_password_env"))


def rerun_section(params: dict[str, Any], probes: list[Probe], max_file_size: int) -> dict[str, Any]:
    """What ``--resume`` needs to repeat this run (never a secret)."""
    out: dict[str, Any] = {}
    for name in PATHS:
        out[name] = os.path.abspath(str(params[name])) if params.get(name) else None
    for name in PLAIN + FLAGS:
        out[name] = params.get(name)
    out["max_file_size"] = max_file_size
    out["hosts"] = list(params.get("hosts") or ())
    out["probes"] = [p.name if p.source.startswith("built-in") else os.path.abspath(p.source) for p in probes]
    out["identities"] = [os.path.abspath(os.path.expanduser(str(i))) for i in params.get("identities") or ()]
    out["fields"] = list(params.get("fields") or ())
    hidden = {name for p in probes for name in p.secrets}
    known = set(secrets.known_values())
    pairs = [str(v) for v in params.get("variables") or ()]
    out["variables"] = [v for v in pairs if v.partition("=")[0] not in hidden and v.partition("=")[2] not in known]
    out["secret_variables"] = sorted({v.partition("=")[0] for v in pairs} - {v.partition("=")[0] for v in
                                                                          out["variables"]})
    out["recipients"] = [r.text for r in parse_recipients(list(params.get("recipients") or ()))]
    out["shard"] = params.get("shard")
    return out


def apply_rerun(params: dict[str, Any], prior: Prior, ctx: click.Context) -> list[str]:
    """Fill every option not given now from the record; returns notes for the user (one line each)."""
    rerun = prior.rerun
    given = {name for name in params if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE,
                                                                            ParameterSource.ENVIRONMENT)}
    skip = set()
    for group in GROUPS:
        if given & set(group):
            skip |= set(group)
    for name in PATHS + PLAIN + FLAGS + LISTS:
        if name == "mapping":  # the first run's mapping is read (seeds the pseudonyms), never overwritten
            continue
        if name in given or name in skip or rerun.get(name) in (None, [], False):
            continue
        value = rerun[name]
        params[name] = tuple(str(v) for v in value) if name in LISTS else str(value) if name == "max_file_size" \
            else value
    if "since" not in given and prior.window.get("since"):
        params["since"] = str(prior.window["since"])
    if "output" not in given:
        params["output"] = f"{prior.bundle_dir}/"
    notes = []
    missing = [n for n in rerun.get("secret_variables") or () if not any(
        str(v).startswith(f"{n}=") for v in params.get("variables") or ())]
    if missing:
        notes.append(f"the first run had secret variable(s) {', '.join(missing)}: they are not stored; "
                     "give them again with --var")
    return notes
