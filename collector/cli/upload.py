"""CLI for ``casepack upload BUNDLE_OR_SET --to URL`` (and the resolution ``collect --upload`` shares)."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Any

import click

from collector import interrupt
from collector.bundle.display import safe
from collector.casefile import load_case_file, upload_section
from collector.cli.events import EventLog
from collector.cli.exiting import exit_now
from collector.cli.sshopts import ssh_connect_options, ssh_settings
from collector.cli.uploadview import Both, TerminalProgress, UploadEvents
from collector.errors import UPLOAD_FAILED, CasepackError, InputError
from collector.hosts.resolve import SshOptions
from collector.settings import parse_size_option
from collector.upload import Credentials, Receipt, UploadRequest, apply_credentials, files, parse_target, upload
from collector.upload.run import RETRIES


def upload_request(source: Path | None, to: str | None, case_file: str | None, *, password_env: str | None = None,
                   token_env: str | None = None, ask_password: bool = False, ca_file: str | None = None,
                   max_size: str | None = None, allow_unencrypted: bool = False, retries: int = RETRIES,
                   ssh: SshOptions | None = None, flag: str = "--to") -> UploadRequest:
    """Flags over the case file's ``[upload]``; every check that needs no network before the password prompt."""
    section = upload_section(load_case_file(case_file) if case_file else None)
    url = to or section.to
    if not url:
        raise InputError(f"no destination: give {flag} URL or the case file's [upload] to")
    target = parse_target(url, flag if to else f"case file {case_file} [upload] to")
    ca = ca_file or section.ca_file
    if ca and not Path(ca).is_file():
        raise InputError(f"--ca-file {ca}: no such file")
    size = max_size or section.max_size
    limit = parse_size_option(size, "--max-size") if size else None
    allow = allow_unencrypted or section.allow_unencrypted
    if source is not None:  # collect --upload: the bundle does not exist yet
        files.check(files.outgoing(source), limit, allow)
    password = None
    if ask_password:
        if not sys.stdin.isatty():
            raise InputError("--password needs a terminal to ask on", hint="use --password-env NAME")
        password = getpass.getpass(f"password for {target.shown}: ")
    explicit = bool(password_env or token_env or ask_password)
    creds = Credentials(password_env=password_env or (None if explicit else section.password_env),
                        token_env=token_env or (None if explicit else section.token_env),
                        password=password or (None if explicit else section.password),
                        token=None if explicit else section.token)
    apply_credentials(target, creds, flag)
    return UploadRequest(source=source or Path("."), target=target, ssh=ssh or SshOptions(), ca_file=ca,
                         max_size=limit, allow_unencrypted=allow, retries=retries)


@click.command("upload")
@click.argument("source", metavar="BUNDLE_OR_SET")
@click.option("--to", metavar="URL|@FILE",
              help="sftp://[user@]host[:port]/dir/ or https://… (pre-signed URL, or a WebDAV folder ending in /); "
                   "@FILE reads the URL from FILE (a pre-signed URL is a secret). Default: the case file's "
                   "[upload] to.")
@click.option("--case", "case_file", metavar="FILE", help="Case file whose [upload] section gives the defaults.")
@click.option("--password", "ask_password", is_flag=True, help="Ask (on the terminal) for the https password.")
@click.option("--password-env", metavar="NAME", help="https basic-auth password from environment variable NAME.")
@click.option("--token-env", metavar="NAME", help="https bearer token from environment variable NAME.")
@click.option("--ca-file", metavar="FILE", help="Verify the https server against this CA file (PEM).")
@click.option("--max-size", metavar="SIZE", help="The target's size limit (e.g. 2GiB): a larger file is refused.")
@click.option("--allow-unencrypted", is_flag=True, help="Send a bundle that is not age-encrypted.")
@click.option("--retries", default=RETRIES, show_default=True, type=click.IntRange(0, 20),
              help="Retries after a dropped connection or a 5xx answer (backoff 1 s, doubling; sftp resumes).")
