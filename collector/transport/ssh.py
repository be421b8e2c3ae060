"""The SSH transport: production hosts reached with paramiko, nothing installed on them.

Remote commands need only a POSIX shell and coreutils. Host keys are checked
strictly against known_hosts (unknown → refused with the fingerprint; changed →
refused loudly), unless ``accept_new`` (like OpenSSH's ``accept-new``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paramiko

from collector import interrupt
from collector.errors import ArtifactError, TransportError
from collector.transport.base import CHUNK, STDERR_KEEP, CommandResult, Dialogue, Sink, SinkFull

# paramiko logs handshake failures (wrong port, HTTP server, banner timeout) with a traceback through
# logging's last-resort handler; casepack reports them as one line (TransportError) instead
logging.getLogger("paramiko").addHandler(logging.NullHandler())

CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr", "aes192-ctr")
WINDOW = 4 << 20  # measured: paramiko slows down sharply with larger windows (16 MiB: ~90 MB/s vs ~350)
PassphrasePrompt = Callable[[str], "str | None"]
POLL = 0.2  # seconds between looks at a stop request while a command is silent
KILL_WAIT = 1.0  # seconds to wait for a command's session id, and for the kill's channel
SID_TAG = b"casepack-sid:"
SID_REPORT = "printf 'casepack-sid:%s\\n' \"$$\" >&2; "  # sshd made the shell a session leader: $$ is the session id
# A command without a stdin dialogue reads /dev/null instead of waiting for our EOF: paramiko sends a
# channel's EOF outside its lock, so an EOF sent right after exec can reach sshd *after* the CLOSE that
# paramiko's transport thread sent for a command that already ended — sshd then drops the whole
# connection ("ieof packet referred to nonexistent channel"), failing every other artifact of the host.
NO_STDIN = "exec </dev/null; "


def remote_kill(sid: int) -> str:
    """A shell line that SIGKILLs every process of session ``sid`` (sudo'd ones with ``sudo -n`` if allowed)."""
    scan = (f"for p in /proc/[0-9]*; do s=$(sed 's/.*) //' $p/stat 2>/dev/null | cut -d' ' -f4); "
            f"[ \"$s\" = {sid} ] && kill -9 ${{p#/proc/}} 2>/dev/null; done")
    return (f"if command -v pkill >/dev/null 2>&1; then pkill -KILL -s {sid}; "
            f"if pgrep -s {sid} >/dev/null 2>&1; then sudo -n pkill -KILL -s {sid} 2>/dev/null; fi; "
            f"else {scan}; fi; true")


class SidReader:
    """Takes the ``casepack-sid:N`` line off the front of a command's stderr."""

    def __init__(self) -> None:
        self.value: int | None = None
        self._head = b""
        self._done = False

    def feed(self, data: bytes) -> bytes:
        if self._done:
            return data
        self._head += data
        nl = self._head.find(b"\n")
        if nl < 0 and len(self._head) < 64:
            return b""
        self._done = True
        line, rest = (self._head[:nl], self._head[nl + 1:]) if nl >= 0 else (b"", self._head)
        if line.startswith(SID_TAG) and line[len(SID_TAG):].isdigit():
            self.value = int(line[len(SID_TAG):])
        else:
            rest = self._head
        self._head = b""
        return rest


@dataclass
class SshSpec:
    """Everything needed to reach one host; built by ``collector.hosts`` from arguments and inventories."""

    name: str
    hostname: str
    port: int = 22
    user: str = ""
    identity_files: list[str] = field(default_factory=list)
    proxy_jump: SshSpec | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    accept_new: bool = False
    connect_timeout: float = 10.0
    keepalive: int = 15
    sudo_password: str | None = field(default=None, repr=False)
    use_agent: bool = True
    become: bool | None = None  # inventory's sudo / ansible_become; False: never sudo
    client: str = "paramiko"  # or "openssh": the system ssh (collector/transport/openssh.py)
    # for the openssh client: the name ssh resolves itself (an ssh_config alias), the config file, and what
    # casepack was told explicitly (ssh_config keywords: HostName, Port, User) that beats that config
    destination: str = ""
    ssh_config: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.user}@{self.hostname}:{self.port}"


def fingerprint(key: paramiko.PKey) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_hosts_name(hostname: str, port: int) -> str:
    return hostname if port == 22 else f"[{hostname}]:{port}"


def changed_key_error(name: str, fp: str, path: str) -> TransportError:
    return TransportError(
        f"HOST KEY CHANGED for {name}: it now offers {fp}, which differs from {path}. "
        "Someone may be intercepting the connection (or the host was reinstalled); refusing",
        hint=f"verify the new key with the host's owner, then remove the old entry: ssh-keygen -R '{name}' -f {path}")


def unknown_key_error(hostname: str, port: int, fp: str, path: str) -> TransportError:
    return TransportError(
        f"unknown host key for {known_hosts_name(hostname, port)}: {fp} (not in {path})",
        hint="verify the fingerprint with the host's owner, then rerun with --accept-new-host-keys or run "
        f"`ssh-keyscan -p {port} {hostname} >> {path}`")


