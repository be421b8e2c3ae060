"""The ``nginx`` probe against a real nginx: includes (snippets/*.conf, mime.types), per-site logs, an upstream."""

from __future__ import annotations

from pathlib import Path

from probes.nginx import parse_dump
from tests.services import Service, check_service_bundle, collect, nginx_service, run, service_root

__all__ = ["nginx_service", "service_root"]  # fixtures


def test_nginx_probe_collects_every_included_file_and_log(nginx_service: Service, tmp_path: Path) -> None:
    before = nginx_service.log_state()
    bundle = collect(tmp_path, ["nginx"], nginx_service.variables)
    check_service_bundle(nginx_service, bundle, ["config-effective"])
    by_source = bundle.by_source("nginx")
    shop_errors = bundle.text(by_source[str(nginx_service.root / "log" / "shop.error.log")]["path"])
    assert "connect() failed (111: Connection refused) while connecting to upstream" in shop_errors
    assert bundle.named("nginx", "config-test")["check"]["result"] == "pass"
    assert bundle.manifest["status"] == "complete", [a for a in bundle.artifacts("nginx") if a["status"] != "ok"]
    assert nginx_service.log_state() == before


def test_parse_dump_of_the_real_nginx(nginx_service: Service) -> None:
    dump = run("nginx", "-T", "-q", "-c", nginx_service.variables["nginx_conf"]).stdout
    files, logs = parse_dump(dump)
    assert files == [str(p) for p in nginx_service.configs[:2]] + [str(p) for p in nginx_service.configs[2:]]
    assert sorted(path for _, path in logs) == sorted(str(p) for p in nginx_service.logs)
