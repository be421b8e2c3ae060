"""The ``casepack`` command line: parse, call the library, render. Nothing else."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback

import click

from collector import __version__, interrupt
from collector.bundle.display import safe
from collector.casefile import FIELDS
from collector.cli.case import init_cmd
from collector.cli.crypto import keygen_cmd, open_cmd
from collector.cli.exiting import exit_now
from collector.cli.redact import case_key_cmd, redact_cmd, unmask_cmd
from collector.errors import CasepackError, ExitStatus, InputError
from collector.settings import parse_pairs
from probes.loader import builtin_names, load_probe
from probes.spec import ProbeSpecError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, prog_name="casepack")
@click.option("--traceback", is_flag=True, help="Show Python tracebacks for internal errors.")
@click.pass_context
def cli(ctx: click.Context, traceback: bool) -> None:
    """Collect, redact and bundle what a software vendor's support needs."""
    ctx.obj = {"traceback": traceback}


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
    exit_now(128 + exc.signum)


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


cli.add_command(init_cmd, "init")
cli.add_command(keygen_cmd, "keygen")
cli.add_command(open_cmd, "open")
cli.add_command(redact_cmd, "redact")
cli.add_command(unmask_cmd, "unmask")
cli.add_command(case_key_cmd, "case-key")

from collector.cli.collect import collect_cmd  # noqa: E402 - registered after cli is defined
from collector.cli.process import process_test_cmd  # noqa: E402 - registered after cli is defined

cli.add_command(collect_cmd, "collect")

cli.add_command(process_test_cmd, "process-test")

from collector.cli.report import report_cmd, review_cmd  # noqa: E402 - registered after cli is defined

cli.add_command(report_cmd, "report")
cli.add_command(review_cmd, "review")

from collector.cli.merge import merge_cmd  # noqa: E402 - registered after cli is defined

cli.add_command(merge_cmd, "merge")
