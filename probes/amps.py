"""Built-in ``amps`` probe: 60East AMPS messaging server.

Discovery, using only the :class:`DiscoveryContext` (the host may be remote, POSIX shell only):

* Running ``ampServer`` processes are found by scanning ``/proc/<pid>/cmdline`` with a shell
  snippet; each gives its config path (last non-option argument, relative to the process's
  cwd), its working directory (``/proc/<pid>/cwd``), ``-DNAME=VALUE`` definitions and its
  environment (``/proc/<pid>/environ``). If ``amps_config`` is set only the matching process
  is used; otherwise every running instance is handled (artifact names get ``-i2``, ``-i3`` ...).
* Config: ``amps_config`` > the process's config argument > the first readable of
  :data:`CONFIG_FALLBACKS` (under ``amps_home``).
* Working directory (AMPS resolves relative names against it): ``amps_workdir`` > the
  process's cwd > the config file's directory.
* ``<Include>`` names are resolved against the working directory (as AMPS does for other
  paths); if that file is unreadable the including file's directory is tried. Cycles and
  unreadable/hostile files are noted in the ``config`` artifact's description, never raised.
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

from probes.spec import Artifact, DiscoveryContext, Probe

DEFAULT_HOME = "/opt/amps"
CONFIG_FALLBACKS = ("{home}/config.xml", "{home}/etc/config.xml", "{home}/amps.xml")
LOG_MAX_FILES = 10
_HOSTILE_RE = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TOKEN_RE = re.compile(r"%(.)", re.DOTALL)
# The case pattern is spelled amp[S]erver so the snippet's own shell never matches itself.
PROCESS_SCRIPT = r"""for d in /proc/[0-9]*; do
  a=$(tr '\000' '\n' < "$d/cmdline" 2>/dev/null) || continue
  case "$a" in *amp[S]erver*) ;; *) continue ;; esac
  echo "@@pid ${d#/proc/}"
  echo "@@cwd $(readlink "$d/cwd" 2>/dev/null)"
  printf '%s\n' "$a" | sed 's/^/@@arg /'
  tr '\000' '\n' < "$d/environ" 2>/dev/null | sed 's/^/@@env /'
