"""The system ``ssh`` as casepack's client: argv, the ControlMaster per host, and ssh's own messages.

One master per host (``ssh -M -N``, authenticated once, in a private 0700 temp dir that also
holds its socket and log); every command is a channel through it, asked for on its socket by
:mod:`openssh_mux` (no ``ssh`` process per command). The user's whole
ssh config applies (``Match``, ``CertificateFile``, GSSAPI, FIDO keys, ``ProxyJump`` …) except
what casepack decides itself, passed explicitly on every ssh command line: strict host keys
against one known_hosts file (``accept-new`` only when asked), no forwardings, no TTY, no
prompts nobody sees (``BatchMode``; on a terminal the prompts go through casepack's own
askpass, see :mod:`openssh_askpass`). ssh's failures become the same one-line errors as the
paramiko transport's (:mod:`collector.transport.ssh`).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from collections.abc import Mapping

from collector import interrupt
from collector.errors import TransportError
from collector.secrets import child_environment
from collector.transport import openssh_mux
from collector.transport.ssh import (
    SshSpec,
    auth_error,
    changed_key_error,
    connect_error,
    known_hosts_name,
    unknown_key_error,
)

SSH = "ssh"
READY_POLL = 0.02
STOP_WAIT = 2.0  # seconds for the master to leave after ``-O exit``


def _value(text: str) -> str:
    """An ssh_config value on the command line: quoted when it has spaces."""
    return f'"{text}"' if re.search(r"\s", text) else text


def _path(path: str) -> str:
    """A file name where ssh expands ``%`` tokens (known_hosts, ControlPath, -i): every ``%`` literal."""
    return _value(path.replace("%", "%%"))


def strict_options(spec: SshSpec, batch: bool) -> list[str]:
    """What casepack decides on every ssh command line, whatever the user's config says."""
    opts = {
        "BatchMode": "yes" if batch else "no",
        "StrictHostKeyChecking": "accept-new" if spec.accept_new else "yes",
        "UserKnownHostsFile": _path(os.path.expanduser(spec.known_hosts)),
        "GlobalKnownHostsFile": "/dev/null",
        "ConnectTimeout": str(max(1, int(spec.connect_timeout + 0.999))),
        "ServerAliveInterval": str(spec.keepalive),
        "ServerAliveCountMax": "3",
        "ClearAllForwardings": "yes", "ForwardX11": "no", "PermitLocalCommand": "no",
        "RequestTTY": "no", "RemoteCommand": "none", "EscapeChar": "none", "LogLevel": "INFO",
    }
    out: list[str] = []
    for key, value in opts.items():
        out += ["-o", f"{key}={value}"]
    return out


def host_argv(spec: SshSpec, batch: bool, config: str | None, control: str = "none") -> list[str]:
    """``ssh … -- DESTINATION`` for ``spec`` (no remote command); ``control`` is the ControlPath."""
    argv = [SSH]
    if config:
        argv += ["-F", config]
    argv += strict_options(spec, batch) + ["-o", f"ControlPath={_path(control)}"]
    for key, value in spec.overrides.items():  # what casepack was told (CLI, inventory) beats the config
        argv += ["-o", f"{key}={_value(str(value))}"]
    for identity in spec.identity_files:
        argv += ["-i", identity.replace("%", "%%")]
    if spec.proxy_jump is not None:
        argv += ["-o", "ProxyCommand=" + proxy_command(spec.proxy_jump, spec, batch, config)]
    return argv + ["--", spec.destination or spec.hostname]


def proxy_command(jump: SshSpec, target: SshSpec, batch: bool, config: str | None) -> str:
    """ProxyJump as an explicit ProxyCommand, so the jump host gets casepack's strict options too."""
    argv = host_argv(jump, batch, config)
    argv[-2:-2] = ["-o", "ControlMaster=no", "-W", f"{target.hostname}:{target.port}"]
    return shlex.join(argv).replace("%", "%%")


