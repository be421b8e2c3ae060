"""casepack speaking the ControlMaster's mux protocol itself (collector/transport/openssh_mux.py).

Against a real sshd and a real ``ssh -M`` master: exit status and stderr come through the mux, no
``ssh`` process is started per command, a timed-out command leaves nothing on the host and nothing
hangs here, abandoning the socket closes the channel, a gone master is a one-line error. Malformed
answers (which no real master gives on demand) come from a small fake master on a unix socket.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from collector.errors import ArtifactError
from collector.transport import openssh_mux
from collector.transport.base import SinkFull
from collector.transport.openssh_mux import MuxClient, MuxError
from tests.sshfleet import SshFleet, fleet_of, is_root, running, sshd_available

sshd = pytest.mark.skipif(not (sshd_available() and is_root()),
                          reason="needs root (test users, sudoers) and /usr/sbin/sshd (openssh-server)")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory):
    yield from fleet_of(tmp_path_factory.mktemp("muxfleet"), "x1", client="openssh")


@pytest.fixture
def host(fleet: SshFleet):
    from collector.hosts.resolve import SshOptions, resolve_hosts

    h = resolve_hosts(["x1"], None, SshOptions(ssh_config=str(fleet.ssh_config), client="openssh"))[0].connect()
    yield h
    h.close()


def run(conn, line: str, timeout: float = 30.0, limit: int | None = None):  # noqa: ANN001, ANN201
    out = bytearray()

    def sink(data: bytes) -> None:
        out.extend(data)
        if limit is not None and len(out) >= limit:
            raise SinkFull()

    return conn.execute(line, sink, timeout=timeout), bytes(out)


def children(pid: int) -> set[int]:
    kids: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except FileNotFoundError:
            continue  # a thread that just ended
        kids.update(int(p) for p in text.split())
    return kids


@sshd
def test_exit_status_stdout_and_stderr_come_through_the_mux(host) -> None:  # noqa: ANN001
    res, out = run(host.conn, "echo out; echo err >&2; exit 3")
    assert (res.exit_code, res.stderr, out) == (3, "err", b"out\n")
    res, out = run(host.conn, "head -c 3000000 /dev/zero")
    assert res.exit_code == 0 and out == bytes(3000000)
    res, _ = run(host.conn, "kill -9 $$")  # killed by a signal: sshd sends no exit status; ssh's answer is 255
    assert res.exit_code == 255


@sshd
def test_only_the_commands_timeout_bounds_its_waits(host, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The master's answers that follow the host (channel open, exit status) wait as long as the command may."""
    monkeypatch.setattr(openssh_mux, "HANDSHAKE_WAIT", 0.3)
    res, out = run(host.conn, "echo early; exec >/dev/null 2>&1; sleep 1.5; exit 4")  # output ends long before
    assert (res.exit_code, out) == (4, b"early\n")


@sshd
def test_no_ssh_process_per_command(host) -> None:  # noqa: ANN001
    fds = len(os.listdir("/proc/self/fd"))
    before = children(os.getpid())  # the fleet's sshd and this host's master
    assert host.conn._master.proc.pid in before
    seen: set[int] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.update(children(os.getpid()))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for i in range(20):
            assert run(host.conn, f"echo {i}; sleep 0.05")[1] == f"{i}\n".encode()
    finally:
        done.set()
        watcher.join()
    assert seen == before  # no new child, all along: the commands were sessions asked for on its socket
    assert len(os.listdir("/proc/self/fd")) == fds  # and every pipe and socket of theirs was closed


