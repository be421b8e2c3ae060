"""Helpers for the upload tests: encrypted bundles, a TCP relay that cuts a connection, TLS material."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import threading
from pathlib import Path

import pyrage


def encrypted_bundle(path: Path, size: int) -> Path:
    """An age-encrypted file of about ``size`` bytes (random payload), as ``collect -r`` writes."""
    recipient = pyrage.x25519.Identity.generate().to_public()
    payload = io.BytesIO(os.urandom(size))
    with open(path, "wb") as out:
        pyrage.encrypt_io(payload, out, [recipient])
    path.chmod(0o600)
    return path


def case_set(folder: Path, shards: tuple[str, ...], size: int) -> Path:
    """A case-set folder: encrypted shard bundles, ``caseset.json`` and its signature (as ``casepack merge`` writes)."""
    folder.mkdir()
    for name in shards:
        encrypted_bundle(folder / name, size)
    (folder / "caseset.json").write_text('{"format": "casepack-set/1"}\n')
    (folder / "caseset.json.sig").write_text("signature\n")
    return folder


class CuttingRelay:
    """A loopback TCP relay to ``upstream``; the first ``cut_first`` connections are dropped (RST) after
    ``cut_after`` client→server bytes, later ones pass. Counts connections and bytes."""

    def __init__(self, upstream: tuple[str, int], cut_after: int, cut_first: int = 1, address: str = "127.0.0.1"):
        self.upstream, self.cut_after, self.cut_first = upstream, cut_after, cut_first
        self.sock = socket.create_server((address, 0))
        self.address, self.port = self.sock.getsockname()[:2]
        self.connections = 0
        self.cuts = 0
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            cut = self.cut_after if self.connections <= self.cut_first else None
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, cut), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, cut: int | None) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if cut is not None and sent + len(data) > cut:
                    self.cuts += 1
                    for s in (src, dst):  # a reset, as a dropped link or a killed server gives
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        s.close()
                    return
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def make_ca_and_cert(base: Path, host: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for ``host`` (IP SAN) signed by it: (ca.pem, cert, key)."""
    ca_key, ca, key, csr, cert = (base / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
        str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=casepack test CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key),
        "-out", str(csr), "-subj", f"/CN={host}")
    ext = base / "san.ext"
    ext.write_text(f"subjectAltName = IP:{host}\nbasicConstraints = CA:FALSE\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return ca, cert, key


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, address: str = "127.0.0.1", timeout: float = 10.0) -> None:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection((address, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {address}:{port} after {timeout} s")


DAV_USER = "uploader"
DAV_PASSWORD = "Dav-upload-pw-7c1e"


class DavServer:
    """nginx from Debian over TLS (a throw-away CA) with WebDAV PUT/MKCOL:
    /dav/ basic auth (DAV_USER/DAV_PASSWORD), /open/ no auth (a pre-signed URL's stand-in), /small/ a 1 KiB
    body limit (413), /busy/ always 503."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "www"
        for d in ("dav", "open", "small"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        self.ca, cert, key = make_ca_and_cert(base)
        self.port = free_port()
        hashed = subprocess.run(["openssl", "passwd", "-apr1", DAV_PASSWORD], check=True, capture_output=True,
                                text=True).stdout.strip()
        (base / "htpasswd").write_text(f"{DAV_USER}:{hashed}\n")
        self.conf = base / "nginx.conf"
        self.conf.write_text(f"""
user root;
worker_processes 1;
pid {base}/nginx.pid;
error_log {base}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {base}/access.log;
    client_body_temp_path {base}/body;
    proxy_temp_path {base}/proxy;
    fastcgi_temp_path {base}/fastcgi;
    uwsgi_temp_path {base}/uwsgi;
    scgi_temp_path {base}/scgi;
    server {{
        listen 127.0.0.1:{self.port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {self.root};
        client_max_body_size 256m;
        location /dav/ {{
            dav_methods PUT MKCOL;
            create_full_put_path on;
            dav_access user:rw;
            auth_basic "casepack drop";
            auth_basic_user_file {base}/htpasswd;
        }}
        location /open/ {{ dav_methods PUT; dav_access user:rw; }}
        location /small/ {{ dav_methods PUT; client_max_body_size 1k; }}
        location /busy/ {{ return 503 "drop box in maintenance"; }}
    }}
}}
""")
        res = subprocess.run(["nginx", "-c", str(self.conf)], capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError(f"nginx did not start: {res.stderr}")
        wait_port(self.port)

    def url(self, path: str, user: str | None = None) -> str:
        return f"https://{user + '@' if user else ''}127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        subprocess.run(["nginx", "-c", str(self.conf), "-s", "quit"], capture_output=True)
        pid = self.base / "nginx.pid"
        import time

        end = time.monotonic() + 10
        while pid.exists() and time.monotonic() < end:
            time.sleep(0.05)


class TinyProxy:
    """tinyproxy from Debian on loopback (CONNECT to any port), its log readable by the test."""

    def __init__(self, base: Path) -> None:
        base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = base / "tinyproxy.log"
        conf = base / "tinyproxy.conf"
        conf.write_text(f'Port {self.port}\nListen 127.0.0.1\nTimeout 60\nLogFile "{self.log}"\nLogLevel Connect\n'
                        f'PidFile "{base}/tinyproxy.pid"\nMaxClients 20\nAllow 127.0.0.1\n')
        self.proc = subprocess.Popen(["tinyproxy", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
