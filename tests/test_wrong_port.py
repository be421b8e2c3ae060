"""A wrong port (an HTTP server where sshd was expected) is one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from pathlib import Path

import pytest

CLI = [sys.executable, "-c", "from collector.cli import main; main()"]


@pytest.mark.parametrize("client", ["paramiko", "openssh"])
def test_http_server_instead_of_sshd_is_one_line(tmp_path: Path, client: str) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        proc = subprocess.run(CLI + ["collect", f"127.0.0.1:{port}", "--no-input", "-o", f"{tmp_path}/",
                                     "--connect-timeout", "5", "--ssh-client", client],
                              capture_output=True, text=True, timeout=90)
    finally:
        server.shutdown()
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "paramiko" not in proc.stderr, proc.stderr
    assert "--accept-new-host-keys" not in proc.stderr  # not mistaken for a host key problem
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("casepack: error:")]
    assert len(errors) == 1 and "SSH" in errors[0], proc.stderr