def connect_error(where: str, reason: str) -> TransportError:
    return TransportError(f"cannot connect to {where}: {reason}",
                          hint="check the address, port, firewall and that sshd runs")


def auth_error(where: str, tried: list[str]) -> TransportError:
    return TransportError(f"authentication failed for {where} (tried: {'; '.join(tried) or 'no keys found'})",
                          hint="check the user name and that the public key is in the host's authorized_keys")


class HostKeyChecker:
    """Strict checking against one known_hosts file (shared by all hosts of a run)."""

    def __init__(self, path: str, accept_new: bool) -> None:
        import os

        self.path = os.path.expanduser(path)
        self.accept_new = accept_new
        self._lock = threading.Lock()
        self.keys = paramiko.HostKeys()
        if os.path.exists(self.path):
            try:
                self.keys.load(self.path)
            except (OSError, paramiko.SSHException) as exc:
                raise TransportError(f"cannot read known_hosts {self.path}: {exc}") from None

    def known_types(self, hostname: str, port: int) -> list[str]:
        entry = self.keys.lookup(known_hosts_name(hostname, port))
        return list(entry.keys()) if entry else []

    def verify(self, hostname: str, port: int, key: paramiko.PKey) -> str:
        """Return ``known`` or ``added``; raise TransportError for unknown or changed keys."""

        with self._lock:
            return self._verify(hostname, port, key)

    def _verify(self, hostname: str, port: int, key: paramiko.PKey) -> str:
        import os

        name = known_hosts_name(hostname, port)
        entry = self.keys.lookup(name)
        fp = f"{key.get_name()} {fingerprint(key)}"
        if entry and key.get_name() in entry:
            if entry[key.get_name()] == key:
                return "known"
            raise changed_key_error(name, fp, self.path)
        if entry:
            raise TransportError(f"host {name} offered a {key.get_name()} key ({fp}) but {self.path} holds only "
                                 f"{', '.join(entry)} keys for it; refusing",
                                 hint="check the host key out of band, then add it to known_hosts")
        if not self.accept_new:
            raise unknown_key_error(hostname, port, fp, self.path)
        self.keys.add(name, key.get_name(), key)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(f"{name} {key.get_name()} {key.get_base64()}\n")
        return "added"


def _load_key(path: str, prompt: PassphrasePrompt | None) -> tuple[paramiko.PKey | None, str]:
    import os

    full = os.path.expanduser(path)
    if not os.path.exists(full):
        return None, f"{path}: not found"
    try:
        return paramiko.PKey.from_path(full), ""
    except paramiko.PasswordRequiredException:
        passphrase = prompt(full) if prompt else None
        if not passphrase:
            return None, f"{path}: needs a passphrase (run on a terminal or load it into ssh-agent)"
        try:
            return paramiko.PKey.from_path(full, passphrase=passphrase), ""
        except paramiko.SSHException:
            return None, f"{path}: wrong passphrase"
    except (paramiko.SSHException, OSError, ValueError) as exc:
        return None, f"{path}: cannot load ({exc})"


DEFAULT_KEYS = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")


def open_transport(spec: SshSpec, checker: HostKeyChecker, prompt: PassphrasePrompt | None,
                   facts: dict[str, str], via: paramiko.Transport | None = None) -> list[paramiko.Transport]:
    """Connect (through ``via`` for ProxyJump), verify the host key, authenticate. Returns the chain."""
    chain: list[paramiko.Transport] = []
    if spec.proxy_jump is not None and via is None:
        chain = open_transport(spec.proxy_jump, checker, prompt, {}, None)
        via = chain[-1]
    where = f"{spec.user}@{spec.hostname}:{spec.port}"
    try:
        if via is not None:
            sock = via.open_channel("direct-tcpip", (spec.hostname, spec.port), ("127.0.0.1", 0),
                                    timeout=spec.connect_timeout)
        else:
            sock = socket.create_connection((spec.hostname, spec.port), timeout=spec.connect_timeout)
            # each command is a few small packets each way (open, exec, EOF, exit status, close): with
            # Nagle on, one of them waits for the host's delayed ACK, ~40 ms per command (OpenSSH sets it too)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, paramiko.SSHException) as exc:
        _close(chain)
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise connect_error(where, reason) from None
    t = paramiko.Transport(sock, default_window_size=WINDOW)
    chain.append(t)
    opts = t.get_security_options()
    opts.ciphers = tuple(c for c in CIPHERS if c in opts.ciphers)
    known = checker.known_types(spec.hostname, spec.port)
    if known:  # negotiate a host key type we can check, as OpenSSH does
        opts.key_types = tuple(k for k in known if k in opts.key_types) + tuple(
            k for k in opts.key_types if k not in known)
    try:
        t.start_client(timeout=spec.connect_timeout)
        key = t.get_remote_server_key()
        facts["host_key"] = f"{key.get_name()} {fingerprint(key)} ({checker.verify(spec.hostname, spec.port, key)})"
        facts["auth"] = _authenticate(t, spec, prompt)
    except TransportError:
        _close(chain)
        raise
    except (paramiko.SSHException, OSError, EOFError) as exc:
        _close(chain)
        raise TransportError(f"SSH handshake with {where} failed: {exc or type(exc).__name__}") from None
    t.set_keepalive(spec.keepalive)
    return chain


