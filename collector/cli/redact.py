"""``casepack redact`` and ``casepack unmask``, and the redaction options of ``collect``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from collector.casefile import load_case_file, redaction_section
from collector.errors import InputError
from collector.safefile import write_private
from redaction import RedactionConfig, Redactor
from redaction.pseudonym import load_mapping, save_mapping, unmask
from redaction.tree import redact_tree


def redaction_options(f: Any) -> Any:
    """``collect``'s --pseudonymize and --mapping."""
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
@click.option("--mapping", metavar="FILE",
              help="The mapping written by --pseudonymize (default: the one *.mapping.json here).")
def unmask_cmd(file: str, mapping: str | None) -> None:
    """Turn pseudonyms (ip-0007, host-0002 …) in a vendor's reply back into the real names."""
    if mapping is None:
        found = sorted(Path.cwd().glob("*.mapping.json"))
        if len(found) != 1:
            raise InputError("which mapping? " + ("none found here" if not found else f"{len(found)} found here"),
                             hint="pass --mapping FILE")
        mapping = str(found[0])
    try:
        table = load_mapping(mapping)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from None
    click.echo(unmask(text, table), nl=False)
