"""``--since`` on the real services' logs: every timestamp format they write is read.

All the daemons' lines were written before the window starts (one second ago), so a log whose
timestamps are read comes out empty with a "dropped" note; an unreadable format would keep the
whole file (the filter passes files whose timestamps it cannot read).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.services import (
    REDIS_PASSWORD,
    Service,
    collect,
    mariadb_service,
    nginx_service,
    postgresql_service,
    redis_service,
    service_root,
)

__all__ = ["mariadb_service", "nginx_service", "postgresql_service", "redis_service", "service_root"]


@pytest.mark.parametrize("fixture", ["redis_service", "nginx_service", "postgresql_service", "mariadb_service"])
def test_since_window_applies_to_every_service_log(fixture: str, request: pytest.FixtureRequest,
                                                   tmp_path: Path) -> None:
    service: Service = request.getfixturevalue(fixture)
    newest = max(p.stat().st_mtime for p in service.logs)
    while time.time() - newest < 1.5:  # the window must start after the last line was written
        time.sleep(0.1)
    env = {"CASEPACK_REDIS_PASSWORD": REDIS_PASSWORD}
    bundle = collect(tmp_path, [service.name], service.variables, "--since", "1s", env=env)
    by_source = bundle.by_source(service.name)
    for log in service.logs:
        if log.stat().st_size == 0:
            continue
        a = by_source[str(log)]
        assert a["status"] == "ok" and a["size"] == 0, (log.read_text()[:300], a)
        assert any("before the time window dropped" in n for n in a["notes"]), a
