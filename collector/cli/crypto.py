"""CLI for encryption: ``keygen``, ``open``, and the ``collect`` encryption options. Thin."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from collector import secrets
from collector.bundle.casedoc import human_size
from collector.bundle.crypto import Encryption, keygen
from collector.bundle.display import safe
from collector.bundle.opener import OpenLimits, OpenResult, open_bundle
from collector.bundle.signing import trusted_fingerprints
from collector.casefile import CaseFile
from collector.cli.exiting import exit_now
from collector.errors import InputError
from collector.fleet.caseset import is_case_set
from collector.fleet.setopen import SetOpenResult, open_set
from collector.settings import parse_size_option, plan_encryption

UNENCRYPTED_WARNING = ("casepack: warning: no recipient given (-r KEY, --passphrase or [encryption] in the case "
                       "file): the bundle will NOT be encrypted")


def passphrase_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--passphrase-env", metavar="NAME",
                     help="Read the passphrase from environment variable NAME.")(f)
    return click.option("--passphrase", "ask_passphrase", is_flag=True,
                        help="Use a passphrase (prompted on the terminal) instead of keys.")(f)


def encryption_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``-r/--recipient``, ``--passphrase``, ``--passphrase-env``, ``--sign`` for ``collect``."""
    f = click.option("--sign", "sign_key", metavar="KEY",
                     help="Sign manifest.json with this Ed25519 private key (OpenSSH or PEM).")(f)
    f = passphrase_options(f)
    f = click.option("-r", "--recipient", "recipients", multiple=True, metavar="KEY",
                     help="Encrypt to an age (age1…) or SSH (ssh-ed25519/ssh-rsa) public key, or a file of "
                          "keys (repeatable).")(f)
    return f


def read_passphrase(ask: bool, env: str | None, confirm: bool) -> str | None:
    """The passphrase from ``--passphrase-env NAME`` or the terminal; never from the command line."""
    if env:
        value = os.environ.get(env)
        if not value:
            raise InputError(f"--passphrase-env: environment variable {env} is unset or empty")
        secrets.register(value, env)
        return value
    if not ask:
        return None
    if not sys.stdin.isatty():
        raise InputError("--passphrase needs a terminal to prompt on", hint="use --passphrase-env NAME")
    value = click.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    if not value:
        raise InputError("the passphrase is empty")
    secrets.register(value)
    return value


def resolve_encryption(case: CaseFile | None, recipients: tuple[str, ...], ask_passphrase: bool,
                       passphrase_env: str | None, sign_key: str | None, warn: bool = True) -> Encryption:
    """The library's encryption plan plus the passphrase read here (the terminal is the CLI's).

    ``warn=False``: the caller prints :data:`UNENCRYPTED_WARNING` itself, after its other checks.
    """
    plan = plan_encryption(case, recipients, bool(ask_passphrase or passphrase_env), sign_key)
    passphrase = read_passphrase(ask_passphrase, passphrase_env, confirm=True)
    enc = Encryption(plan.recipients, passphrase, plan.sign_key)
    if warn and not enc.encrypts:
        click.echo(UNENCRYPTED_WARNING, err=True)
    return enc


@click.command("keygen")
@click.option("-o", "--output", default="casepack-identity.txt", show_default=True, metavar="FILE",
              help="Identity file to create (mode 0600; never overwritten).")
def keygen_cmd(output: str) -> None:
    """Make a vendor identity (age X25519) and print its public key and fingerprint.

    Publish the public key; customers encrypt to it with `casepack collect -r KEY`.
    Keep FILE secret: `casepack open -k FILE` (or `age -d -i FILE`) decrypts.
    """
    public, fp = keygen(Path(output))
    click.echo(f"identity:    {output} (mode 0600; keep it secret)", err=True)
    click.echo(f"fingerprint: {fp}", err=True)
    click.echo(public)


@click.command("open")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("-k", "--identity", metavar="FILE", help="age identity file or SSH private key (ed25519/rsa).")
@click.option("-o", "--output", metavar="DIR", help="Directory to extract into (new or empty). "
              "Default: the bundle's name without extensions, here.")
@passphrase_options
@click.option("--max-size", metavar="SIZE", help="Refuse bundles that unpack to more than this. Default: "
              "max(64MiB, 200 x the bundle's size), so a small bundle cannot fill the disk.")
@click.option("--max-files", default=100_000, show_default=True, type=click.IntRange(1), help="Refuse bundles with "
              "more members than this.")