done; true"""


@dataclass
class AmpsProcess:
    pid: int
    binary: str  # the ampServer path as started
    cwd: str = ""
    config: str = ""  # absolute when cwd is known
    defines: dict[str, str] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=dict)


@dataclass
class ResolvedConfig:
    files: list[str] = field(default_factory=list)  # readable config files, main first
    roots: list[ET.Element] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def filename_to_glob(pattern: str) -> str:
    """AMPS log FileName → glob: every ``%X`` token becomes ``*`` (``%%`` is ``%``)."""
    glob = _TOKEN_RE.sub(lambda m: "%" if m.group(1) == "%" else "*", pattern)
    return re.sub(r"\*{2,}", "*", glob)


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """Replace ``${VAR}`` from ``env``; unknown variables stay unexpanded."""
    return _VAR_RE.sub(lambda m: env.get(m.group(1), m.group(0)), text)


def resolve_path(path: str, base: str) -> str:
    """``path`` made absolute against directory ``base`` and normalised."""
    return posixpath.normpath(path if posixpath.isabs(path) or not base else posixpath.join(base, path))


def parse_processes(output: str) -> list[AmpsProcess]:
    """Parse :data:`PROCESS_SCRIPT` output into ampServer processes (others dropped)."""
    blocks: list[dict[str, list[str]]] = []
    for line in output.splitlines():
        tag, _, value = line.partition(" ")
        if tag == "@@pid":
            blocks.append({"pid": [value], "cwd": [], "arg": [], "env": []})
        elif blocks and tag[2:] in ("cwd", "arg", "env") and tag.startswith("@@"):
            blocks[-1][tag[2:]].append(value)
    procs = []
    for b in blocks:
        argv = b["arg"]
        # argv[0] is ampServer, or an interpreter running an ampServer script (argv[1]).
        idx = next((i for i, a in enumerate(argv[:2]) if posixpath.basename(a) == "ampServer"), None)
        if idx is None or not b["pid"][0].isdigit():
            continue
        proc = AmpsProcess(pid=int(b["pid"][0]), binary=argv[idx], cwd=(b["cwd"] or [""])[0])
        rest, positional = argv[idx + 1:], []
        while rest:
            arg = rest.pop(0)
            if arg == "-D" and rest:
                arg = "-D" + rest.pop(0)
            if arg.startswith("-D") and "=" in arg:
                name, _, value = arg[2:].partition("=")
                proc.defines[name] = value
            elif arg and not arg.startswith("-"):
                positional.append(arg)
        proc.environ = dict(e.split("=", 1) for e in b["env"] if "=" in e)
        if positional:
            proc.config = resolve_path(positional[-1], proc.cwd)
        procs.append(proc)
    return procs


def find_processes(ctx: DiscoveryContext) -> list[AmpsProcess]:
    """Running ampServer processes on the host (empty when /proc is unavailable)."""
    # privileged: another user's /proc/<pid>/cwd and environ are only readable by root
    return parse_processes(ctx.run(PROCESS_SCRIPT, privileged=True) or "")


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
    """Read ``config_path`` and, recursively, every file it ``<Include>``s."""
    result = ResolvedConfig()

    def visit(path: str, stack: tuple[str, ...]) -> None:
        if path in stack:
            chain = " -> ".join((*stack[stack.index(path):], path))
            result.notes.append(f"include cycle: {chain}")
            return
        if path in result.files:
            return
        text = ctx.read_text(path)
        if text is None:
            result.notes.append(f"cannot read {path}")
            return
        result.files.append(path)
        try:
            root = parse_xml(text)
        except (ValueError, ET.ParseError) as exc:
            result.notes.append(f"{path}: {exc}")
            return
        result.roots.append(root)
        for inc in root.iter("Include"):
            name = expand_vars((inc.text or "").strip(), env)
            if not name:
                continue
            target = resolve_path(name, workdir)
            if not posixpath.isabs(name) and ctx.read_text(target) is None:
                alt = resolve_path(name, posixpath.dirname(path))
                target = alt if ctx.read_text(alt) is not None else target
            visit(target, (*stack, path))

    visit(posixpath.normpath(config_path), ())
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


def discover(ctx: DiscoveryContext) -> list[Artifact]:
    variables = {**PROBE.variables, **ctx.variables}
    home = variables.get("amps_home") or DEFAULT_HOME
    want, want_workdir = variables.get("amps_config", ""), variables.get("amps_workdir", "")
    procs = find_processes(ctx)
    if want:
        procs = [p for p in procs if p.config == resolve_path(want, p.cwd)][:1]
    binary = posixpath.join(home, "bin", "ampServer")
    if procs and home == DEFAULT_HOME and posixpath.isabs(procs[0].binary):
        binary = procs[0].binary
    arts = [Artifact(name="version", kind="version", command=f"{shlex.quote(binary)} --version",
                     description="AMPS server version")]
    overrides = {k[4:]: v for k, v in variables.items() if k.startswith("env_")}
    for i, p in enumerate(procs or [None]):
        suffix = f"-i{i + 1}" if i else ""
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
        desc = f"AMPS config ({origin}, workdir {workdir})"
        arts.append(Artifact(name=f"config{suffix}", kind="config", paths=tuple(cfg.files or [config]), needs_root=True,
                             description="; ".join([desc, *cfg.notes])))
        arts.extend(found)
    return arts


PROBE = Probe(
    name="amps",
    description="60East AMPS: version, config (with includes), log targets and statistics database",
    variables={"amps_home": DEFAULT_HOME, "amps_config": "", "amps_workdir": ""},
    variable_help={
        "amps_home": "AMPS install directory holding bin/ampServer",
        "amps_config": "config XML path; empty: from the running ampServer, else "
        + ", ".join(CONFIG_FALLBACKS).replace("{home}", "{amps_home}"),
        "amps_workdir": "directory relative config names resolve against; empty: the running "
        "ampServer's cwd, else the config file's directory",
        "env_NAME": "(any NAME) value for ${NAME} in the config; overrides -D and the process environment",
    },
    discover=discover,
    discover_help="Finds running ampServer processes via /proc (config, cwd, -D, environment), reads the "
    "config and its <Include>s, and turns <Logging> file/gzip targets and <Admin><FileName> into artifacts.",
)
