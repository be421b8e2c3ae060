"""The ``postgresql`` probe against two real PostgreSQL 15 clusters (pg_createcluster under a temp conf root)."""

from __future__ import annotations

from pathlib import Path

from tests.services import Service, check_service_bundle, collect, postgresql_service, service_root

__all__ = ["postgresql_service", "service_root"]  # fixtures

VIEWS = ["settings", "activity", "locks", "replication", "databases", "stat-database"]


def test_postgresql_probe_collects_both_clusters_and_leaves_no_trace(postgresql_service: Service,
                                                                     tmp_path: Path) -> None:
    before = postgresql_service.log_state()
    bundle = collect(tmp_path, ["postgresql"], postgresql_service.variables)
    tags = [f"15-{name}" for name in postgresql_service.extra["clusters"]]  # type: ignore[union-attr]
    check_service_bundle(postgresql_service, bundle, [f"{v}-{t}" for t in tags for v in VIEWS] + ["clusters"])
    for tag in tags:
        assert "shop" in bundle.text(bundle.named("postgresql", f"databases-{tag}")["path"])
        assert bundle.named("postgresql", f"accepting-connections-{tag}")["check"]["result"] == "pass"
        settings = bundle.text(bundle.named("postgresql", f"settings-{tag}")["path"])
        assert "work_mem" in settings and "postgresql.auto.conf" in settings
    assert bundle.manifest["status"] == "complete", [a for a in bundle.artifacts("postgresql") if a["status"] != "ok"]
    after = postgresql_service.log_state()
    assert after == before, {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}
    for log in postgresql_service.logs:
        assert "FATAL" not in log.read_text(), log
