"""Turn HOST arguments and inventories into collection targets (local or SSH)."""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, field

import paramiko

from collector.errors import InputError
from collector.hosts.inventory import InventoryHost, load_inventory, select
from collector.hosts.target import HostTarget, safe_name
from collector.transport.host import Host
from collector.transport.local import LocalConnection
from collector.transport.ssh import HostKeyChecker, PassphrasePrompt, SshConnection, SshSpec

LOCAL_NAMES = {"local", "localhost", "-"}
_HOST_RE = re.compile(r"^(?:(?P<user>[^@\s]+)@)?(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:@\s]+))(?::(?P<port>\d+))?$")


@dataclass
class SshOptions:
    """Run-wide SSH settings from the CLI (or a Python caller)."""

    ssh_config: str | None = None  # default: ~/.ssh/config when it exists
    known_hosts: str | None = None  # default: ssh_config's UserKnownHostsFile, else ~/.ssh/known_hosts
    accept_new: bool = False
    identity_files: list[str] = field(default_factory=list)
    user: str | None = None
    connect_timeout: float = 10.0
    sudo_password: str | None = field(default=None, repr=False)
    passphrase_prompt: PassphrasePrompt | None = None
    limit: str | None = None


def local_target(sudo_password: str | None = None) -> HostTarget:
    conn = LocalConnection()
    return HostTarget(name=conn.name, address="local", transport="local",
                      connect=lambda: Host(conn, sudo_password=sudo_password))


class _Resolver:
    def __init__(self, opts: SshOptions) -> None:
        self.opts = opts
        path = os.path.expanduser(opts.ssh_config or "~/.ssh/config")
        self.config = paramiko.SSHConfig()
        if os.path.exists(path):
            try:
                self.config = paramiko.SSHConfig.from_path(path)
            except (OSError, paramiko.SSHException, ValueError) as exc:
                raise InputError(f"cannot read ssh config {path}: {exc}") from None
        elif opts.ssh_config:
            raise InputError(f"ssh config {opts.ssh_config} does not exist")
        self.checkers: dict[str, HostKeyChecker] = {}

    def spec(self, text: str, name: str | None = None, settings: dict | None = None, depth: int = 0) -> SshSpec:
        """``[user@]host[:port]`` or an ssh_config alias, with inventory settings on top."""
        m = _HOST_RE.match(text)
        if not m:
            raise InputError(f"bad host {text!r}: expected [user@]host[:port] or an ~/.ssh/config alias")
        settings = settings or {}
        alias = m.group("v6") or m.group("host")
        cfg = self.config.lookup(alias)
        address = str(settings.get("address") or cfg.get("hostname") or alias)
        port = settings.get("port") or m.group("port") or cfg.get("port") or 22
        user = (settings.get("user") or m.group("user") or cfg.get("user") or self.opts.user
                or getpass.getuser())
        identities = [str(settings["identity_file"])] if settings.get("identity_file") else []
        identities += self.opts.identity_files + list(cfg.get("identityfile", []))
        try:
            port = int(port)
        except ValueError:
            raise InputError(f"bad port {port!r} for {text}") from None
        known_hosts = self.opts.known_hosts or (cfg.get("userknownhostsfile") or "~/.ssh/known_hosts").split()[0]
        jump = settings.get("proxy_jump") or cfg.get("proxyjump")
        proxy = None
        if jump and str(jump).lower() != "none":
            if depth > 5:
                raise InputError(f"ProxyJump chain for {text} is too long (a loop?)")
            hops = [h.strip() for h in str(jump).split(",") if h.strip()]
            for hop in hops:
                hop_spec = self.spec(hop, depth=depth + 1)
                if proxy is not None and hop_spec.proxy_jump is None:
                    hop_spec.proxy_jump = proxy
                proxy = hop_spec
        sudo = settings.get("sudo")
        become = None if sudo is None else str(sudo).lower() in ("1", "true", "yes", "on")
        return SshSpec(
            name=safe_name(name or alias), hostname=address, port=port, user=str(user),
            identity_files=[os.path.expanduser(i) for i in identities], proxy_jump=proxy,
            known_hosts=known_hosts, accept_new=self.opts.accept_new,
            connect_timeout=_number(settings.get("connect_timeout") or cfg.get("connecttimeout"),
                                    self.opts.connect_timeout),
            keepalive=int(_number(settings.get("keepalive") or cfg.get("serveraliveinterval"), 15)),
            sudo_password=self.opts.sudo_password, become=become,
        )

    def target(self, spec: SshSpec, variables: dict[str, str]) -> HostTarget:
        if spec.known_hosts not in self.checkers:  # one per file, shared by the hosts using it
            self.checkers[spec.known_hosts] = HostKeyChecker(spec.known_hosts, self.opts.accept_new)
        checker, prompt = self.checkers[spec.known_hosts], self.opts.passphrase_prompt
        return HostTarget(name=spec.name, address=spec.address, variables=variables, transport="ssh",
                          connect=lambda: Host(SshConnection(spec, checker, prompt), sudo_password=spec.sudo_password,
                                               become=spec.become))


def _number(value: object, default: float) -> float:
    """A per-host setting (inventory or ssh_config ConnectTimeout / ServerAliveInterval), else the default."""
    try:
        return float(value) if value not in (None, "") else default  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"bad number {value!r} in the host settings") from None


def positive(value: object, what: str) -> float:
    """A number of seconds > 0 from a setting (inventory, case file)."""
    seconds = _number(value, 0.0)
    if seconds <= 0:
        raise InputError(f"{what} must be a positive number of seconds, not {value!r}")
    return seconds


def resolve_hosts(hosts: list[str], inventory: str | None, ssh: SshOptions | None = None) -> list[HostTarget]:
    """No hosts and no inventory: this machine. Otherwise SSH targets (``local`` stays local)."""
    if not hosts and not inventory:
        return [local_target((ssh or SshOptions()).sudo_password)]
    opts = ssh or SshOptions()
    resolver = _Resolver(opts)
    targets: list[HostTarget] = []
    inv_hosts: list[InventoryHost] = []
    if inventory:
        inv_hosts = select(load_inventory(inventory), opts.limit)
    elif opts.limit:
        raise InputError("--limit needs an inventory (-i)")
    by_name = {h.name: h for h in inv_hosts}
    for text in hosts:
        if text in LOCAL_NAMES:
            targets.append(local_target(opts.sudo_password))
        elif text in by_name:  # a HOST argument naming an inventory host picks it
            continue
        else:
            targets.append(resolver.target(resolver.spec(text), {}))
    for host in (h for h in inv_hosts if not hosts or h.name in hosts):  # HOST args narrow the inventory
        if host.name in LOCAL_NAMES or host.settings.get("address") in LOCAL_NAMES:
            local = local_target(opts.sudo_password)
            local.groups = list(host.groups)
            targets.append(local)
            continue
        target = resolver.target(resolver.spec(host.name, host.name, host.settings), host.variables)
        target.groups = list(host.groups)
        if host.settings.get("host_timeout") not in (None, ""):
            target.host_timeout = positive(host.settings["host_timeout"], f"host_timeout of {host.name}")
        targets.append(target)
    names = [t.name for t in targets]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"host(s) given twice: {', '.join(dupes)}")
    return targets
