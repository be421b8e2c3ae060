"""The SSH command-line options, shared by ``collect`` and ``process-test``."""

from __future__ import annotations

import getpass
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import click

from collector import secrets
from collector.casefile import CaseFile
from collector.errors import InputError
from collector.hosts.resolve import SSH_CLIENTS, SshOptions, ssh_client

_OPTIONS = [
    click.option("--limit", metavar="GROUPS_OR_HOSTS", help="Only these inventory groups/hosts (comma-separated)."),
    click.option("--ssh-client", type=click.Choice(SSH_CLIENTS), default=None,
                 help="SSH client: paramiko (built in, the default) or openssh (the system ssh with one ControlMaster "
                 "per host: your whole ssh config, certificates, GSSAPI, FIDO keys; faster). Beats the case file's "
                 "[collect] ssh_client and the inventory's."),
    click.option("--ssh-config", metavar="FILE", help="ssh_config to read (default ~/.ssh/config)."),
    click.option("--known-hosts", metavar="FILE",
                 help="Host keys are checked strictly against this file (default: ssh_config's UserKnownHostsFile, "
                 "else ~/.ssh/known_hosts)."),
    click.option("--accept-new-host-keys", is_flag=True,
                 help="Trust and record keys of hosts not yet known (never a changed key)."),
    click.option("--identity", "identities", multiple=True, metavar="FILE", help="SSH private key (repeatable)."),
    click.option("--user", "ssh_user", metavar="USER", help="SSH user when not given otherwise."),
    click.option("--connect-timeout", default=10.0, show_default=True, type=click.FloatRange(0.5, 300),
                 help="Seconds to wait for each host to answer."),
    click.option("--sudo-password", "sudo_prompt", is_flag=True,
                 help="Ask (on the terminal) for the sudo password; it goes to sudo on stdin only."),
    click.option("--sudo-password-env", metavar="NAME", help="Read the sudo password from environment variable NAME."),
]


def ssh_options(func: Callable) -> Callable:
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def ssh_connect_options(func: Callable) -> Callable:
    """The options that reach one host (``casepack upload`` to sftp://): no inventory, no sudo."""
    for option in reversed(_OPTIONS[2:6] + _OPTIONS[7:8]):  # no --user: the URL names it
        func = option(func)
    return func


def ssh_settings(values: dict[str, Any], interactive: bool, case: CaseFile | None = None) -> SshOptions:
    """The run-wide SSH settings from the flags, with the case file's ``[collect] ssh_client`` under them."""
    sudo_password = None
    if values.get("sudo_password_env"):
        name = str(values["sudo_password_env"])
        if name not in os.environ:
            raise InputError(f"--sudo-password-env {name}: the environment variable {name} is not set")
        sudo_password = os.environ[name]
    elif values.get("sudo_prompt"):
        if not interactive:
            raise InputError("--sudo-password needs a terminal to ask on", hint="use --sudo-password-env NAME")
        sudo_password = getpass.getpass("sudo password for the remote hosts: ")
    secrets.register(sudo_password, values.get("sudo_password_env"))
    return SshOptions(
        ssh_config=values.get("ssh_config"), known_hosts=values.get("known_hosts"),
        accept_new=bool(values.get("accept_new_host_keys")), identity_files=list(values.get("identities") or ()),
        user=values.get("ssh_user"), connect_timeout=float(values.get("connect_timeout") or 10.0),
        sudo_password=sudo_password, passphrase_prompt=_prompter() if interactive else None,
        limit=values.get("limit"), client=_client(values.get("ssh_client"), case),
    )


def _client(flag: object, case: CaseFile | None) -> str | None:
    if flag:
        return str(flag)
    value = case.collect.get("ssh_client") if case else None
    return ssh_client(value, f"case file {case.path} [collect]") if case and value else None


def _prompter() -> Callable[[str], str | None]:
    """Ask once per key file, one question at a time (hosts connect in parallel)."""
    lock = threading.Lock()
    answers: dict[str, str | None] = {}

    def ask(path: str) -> str | None:
        with lock:
            if path not in answers:
                if not sys.stdin.isatty():
                    answers[path] = None
                else:
                    # a key file (paramiko, or ssh asking for a key's passphrase), else ssh's own question
                    question = f"{path} " if path.rstrip().endswith(":") else f"passphrase for {path}: "
                    answers[path] = getpass.getpass(question) or None
            return answers[path]

    return ask
