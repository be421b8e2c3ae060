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
