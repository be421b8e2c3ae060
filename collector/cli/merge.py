"""CLI for ``casepack merge``: shard bundles (or case sets) → one case set directory. Thin."""

from __future__ import annotations

import json
from pathlib import Path

import click

from collector.bundle.casedoc import human_size
from collector.bundle.display import safe
from collector.cli.exiting import exit_now
from collector.errors import ExitStatus, InputError
from collector.fleet.caseset import MergeResult, merge
from collector.hosts.inventory import load_inventory
from collector.hosts.target import safe_name
from redaction.casekey import CaseKeyError, read_key_file
from redaction.pseudonym import keyed_name


@click.command("merge")
@click.argument("shards", nargs=-1, required=True, metavar="SHARD...", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, metavar="SET", type=click.Path(path_type=Path),
              help="The case set directory to write (new, empty, or an earlier case set to replace).")
@click.option("--sign-key", "sign_key", metavar="KEY",
              help="Sign caseset.json with this Ed25519 private key (OpenSSH or PEM): caseset.json.sig.")
@click.option("--inventory", "inventories", multiple=True, metavar="FILE",
              help="An inventory (TOML, INI or YAML) whose every host must be in some shard (repeatable).")
@click.option("--case-key", "case_key", metavar="FILE", help="The case key the shards were pseudonymized with: "
              "--inventory names are compared as the pseudonyms collect gave them.")
@click.option("--json", "as_json", is_flag=True, help="Print caseset.json's content instead of a summary.")
def merge_cmd(shards: tuple[Path, ...], output: Path, sign_key: str | None, inventories: tuple[str, ...],
              case_key: str | None, as_json: bool) -> None:
    """Join shard bundles (each with its .status.json and .sha256) into the case set SET.

    SHARD is a bundle file written by `casepack collect` or an earlier case set. Nothing is
    decrypted: shards encrypted to the vendor merge as they are. SET gets the bundles and
    their .sha256 (hard-linked or copied, never moved) and caseset.json; never the
    .status.json files nor pseudonym mappings. Exit status: 0 every host ok, 2 bad input,
    3 some host failed or an inventory host is in no shard (named as unaccounted).
    """
    names: list[str] = []
    for path in inventories:
        names += [safe_name(h.name) for h in load_inventory(path)]
    if case_key:
        try:
            key = read_key_file(case_key)
        except CaseKeyError as exc:
            raise InputError(f"--case-key: {exc}") from None
        names = [keyed_name(key, "kw", n) for n in names]
    result = merge(list(shards), output, sign_key=sign_key, inventory=names)
    if as_json:
        click.echo(json.dumps(result.manifest, indent=2))
    else:
        click.echo(merge_summary(result))
    m = result.manifest
    for w in m["warnings"]:
        click.echo(f"casepack: warning: {safe(w, 300)}", err=True)
    if m["unaccounted"]:
        shown = ", ".join(safe(h, 80) for h in m["unaccounted"][:50])
        more = f" … and {len(m['unaccounted']) - 50} more" if len(m["unaccounted"]) > 50 else ""
        click.echo(f"casepack: INCOMPLETE: {len(m['unaccounted'])} inventory host(s) in no shard: {shown}{more}",
                   err=True)
    exit_now(int(ExitStatus.PARTIAL if result.partial else ExitStatus.OK))


def merge_summary(r: MergeResult) -> str:
    m = r.manifest
    c = m["counts"]
    total = sum(s["size"] for s in m["shards"])
    lines = [f"case set:   {safe(r.path)} ({m['status']})",
             f"case:       {safe(m['case_id'], 80)}" + (f" — {safe(m['case']['title'], 80)}"
                                                         if m["case"].get("title") else ""),
             f"shards:     {c['shards']} ({human_size(total)}; "
             f"{sum(v == 'linked' for v in r.placed.values())} hard-linked, "
             f"{sum(v == 'copied' for v in r.placed.values())} copied; sha256 verified)",
             f"hosts:      {c['hosts']} ({c['ok']} ok, {c['not_ok']} not ok, {c['unaccounted']} unaccounted)",
             "signature:  " + (f"signed by {r.signer.fingerprint}" if r.signer else "not signed")]
    for h in m["hosts"]:
        if h["status"] != "ok":
            lines.append(f"  {safe(h['name'], 80)}: {safe(h['status'], 20)} in {safe(h['shard'], 100)}"
                         + (f" — {safe(h['error'], 200)}" if h["error"] else ""))
    return "\n".join(lines)


__all__ = ["merge_cmd"]
