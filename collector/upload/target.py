"""Where a bundle goes: ``sftp://[user@]host[:port]/dir/`` or ``https://…`` (a pre-signed URL or a WebDAV folder).

Credentials never come from the command line: a URL with a password is refused; the password or
token comes from an environment variable, a prompt or the case file's ``[upload]`` section, and a
pre-signed URL (its query string is the secret) may be read from a file with ``@FILE``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from collector import secrets
from collector.errors import InputError


@dataclass
class Target:
    """A parsed destination. ``url`` may hold a secret (a pre-signed query); ``shown`` never does."""

    scheme: str  # "sftp" or "https"
    url: str = field(repr=False)
    host: str = ""
    port: int | None = None
    user: str = ""
    path: str = ""  # sftp: remote directory ("" = the login directory); https: the URL path
    password: str | None = field(default=None, repr=False)  # https basic auth
    token: str | None = field(default=None, repr=False)  # https bearer token

    @property
    def shown(self) -> str:
        """The target as printed and recorded: no password, no query string (a pre-signed URL's signature)."""
        parts = urlsplit(self.url)
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc += f":{parts.port}"
        if parts.username:
            netloc = f"{parts.username}@{netloc}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    @property
    def collection(self) -> bool:
        """An https URL ending in ``/`` is a WebDAV folder (file names are appended); else the exact PUT URL."""
        return self.scheme == "sftp" or urlsplit(self.url).path.endswith("/")

    def ssh_host(self) -> str:
        """``[user@]host[:port]`` for casepack's SSH resolver (an ssh_config alias works as the host)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return (f"{self.user}@" if self.user else "") + host + (f":{self.port}" if self.port else "")


def read_url(text: str, where: str) -> str:
    """``@FILE`` → the URL in FILE (first non-empty line); anything else is the URL itself."""
    if not text.startswith("@"):
        return text.strip()
    path = Path(text[1:]).expanduser()
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{where} {text}: cannot read the URL file: {getattr(exc, 'strerror', None) or exc}") from None
    if not lines:
        raise InputError(f"{where} {text}: the URL file is empty")
    return lines[0]


def parse_target(text: str, where: str = "--to") -> Target:
    """Check a destination URL (``@FILE`` reads it from a file); one clear line for anything wrong."""
    url = read_url(text, where)
    shown = f"{where} {text}" if text.startswith("@") else where
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"{shown}: bad URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("sftp", "https", "http"):
        raise InputError(f"{shown}: unsupported URL scheme {parts.scheme or '(none)'!r}",
                         hint="use sftp://[user@]host[:port]/dir/ or https://… (a pre-signed URL or a WebDAV folder)")
    if scheme == "http":
        raise InputError(f"{shown}: plain http:// would send the bundle and any credentials unprotected",
                         hint="use https:// (give a private CA with --ca-file)")
    if parts.password is not None:
        raise InputError(f"{shown}: the URL holds a password; refused (it would show in the process list)",
                         hint="give the password with --password-env NAME, --password (prompted) or the case file's "
                              "[upload] password")
    if not parts.hostname:
        raise InputError(f"{shown}: the URL names no host")
    target = Target(scheme, url, host=parts.hostname, port=port, user=unquote(parts.username or ""))
    if scheme == "sftp":
        if parts.query or parts.fragment:
            raise InputError(f"{shown}: an sftp:// URL takes no query or fragment")
        path = unquote(parts.path)
        # sftp://host/~/dir is relative to the login directory, sftp://host/dir is absolute (the URI draft's rule)
        target.path = path[3:] if path.startswith("/~/") else ("" if path in ("", "/~") else path)
        target.path = target.path.rstrip("/") or ("/" if path == "/" else "")
    else:
        target.path = parts.path or "/"
        secrets.register(parts.query)  # a pre-signed URL's query carries its signature: never shown or recorded
    return target


@dataclass
class Credentials:
    """Where the password or token comes from (names and sources only; values are resolved at once)."""

    password_env: str | None = None
    token_env: str | None = None
    password: str | None = field(default=None, repr=False)  # from the case file or a prompt
    token: str | None = field(default=None, repr=False)


def apply_credentials(target: Target, creds: Credentials, where: str = "--to") -> None:
    """Resolve the password/token onto an https target; register them as secrets (scrubbed everywhere)."""
    password, token = creds.password, creds.token
    for name, attr in ((creds.password_env, "password"), (creds.token_env, "token")):
        if name:
            if name not in os.environ:
                raise InputError(f"--{attr}-env {name}: the environment variable {name} is not set")
            if attr == "password":
                password = os.environ[name]
            else:
                token = os.environ[name]
    if target.scheme == "sftp" and (password or token):
        raise InputError(f"{where}: sftp:// authenticates with SSH keys (ssh-agent, --identity, ssh_config); "
                         "a password or token is not used",
                         hint="drop the password/token option or the case file's [upload] password/token")
    if password and token:
        raise InputError("give either a password (basic auth) or a token (bearer), not both")
    if password and not target.user:
        raise InputError(f"{where}: a password needs a user name in the URL: https://USER@host/…")
    secrets.register(password, creds.password_env)
    secrets.register(token, creds.token_env)
    target.password, target.token = password, token