class Master:
    """``ssh -M -N``: one authenticated connection per host; its socket and log in ``tmp`` (0700)."""

    def __init__(self, spec: SshSpec, tmp: str, *, config: str | None, env: Mapping[str, str] | None,
                 batch: bool, wait: float) -> None:
        self.spec = spec
        self.socket = os.path.join(tmp, "c")
        self.log_path = os.path.join(tmp, "log")
        argv = host_argv(spec, batch, config, self.socket)
        argv[-2:-2] = ["-M", "-N", "-v", "-o", "ControlMaster=yes", "-o", "ControlPersist=no"]
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=fd,
                                         start_new_session=True, env={**child_environment(), **(env or {})})
        except OSError as exc:
            raise TransportError(f"cannot run the OpenSSH client ({SSH}): {exc.strerror}",
                                 hint="install openssh-client, or use --ssh-client paramiko") from None
        finally:
            os.close(fd)
        self._wait_ready(wait)

    def _wait_ready(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None:
                raise failure(self.spec, self.log())
            if interrupt.requested():  # Ctrl-C / SIGTERM while connecting: no master survives it
                self.stop()
                interrupt.check()
            if time.monotonic() > deadline:
                self.stop()
                raise TransportError(f"cannot connect to {self.spec.address}: no answer in {wait:g}s",
                                     hint="check the address, port, firewall and that sshd runs")
            time.sleep(READY_POLL)
        try:  # casepack opens every channel on this socket itself: does the master speak its protocol?
            openssh_mux.alive_check(self.socket)
        except openssh_mux.MuxError as exc:
            self.stop()
            raise TransportError(f"cannot open channels through the ssh master for {self.spec.address}: {exc}",
                                 hint="use --ssh-client paramiko") from None

    def log(self) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read(1 << 20)
        except OSError:
            return ""

    def facts(self) -> dict[str, str]:
        return login_facts(self.log())

    def stop(self) -> None:
        """What ``ssh -O exit`` asks, over the socket (the master closes its channels and the connection), else SIGKILL.

        Not SIGTERM: a master started from a worker thread inherits its blocked SIGINT/SIGTERM/SIGHUP
        (:func:`collector.interrupt.worker_thread`).
        """
        if self.proc.poll() is not None:
            return
        try:
            openssh_mux.terminate(self.socket, STOP_WAIT)
            self.proc.wait(STOP_WAIT)
        except (openssh_mux.MuxError, subprocess.SubprocessError):
            self.proc.kill()
            self.proc.wait()


def login_facts(log: str) -> dict[str, str]:
    """Host key (known/added) and authentication method from the master's ``-v`` log."""
    facts: dict[str, str] = {}
    m = re.search(r"Server host key: (\S+) (SHA256:\S+)", log)
    if m:
        added = "Permanently added" in log
        facts["host_key"] = f"{m.group(1)} {m.group(2)} ({'added' if added else 'known'})"
    m = re.search(r'Authenticated to .* using "([^"]+)"', log)
    if m:
        method = m.group(1)
        key = re.findall(r"Server accepts key: (.+?) (\S+) SHA256:\S+", log)
        if method == "publickey" and key:
            path, kind = key[-1]
            method += f" ({path.strip()}{', certificate' if 'CERT' in kind else ''})"
        facts["auth"] = method
    return facts


def failure(spec: SshSpec, log: str) -> TransportError:
    """ssh's own failure (exit 255, message on stderr) as casepack's one-line error."""
    lines = [ln.strip() for ln in log.splitlines() if ln.strip() and not ln.startswith(("debug", "OpenSSH_"))]
    name = known_hosts_name(spec.hostname, spec.port)
    path = os.path.expanduser(spec.known_hosts)
    m = re.search(r"Server host key: (\S+) (SHA256:\S+)", log)
    fp = f"{m.group(1)} {m.group(2)}" if m else "its key"
    where = spec.address
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in log:
        return changed_key_error(name, fp, path)
    if "you have requested strict checking" in log or "Host key verification failed" in log:
        return unknown_key_error(spec.hostname, spec.port, fp, path)
    if "Permission denied" in log or "Too many authentication failures" in log:
        tried = re.findall(r"(?:Offering public key|Trying private key): (\S+)", log)
        return auth_error(where, list(dict.fromkeys(tried)))
    m = re.search(r"connect to host .* port \d+: (.+)|Could not resolve hostname [^:]+: (.+)|"
                  r"(Connection (?:timed out|refused|closed)[^\r\n]*)", log)
    if m and not re.search(r"kex_exchange_identification|banner exchange", log):
        reason = next(g for g in m.groups() if g)
        return connect_error(where, reason.strip())
    last = lines[-1] if lines else "ssh exited without a message"
    return TransportError(f"SSH handshake with {where} failed: {last}")
