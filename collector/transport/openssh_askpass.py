"""ssh's questions (key passphrase, password, FIDO PIN) asked by casepack on its terminal.

The ssh master runs in its own session (so Ctrl-C reaches casepack, not ssh) and therefore has
no terminal; ``SSH_ASKPASS`` points it at a tiny helper in the connection's private 0700
directory that forwards ssh's prompt over a unix socket to casepack, which asks once (the
shared prompter serialises hosts) and sends the answer back. The answer travels through the
socket and the helper's stdout pipe only: never argv, never a file.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading

from collector.transport.ssh import PassphrasePrompt

HELPER = """import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect({sock!r})
s.sendall((sys.argv[1] if len(sys.argv) > 1 else "").encode() + b"\\0")
data = b""
while chunk := s.recv(4096):
    data += chunk
if not data.startswith(b"+"):
    sys.exit(1)
sys.stdout.write(data[1:].decode())
"""


class Askpass:
    """A unix-socket answerer for one connection's ``SSH_ASKPASS`` helper."""

    def __init__(self, tmp: str, prompt: PassphrasePrompt) -> None:
        self.prompt = prompt
        self.sock_path = os.path.join(tmp, "a")
        self.helper = os.path.join(tmp, "askpass")
        self._server = socket.socket(socket.AF_UNIX)
        self._server.bind(self.sock_path)
        self._server.listen(4)
        fd = os.open(self.helper, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
        with os.fdopen(fd, "w") as f:
            f.write(f"#!{sys.executable}\n" + HELPER.format(sock=self.sock_path))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def environment(self) -> dict[str, str]:
        return {"SSH_ASKPASS": self.helper, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": os.environ.get("DISPLAY", ":0")}

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return  # closed
            with conn:
                data = b""
                while not data.endswith(b"\0") and (chunk := conn.recv(4096)):
                    data += chunk
                text = data.rstrip(b"\0").decode("utf-8", "replace").strip()
                answer = self.answer(text)
                try:
                    conn.sendall(b"+" + answer.encode() + b"\n" if answer is not None else b"-")
                except OSError:
                    pass

    def answer(self, text: str) -> str | None:
        """The user's answer to one of ssh's prompts (None: refused or no terminal)."""
        if text.lower().startswith("confirm user presence"):
            print(text, file=sys.stderr)  # a FIDO key wants a touch: tell the user, nothing to answer
            return ""
        m = re.match(r"Enter passphrase for (?:key )?'?([^':]+)'?:", text)
        return self.prompt(m.group(1) if m else text)

    def close(self) -> None:
        try:
            self._server.close()
        except OSError:
            pass
