"""CLI for ``casepack report``: a bundle (or an opened directory) as a diagnosis-ready summary. Thin."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from collector.bundle.display import safe
from collector.cli.crypto import passphrase_options, read_passphrase
from collector.cli.exiting import exit_now
from collector.errors import InputError
from collector.fleet.caseset import is_case_set
from collector.report import build_report, load_source
from collector.report.fleet import build_set_report
from collector.report.index import write_index
from collector.report.render_html import render_html
from collector.report.render_json import render_json
from collector.report.render_text import render_text
from collector.report.review import build_review, render_review
from collector.safefile import write_private

RENDERERS = {"text": render_text, "json": render_json, "html": render_html}


@click.command("report")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("-k", "--identity", metavar="FILE",
              help="age identity file or SSH private key (for an encrypted bundle).")
@passphrase_options
@click.option("-f", "--format", "fmt", type=click.Choice(sorted(RENDERERS)), default="text", show_default=True,
              help="text for a terminal, json for tools (casepack-report/1), html: one self-contained file.")
@click.option("-o", "--output", metavar="FILE", help="Write the report to FILE (default: standard output).")
@click.option("--top", default=50, show_default=True, type=click.IntRange(1, 100_000),
              help="Error signatures shown (all are in the index).")
@click.option("--index", "index_file", metavar="FILE", help="Write the error_signatures and error_lines tables to "
              "this SQLite file. Default: the opened directory's index.sqlite (nothing for a bundle file).")
@click.option("--no-index", is_flag=True, help="Do not write the error tables anywhere.")
def report_cmd(bundle: Path, identity: str | None, ask_passphrase: bool, passphrase_env: str | None, fmt: str,
               output: str | None, top: int, index_file: str | None, no_index: bool) -> None:
    """Summarise BUNDLE (a bundle file, or a directory made by `casepack open`, or a case set).

    A case set (`casepack merge`, or `casepack open SET`) is reported as one fleet: hosts ×
    status × shard, versions across hosts, error signatures summed across shards, then each
    shard; a missing or altered shard is named, the rest reported, exit status 4.

    Shows the case, versions (a loud note when hosts differ), what failed, error
    signatures with counts per host, an error timeline, config differences between
    hosts, statistics databases and health checks. Exit status: 0 report written,
    1 cannot decrypt, 2 bad usage, 4 the bundle failed verification.
    """
    if index_file and no_index:
        raise InputError("--index and --no-index exclude each other")
    if fmt == "html" and not output and sys.stdout.isatty():
        raise InputError("--format html writes a file", hint="add -o report.html")
    if index_file and is_case_set(bundle):
        raise InputError("--index is not written for a case set", hint="report one shard (or its opened "
                         "directory) to get its index")
    passphrase = read_passphrase(ask_passphrase, passphrase_env, confirm=False)
    if is_case_set(bundle):
        _report_set(bundle, identity, passphrase, fmt, output, top)
        return
    with load_source(bundle, identity=identity, passphrase=passphrase) as src:
        analysis = build_report(src, top)
        index = Path(index_file) if index_file else None if src.opened else src.root / "index.sqlite"
        index = None if no_index else index
        if index is not None:
            lines = write_index(analysis.signatures, index)
            analysis.report["index"] = {"path": str(index), "signatures": len(analysis.signatures.by_key),
                                        "lines": lines}
        else:
            analysis.report["index"] = None
    text = RENDERERS[fmt](analysis.report)
    if output:
        write_private(output, text)  # a new 0600 file renamed into place: a planted link is replaced, not followed
        click.echo(f"report: {output} ({fmt}); {analysis.report['errors']['entries']} error/warning entries, "
                   f"{analysis.report['errors']['distinct_signatures']} signatures"
                   + (f"; index: {analysis.report['index']['path']}" if analysis.report["index"] else ""), err=True)
    else:
        click.echo(text, nl=False)


def _report_set(root: Path, identity: str | None, passphrase: str | None, fmt: str, output: str | None,
                top: int) -> None:
    """A case set: the whole fleet; an unusable shard is named loudly and the exit status says so."""
    result = build_set_report(root, identity=identity, passphrase=passphrase, top=top)
    text = RENDERERS[fmt](result.report)
    fleet = result.report["fleet"]
    if output:
        write_private(output, text)
        click.echo(f"report: {output} ({fmt}); case set of {len(fleet['shards'])} shard(s), "
                   f"{len(fleet['hosts'])} host(s)", err=True)
    else:
        click.echo(text, nl=False)
    for problem in fleet["problems"]:
        click.echo(f"casepack: SHARD UNUSABLE: {safe(problem, 400)}", err=True)
    if fleet["unaccounted"]:
        click.echo(f"casepack: INCOMPLETE: {len(fleet['unaccounted'])} inventory host(s) in no shard: "
                   + ", ".join(safe(h, 80) for h in fleet["unaccounted"][:50]), err=True)
    exit_now(result.exit_status)


__all__ = ["report_cmd"]


@click.command("review")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("-k", "--identity", metavar="FILE", help="age identity or SSH private key, for an encrypted bundle.")
@passphrase_options
@click.option("-C", "--context", default=1, show_default=True, type=click.IntRange(0, 20),
              help="Lines of context around each redacted line.")
@click.option("--json", "as_json", is_flag=True, help="Print the review as JSON.")
def review_cmd(bundle: Path, identity: str | None, ask_passphrase: bool, passphrase_env: str | None,
               context: int, as_json: bool) -> None:
    """Show every redaction in BUNDLE (file or opened directory) in context, values masked.

    For the customer's security team to approve what leaves: each redacted line with its rule
    and keyed tag (equal tags = equal values), and the files that needed none.
    """
    passphrase = read_passphrase(ask_passphrase, passphrase_env, confirm=False)
    with load_source(bundle, identity=identity, passphrase=passphrase) as src:
        review = build_review(src, context)
    if as_json:
        click.echo(json.dumps(review.to_dict(), indent=2))
    else:
        click.echo(render_review(review))