@click.option("--events", metavar="FILE|-", help="Append JSON Lines events to FILE, or - for stdout.")
@click.option("--json", "as_json", is_flag=True, help="Print the receipts as JSON; no progress.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the sha256 of each file sent, and errors.")
@ssh_connect_options
def upload_cmd(source: str, to: str | None, case_file: str | None, ask_password: bool, password_env: str | None,
               token_env: str | None, ca_file: str | None, max_size: str | None, allow_unencrypted: bool,
               retries: int, events: str | None, as_json: bool, quiet: bool, **ssh: Any) -> None:
    """Send a bundle (or every file of a case-set folder) to the vendor; write a receipt.

    Over sftp:// an interrupted upload resumes where the server's verified partial file ends.
    Receipts (target, bytes, sha256, duration, remote name) are appended to uploads.jsonl beside
    the bundle. Exit status 0: everything sent; 1: not sent (one line says why); 2: bad usage.
    """
    if events == "-" and (as_json or quiet):
        raise InputError(f"--events - and {'--json' if as_json else '--quiet'} both want stdout",
                         hint="write the events to a file: --events FILE")
    request = upload_request(Path(source), to, case_file, password_env=password_env, token_env=token_env,
                             ask_password=ask_password, ca_file=ca_file, max_size=max_size,
                             allow_unencrypted=allow_unencrypted, retries=retries,
                             ssh=ssh_settings(ssh, interactive=sys.stdin.isatty()))
    log = EventLog.open(events) if events else None
    live = TerminalProgress(enabled=sys.stderr.isatty() and not (as_json or quiet))
    try:
        receipts = upload(request, Both(live, UploadEvents(log) if log else None))
    except CasepackError as exc:
        if log is not None:
            log.emit("failed", message=exc.message, exit_status=int(exc.exit_status))
        live.file_done(None)  # type: ignore[arg-type] - clears the progress line before the error
        raise
    except interrupt.Terminated as exc:
        live.file_done(None)  # type: ignore[arg-type]
        _stopped(exc, log, "rerun the same command to resume")
    finally:
        if log is not None:
            log.close()
    render_receipts(receipts, as_json, quiet, to_stderr=bool(log and log.to_stdout))


def render_receipts(receipts: list[Receipt], as_json: bool, quiet: bool, to_stderr: bool = False) -> None:
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in receipts], indent=2))
    elif quiet:
        for r in receipts:
            click.echo(r.sha256)
    else:
        for r in receipts:
            click.echo(r.line(), err=to_stderr)
        if receipts:
            click.echo(f"receipts appended to {safe(Path(receipts[0].file).parent / 'uploads.jsonl')}",
                       err=to_stderr)


def upload_after_collect(request: UploadRequest, bundle: Path, given: str, log: EventLog | None, show: bool,
                         to_stderr: bool) -> list[Receipt]:
    """``collect --upload``: send the bundle just written. A failure keeps the bundle and says how to resume."""
    request.source = bundle
    live = TerminalProgress(enabled=show and sys.stderr.isatty())
    try:
        receipts = upload(request, Both(live, UploadEvents(log) if log else None))
    except interrupt.Terminated as exc:
        live.file_done(None)  # type: ignore[arg-type]
        again = given if given.startswith("@") else request.target.shown
        _stopped(exc, log, f"the bundle is kept: {bundle}; resume with: casepack upload {bundle} --to {again}")
    except CasepackError as exc:
        live.file_done(None)  # type: ignore[arg-type]
        if log is not None:
            log.emit("failed", message=exc.message, exit_status=UPLOAD_FAILED)
        again = given if given.startswith("@") else request.target.shown
        raise UploadFailedError(f"the upload failed: {exc.message}; the bundle is kept: {bundle}",
                                hint=f"resume with: casepack upload {bundle} --to {again}") from None
    if show:
        render_receipts(receipts, False, False, to_stderr=to_stderr)
    return receipts


def _stopped(exc: interrupt.Terminated, log: EventLog | None, what_now: str) -> None:
    """Ctrl-C, SIGTERM, SIGHUP during an upload: say what is kept and how to go on; exit 128 + signal."""
    if log is not None:
        log.emit("failed", message=f"upload stopped: {interrupt.describe(exc.signum)}", exit_status=128 + exc.signum)
        log.close()
    click.echo(f"casepack: {interrupt.describe(exc.signum)}: upload stopped (an sftp upload keeps its partial file "
               f"on the server); {safe(what_now)}", err=True)
    exit_now(128 + exc.signum)


class UploadFailedError(CasepackError):
    exit_status = UPLOAD_FAILED  # type: ignore[assignment] - one command's status, like bundle.verify.VERIFY_FAILED
