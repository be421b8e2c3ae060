"""Inventories: casepack TOML, Ansible INI and YAML; --limit; precedence of group and host settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.errors import InputError
from collector.hosts.inventory import load_inventory, select
from collector.hosts.resolve import SshOptions, resolve_hosts

INI = """
# production
[amps]
amps1 ansible_host=10.0.0.1 amps_home=/opt/amps-5
amps2 ansible_host=10.0.0.2 ansible_port=2200 ansible_user=admin
web[01:03].example.com

[db]
pg1 ansible_host=10.0.1.1 ansible_become=true

[prod:children]
amps
db

[amps:vars]
ansible_user=ops
ansible_ssh_private_key_file=/keys/ops
amps_home=/opt/amps
ansible_connection=ssh

[prod:vars]
site=eu-1
ansible_user=produser
"""

YAML = """
all:
  vars:
    site: eu-1
  children:
    amps:
      hosts:
        amps1:
          ansible_host: 10.0.0.1
        amps2:
          ansible_host: 10.0.0.2
          ansible_port: 2200
      vars:
        ansible_user: ops
        amps_home: /opt/amps
    db:
      hosts:
        pg1:
          ansible_become: yes
"""

TOML = """
[defaults]
user = "ops"
vars = { site = "eu-1" }

[groups.amps]
hosts = ["amps1", "amps2"]
identity_file = "/keys/ops"
vars = { amps_home = "/opt/amps" }

[hosts.amps1]
address = "10.0.0.1"

[hosts.amps2]
address = "10.0.0.2"
port = 2200
user = "admin"
vars = { amps_home = "/srv/amps" }
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_ansible_ini(tmp_path: Path) -> None:
    hosts = {h.name: h for h in load_inventory(write(tmp_path, "hosts", INI))}
    assert set(hosts) == {"amps1", "amps2", "web01.example.com", "web02.example.com", "web03.example.com", "pg1"}
    a1, a2, pg = hosts["amps1"], hosts["amps2"], hosts["pg1"]
    assert a1.settings == {"address": "10.0.0.1", "user": "ops", "identity_file": "/keys/ops"}
    assert a1.variables == {"amps_home": "/opt/amps-5", "site": "eu-1"}  # host var beats group var
    assert a2.settings["port"] == "2200" and a2.settings["user"] == "admin"
    assert pg.settings["sudo"] == "true" and pg.settings["user"] == "produser"  # parent group applies
    assert set(a1.groups) == {"amps", "prod"}


def test_ansible_yaml(tmp_path: Path) -> None:
    hosts = {h.name: h for h in load_inventory(write(tmp_path, "hosts.yml", YAML))}
    assert hosts["amps2"].settings == {"address": "10.0.0.2", "port": 2200, "user": "ops"}
    assert hosts["amps1"].variables == {"amps_home": "/opt/amps", "site": "eu-1"}
    assert hosts["pg1"].settings["sudo"] is True
    assert select(list(hosts.values()), "db")[0].name == "pg1"


def test_toml_precedence(tmp_path: Path) -> None:
    hosts = {h.name: h for h in load_inventory(write(tmp_path, "inv.toml", TOML))}
    assert hosts["amps1"].settings == {"user": "ops", "identity_file": "/keys/ops", "address": "10.0.0.1"}
    assert hosts["amps1"].variables == {"site": "eu-1", "amps_home": "/opt/amps"}
    assert hosts["amps2"].settings["user"] == "admin" and hosts["amps2"].variables["amps_home"] == "/srv/amps"


def test_limit_and_targets(tmp_path: Path) -> None:
    path = write(tmp_path, "hosts", INI)
    targets = resolve_hosts([], path, SshOptions(limit="amps", known_hosts=str(tmp_path / "kh")))
    assert [t.name for t in targets] == ["amps1", "amps2", "web01.example.com", "web02.example.com",
                                         "web03.example.com"]
    by = {t.name: t for t in targets}
    assert by["amps2"].address == "admin@10.0.0.2:2200" and by["amps1"].variables["amps_home"] == "/opt/amps-5"
    with pytest.raises(InputError, match="matches no host or group"):
        resolve_hosts([], path, SshOptions(limit="nothing"))


@pytest.mark.parametrize("name, text, message", [
    ("bad.toml", "[hostz]\n", "unknown section"),
    ("bad.yml", "- a\n- b\n", "mapping"),
    ("bad.toml", "[hosts\n", "cannot be read"),
    ("empty.ini", "# nothing\n", "lists no hosts"),
    ("bad.ini", "[a:weird]\nx\n", "unknown section kind"),
])
def test_bad_inventories(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_inventory(write(tmp_path, name, text))


def test_host_argument_forms(tmp_path: Path) -> None:
    cfg = write(tmp_path, "ssh_config", "Host jump\n  HostName 10.9.9.9\n  User hop\n"
                "Host app\n  HostName 10.0.0.5\n  Port 2022\n  User deploy\n  ProxyJump jump\n")
    opts = SshOptions(ssh_config=cfg, known_hosts=str(tmp_path / "kh"))
    targets = resolve_hosts(["app", "root@10.1.1.1:2222", "[::1]:22", "ops@plain"], None, opts)
    assert [t.address for t in targets][:2] == ["deploy@10.0.0.5:2022", "root@10.1.1.1:2222"]
    assert targets[2].address.endswith("@::1:22") and targets[3].address == "ops@plain:22"
    with pytest.raises(InputError, match="bad host"):
        resolve_hosts(["user@@host"], None, opts)
    with pytest.raises(InputError, match="given twice"):
        resolve_hosts(["plain", "plain"], None, opts)


def test_per_host_timeouts_from_ssh_config_and_inventory(tmp_path: Path) -> None:
    from collector.hosts.resolve import _Resolver

    cfg = write(tmp_path, "ssh_config",
                "Host slow\n  HostName 10.0.0.9\n  ConnectTimeout 42\n  ServerAliveInterval 7\n")
    resolver = _Resolver(SshOptions(ssh_config=cfg, known_hosts=str(tmp_path / "kh"), connect_timeout=5))
    slow = resolver.spec("slow")
    assert slow.connect_timeout == 42 and slow.keepalive == 7
    fast = resolver.spec("other", settings={"connect_timeout": "3"})
    assert fast.connect_timeout == 3 and fast.keepalive == 15
    assert resolver.spec("plain").connect_timeout == 5
    inv = load_inventory(write(tmp_path, "hosts", "[a]\nh1 ansible_host=10.0.0.1 ansible_ssh_timeout=9\n"))
    assert inv[0].settings["connect_timeout"] == "9"
