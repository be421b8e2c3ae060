"""Helpers for the encryption and ``casepack open`` tests: run the CLI, collect tiny bundles, forge bundles."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import zstandard

ROOT = Path(__file__).resolve().parents[1]
# the code under test, whichever checkout `casepack` on PATH was installed from
CLI = [sys.executable, "-c", "import sys; from collector.cli import main; sys.argv[0] = 'casepack'; main()"]


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: int = 120) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def probe(tmp: Path) -> Path:
    """A one-artifact probe: a small config file with a secret in it."""
    conf = tmp / "app.conf"
    conf.write_text("password = hunter2\nport = 9007\n" + "line of config\n" * 50)
    path = tmp / "probe.toml"
    path.write_text(f'name = "tiny"\ndescription = "test"\n\n[[artifact]]\nname = "cfg"\nkind = "config"\n'
                    f'paths = ["{conf}"]\n')
    return path


def collect(tmp: Path, *args: str, env: dict[str, str] | None = None) -> tuple[Path, subprocess.CompletedProcess]:
    """``casepack collect`` of the tiny probe into ``tmp/out``; returns the one bundle."""
    out = tmp / "out"
    out.mkdir(exist_ok=True)
    before = set(out.iterdir())
    proc = run("collect", "-p", str(probe(tmp)), "-o", str(out), "--no-input", "--label", "t", *args, env=env)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    made = [p for p in set(out.iterdir()) - before if not p.name.endswith((".sha256", ".status.json"))]
    assert len(made) == 1, made
    return made[0], proc


def age_keys(tmp: Path) -> tuple[Path, str]:
    """(identity file, public key) made by the stock age-keygen."""
    ident = tmp / "vendor.key"
    subprocess.run(["age-keygen", "-o", str(ident)], check=True, capture_output=True)
    public = subprocess.run(["age-keygen", "-y", str(ident)], check=True, capture_output=True, text=True).stdout
    return ident, public.strip()


def ssh_keys(tmp: Path, kind: str) -> tuple[Path, Path]:
    key = tmp / f"id_{kind}"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "vendor", "-f", str(key)]
                   + (["-b", "2048"] if kind == "rsa" else []), check=True)
    return key, key.with_name(key.name + ".pub")


# --- forged bundles ----------------------------------------------------------------------------------

def member(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, **attrs: object) -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mode = kind, len(data) if kind == tarfile.REGTYPE else 0, 0o644
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def good_files() -> dict[str, bytes]:
    return {"SUPPORT_CASE.md": b"# case\n", "index.sqlite": b"not really sqlite\n", "redaction-report.json": b"{}\n",
            "hosts/h/p/config/etc/app.conf": b"port = 1\n"}


def manifest_for(files: dict[str, bytes], **extra: object) -> bytes:
    meta = {n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()}
    arts = [{"path": n, **m} for n, m in meta.items() if n.startswith("hosts/")]
    doc = {"format": "casepack/1", "status": "complete", "created": "2026-01-01T00:00:00Z", "hosts": [],
           "artifacts": arts, "files": {n: m for n, m in meta.items() if not n.startswith("hosts/")}, **extra}
    return json.dumps(doc).encode()


def tar_of(members: list[tuple], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w|", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def forge(path: Path, extra: list[tuple] | None = None, files: dict[str, bytes] | None = None,
          manifest: bytes | None = None, raw_tar: bytes | None = None) -> Path:
    """A ``.tar.zst`` with ``files``, then ``extra`` members, then ``manifest.json`` (matching ``files``)."""
    files = good_files() if files is None else files
    if raw_tar is None:
        members = [member(n, d) for n, d in files.items()] + (extra or [])
        members.append(member("manifest.json", manifest if manifest is not None else manifest_for(files)))
        raw_tar = tar_of(members)
    path.write_bytes(zstandard.ZstdCompressor().compress(raw_tar))
    return path
