"""Helpers for the case set tests: real encrypted shards from `collect`, and synthetic shards with chosen hosts."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.cliutil import CLI
from tests.cliutil import env as cli_env


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          cwd=cwd, env={**cli_env(), **(env or {})})


def age_identity(tmp: Path) -> tuple[Path, str]:
    """(identity file, public key) made by the stock age-keygen."""
    ident = tmp / "vendor-id.txt"
    if not ident.exists():
        subprocess.run(["age-keygen", "-o", str(ident)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(ident)], check=True, capture_output=True, text=True).stdout
    return ident, public.strip()


def tiny_probe(tmp: Path, line: str = "hello from 10.1.2.3 on db1.example.com user=alice") -> Path:
    path = tmp / "tiny.toml"
    path.write_text('name = "tiny"\ndescription = "test probe"\n[[artifact]]\nname = "hello"\nkind = "command"\n'
                    f'command = "echo {line}"\n')
    return path


def collect_shard(tmp: Path, label: str, *extra: str, recipient: str | None = None,
                  env: dict[str, str] | None = None) -> Path:
    """One real local bundle (with record and .sha256) in tmp/<label>/; returns the bundle path."""
    out = tmp / label
    args = ["collect", "--no-input", "--json", "-p", str(tiny_probe(tmp)), "--label", label, "-o", f"{out}/",
            *extra]
    if recipient:
        args += ["-r", recipient]
    proc = cli(*args, env=env)
    assert proc.returncode in (0, 3), proc.stderr
    return Path(json.loads(proc.stdout)["bundle"])


def fake_shard(tmp: Path, name: str, hosts: dict[str, str], *, created: str = "2026-12-01T10:00:00Z",
               **extra: Any) -> Path:
    """A bundle-shaped file with a run record listing ``hosts`` ({name: status}); merge never decrypts it."""
    tmp.mkdir(parents=True, exist_ok=True)
    bundle = tmp / name
    data = os.urandom(4096)
    bundle.write_bytes(data)
    bundle.chmod(0o600)
    digest = hashlib.sha256(data).hexdigest()
    bundle.with_name(name + ".sha256").write_text(f"{digest}  {name}\n")
    record = {"format": "casepack-status/1", "bundle": name, "sha256": digest, "size": len(data),
              "encrypted": True, "created": created, "status": "complete", "case": {"title": "slow queries"},
              "hosts": [{"name": h, "target": f"cptest@{h}.internal:22", "status": s,
                         "error": None if s == "ok" else f"{h}: connection refused"} for h, s in hosts.items()],
              **extra}
    bundle.with_name(name + ".status.json").write_text(json.dumps(record))
    return bundle


def sha256sum(path: Path) -> str:
    return subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True).stdout.split()[0]
