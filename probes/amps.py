"""Built-in ``amps`` probe: 60East AMPS messaging server.

Discovery, using only the :class:`DiscoveryContext` (the host may be remote, POSIX shell only):

* Running ``ampServer`` processes are found through ``/proc`` (:mod:`probes.amps_process`, sudo
  when allowed): binary, config argument, working directory, ``-D`` and environment. If
  ``amps_config`` is set only the matching process is used; otherwise every running instance is
  handled (artifact names get ``-i2``, ``-i3`` ...).
* Version: the RUNNING binary's ``--version`` (``amps_home`` only when nothing runs); when the
  file on disk is not the one running, ``/proc/PID/exe --version`` gives the running version, and
  the ``binary-current`` check warns in every bundle and process test.
* Config: ``amps_config`` > the process's config argument > the first readable of
  :data:`CONFIG_FALLBACKS` (under ``amps_home``).
* Working directory (AMPS resolves relative names against it): ``amps_workdir`` > the
  process's cwd > the config file's directory.
* Every relative name (``<Include>``, ``<Target><FileName>``, ``<Admin><FileName>``) is resolved
  against the working directory, never the config's folder. Each config file named is its own
  artifact (``config``, ``config-2`` …), so one that cannot be read is in the manifest as
  ``missing``/``denied``. Cycles and hostile files are noted in the first config artifact's
  description, never raised.
* ``${VAR}``: probe variable ``env_VAR`` > ``-DVAR=...`` on the command line > process
  environment. Unknown ``${VAR}`` stays as written.
"""

from __future__ import annotations

import posixpath
import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field

from probes.amps_process import (
    PROCESS_SCRIPT,
    SAME,
    AmpsProcess,
    binary_verdict,
    find_processes,
    parse_processes,
    resolve_path,
)
from probes.spec import Artifact, Check, DiscoveryContext, DiscoveryIncomplete, Probe

__all__ = ["PROCESS_SCRIPT", "PROBE", "AmpsProcess", "discover", "find_processes", "parse_processes", "resolve_path"]

DEFAULT_HOME = "/opt/amps"
CONFIG_FALLBACKS = ("{home}/config.xml", "{home}/etc/config.xml", "{home}/amps.xml")
LOG_MAX_FILES = 10
_HOSTILE_RE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TOKEN_RE = re.compile(r"%(.)", re.DOTALL)
BINARY_REMEDY = ("restart ampServer so the installed version runs (or reinstall the version that runs); "
                 "tell the vendor which version runs")


@dataclass
class ResolvedConfig:
    refs: list[tuple[str, str]] = field(default_factory=list)  # every config file named: (path, why)
    files: list[str] = field(default_factory=list)  # the readable ones, main first
    roots: list[ET.Element] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unparsed: list[str] = field(default_factory=list)  # files read but refused/unparsable: their references unknown


def filename_to_glob(pattern: str) -> str:
    """AMPS log FileName → glob: every ``%X`` token becomes ``*`` (``%%`` is ``%``)."""
    glob = _TOKEN_RE.sub(lambda m: "%" if m.group(1) == "%" else "*", pattern)
    return re.sub(r"\*{2,}", "*", glob)


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """Replace ``${VAR}`` from ``env``; unknown variables stay unexpanded."""
    return _VAR_RE.sub(lambda m: env.get(m.group(1), m.group(0)), text)


def parse_xml(text: str) -> ET.Element:
    """Parse config XML, refusing DTDs/entities; a fragment gets a synthetic root."""
    if _HOSTILE_RE.search(text):
        raise ValueError("refused: contains a DOCTYPE/ENTITY declaration")
    try:
        return ET.fromstring(text)
    except ET.ParseError:
        body = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
        return ET.fromstring(f"<casepack-fragment>{body}</casepack-fragment>")


