"""The accounting rule, per probe: a file the configuration names but that is not there is in the
manifest with status ``missing``/``denied`` and a reason, and the bundle is ``partial``, never
``complete``. Each test starts from a working setup (real daemons from tests/services.py, the fake
ampServer) and adds one reference to a file that does not exist.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.services import (
    REDIS_PASSWORD,
    Bundle,
    Service,
    collect,
    free_port,
    mariadb_service,
    postgresql_service,
    redis_service,
    service_root,
)
from tests.test_amps_running import base, make_layout, start, stop

__all__ = ["base", "mariadb_service", "postgresql_service", "redis_service", "service_root"]  # fixtures


def unaccounted(bundle: Bundle, probe: str, path: str) -> dict:
    """The manifest entry for ``path``: it must be there, not ok, with a reason; the bundle partial."""
    entry = bundle.by_source(probe).get(path)
    assert entry is not None, f"{path} not in the manifest: {sorted(bundle.by_source(probe))}"
    assert entry["status"] in ("missing", "denied") and entry["error"], entry
    assert not entry["optional"], entry
    assert bundle.manifest["status"] == "partial"
    return entry


def test_amps_missing_include_and_stats(base: Path, tmp_path: Path) -> None:
    layout = make_layout(base)
    config = layout["cfg"] / "config.xml"
    config.write_text(config.read_text().replace("</AMPSConfig>", "<Include>conf.d/gone.xml</Include></AMPSConfig>"))
    (layout["run"] / "stats" / "stats.db").unlink()
    proc = start(layout)
    try:
        bundle = collect(tmp_path, ["amps"], {})
    finally:
        stop(proc)
    assert bundle.named("amps", "version")["status"] == "ok"
    unaccounted(bundle, "amps", str(layout["run"] / "conf.d" / "gone.xml"))
    unaccounted(bundle, "amps", str(layout["run"] / "stats" / "stats.db"))


def test_amps_unparsable_config_makes_discovery_incomplete(tmp_path: Path) -> None:
    (tmp_path / "config.xml").write_text("<AMPSConfig><Logging>")
    bundle = collect(tmp_path, ["amps"], {"amps_config": str(tmp_path / "config.xml")})
    assert bundle.by_source("amps")[str(tmp_path / "config.xml")]["status"] == "ok"  # still collected
    failed = bundle.named("amps", "discover")
    assert failed["status"] == "failed" and "discovery incomplete" in failed["error"], failed
    assert bundle.manifest["status"] == "partial"


def test_redis_missing_include(redis_service: Service, tmp_path: Path) -> None:
    wrapper = tmp_path / "redis-wrapper.conf"
    wrapper.write_text(f"include {redis_service.variables['redis_conf']}\ninclude {tmp_path}/gone.conf\n")
    variables = {"redis_conf": str(wrapper), "redis_port": str(redis_service.extra["port"])}
    bundle = collect(tmp_path, ["redis"], variables, env={"CASEPACK_REDIS_PASSWORD": REDIS_PASSWORD})
    assert bundle.named("redis", "info")["status"] == "ok"
    unaccounted(bundle, "redis", f"{tmp_path}/gone.conf")


NGINX_CONF = """pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 16; }}
http {{
    access_log {d}/access.log;
    {extra}
    server {{
        listen 127.0.0.1:{port};
        access_log {d}/vhosts/$host.access.log;
    }}
}}
"""


def nginx_conf(tmp_path: Path, extra: str = "") -> Path:
    if shutil.which("nginx", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("nginx is not installed")
    d = tmp_path / "nginx"
    (d / "vhosts").mkdir(parents=True)
    conf = d / "nginx.conf"
    conf.write_text(NGINX_CONF.format(d=d, extra=extra, port=free_port()))
    return conf


def test_nginx_log_named_with_a_variable_that_matches_nothing(tmp_path: Path) -> None:
    conf = nginx_conf(tmp_path)
    test = subprocess.run(["nginx", "-t", "-q", "-c", str(conf)], capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    bundle = collect(tmp_path, ["nginx"], {"nginx_conf": str(conf)})
    assert bundle.named("nginx", "config-test")["check"]["result"] == "pass"
    unaccounted(bundle, "nginx", f"{conf.parent}/vhosts/*.access.log")


def test_nginx_missing_include_makes_discovery_incomplete(tmp_path: Path) -> None:
    conf = nginx_conf(tmp_path, extra=f"include {tmp_path}/gone.conf;")
    bundle = collect(tmp_path, ["nginx"], {"nginx_conf": str(conf)})
    failed = bundle.named("nginx", "discover")
    assert failed["status"] == "failed" and "nginx -T" in failed["error"], failed
    assert bundle.by_source("nginx")[str(conf)]["status"] == "ok"
    assert bundle.manifest["status"] == "partial"


def test_postgresql_missing_include(postgresql_service: Service, tmp_path: Path) -> None:
    cdir: Path = postgresql_service.extra["clusters"]["alpha"]["conf_dir"]  # type: ignore[index]
    conf = cdir / "postgresql.conf"
    original = conf.read_text()
    try:  # the running server is not reloaded: only the probe reads the extra line
        conf.write_text(original + "include = 'gone-tuning.conf'\n")
        bundle = collect(tmp_path, ["postgresql"], postgresql_service.variables)
    finally:
        conf.write_text(original)
    assert bundle.named("postgresql", "settings-15-alpha")["status"] == "ok"
    unaccounted(bundle, "postgresql", str(cdir / "gone-tuning.conf"))


def test_mariadb_missing_log_and_empty_includedir(mariadb_service: Service, tmp_path: Path) -> None:
    (tmp_path / "empty.d").mkdir()  # normal: accounted for as optional, not a reason for "partial"
    wrapper = tmp_path / "my.cnf"
    wrapper.write_text(f"!include {mariadb_service.variables['mysql_conf']}\n!includedir {tmp_path}/empty.d/\n"
                       f"[mysqld]\ngeneral_log_file = {tmp_path}/gone/general.log\n")
    bundle = collect(tmp_path, ["mariadb"], {**mariadb_service.variables, "mysql_conf": str(wrapper)})
    assert bundle.named("mariadb", "status")["status"] == "ok", bundle.named("mariadb", "status")
    empty = bundle.by_source("mariadb")[f"{tmp_path}/empty.d/*.cnf"]
    assert empty["status"] == "missing" and empty["optional"], empty
    unaccounted(bundle, "mariadb", f"{tmp_path}/gone/general.log")


def test_mariadb_includedir_that_does_not_exist() -> None:
    from probes.mariadb import discover

    class Ctx:  # the client aborts on it ("Fatal error in defaults handling"): a reference unaccounted for
        variables = {"mysql_conf": "/etc/casepack-test/my.cnf"}

        def read_text(self, path: str, limit: int = 0) -> str | None:
            return "!includedir /nonexistent/casepack.d/\n" if path == self.variables["mysql_conf"] else None

        def run(self, command: str, timeout: float = 30.0, privileged: bool = False) -> str | None:
            return "" if command.startswith("for f in") else None

    arts = {a.paths[0]: a for a in discover(Ctx())}
    missing = arts["/nonexistent/casepack.d/*.cnf"]
    assert not missing.optional and "no such directory" in missing.description
