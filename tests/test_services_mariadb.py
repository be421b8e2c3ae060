"""The ``mariadb`` probe against a real MariaDB: my.cnf with !includedir and !include, three named logs."""

from __future__ import annotations

from pathlib import Path

from tests.services import Service, check_service_bundle, collect, mariadb_service, service_root

__all__ = ["mariadb_service", "service_root"]  # fixtures

RUNTIME = ["status", "variables", "processlist", "innodb-status"]


def test_mariadb_probe_collects_everything_and_leaves_no_trace(mariadb_service: Service, tmp_path: Path) -> None:
    before = mariadb_service.log_state()
    bundle = collect(tmp_path, ["mariadb"], mariadb_service.variables)
    check_service_bundle(mariadb_service, bundle, RUNTIME)
    assert "Innodb_buffer_pool_pages_total" in bundle.text(bundle.named("mariadb", "status")["path"])
    assert "TRANSACTIONS" in bundle.text(bundle.named("mariadb", "innodb-status")["path"])
    assert bundle.named("mariadb", "replica-status")["status"] == "ok"  # not a replica: empty, not an error
    assert bundle.named("mariadb", "alive")["check"]["result"] == "pass"
    assert bundle.named("mariadb", "grastate")["status"] == "missing"  # accounted for (optional: no Galera)
    assert bundle.manifest["status"] == "complete", [a for a in bundle.artifacts("mariadb") if a["status"] != "ok"]
    assert mariadb_service.log_state() == before


def test_wrong_password_is_failed_with_access_denied(mariadb_service: Service, tmp_path: Path) -> None:
    variables = {**mariadb_service.variables, "mysql_user": "monitor", "mysql_password": "wrong-password"}
    bundle = collect(tmp_path, ["mariadb"], variables)
    status = bundle.named("mariadb", "status")
    assert status["status"] == "failed" and "Access denied for user 'monitor'" in status["error"], status
