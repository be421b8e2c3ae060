"""Privilege and secrets on stdin: the one place that decides how a command is wrapped.

sudo gets its password only when it actually asks (its prompt is a random marker
casepack recognises on stderr), and at most once — a wrong password is never
retried into a lockout. Secret environment values for a tool on the host (e.g.
``REDISCLI_AUTH``) travel the same way: after a ready marker, on stdin, never in
argv. The command itself always runs with stdin at ``/dev/null``, so it can read
neither.
"""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Mapping

from collector.transport.base import gentle

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StdinDialogue:
    """Writes the sudo password at sudo's prompt, then secret env values at the ready marker."""

    def __init__(self, password: str | None, env: Mapping[str, str]) -> None:
        token = secrets.token_hex(8)
        self.prompt = f"[casepack-sudo-{token}]" if password is not None else ""
        self.ready = f"[casepack-ready-{token}]" if env else ""
        self._password = password
        self._values = list(env.values())
        self._seen = ""
        self._answered = self._sent_env = False
        self.finished = False

    def answer(self, stderr: bytes) -> bytes:
        self._seen = (self._seen + stderr.decode("utf-8", "replace"))[-4096:]
        out = b""
        if self.prompt and self.prompt in self._seen:
            if self._answered:  # asked again: the password was wrong; never try twice
                self.finished = True
                return b""
            self._answered = True
            self._seen = self._seen.split(self.prompt)[-1]
            out += (self._password or "").encode() + b"\n"
            if not self.ready:
                self.finished = True
        if self.ready and not self._sent_env and self.ready in self._seen:
            self._sent_env = True
            out += b"".join(v.replace("\n", " ").encode() + b"\n" for v in self._values)
            self.finished = True
        return out

    def clean(self, stderr: str) -> str:
        for marker in (self.prompt, self.ready):
            if marker:
                stderr = stderr.replace(marker, "")
        return stderr


def wrap(command: str, *, as_root: bool, is_root: bool, become: bool | None, password: str | None,
         env: Mapping[str, str] | None = None, nice: bool = True) -> tuple[str, StdinDialogue | None]:
    """The command line to run (niced, env-fed, sudo'd) and the dialogue that feeds its stdin."""
    env = dict(env or {})
    bad = [k for k in env if not _ENV_NAME.match(k)]
    if bad:
        raise ValueError(f"invalid environment variable name: {bad[0]}")
    line = gentle(command) if nice else command
    escalate = as_root and not is_root and become is not False
    use_password = escalate and password is not None
    dialogue = StdinDialogue(password if use_password else None, env) if (env or use_password) else None
    if dialogue is not None:
        feed = "".join(f"IFS= read -r {k}; export {k}; " for k in env)
        ready = f"printf '%s' {shlex.quote(dialogue.ready)} >&2; " if env else ""
        line = f"{ready}{feed}exec </dev/null; {line}"
    if escalate:
        if use_password:
            assert dialogue is not None
            line = f"sudo -S -p {shlex.quote(dialogue.prompt)} -- sh -c {shlex.quote(line)}"
        else:
            line = f"sudo -n -- sh -c {shlex.quote(line)}"
    return line, dialogue
