"""HTTPS delivery: PUT to a pre-signed URL or into a WebDAV folder (nginx/Apache ``dav_methods PUT``).

Built on requests (urllib3 underneath): it honours ``HTTPS_PROXY``/``NO_PROXY`` (CONNECT through
the proxy, TLS end to end), verifies TLS against certifi's roots or ``--ca-file``, and streams a
file-like body. Written by hand, the proxy rules alone (NO_PROXY suffixes, ports, ``*``) would be a
second copy of what urllib3 already gets right. The body is read from the file as it is sent — a
bundle is never in memory — and hashed on the way. Redirects are not followed (a PUT body cannot be
replayed safely); failures become one line: DNS, refused, TLS, auth, quota, HTTP status + message.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import urllib3

from collector.bundle.display import safe
from collector.errors import UploadError
from collector.upload.target import Target

BLOCK = 1 << 20
TIMEOUT = (15.0, 120.0)  # connect, and between bytes of the server's answer
RETRY_STATUS = {500, 502, 503, 504}
MESSAGE_CHARS = 200


class _Body:
    """The file as a request body: read in 1 MiB blocks, hashed and counted as it goes out."""

    def __init__(self, path: Path, progress: Any) -> None:
        self._f = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the sender after the request
        self.size = path.stat().st_size
        self.sent = 0
        self.digest = hashlib.sha256()
        self._progress = progress

    def __len__(self) -> int:  # requests sets Content-Length from this (no chunked encoding: WebDAV needs a length)
        return self.size

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(BLOCK if n is None or n < 0 else max(n, BLOCK))
        self.digest.update(data)
        self.sent += len(data)
        self._progress(self.sent)
        return data

    def close(self) -> None:
        self._f.close()


class _BigBlocks(requests.adapters.HTTPAdapter):
    """urllib3 sends a file body in 16 KiB writes by default; 1 MiB ones cost far less Python per byte."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["blocksize"] = BLOCK
        super().init_poolmanager(*args, **kwargs)


class HttpsSender:
    """PUTs files to one https target with one session (one TLS connection, reused)."""

    def __init__(self, target: Target, ca_file: str | None = None) -> None:
        self.target = target
        self.session = requests.Session()  # trust_env: HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE
        self.session.mount("https://", _BigBlocks())
        self.verify: str | bool = ca_file or True  # per request: a session-level value loses to REQUESTS_CA_BUNDLE
        if target.password is not None:
            self.session.auth = (target.user, target.password)
        elif target.token is not None:
            self.session.headers["Authorization"] = f"Bearer {target.token}"
        self.session.headers["User-Agent"] = "casepack-upload"

    def connect(self) -> None:
        """Nothing to open ahead: the first request connects (and says why it cannot)."""

    def remote_dir(self, sub: str | None = None) -> str:
        """The URL files are PUT under; ``sub`` (a case set) is created with MKCOL in a WebDAV folder."""
        if not self.target.collection:
            if sub:
                raise UploadError(f"{self.target.shown}: a case set needs a folder URL ending in /, not one file's URL")
            return self.target.url
        base = self.target.url
        if not sub:
            return base
        folder = _join(base, sub) + "/"
        response = self._call("MKCOL", folder, sub)
        if response.status_code not in (201, 405):  # 405: it exists already (a resumed set)
            raise _status_error(response, self.target.shown, "MKCOL " + sub)
        return folder

    def send(self, local: Path, folder: str, name: str, progress: Any) -> dict[str, Any]:
        url = _join(folder, name) if self.target.collection else folder
        body = _Body(local, progress)
        try:
            headers = {"Content-Type": "application/octet-stream"} if self.target.collection else {}
            response = self._call("PUT", url, name, data=body, headers=headers)
        finally:
            body.close()
        if response.status_code not in (200, 201, 204):
            raise _status_error(response, self.target.shown, name)
        remote = urlsplit(url).path
        return {"sha256": body.digest.hexdigest(), "bytes_sent": body.sent, "resumed_from": 0, "remote": remote,
                "http_status": response.status_code}

    def _call(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=TIMEOUT, allow_redirects=False, verify=self.verify,
                                        **kwargs)
        except requests.exceptions.RequestException as exc:
            raise connection_error(exc, self.target) from None

    def close(self) -> None:
        self.session.close()


def _join(base: str, name: str) -> str:
    parts = urlsplit(base)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, parts.netloc, path + quote(name), parts.query, ""))


def connection_error(exc: requests.exceptions.RequestException, target: Target) -> UploadError:
    """One line for a request that got no HTTP answer: DNS, refused, TLS, proxy, timeout, dropped."""
    where = f"{target.host}:{target.port or 443}"
    root = _root(exc)
    text = safe(root or exc, MESSAGE_CHARS)
    if isinstance(exc, requests.exceptions.ProxyError):
        return UploadError(f"the proxy refused or failed the connection to {where}: {text}",
                           hint="check HTTPS_PROXY / NO_PROXY", retry=True)
    if isinstance(exc, requests.exceptions.SSLError):
        return UploadError(f"TLS verification failed for {where}: {_ssl_reason(text)}",
                           hint="give the CA that signed the server's certificate with --ca-file FILE")
    if isinstance(root, urllib3.exceptions.NameResolutionError) or "Name or service not known" in text:
        return UploadError(f"DNS: cannot resolve {target.host}", hint="check the host name in the URL")
    if isinstance(root, ConnectionRefusedError) or "Connection refused" in text:
        return UploadError(f"connection refused by {where}", hint="check the port and that the server runs",
                           retry=True)
    if isinstance(exc, requests.exceptions.Timeout):
        return UploadError(f"{where} did not answer in time", retry=True)
    return UploadError(f"connection to {where} failed: {text}", retry=True)


def _root(exc: BaseException) -> BaseException | None:
    """The innermost cause urllib3 wrapped (MaxRetryError.reason, then __context__)."""
    seen: BaseException | None = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
    seen = getattr(seen, "reason", seen)
    while seen is not None and isinstance(seen, BaseException) and seen.__cause__ is not None:
        seen = seen.__cause__
    return seen


def _ssl_reason(text: str) -> str:
    m = re.search(r"certificate verify failed: ([^(]+)", text)
    return m.group(1).strip() if m else text


def _status_error(response: requests.Response, shown: str, what: str) -> UploadError:
    code = response.status_code
    message = server_message(response)
    line = f"HTTP {code} {response.reason or ''}".strip() + (f": {message}" if message else "")
    if code in (401, 403):
        return UploadError(f"{shown}: authentication refused for {what} ({line})",
                           hint="check the user, password or token (a pre-signed URL may have expired)")
    if code in (413, 507):
        return UploadError(f"{shown}: over the server's size limit or quota for {what} ({line})",
                           hint="ask the vendor for more room, or send a smaller bundle (--since, --max-file-size)")
    if 300 <= code < 400:
        line += f" (redirected to {safe(response.headers.get('Location', '?'), 120)}; not followed)"
    return UploadError(f"{shown}: {what}: {line}", retry=code in RETRY_STATUS)


def server_message(response: requests.Response) -> str:
    """The server's own words, tags stripped, escaped and cut to one short line."""
    text = response.content[:4096].decode("utf-8", "replace")
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S | re.I)
    text = re.sub(r"<[^>]*>", " ", text)
    text = " ".join(text.split())
    return safe(text, MESSAGE_CHARS) if text else ""
