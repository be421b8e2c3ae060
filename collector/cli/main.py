"""The ``casepack`` command line: parse, call the library, render. Nothing else."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import click

from collector import __version__, interrupt
from collector.bundle.display import safe
from collector.casefile import FIELDS, validate_fields
from collector.cli.crypto import encryption_options, keygen_cmd, open_cmd, resolve_encryption
from collector.cli.redact import redact_cmd, redaction_options, unmask_cmd
from collector.cli.render import ProgressReporter, summary
from collector.cli.sshopts import ssh_options, ssh_settings
from collector.defaults import HOST_JOBS, MAX_FILE_SIZE
from collector.engine.run import CollectRequest, collect
from collector.errors import CasepackError, ExitStatus, InputError
from collector.hosts.resolve import resolve_hosts
from collector.settings import Flags, parse_pairs, resolve_settings
from probes.loader import builtin_names, load_probe
from probes.spec import ProbeSpecError

WORKER_WAIT = 0.5  # seconds an interrupted run waits for its workers to kill their commands before exiting
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="casepack")
@click.option("--traceback", is_flag=True, help="Show Python tracebacks for internal errors.")
@click.pass_context
def cli(ctx: click.Context, traceback: bool) -> None:
    """Collect, redact and bundle what a software vendor's support needs."""
    ctx.obj = {"traceback": traceback}


@cli.command()
@click.argument("hosts", nargs=-1)
@click.option("-i", "--inventory", metavar="FILE", help="TOML or Ansible inventory of hosts.")
@click.option("-p", "--probe", "probes", multiple=True, metavar="PROBE",
              help="Probe name or probe .toml file (repeatable). Default: system.")
@click.option("--case", "case_file", metavar="FILE", help="Case file (TOML): fields, contact, vars.")
@click.option("-o", "--output", metavar="PATH", help="Directory for the bundle, or the bundle's file name.")
@click.option("--since", metavar="DUR",
              help="Time window start: 30m, 6h, 2d, 1w or an ISO time (UTC). Default: logs whole (newest "
                   "part up to the size cap), commands such as journalctl the last 24 h.")
@click.option("--max-file-size", metavar="SIZE",
              help=f"Cap per file; logs keep their newest part. Default: the case file's, else {MAX_FILE_SIZE}.")
@click.option("-j", "--jobs", default=HOST_JOBS, show_default=True, type=click.IntRange(1, 256),
              help="Hosts collected in parallel.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Probe variable (repeatable).")
@click.option("--field", "fields", multiple=True, metavar="NAME=VALUE",
              help="Case field, e.g. severity=high (repeatable). See `casepack fields`.")
@click.option("--template", metavar="FILE", help="Jinja2 template for SUPPORT_CASE.md.")
@click.option("--label", help="Short name in the bundle's file name.")
@click.option("--no-input", is_flag=True, help="Never prompt for case fields.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON; no progress output.")
@encryption_options
@redaction_options
@ssh_options
def collect_cmd(hosts: tuple[str, ...], inventory: str | None, probes: tuple[str, ...], case_file: str | None,
                output: str | None, since: str | None, max_file_size: str | None, jobs: int,
                variables: tuple[str, ...], fields: tuple[str, ...], template: str | None, label: str | None,
                no_input: bool, as_json: bool, recipients: tuple[str, ...], ask_passphrase: bool,
                passphrase_env: str | None, sign_key: str | None, pseudonymize: bool, mapping: str | None,
                **ssh: object) -> None:
    """Collect from HOSTs (none: this machine) into one support bundle.

    HOST is [user@]host[:port] or an ~/.ssh/config alias; with -i, inventory hosts
    (narrowed by --limit) are collected too.
    """
    settings = resolve_settings(Flags(
        probes=probes, case_file=case_file, since=since, max_file_size=max_file_size, variables=variables,
        fields=fields, recipients=recipients, passphrase=bool(ask_passphrase or passphrase_env), sign_key=sign_key,
        pseudonymize=pseudonymize, mapping=mapping), time.time())
    encryption = resolve_encryption(settings.case, recipients, ask_passphrase, passphrase_env, sign_key)
    case_fields = settings.fields
    interactive = sys.stdin.isatty() and sys.stderr.isatty() and not no_input and not as_json
    targets = resolve_hosts(list(hosts), inventory, ssh_settings(ssh, interactive=sys.stdin.isatty()))
    if interactive:
        case_fields = _prompt_fields(case_fields)
    request = CollectRequest(hosts=targets, probes=settings.probes, output=Path(output) if output else None,
                             case=case_fields, variables=settings.variables, options=settings.options, jobs=jobs,
                             template=template, label=label, encryption=encryption)
    reporter = ProgressReporter(enabled=sys.stderr.isatty() and not as_json)
    result = collect(request, reporter)
    if as_json:
        click.echo(json.dumps({"bundle": str(result.path), "size": result.size, "sha256": result.sha256,
                               "encryption": result.encryption, "signer": result.signer,
                               "mapping": str(result.mapping) if result.mapping else None,
                               "status": result.manifest.status,
                               "exit_status": int(result.exit_status), "manifest": result.manifest.to_dict()},
                              indent=2))
    else:
        click.echo(summary(result))
    signum = interrupt.stop_signal()
    if signum:
        cut = sum(a.status == "interrupted" for a in result.manifest.artifacts)
        click.echo(f"casepack: {interrupt.describe(signum)}: partial bundle written ({cut} artifact(s) cut or "
                   f"not started): {safe(result.path)}", err=True)
    _exit(int(result.exit_status))


