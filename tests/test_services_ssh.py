"""The redis and PostgreSQL probes over the real test sshd as a sudo user (cptest, NOPASSWD): the same
results as the local collect (tests/test_services_redis.py, test_services_postgresql.py) and 0 lines
added to the services' logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services import REDIS_PASSWORD, Service, check_service_bundle, collect, postgresql_service, redis_service
from tests.services import service_root as service_root
from tests.sshfleet import SSH_CLIENTS, SshFleet, fleet_of, is_root, sshd_available
from tests.test_services_postgresql import VIEWS
from tests.test_services_redis import RUNTIME

__all__ = ["postgresql_service", "redis_service", "service_root"]  # fixtures

pytestmark = [
    pytest.mark.skipif(not sshd_available(), reason="needs /usr/sbin/sshd (apt-get install openssh-server)"),
    pytest.mark.skipif(not is_root(), reason="the sshd test fleet needs root (users, sudoers)"),
]


@pytest.fixture(scope="module", params=SSH_CLIENTS)
def fleet(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    yield from fleet_of(tmp_path_factory.mktemp("fleet"), "svc", client=request.param)


def over_ssh(fleet: SshFleet) -> tuple[str, ...]:
    return ("--ssh-config", str(fleet.ssh_config), *fleet.client_args, "svc")  # User cptest: sudo NOPASSWD


def test_redis_over_ssh_as_sudo_user(fleet: SshFleet, redis_service: Service, tmp_path: Path) -> None:
    before = redis_service.log_state()
    variables = {"redis_conf": redis_service.variables["redis_conf"], "redis_port": str(redis_service.extra["port"])}
    bundle = collect(tmp_path, ["redis"], variables, *over_ssh(fleet), env={"CASEPACK_REDIS_PASSWORD": REDIS_PASSWORD})
    assert bundle.manifest["hosts"][0]["transport"] == "ssh"
    check_service_bundle(redis_service, bundle, RUNTIME)
    assert bundle.named("redis", "ping")["check"]["result"] == "pass"
    assert bundle.manifest["status"] == "complete", [a for a in bundle.artifacts("redis") if a["status"] != "ok"]
    assert redis_service.log_state() == before


def test_postgresql_over_ssh_as_sudo_user(fleet: SshFleet, postgresql_service: Service, tmp_path: Path) -> None:
    before = postgresql_service.log_state()
    bundle = collect(tmp_path, ["postgresql"], postgresql_service.variables, *over_ssh(fleet))
    tags = [f"15-{name}" for name in postgresql_service.extra["clusters"]]  # type: ignore[union-attr]
    check_service_bundle(postgresql_service, bundle, [f"{v}-{t}" for t in tags for v in VIEWS] + ["clusters"])
    for tag in tags:
        assert bundle.named("postgresql", f"accepting-connections-{tag}")["check"]["result"] == "pass"
    assert bundle.manifest["status"] == "complete", [a for a in bundle.artifacts("postgresql") if a["status"] != "ok"]
    after = postgresql_service.log_state()
    assert after == before, {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}
