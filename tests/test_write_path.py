"""The write path end to end: gunzipped and tail_lines logs spooled compressed, cut exactly as before."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

from collector.engine import tailspool
from collector.engine.artifacts import RunOptions
from collector.engine.run import CollectRequest, HostTarget, collect
from collector.transport.local import local_host
from probes.spec import Artifact, Probe
from tests.test_engine import members
from tests.test_tailspool import reference_cut


def collect_log(tmp_path: Path, art: Artifact, **options: object):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    req = CollectRequest(hosts=[HostTarget("h", "local", local_host)], probes=[Probe("t", artifacts=(art,))],
                         output=out, options=RunOptions(**options))
    result = collect(req)
    (res,) = result.manifest.artifacts
    return res, members(result.path)[res.path]


def lines(n: int, start: int = 0) -> bytes:
    return b"".join(b"2026-11-20T%02d:%02d:%02d app line %07d with a little text after it\n"
                    % (10 + i // 3600 % 14, i // 60 % 60, i % 60, i) for i in range(start, start + n))


def test_gz_log_over_the_cap_keeps_the_same_tail_as_the_plain_spool(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(tailspool, "SEGMENT", 256 << 10)  # several frames, some dropped, the cut inside one
    data = lines(60000)
    (tmp_path / "app.log.1.gz").write_bytes(gzip.compress(data, 1))
    plain = tmp_path / "plain"
    plain.write_bytes(data)
    cap = 1 << 20
    res, body = collect_log(tmp_path, Artifact("l", "log", paths=(str(tmp_path / "app.log.1.gz"),), max_size=cap),
                            redact=False)
    assert body == data[reference_cut(str(plain), len(data), cap, None):]
    assert res.truncated and res.size == len(body) and res.sha256 == hashlib.sha256(body).hexdigest()


def test_gz_log_under_the_cap_is_whole_and_not_truncated(tmp_path: Path) -> None:
    data = lines(3000) + b"password = hunter2-secret\n"
    (tmp_path / "small.log.2.gz").write_bytes(gzip.compress(data))
    res, body = collect_log(tmp_path, Artifact("l", "log", paths=(str(tmp_path / "small.log.2.gz"),)))
    assert not res.truncated and body.startswith(data[:100]) and b"hunter2" not in body
    assert res.sha256 == hashlib.sha256(body).hexdigest()


def test_tail_lines_with_a_time_window(tmp_path: Path) -> None:
    """Old lines go by the window, then the last N of the rest; an untimed trace line stays with its entry."""
    data = lines(5000) + b"\tat com.example.Trace(Trace.java:1)\n"
    log = tmp_path / "w.log"
    log.write_bytes(data)
    os.utime(log, (2e9, 2e9))
    since = 1795168800.0 + 1800  # 2026-11-20T10:30:00Z: the first 1800 lines are older
    res, body = collect_log(tmp_path, Artifact("l", "log", paths=(str(log),), tail_lines=4), since=since,
                            redact=False)
    assert body == b"".join(data.splitlines(keepends=True)[-4:])
    assert res.truncated and any(n.startswith(f"{len(lines(1800))} bytes before the time window") for n in res.notes)
    res, body = collect_log(tmp_path, Artifact("l", "log", paths=(str(log),), tail_lines=5000), since=since,
                            redact=False)
    assert body == data[len(lines(1800)):] and not res.truncated  # the window is not a truncation