def _authenticate(t: paramiko.Transport, spec: SshSpec, prompt: PassphrasePrompt | None) -> str:
    tried = []
    if spec.use_agent:
        try:
            agent_keys = paramiko.Agent().get_keys()
        except paramiko.SSHException:
            agent_keys = ()
        for key in agent_keys:
            try:
                t.auth_publickey(spec.user, key)
                return f"publickey (ssh-agent, {key.get_name()} {fingerprint(key)})"
            except paramiko.AuthenticationException:
                tried.append(f"agent key {fingerprint(key)}")
    for path in spec.identity_files or list(DEFAULT_KEYS):
        key, why = _load_key(path, prompt)
        if key is None:
            if spec.identity_files:
                tried.append(why)
            continue
        try:
            t.auth_publickey(spec.user, key)
            return f"publickey ({path})"
        except paramiko.AuthenticationException:
            tried.append(f"{path}: refused by the server")
    raise auth_error(spec.address, tried)


def _close(chain: list[paramiko.Transport]) -> None:
    for t in reversed(chain):
        try:
            t.close()
        except Exception:  # noqa: BLE001 - closing a broken transport
            pass


class SshConnection:
    """The :class:`collector.transport.base.Connection` over one SSH connection (paramiko)."""

    def __init__(self, spec: SshSpec, checker: HostKeyChecker, prompt: PassphrasePrompt | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.user = spec.user
        self.facts: dict[str, str] = {"user": spec.user, "address": spec.address,
                                      "ssh_client": f"paramiko ({paramiko.__version__})"}
        self._chain = open_transport(spec, checker, prompt, self.facts)
        self._t = self._chain[-1]
        if spec.proxy_jump is not None:
            self.facts["via"] = spec.proxy_jump.address

    def execute(self, line: str, sink: Sink, *, timeout: float, dialogue: Dialogue | None = None) -> CommandResult:
        interrupt.check()  # after a stop (Ctrl-C, SIGTERM, SIGHUP): no new command, except cleanup
        try:
            chan = self._t.open_session(window_size=WINDOW)
            # sshd starts each exec in a new session (setsid): the shell reports its id first, so a stop
            # can kill everything the command started on the host (see remote_kill)
            chan.exec_command(SID_REPORT + line if dialogue is not None else NO_STDIN + SID_REPORT + line)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise ArtifactError("failed", f"SSH channel failed: {exc or type(exc).__name__}") from None
        deadline = time.monotonic() + timeout
        err = bytearray()
        sid = SidReader()
        talking = dialogue is not None
        stopped = timed_out = interrupted = False
        chan.settimeout(POLL)

        def drain_stderr() -> None:
            nonlocal talking
            while chan.recv_stderr_ready():
                data = sid.feed(chan.recv_stderr(65536))
                err.extend(data)
                del err[:-STDERR_KEEP]
                if talking and dialogue is not None and data:
                    reply = dialogue.answer(data)
                    if reply:
                        chan.sendall(reply)
                    if dialogue.finished:
                        if not (chan.closed or chan.eof_received):  # see NO_STDIN: never EOF a closing channel
                            chan.shutdown_write()
                        talking = False

        try:
            while True:
                drain_stderr()
                if interrupt.requested() and not interrupt.in_cleanup():
                    interrupted = True
                    break
                try:
                    data = chan.recv(CHUNK)
                except TimeoutError:
                    if time.monotonic() > deadline:
                        timed_out = True
                        break
                    continue
                if not data:
                    break
                sink(data)
        except SinkFull:
            stopped = True
        except BaseException:
            interrupted = True
            raise
        finally:
            try:
                drain_stderr()
            except (paramiko.SSHException, OSError, EOFError):
                pass
            code = None if (stopped or timed_out or interrupted) else chan.recv_exit_status()
            chan.close()
            if interrupted or timed_out or stopped:
                self._kill_session(chan, sid)
        interrupt.check()
        stderr = err[-STDERR_KEEP:].decode("utf-8", "replace").strip()
        return CommandResult(None if timed_out else code, stderr, timed_out=timed_out, stopped=stopped)

    def _kill_session(self, chan: paramiko.Channel, sid: SidReader) -> None:
        """Kill what the command left on the host: its whole session, from a fresh channel."""
        end = time.monotonic() + KILL_WAIT
        while sid.value is None and time.monotonic() < end and not chan.closed:
            time.sleep(0.02)  # the id travels on stderr ahead of everything else; rarely not here yet
        if sid.value is None:
            return
        try:
            with interrupt.cleanup():
                kill = self._t.open_session(timeout=KILL_WAIT)
                kill.settimeout(KILL_WAIT)
                kill.exec_command(NO_STDIN + remote_kill(sid.value))
                kill.recv_exit_status()
                kill.close()
        except (paramiko.SSHException, OSError, EOFError, TimeoutError):
            pass  # the connection is gone: sshd ends the session's processes' pipes, the timeout wrapper the rest

    def close(self) -> None:
        _close(self._chain)
