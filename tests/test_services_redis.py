"""The ``redis`` probe against a real redis-server with requirepass, an include and its own log file."""

from __future__ import annotations

from pathlib import Path

from tests.services import REDIS_PASSWORD, Service, check_service_bundle, collect, redis_service, service_root

__all__ = ["redis_service", "service_root"]  # fixtures

RUNTIME = ["info", "config-runtime", "slowlog", "latency-doctor", "clients", "acl-log"]


def test_redis_probe_collects_everything_and_leaves_no_trace(redis_service: Service, tmp_path: Path) -> None:
    before = redis_service.log_state()
    variables = {"redis_conf": redis_service.variables["redis_conf"], "redis_port": str(redis_service.extra["port"])}
    bundle = collect(tmp_path, ["redis"], variables, env={"CASEPACK_REDIS_PASSWORD": REDIS_PASSWORD})
    check_service_bundle(redis_service, bundle, RUNTIME)
    info = bundle.text(bundle.named("redis", "info")["path"])
    assert "redis_version:" in info and "# Keyspace" in info
    runtime_conf = bundle.text(bundle.named("redis", "config-runtime")["path"])
    assert "maxmemory\t67108864" in runtime_conf  # from the included file
    assert bundle.named("redis", "ping")["check"]["result"] == "pass"
    assert bundle.manifest["status"] == "complete", [a for a in bundle.artifacts("redis") if a["status"] != "ok"]
    assert redis_service.log_state() == before


def test_wrong_password_is_failed_with_the_server_answer(redis_service: Service, tmp_path: Path) -> None:
    variables = {"redis_conf": redis_service.variables["redis_conf"], "redis_port": str(redis_service.extra["port"]),
                 "redis_password": "not-the-password"}
    bundle = collect(tmp_path, ["redis"], variables)
    info = bundle.named("redis", "info")
    assert info["status"] == "failed" and "NOAUTH Authentication required" in info["error"], info
    ping = bundle.named("redis", "ping")
    assert ping["status"] == "failed" and "NOAUTH" in ping["error"] and ping["check"] is None, ping
    assert bundle.manifest["status"] == "partial"
