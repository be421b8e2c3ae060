"""The one plan: probes × hosts × variables → the concrete artifact tasks of a run.

``collect`` executes this plan (:mod:`collector.engine`) and ``process-test``
evaluates the very same plan (:mod:`collector.preflight`): file resolution, the
sudo decision and the effective time window are decided here once.

Planning has two steps: :func:`build_plan` expands every probe's variables for
every host before any I/O (a bad variable fails the run at once), and
:func:`discover` adds what a probe finds on a connected host (config-derived
files, the running server's paths).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collector import secrets
from collector.defaults import DEFAULT_WINDOW
from collector.engine.discovery import TransportContext
from collector.errors import InputError
from collector.hosts.target import HostTarget
from collector.timefmt import iso
from collector.transport.host import Host
from probes.spec import Artifact, DiscoveryIncomplete, Probe, ProbeSpecError

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Window:
    """The run's time window.

    ``since`` bounds log files and their lines (None: whole files, newest first, up
    to the size cap). Commands that take a start time (``{since}``, e.g.
    ``journalctl --since``) always get one: ``since``, or the default 24 h.
    """

    since: float | None
    until: float
    origin: str  # "--since", "case file" or "none"

    @property
    def command_since(self) -> float:
        return self.since if self.since is not None else self.until - DEFAULT_WINDOW

    def describe(self) -> dict[str, object]:
        return {"since": iso(self.since), "until": iso(self.until), "origin": self.origin,
                "commands_since": iso(self.command_since)}

    def for_log(self) -> str:
        return f"lines since {iso(self.since)}" if self.since is not None else "none: no --since, newest data kept"

    def for_command(self, uses_since: bool) -> str | None:
        if not uses_since:
            return None
        how = "" if self.since is not None else f" (default {DEFAULT_WINDOW // 3600} h)"
        return f"since {iso(self.command_since)}{how}"


def make_window(since: float | None, now: float, origin: str | None = None) -> Window:
    return Window(since, now, (origin or "--since") if since is not None else "none")


@dataclass
class Task:
    """One artifact of one probe on one host, with everything decided."""

    probe: str
    artifact: Artifact
    discovered: bool = False
    uses_since: bool = False  # the command takes the window's start ({since} / {since_epoch})

    @property
    def name(self) -> str:
        return f"{self.probe}/{self.artifact.name}"


@dataclass
class HostPlan:
    target: HostTarget
    variables: dict[str, dict[str, str]]  # per probe
    tasks: list[Task]
    errors: list[tuple[str, str]] = field(default_factory=list)  # (probe, discovery failure)


@dataclass
class Plan:
    hosts: list[HostPlan]
    probes: list[Probe]
    window: Window


def builtin_variables(host: HostTarget, window: Window) -> dict[str, str]:
    """Variables every probe may use: ``{host}``, ``{since}``, ``{since_epoch}``, ``{until}``."""
    since = window.command_since
    return {
        "host": host.name,
        "since": datetime.fromtimestamp(since, UTC).strftime(TIME_FORMAT),
        "since_epoch": str(int(since)),
        "until": datetime.fromtimestamp(window.until, UTC).strftime(TIME_FORMAT),
    }


def build_plan(hosts: list[HostTarget], probes: list[Probe], variables: Mapping[str, str],
               window: Window) -> Plan:
    """Expand every probe for every host (precedence: probe < host < case file/--var < built-ins)."""
    out = []
    for host in hosts:
        per_probe: dict[str, dict[str, str]] = {}
        tasks: list[Task] = []
        for probe in probes:
            values = {**probe.variables, **host.variables, **variables, **builtin_variables(host, window)}
            for name in probe.secrets:  # the redactor removes them anywhere; children never inherit them
                secrets.register(values.get(name))
            try:
                tasks.extend(Task(probe.name, a.expand(values), uses_since="{since" in (a.command or ""))
                             for a in probe.artifacts)
            except ProbeSpecError as exc:
                raise InputError(f"probe {probe.name}: {exc}") from None
            per_probe[probe.name] = values
        out.append(HostPlan(host, per_probe, tasks))
    return Plan(out, list(probes), window)


def discover(plan: Plan, host_plan: HostPlan, host: Host) -> None:
    """Add what each probe's ``discover`` finds on the connected host, after that probe's static tasks."""
    tasks: list[Task] = []
    for probe in plan.probes:
        tasks.extend(t for t in host_plan.tasks if t.probe == probe.name and not t.discovered)
        if probe.discover is None:
            continue
        try:
            found = probe.discover(TransportContext(host, host_plan.variables[probe.name]))
            tasks.extend(Task(probe.name, a, discovered=True) for a in found)
        except DiscoveryIncomplete as exc:  # what was found is collected; the rest makes the host partial
            tasks.extend(Task(probe.name, a, discovered=True) for a in exc.artifacts)
            host_plan.errors.append((probe.name, f"discovery incomplete: {exc.reason}"))
        except Exception as exc:  # noqa: BLE001 - a probe bug must not stop the host
            host_plan.errors.append((probe.name, f"discovery failed: {exc}"))
    host_plan.tasks = tasks


def uses_sudo(art: Artifact, host: Host) -> bool:
    """The sudo decision: root-only artifacts on a host where the login user is not root and sudo is allowed."""
    return art.needs_root and host.can_escalate