def resolve_config(
    ctx: DiscoveryContext, config_path: str, workdir: str, env: Mapping[str, str]
) -> ResolvedConfig:
    """Read ``config_path`` and, recursively, every file it ``<Include>``s (relative names: ``workdir``).

    Every file named is in ``refs``, readable or not, so it gets an artifact and a manifest entry.
    """
    result = ResolvedConfig()

    def visit(path: str, why: str, stack: tuple[str, ...]) -> None:
        if path in stack:
            chain = " -> ".join((*stack[stack.index(path):], path))
            result.notes.append(f"include cycle: {chain}")
            return
        if any(path == ref for ref, _ in result.refs):
            return
        result.refs.append((path, why))
        text = ctx.read_text(path)
        if text is None:
            result.notes.append(f"cannot read {path}")
            return
        result.files.append(path)
        try:
            root = parse_xml(text)
        except (ValueError, ET.ParseError) as exc:
            result.notes.append(f"{path}: {exc}")
            result.unparsed.append(f"{path}: {exc}")
            return
        result.roots.append(root)
        for inc in root.iter("Include"):
            name = expand_vars((inc.text or "").strip(), env)
            if not name:
                continue
            target = resolve_path(name, workdir)  # as AMPS does: the server's cwd, not the including file's dir
            beside = resolve_path(name, posixpath.dirname(path))
            inc_why = f"<Include> {name!r} in {path}"
            if not posixpath.isabs(name) and beside != target and ctx.read_text(target) is None \
                    and ctx.read_text(beside) is not None:
                inc_why += f" (resolved against the working directory; {beside} beside the config is NOT read by AMPS)"
            visit(target, inc_why, (*stack, path))

    visit(posixpath.normpath(config_path), "AMPS config", ())
    return result


def _text(elem: ET.Element, tag: str) -> str:
    child = elem.find(tag)
    return (child.text or "").strip() if child is not None else ""


def log_artifacts(cfg: ResolvedConfig, workdir: str, env: Mapping[str, str], suffix: str = "") -> list[Artifact]:
    """One ``log`` artifact per file/gzip ``<Logging><Target>``."""
    arts: list[Artifact] = []
    for root in cfg.roots:
        for logging in root.iter("Logging"):
            for target in logging.findall("Target"):
                protocol = _text(target, "Protocol").lower()
                filename = expand_vars(_text(target, "FileName"), env)
                if protocol not in ("file", "gzip") or not filename:
                    if protocol:
                        cfg.notes.append(f"log target with protocol {protocol!r} not collected")
                    continue
                glob = resolve_path(filename_to_glob(filename), workdir)
                paths = [glob]
                if protocol == "gzip" and not glob.endswith((".gz", "*")):
                    paths.append(glob + ".gz")
                level = _text(target, "Level") or "?"
                arts.append(Artifact(
                    name=f"log-{len(arts) + 1}{suffix}", kind="log", paths=tuple(paths),
                    description=f"AMPS {protocol} log target {filename!r} (level {level})",
                    max_files=LOG_MAX_FILES, needs_root=True,  # read as the login user first, sudo if denied
                ))
    return arts


def stats_artifacts(cfg: ResolvedConfig, workdir: str, env: Mapping[str, str], suffix: str = "") -> list[Artifact]:
    """The ``<Admin><FileName>`` statistics database, if configured."""
    for root in cfg.roots:
        for admin in root.iter("Admin"):
            filename = expand_vars(_text(admin, "FileName"), env)
            if filename:
                return [Artifact(name=f"stats{suffix}", kind="stats", paths=(resolve_path(filename, workdir),),
                                 description=f"AMPS statistics database ({filename})", needs_root=True)]
    if cfg.roots:
        cfg.notes.append("no <Admin><FileName>: statistics are kept in memory only")
    return []


def config_artifacts(cfg: ResolvedConfig, header: str, suffix: str = "") -> list[Artifact]:
    """One ``config`` artifact per file the config names (``config``, ``config-2`` …); notes on the first."""
    arts = []
    for i, (path, why) in enumerate(cfg.refs):
        desc = "; ".join([header, *cfg.notes]) if i == 0 else why
        arts.append(Artifact(name=f"config{suffix}" + (f"-{i + 1}" if i else ""), kind="config", paths=(path,),
                             description=desc, needs_root=True))
    return arts