@sshd
@pytest.mark.parametrize("how", ["timeout", "sink full"])
def test_a_stopped_command_leaves_nothing_on_the_host(host, how: str) -> None:  # noqa: ANN001
    marker = f"31{os.getpid() % 1000:03d}{len(how)}"
    line = f"sleep {marker} & yes | head -c 1000000; sleep {marker}1"
    start = time.monotonic()
    if how == "timeout":
        res, _ = run(host.conn, line, timeout=1.5)
        assert res.timed_out and res.exit_code is None
    else:
        res, out = run(host.conn, line, limit=1000)
        assert res.stopped and len(out) >= 1000
    assert time.monotonic() - start < 15  # the local side does not hang on the master's copies of the pipes
    deadline = time.monotonic() + 5
    while running(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(f"sleep {marker}")  # the whole session on the host was killed, background job too
    assert run(host.conn, "echo still")[1] == b"still\n"  # and the master serves the next command


@sshd
def test_closing_the_socket_makes_the_master_close_the_channel(host) -> None:  # noqa: ANN001
    sock = host.conn._master.socket
    out_r, out_w = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    client = MuxClient(sock)
    client.open_session("echo started; exec sleep 30", null, out_w, null)
    os.close(out_w)
    os.close(null)
    client.session_id()
    assert os.read(out_r, 100) == b"started\n"
    client.close()  # what a kill does: the master abandons the channel and lets go of our pipe
    start = time.monotonic()
    assert os.read(out_r, 100) == b""  # EOF: the master closed its end (else this read would block 30 s)
    assert time.monotonic() - start < 10
    os.close(out_r)
    assert openssh_mux.alive_check(sock) == host.conn._master.proc.pid  # the master itself lives on


@sshd
def test_a_gone_master_is_a_one_line_error_and_stop_needs_no_ssh(fleet: SshFleet) -> None:
    from collector.hosts.resolve import SshOptions, resolve_hosts

    h = resolve_hosts(["x1"], None, SshOptions(ssh_config=str(fleet.ssh_config), client="openssh"))[0].connect()
    master = h.conn._master
    try:
        assert openssh_mux.alive_check(master.socket) == master.proc.pid
        os.unlink(master.socket)  # nobody to ask any more (as if the directory had been cleaned)
        with pytest.raises(ArtifactError) as info:
            run(h.conn, "echo again")
        assert info.value.status == "failed"
        assert info.value.reason.startswith("SSH channel failed: the ssh master is gone")
        assert "\n" not in info.value.reason
    finally:
        h.close()
    h2 = resolve_hosts(["x1"], None, SshOptions(ssh_config=str(fleet.ssh_config), client="openssh"))[0].connect()
    proc = h2.conn._master.proc
    popen = subprocess.Popen
    started: list[object] = []
    subprocess.Popen = lambda *a, **k: started.append(a) or popen(*a, **k)  # type: ignore[misc]
    try:
        h2.close()  # MUX_C_TERMINATE on the socket: the master leaves by itself, no `ssh -O exit` process
    finally:
        subprocess.Popen = popen  # type: ignore[misc]
    assert started == [] and proc.returncode >= 0  # it exited (as after `ssh -O exit`: 255), not SIGKILLed


# -- a fake master, for answers a real one does not give on demand -------------------------------------------


def _packet(*parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I", len(body)) + body


def _u32(n: int) -> bytes:
    return struct.pack(">I", n)


def _str(s: bytes) -> bytes:
    return _u32(len(s)) + s


def fake_master(tmp_path: Path, script, name: str = "m") -> str:  # noqa: ANN001
    """A unix socket whose one connection is handled by ``script(conn)`` in a thread."""
    path = str(tmp_path / name)
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(12)  # the client's HELLO
            script(conn)
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return path


def hello(version: int = 4) -> bytes:
    return _packet(_u32(1), _u32(version), _str(b"info"), _str(b"0"))


@pytest.mark.parametrize(("script", "expected"), [
    (lambda c: c.sendall(hello(3)), "speaks mux protocol version 3, casepack speaks 4"),
    (lambda c: c.sendall(_packet(_u32(0x80000003), _u32(0), _str(b"x"))), "first message is 0x80000003"),
    (lambda c: c.sendall(b"\x00\x00"), "closed the connection mid-message"),
    (lambda c: c.sendall(_u32(10 << 20)), "malformed answer from the ssh master (length 10485760)"),
    (lambda c: None, "closed the connection before its HELLO"),
])
def test_bad_hello_is_one_line(tmp_path: Path, script, expected: str) -> None:  # noqa: ANN001
    with pytest.raises(MuxError) as info:
        MuxClient(fake_master(tmp_path, script))
    assert expected in str(info.value) and "\n" not in str(info.value)


def _session_script(reply: bytes, received: list):  # noqa: ANN202
    def script(conn: socket.socket) -> None:
        conn.sendall(hello())
        length = struct.unpack(">I", conn.recv(4))[0]
        received.append(conn.recv(length, socket.MSG_WAITALL))
        for _ in range(3):  # each fd in its own message with one byte, as mux.c's mm_receive_fd reads it
            msg, fds, _flags, _addr = socket.recv_fds(conn, 1, 1)
            received.append((msg, len(fds)))
            for fd in fds:
                os.close(fd)
        conn.sendall(reply)
    return script


@pytest.mark.parametrize(("kind", "word"), [(0x80000002, "refused"), (0x80000003, "failed")])
def test_session_refused_by_the_master_is_one_line(tmp_path: Path, kind: int, word: str) -> None:
    received: list = []
    path = fake_master(tmp_path, _session_script(_packet(_u32(kind), _u32(1), _str(b"Session open refused by peer")),
                                                 received))
    with MuxClient(path) as client:
        client.open_session("uname -a", 0, 1, 2)
        with pytest.raises(MuxError) as info:
            client.session_id()
    assert str(info.value) == f"the ssh master {word} the session: Session open refused by peer"
    body = received[0]
    assert body[:8] == _u32(0x10000002) + _u32(1) and body.endswith(_str(b"uname -a"))
    assert received[1:] == [(b"\0", 1)] * 3


def test_exit_status_and_tty_alloc_fail_from_the_master(tmp_path: Path) -> None:
    reply = (_packet(_u32(0x80000006), _u32(1), _u32(9)) + _packet(_u32(0x80000008), _u32(9))
             + _packet(_u32(0x80000004), _u32(9), _u32(42)))
    path = fake_master(tmp_path, _session_script(reply, []))
    with MuxClient(path) as client:
        client.open_session("true", 0, 1, 2)
        assert client.exit_status(client.session_id()) == 42
    other = _packet(_u32(0x80000006), _u32(1), _u32(9)) + _packet(_u32(0x80000004), _u32(8), _u32(0))
    path = fake_master(tmp_path, _session_script(other, []), "m2")
    with MuxClient(path) as client, pytest.raises(MuxError, match="exit status of another session"):
        client.open_session("true", 0, 1, 2)
        client.exit_status(client.session_id())


def test_the_kill_channel_is_bounded_in_all(tmp_path: Path) -> None:
    """A master that takes the request and never answers: the kill after a stop gives up in time."""
    path = fake_master(tmp_path, lambda c: (c.sendall(hello()), time.sleep(3)))
    start = time.monotonic()
    with pytest.raises(MuxError, match="does not answer"):
        openssh_mux.run_quiet(path, "pkill -s 1", 0.5)
    assert time.monotonic() - start < 2


def test_terminate_accepts_a_master_that_leaves_before_its_ok(tmp_path: Path) -> None:
    """mux.c: the master may exit before its MUX_S_OK is sent; that is the exit we asked for."""
    def script(conn: socket.socket) -> None:
        conn.sendall(hello())
        assert conn.recv(12)[4:8] == _u32(0x10000005)
    openssh_mux.terminate(fake_master(tmp_path, script))
    refused = _packet(_u32(0x80000002), _u32(1), _str(b"Permission denied"))
    path = fake_master(tmp_path, lambda c: (c.sendall(hello()), c.recv(12), c.sendall(refused)), "m2")
    with pytest.raises(MuxError, match="refused exit: Permission denied"):
        openssh_mux.terminate(path)


@sshd
def test_a_master_speaking_another_version_fails_the_host_at_connect(fleet: SshFleet, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked once per host, when the master is up: one line naming both versions, not a failure per artifact."""
    import tempfile

    from collector.errors import TransportError
    from collector.hosts.resolve import SshOptions, resolve_hosts

    monkeypatch.setattr(openssh_mux, "VERSION", 5)  # the real master (version 4) is the one that differs now
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the master's private directory goes
    target = resolve_hosts(["x1"], None, SshOptions(ssh_config=str(fleet.ssh_config), client="openssh"))[0]
    with pytest.raises(TransportError) as info:
        target.connect()
    assert str(info.value).endswith("the ssh master speaks mux protocol version 4, casepack speaks 5")
    assert "\n" not in str(info.value) and info.value.hint == "use --ssh-client paramiko"
    assert list(tmp_path.iterdir()) == [] and not running(str(tmp_path))  # master stopped, directory removed
