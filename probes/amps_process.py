"""The running ``ampServer``: found through ``/proc`` (sudo when it runs as another user).

Each process gives its binary (``/proc/PID/exe`` when that is ``ampServer`` itself, else the
``ampServer`` word of its command line resolved against its working directory: a script run by an
interpreter), its config argument (resolved against the working directory), ``-DNAME=VALUE``
definitions and its environment. :data:`BINARY_CHECK` compares the binary that runs with the file
on disk (deleted, replaced or modified after the start): discovery runs it to choose the version
command and the collection runs it again as a ``check``, so the bundle says it loudly.
"""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass, field

from probes.spec import DiscoveryContext

# The case pattern is spelled amp[S]erver so the snippet's own shell never matches itself.
PROCESS_SCRIPT = r"""for d in /proc/[0-9]*; do
  a=$(tr '\000' '\n' < "$d/cmdline" 2>/dev/null) || continue
  case "$a" in *amp[S]erver*) ;; *) continue ;; esac
  echo "@@pid ${d#/proc/}"
  echo "@@cwd $(readlink "$d/cwd" 2>/dev/null)"
  echo "@@exe $(readlink "$d/exe" 2>/dev/null)"
  printf '%s\n' "$a" | sed 's/^/@@arg /'
  tr '\000' '\n' < "$d/environ" 2>/dev/null | sed 's/^/@@env /'
done; true"""
DELETED = " (deleted)"
SAME = "running binary matches"
# {pid} {binary} {mode}: mode "exe" (the process image is ampServer) or "script" (an interpreter runs it)
BINARY_CHECK = r"""p={pid}; b={binary}; mode={mode}
[ -d /proc/$p ] || {{ echo "ampServer pid $p is no longer running"; exit 0; }}
x=$(readlink /proc/$p/exe)
if [ "$mode" = exe ]; then
  case "$x" in *" (deleted)") echo "DIFFERS: pid $p runs $x: the binary was replaced or removed on disk \
after the server started (upgraded without a restart?)"; exit 0 ;; esac
fi
[ -e "$b" ] || {{ echo "DIFFERS: $b is gone from disk, pid $p still runs it"; exit 0; }}
if [ "$mode" = exe ] && [ "$(stat -L -c %d:%i /proc/$p/exe)" != "$(stat -L -c %d:%i "$b")" ]; then
  echo "DIFFERS: $b on disk is not the file pid $p runs ($x)"; exit 0
fi
t=$(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f20)
s=$(( $(awk '/^btime/ {{print $2}}' /proc/stat) + t / $(getconf CLK_TCK 2>/dev/null || echo 100) ))
m=$(stat -L -c %Y "$b")
if [ "$m" -gt $((s + 2)) ]; then  # btime and the start tick are whole seconds: 2 s of slack
  echo "DIFFERS: $b was modified at $(date -u -d @$m '+%F %T') UTC, after pid $p started \
($(date -u -d @$s '+%F %T') UTC): the version on disk may not be the one running"; exit 0
fi
echo "{same} $b on disk (pid $p)"
"""


@dataclass
class AmpsProcess:
    pid: int
    binary: str  # absolute when the working directory is known
    cwd: str = ""
    config: str = ""  # absolute when cwd is known
    exe: str = ""  # readlink /proc/PID/exe (may end in " (deleted)")
    defines: dict[str, str] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        """``exe`` when the process image is the ampServer binary, ``script`` when an interpreter runs it."""
        return "exe" if posixpath.basename(self.exe.removesuffix(DELETED)) == "ampServer" else "script"

    def binary_check(self) -> str:
        return BINARY_CHECK.format(pid=self.pid, binary=shlex.quote(self.binary), mode=self.mode, same=SAME)


def resolve_path(path: str, base: str) -> str:
    """``path`` made absolute against directory ``base`` and normalised."""
    return posixpath.normpath(path if posixpath.isabs(path) or not base else posixpath.join(base, path))


def parse_processes(output: str) -> list[AmpsProcess]:
    """Parse :data:`PROCESS_SCRIPT` output into ampServer processes (others dropped)."""
    blocks: list[dict[str, list[str]]] = []
    for line in output.splitlines():
        tag, _, value = line.partition(" ")
        if tag == "@@pid":
            blocks.append({"pid": [value], "cwd": [], "exe": [], "arg": [], "env": []})
        elif blocks and tag.startswith("@@") and tag[2:] in ("cwd", "exe", "arg", "env"):
            blocks[-1][tag[2:]].append(value)
    procs = []
    for b in blocks:
        argv = b["arg"]
        # argv[0] is ampServer, or an interpreter running an ampServer script (argv[1]).
        idx = next((i for i, a in enumerate(argv[:2]) if posixpath.basename(a) == "ampServer"), None)
        if idx is None or not b["pid"][0].isdigit():
            continue
        cwd, exe = (b["cwd"] or [""])[0], (b["exe"] or [""])[0]
        proc = AmpsProcess(pid=int(b["pid"][0]), binary=argv[idx], cwd=cwd, exe=exe)
        if proc.mode == "exe":  # the image itself: symlinks and $PATH lookups resolved by the kernel
            proc.binary = exe.removesuffix(DELETED)
        else:
            proc.binary = resolve_path(proc.binary, cwd)
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
            proc.config = resolve_path(positional[-1], cwd)
        procs.append(proc)
    return procs


def find_processes(ctx: DiscoveryContext) -> list[AmpsProcess]:
    """Running ampServer processes on the host (empty when /proc is unavailable)."""
    # privileged: another user's /proc/<pid>/cwd, exe and environ are only readable by root
    return parse_processes(ctx.run(PROCESS_SCRIPT, privileged=True) or "")


def binary_verdict(ctx: DiscoveryContext, proc: AmpsProcess) -> str:
    """:data:`BINARY_CHECK`'s line for ``proc`` now (empty when it could not run)."""
    return (ctx.run(proc.binary_check(), privileged=True) or "").strip()