def version_artifacts(ctx: DiscoveryContext, proc: AmpsProcess | None, home: str, suffix: str) -> list[Artifact]:
    """The RUNNING binary's ``--version``, and a loud check when the binary on disk is not the one running."""
    if proc is None:
        binary = posixpath.join(home, "bin", "ampServer")
        return [Artifact(name=f"version{suffix}", kind="version", command=f"{shlex.quote(binary)} --version",
                         description=f"AMPS server version ({binary}: no running ampServer found)")]
    binary = shlex.quote(proc.binary)
    verdict = binary_verdict(ctx, proc)
    differs = verdict.startswith("DIFFERS")
    arts = []
    if differs and proc.mode == "exe":  # the image that runs is still reachable through /proc
        arts.append(Artifact(name=f"version{suffix}", kind="version", command=f"/proc/{proc.pid}/exe --version",
                             needs_root=True, description=f"version of the binary pid {proc.pid} RUNS. {verdict}"))
        arts.append(Artifact(name=f"version-on-disk{suffix}", kind="command", command=f"{binary} --version",
                             description=f"version of {proc.binary} on disk (NOT the one running)"))
    else:
        note = f" {verdict}" if differs else ""
        arts.append(Artifact(name=f"version{suffix}", kind="version", command=f"{binary} --version",
                             description=f"version of the running ampServer (pid {proc.pid}, {proc.binary}).{note}"))
    arts.append(Artifact(
        name=f"binary-current{suffix}", kind="check", command=proc.binary_check(), needs_root=True,
        description=f"the ampServer on disk is the one pid {proc.pid} runs",
        check=Check(expect_output=f"^{SAME} ", on_mismatch="warn", remedy=BINARY_REMEDY)))
    return arts


def discover(ctx: DiscoveryContext) -> list[Artifact]:
    variables = {**PROBE.variables, **ctx.variables}
    home = variables.get("amps_home") or DEFAULT_HOME
    want, want_workdir = variables.get("amps_config", ""), variables.get("amps_workdir", "")
    procs = find_processes(ctx)
    if want:
        procs = [p for p in procs if p.config == resolve_path(want, p.cwd)][:1]
    overrides = {k[4:]: v for k, v in variables.items() if k.startswith("env_")}
    arts: list[Artifact] = []
    unparsed: list[str] = []
    for i, p in enumerate(procs or [None]):
        suffix = f"-i{i + 1}" if i else ""
        arts.extend(version_artifacts(ctx, p, home, suffix))
        env = {**(p.environ if p else {}), **(p.defines if p else {}), **overrides}
        config = want or (p.config if p else "")
        origin = f"ampServer pid {p.pid}" if p else "no running ampServer matched"
        if not config:
            candidates = [c.format(home=home) for c in CONFIG_FALLBACKS]
            config = next((c for c in candidates if ctx.read_text(c) is not None), "")
            if not config:
                arts.append(Artifact(name=f"config{suffix}", kind="config", paths=tuple(candidates),
                                     first_match=True, description=f"AMPS config not found ({origin}, "
                                     "amps_config unset, no fallback readable)"))
                continue
        workdir = want_workdir or (p.cwd if p and p.cwd else "") or posixpath.dirname(config)
        config = resolve_path(config, workdir)
        cfg = resolve_config(ctx, config, workdir, env)
        found = log_artifacts(cfg, workdir, env, suffix) + stats_artifacts(cfg, workdir, env, suffix)
        arts.extend(config_artifacts(cfg, f"AMPS config ({origin}, workdir {workdir})", suffix))
        arts.extend(found)
        unparsed.extend(cfg.unparsed)
    if unparsed:  # the files they would name (includes, logs, stats) are unknown: not a complete bundle
        raise DiscoveryIncomplete("cannot read the references of " + "; ".join(unparsed), arts)
    return arts


PROBE = Probe(
    name="amps",
    description="60East AMPS: version, config (with includes), log targets and statistics database",
    variables={"amps_home": DEFAULT_HOME, "amps_config": "", "amps_workdir": ""},
    variable_help={
        "amps_home": "AMPS install directory holding bin/ampServer (used when no ampServer runs)",
        "amps_config": "config XML path; empty: from the running ampServer, else "
        + ", ".join(CONFIG_FALLBACKS).replace("{home}", "{amps_home}"),
        "amps_workdir": "directory relative config names resolve against; empty: the running "
        "ampServer's cwd, else the config file's directory",
        "env_NAME": "(any NAME) value for ${NAME} in the config; overrides -D and the process environment",
    },
    discover=discover,
    discover_help="Finds running ampServer processes via /proc (binary, config, cwd, -D, environment; sudo for "
    "another user's), runs the running binary's --version (checks it is the one on disk), reads the config and "
    "its <Include>s, and turns <Logging> file/gzip targets and <Admin><FileName> into artifacts; every relative "
    "name resolves against the server's working directory.",
)