@click.option("--require-signature", is_flag=True, help="Refuse a bundle whose manifest is not signed.")
@click.option("--trust", metavar="KEYS", help="File of ssh-ed25519 public keys (or SHA256: fingerprints); the "
              "manifest must be signed by one of them.")
def open_cmd(bundle: Path, identity: str | None, output: str | None, ask_passphrase: bool,
             passphrase_env: str | None, max_size: str | None, max_files: int, require_signature: bool,
             trust: str | None) -> None:
    """Decrypt, verify and extract BUNDLE safely (all files checked against the manifest).

    BUNDLE may be a case set (`casepack merge`): caseset.json's signature and every shard's
    sha256 are checked, each shard is opened into DIR/<shard name>; a missing or altered
    shard is named and skipped, the others are opened (exit 4).

    Exit status: 0 opened and verified, 1 cannot decrypt (wrong key or passphrase),
    2 bad usage, 4 the bundle failed verification (corrupt, tampered, unsafe or not a
    casepack bundle). A failed open leaves nothing behind.
    """
    limits = OpenLimits(parse_size_option(max_size, "--max-size") if max_size else None, max_files)
    trusted = trusted_fingerprints(trust) if trust else None
    if is_case_set(bundle):  # a case set: every shard, side by side
        opened = open_set(bundle, Path(output) if output else None, identity=identity,
                          passphrase=read_passphrase(ask_passphrase, passphrase_env, confirm=False), limits=limits,
                          require_signature=require_signature, trusted=trusted)
        click.echo(set_summary(opened))
        for shard, why, _code in opened.failed:
            click.echo(f"casepack: SHARD NOT OPENED: {safe(shard.info.file, 120)}: {safe(why, 300)}", err=True)
        exit_now(opened.exit_status)
    result = open_bundle(bundle, Path(output) if output else None, identity=identity,
                         passphrase=read_passphrase(ask_passphrase, passphrase_env, confirm=False), limits=limits,
                         require_signature=require_signature, trusted=trusted)
    click.echo(open_summary(result))


def open_summary(r: OpenResult) -> str:
    """What ``open`` prints; every text taken from the bundle passes ``safe`` (no escapes, no forged lines)."""
    case = r.manifest.get("case") or {}
    sig = (f"signed by {safe(r.signer.fingerprint, 80)} ({safe(r.signer.public_key, 40)}…)" if r.signer
           else "not signed")
    side = {"verified": "matches the .sha256 beside it", "absent": "no .sha256 beside it"}.get(r.sidecar, r.sidecar)
    lines = [
        f"opened:     {safe(r.directory)}",
        f"verified:   {r.files} files, {human_size(r.bytes)} — sha256 and size match manifest.json",
        f"encrypted:  {r.encrypted}",
        f"sha256:     {r.bundle_sha256} ({side})",
        f"signature:  {sig}",
        f"bundle:     {safe(r.manifest.get('status'), 20)}, created {safe(r.manifest.get('created'), 40)}, "
        f"{len(r.manifest.get('hosts') or [])} host(s)",
    ]
    if case.get("title"):
        lines.append(f"case:       {safe(case['title'], 90)}")
    lines += [f"warning:    {safe(w)}" for w in r.warnings]
    return "\n".join(lines)


def set_summary(r: SetOpenResult) -> str:
    """What ``open SET`` prints: the set, then one line per shard (opened or why not)."""
    m = r.checked.manifest
    sig = f"signed by {safe(r.checked.signer.fingerprint, 80)}" if r.checked.signer else "not signed"
    lines = [f"opened set: {safe(r.directory)}",
             f"case set:   {safe(m.get('case_id'), 80)}, {len(r.checked.shards)} shard(s), "
             f"{len(m.get('hosts') or [])} host(s), {safe(m.get('status'), 20)}; caseset.json {sig}"]
    for shard, res in r.opened:
        lines.append(f"  ok      {safe(shard.info.file, 100)} → {safe(res.directory.name, 100)}: {res.files} files, "
                     f"{human_size(res.bytes)} verified, " + ("signed" if res.signer else "not signed"))
    for shard, why, _code in r.failed:
        lines.append(f"  FAILED  {safe(shard.info.file, 100)}: {safe(why, 200)}")
    unaccounted = m.get("unaccounted") or []
    if unaccounted:
        lines.append(f"  INCOMPLETE: {len(unaccounted)} inventory host(s) in no shard: "
                     + ", ".join(safe(h, 60) for h in unaccounted[:20]))
    return "\n".join(lines)


__all__ = ["encryption_options", "keygen_cmd", "open_cmd", "resolve_encryption"]