def _exit(code: int) -> None:
    """Exit; after a stop at once, without waiting for a worker thread that is still winding down."""
    if not interrupt.stop_signal():
        sys.exit(code)
    end = time.monotonic() + WORKER_WAIT  # workers kill their commands (remote ones from a fresh channel)
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(0.0, end - time.monotonic()))
    interrupt.run_abort_hooks()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _prompt_fields(fields: dict[str, str]) -> dict[str, str]:
    click.echo("Describe the case (Enter skips a field; --no-input never asks):", err=True)
    for spec in FIELDS:
        if not spec.prompt or fields.get(spec.name):
            continue
        hint = f" [{'/'.join(spec.choices)}]" if spec.choices else ""
        while True:
            value = click.prompt(f"  {spec.description}{hint}", default="", show_default=False, err=True)
            if not value:
                break
            try:
                fields.update(validate_fields({spec.name: value}, "answer"))
                break
            except InputError as exc:
                click.echo(f"  {exc.message}", err=True)
    return fields


@cli.group()
def probes() -> None:
    """See what the probes collect."""


@probes.command("list")
def probes_list() -> None:
    """List the built-in probes."""
    for name in builtin_names():
        probe = load_probe(name)
        click.echo(f"{name:<12} {probe.description}")


@probes.command("show")
@click.argument("name")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Show with these variables set.")
def probes_show(name: str, variables: tuple[str, ...]) -> None:
    """Show exactly what probe NAME collects (a built-in name or a .toml file)."""
    from probes.describe import describe

    try:
        probe = load_probe(name)
        click.echo(describe(probe, parse_pairs(variables, "--var")))
    except ProbeSpecError as exc:
        raise InputError(str(exc)) from None


@cli.command()
def fields() -> None:
    """List the case fields (for --field and the case file)."""
    for spec in FIELDS:
        choices = f" ({' / '.join(spec.choices)})" if spec.choices else ""
        click.echo(f"{spec.name:<14} {spec.description}{choices}")


def _debug_log(text: str) -> str:
    fd, path = tempfile.mkstemp(prefix="casepack-debug-", suffix=".log")
    with os.fdopen(fd, "w") as f:  # mkstemp creates it 0600
        f.write(text)
    return path


def _terminated(exc: interrupt.Terminated) -> None:
    click.echo(f"casepack: {interrupt.describe(exc.signum)}; temporary files removed, nothing written", err=True)
    _exit(128 + exc.signum)


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps expected errors to one line and an exit status."""
    want_tb = "--traceback" in (argv if argv is not None else sys.argv[1:])
    interrupt.install()  # Ctrl-C/SIGTERM/SIGHUP: collect keeps what it has; elsewhere every finally: cleans up
    try:
        cli.main(args=argv, prog_name="casepack", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, interrupt.Terminated):  # click turns KeyboardInterrupt into Abort
            _terminated(exc.__cause__)
        click.echo("casepack: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(ExitStatus.USAGE)
    except CasepackError as exc:
        click.echo(f"casepack: error: {safe(exc.message)}", err=True)  # may quote a bundle: one line, no escapes
        if exc.hint:
            click.echo(f"  hint: {safe(exc.hint)}", err=True)
        sys.exit(int(exc.exit_status))
    except interrupt.Terminated as exc:
        _terminated(exc)
    except KeyboardInterrupt:
        click.echo("casepack: interrupted; no bundle written", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        if want_tb:
            raise
        path = _debug_log(traceback.format_exc())
        click.echo(f"casepack: internal error: {type(exc).__name__}: {safe(exc, 300)}; details in {path}", err=True)
        sys.exit(ExitStatus.ERROR)
    sys.exit(0)


collect_cmd.name = "collect"
cli.add_command(collect_cmd, "collect")
cli.add_command(keygen_cmd, "keygen")
cli.add_command(open_cmd, "open")
cli.add_command(redact_cmd, "redact")
cli.add_command(unmask_cmd, "unmask")

from collector.cli.process import process_test_cmd  # noqa: E402 - registered after cli is defined

cli.add_command(process_test_cmd, "process-test")

from collector.cli.report import report_cmd, review_cmd  # noqa: E402 - registered after cli is defined

cli.add_command(report_cmd, "report")
cli.add_command(review_cmd, "review")
