"""``casepack redact`` and ``casepack unmask``, and the redaction options of ``collect``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from collector.casefile import load_case_file, redaction_section
from collector.errors import InputError
from collector.safefile import write_private
from redaction import RedactionConfig, Redactor, casekey
from redaction.pseudonym import merge_mappings, save_mapping, unmask
from redaction.tree import redact_tree


def _case_key(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """``--case-key FILE`` (else $CASEPACK_CASE_KEY_FILE): read and checked now, before anything is collected."""
    path = value or os.environ.get(casekey.ENV)
    if not path:
        return
    try:
        casekey.use_key_file(path)
    except casekey.CaseKeyError as exc:
        where = "--case-key" if value else f"${casekey.ENV}"
        raise InputError(f"{where}: {exc}", hint="make one with: casepack case-key -o FILE (mode 0600)") from None


def case_key_option(f: Any) -> Any:
    return click.option("--case-key", metavar="FILE", expose_value=False, callback=_case_key,
                        help="With --pseudonymize: the case key file (casepack case-key), so every shard of the "
                             "case gets the same pseudonyms. Default: $CASEPACK_CASE_KEY_FILE, the case file's "
                             "[redaction] case_key, else a random key for this run.")(f)


def redaction_options(f: Any) -> Any:
    """``collect``'s --pseudonymize, --mapping and --case-key."""
    f = case_key_option(f)
    f = click.option("--mapping", metavar="FILE",
                     help="With --pseudonymize: where the mapping goes (default: <bundle>.mapping.json, 0600).")(f)
    return click.option("--pseudonymize", is_flag=True,
                        help="Replace IPs, host names, MACs, e-mails, users and keywords by consistent pseudonyms.")(f)


def default_mapping(target: Path | str) -> str:
    return f"{target}.mapping.json"


@click.command("redact")
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", "out", metavar="OUT", type=click.Path(path_type=Path),
              help="Output file or directory (default: SRC.redacted); '-' writes one text file to stdout.")
@click.option("--pseudonymize", is_flag=True, help="Replace IPs, hosts, MACs, e-mails, users, keywords by pseudonyms.")
@click.option("--mapping", metavar="FILE", help="Where the pseudonym mapping goes (default: OUT.mapping.json, 0600).")
@click.option("--report", "report_file", metavar="FILE", help="Write the redaction report (JSON) here.")
@click.option("--case", "case_file", metavar="FILE", help="Case file whose [redaction] table adds rules.")
@case_key_option
def redact_cmd(src: Path, out: Path | None, pseudonymize: bool, mapping: str | None, report_file: str | None,
               case_file: str | None) -> None:
    """Redact SRC (a file or a directory of text, .gz and SQLite files) into OUT, same relative paths."""
    config = RedactionConfig()
    if case_file:
        case = load_case_file(case_file)
        config = redaction_section(case)
    to_stdout = out is not None and str(out) == "-"
    if to_stdout and not src.is_file():
        raise InputError("-o - (stdout) needs a single file as SRC")
    target = None if to_stdout else (out or src.with_name(src.name + ".redacted"))
    if target is not None:
        if target.resolve() == src.resolve() or src.resolve() in target.resolve().parents:
            raise InputError(f"output {target} must not be SRC or lie inside it")
        if src.is_dir() and target.exists() and not target.is_dir():
            raise InputError(f"output {target} exists and is not a directory")
    redactor = Redactor(config=config, pseudonymize=pseudonymize)
    try:
        result = redact_tree(src, target, redactor)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    report = {"files": redactor.report, "total": sum(sum(c.values()) for c in redactor.report.values()),
              "pseudonymized": pseudonymize, "skipped_binary": result.skipped}
    if report_file:
        write_private(report_file, json.dumps(report, indent=2) + "\n")
    if pseudonymize and redactor.pseudonymizer is not None:
        map_path = mapping or default_mapping(target if target is not None else src)
        try:
            save_mapping(redactor.pseudonymizer.mapping(), map_path)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        click.echo(f"pseudonym mapping (keep it, never send it): {map_path}", err=True)
    where = "stdout" if target is None else str(target)
    click.echo(f"{result.files} file(s) redacted into {where}: {report['total']} replacement(s)"
               + (f", {len(result.skipped)} binary file(s) skipped" if result.skipped else ""), err=True)


@click.command("unmask")
@click.argument("file", default="-", metavar="[FILE|-]")
@click.option("--mapping", "mappings", multiple=True, metavar="FILE|DIR",
              help="A mapping written by --pseudonymize, or a directory of *.mapping.json (repeatable; all are "
                   "joined). Default: every *.mapping.json here.")
@click.option("--set", "case_set", metavar="SET", type=click.Path(path_type=Path),
              help="A case set: use each shard's <shard>.mapping.json from the --mapping directories (or here), "
                   "and name the shards that have none.")
def unmask_cmd(file: str, mappings: tuple[str, ...], case_set: Path | None) -> None:
    """Turn pseudonyms (ip-…, host-… ) in a vendor's reply back into the real names.

    Several mappings (the shards of a case set) are joined; a pseudonym that stands for two
    different values in two mappings is an error.
    """
    files = [Path(m) for m in mappings if not Path(m).is_dir()]
    dirs = [Path(m) for m in mappings if Path(m).is_dir()] or ([] if files else [Path.cwd()])
    if case_set is not None:
        from collector.fleet.caseset import read_manifest, shard_entries

        data, _raw = read_manifest(case_set)
        missing = []
        for shard in shard_entries(case_set, data):
            found = [d / f"{shard.file}.mapping.json" for d in dirs if (d / f"{shard.file}.mapping.json").is_file()]
            files += found[:1]
            if not found:
                missing.append(shard.file)
        if missing:
            click.echo(f"casepack: note: no mapping for {len(missing)} shard(s) (not pseudonymized, or the mapping "
                       f"is elsewhere: --mapping DIR): {', '.join(missing[:10])}", err=True)
    else:
        files += [p for d in dirs for p in sorted(d.glob("*.mapping.json"))]
    if not files:
        raise InputError("no pseudonym mapping found", hint="pass --mapping FILE (written beside the bundle)")
    try:
        table = merge_mappings(files)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from None
    click.echo(unmask(text, table), nl=False)


@click.command("case-key")
@click.option("-o", "--output", required=True, metavar="FILE", help="The key file to create (0600; never "
              "overwritten).")
def case_key_cmd(output: str) -> None:
    """Make a case key: 32 random bytes that give every shard of a case the same pseudonyms.

    Give it to each run with --case-key FILE, $CASEPACK_CASE_KEY_FILE or the case file's
    [redaction] case_key. It stays with the customer: whoever holds it can test guesses
    of real values against pseudonyms. Never send it with the bundles.
    """
    try:
        casekey.make_key_file(output)
    except casekey.CaseKeyError as exc:
        raise InputError(str(exc)) from None
    click.echo(f"case key: {output} (mode 0600; keep it with the customer, never send it)", err=True)
