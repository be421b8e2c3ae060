"""CLI for ``casepack collect``: check every option, then warn and prompt, then collect and render."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from collector import interrupt
from collector.bundle import signing
from collector.bundle.display import safe
from collector.cli.case import prompt_fields
from collector.cli.crypto import UNENCRYPTED_WARNING, encryption_options, resolve_encryption
from collector.cli.events import EventLog, Fanout
from collector.cli.exiting import exit_now
from collector.cli.fleetopts import case_id_of, fleet_options, shard_hosts
from collector.cli.outpath import resolve_output
from collector.cli.progress import LiveProgress
from collector.cli.redact import redaction_options
from collector.cli.render import summary
from collector.cli.resumeflags import apply_rerun, rerun_section
from collector.cli.sshopts import ssh_options, ssh_settings
from collector.defaults import HOST_JOBS, MAX_FILE_SIZE
from collector.engine.run import CollectRequest, collect, plan_request
from collector.errors import CasepackError, InputError
from collector.fleet.resume import Prior, earlier_pseudonyms
from collector.fleet.resume import load as resume_from
from collector.hosts.resolve import resolve_hosts
from collector.settings import Flags, resolve_settings


@click.command("collect")
@click.argument("hosts", nargs=-1)
@click.option("-i", "--inventory", metavar="FILE", help="TOML or Ansible inventory of hosts.")
@click.option("-p", "--probe", "probes", multiple=True, metavar="PROBE",
              help="Probe name or probe .toml file (repeatable). Default: system.")
@click.option("--case", "case_file", metavar="FILE", help="Case file (TOML): fields, contact, vars.")
@click.option("-o", "--output", metavar="PATH",
              help="Directory for the bundle (ends with / or exists; created if missing), or the bundle's file name "
                   "(an existing file is kept: the bundle gets a -2, -3 … name).")
@click.option("--force", is_flag=True, help="Replace an existing bundle file named by -o.")
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
@click.option("--events", metavar="FILE|-",
              help="Append JSON Lines events (host_started, artifact_started, artifact_done, host_done, "
                   "bundle_written, failed) to FILE, or - for stdout (the summary then goes to stderr).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the bundle's path and errors.")
@click.option("--case-id", metavar="ID", help="Case identifier shared by every shard and resumed run of one case "
              "(default: the case file's [collect] case_id, else the resumed bundle's, else a new one).")
@click.option("--resume", "resume", multiple=True, metavar="BUNDLE|SET",
              help="Collect only what earlier bundles of this case lack (hosts that failed, artifacts not ok), read "
                   "from their run records, with their options (flags given now win); writes a new bundle beside them.")
@fleet_options
@encryption_options
@redaction_options
@ssh_options
def collect_cmd(resume: tuple[str, ...], **params: Any) -> None:
    """Collect from HOSTs (none: this machine) into one support bundle.

    HOST is [user@]host[:port] or an ~/.ssh/config alias; with -i, inventory hosts
    (narrowed by --limit) are collected too.
    """
    prior = None
    if resume:
        if params.get("shard"):
            raise InputError("--resume takes the hosts from the records; --shard cannot narrow it",
                             hint="use --limit to narrow a resumed run")
        prior = resume_from(list(resume))
        if not prior.rerun and not (params.get("hosts") or params.get("inventory")):
            raise InputError(f"the record of {prior.records[0][1]['bundle']} does not say how the run was made "
                             "(written before --resume existed)", hint="give the hosts or -i INVENTORY and the "
                             "options again")
        if not prior.left() and not prior.may_miss_shards:
            _nothing_left(prior, bool(params.get("as_json")))
        for note in apply_rerun(params, prior, click.get_current_context()):
            click.echo(f"casepack: {note}", err=True)
    run_collect(prior, **params)


def _nothing_left(prior: Prior, as_json: bool) -> None:
    names = ", ".join(r["bundle"] for _, r in prior.records)
    _no_bundle(f"nothing left to collect: every host and artifact of {names} is ok; no bundle written",
               "nothing_left", as_json)


def _no_bundle(message: str, status: str, as_json: bool) -> None:
    """Exit 0 without a bundle; ``--json`` readers get a document saying so."""
    click.echo(f"casepack: {message}", err=True)
    if as_json:
        click.echo(json.dumps({"bundle": None, "status": status, "exit_status": 0}))
    exit_now(0)


def run_collect(prior: Prior | None, hosts: tuple[str, ...], inventory: str | None, probes: tuple[str, ...],
                case_file: str | None, output: str | None, force: bool, since: str | None, max_file_size: str | None,
                jobs: int,
                variables: tuple[str, ...], fields: tuple[str, ...], template: str | None, label: str | None,
                no_input: bool, as_json: bool, events: str | None, quiet: bool, recipients: tuple[str, ...],
                ask_passphrase: bool, passphrase_env: str | None, sign_key: str | None, pseudonymize: bool,
                mapping: str | None, case_id: str | None, shard: str | None, host_timeout: float | None,
                **ssh: object) -> None:
    params = {**{k: v for k, v in locals().items() if k not in ("ssh", "prior")}, **ssh}  # for the record's rerun
    now = time.time()
    settings = resolve_settings(Flags(
        probes=probes, case_file=case_file, since=since, max_file_size=max_file_size, variables=variables,
        fields=fields, recipients=recipients, passphrase=bool(ask_passphrase or passphrase_env), sign_key=sign_key,
        pseudonymize=pseudonymize, mapping=mapping, host_timeout=host_timeout), now)
    if events == "-" and (as_json or quiet):
        raise InputError(f"--events - and {'--json' if as_json else '--quiet'} both want stdout",
                         hint="write the events to a file: --events FILE")
    if template and not Path(template).is_file():
        raise InputError(f"--template {template}: no such file")
    selected = resolve_hosts(list(hosts), inventory, ssh_settings(ssh, interactive=sys.stdin.isatty()))
    if prior is not None:  # the hosts with something left, wherever the earlier runs' shards were
        targets, shard_key = prior.hosts(selected), prior.shard
        if not targets:
            _nothing_left(prior, as_json)
        if not quiet:
            click.echo(f"casepack: resuming {len(prior.records)} bundle(s): {prior.summary(targets)}", err=True)
    else:
        targets, shard_key = shard_hosts(selected, shard, inventory)
    if not targets:
        _no_bundle(f"shard {shard} holds none of the {len(selected)} selected host(s); nothing to collect",
                   "empty_shard", as_json)
    request = CollectRequest(hosts=targets, probes=settings.probes, case=settings.fields,
                             variables=settings.variables, options=settings.options, jobs=jobs,
                             template=template, label=label, host_timeout=settings.host_timeout,
                             inventory=selected, shard=shard_key,
                             case_id=case_id_of(case_id, settings.case, prior.case_id if prior else None))
    request.record_extra["rerun"] = rerun_section(params, settings.probes, settings.options.max_file_size)
    if prior is not None:
        request.case = {**prior.case, **request.case}
        request.resume_of, request.select_tasks = prior.resume_of, prior.keep_tasks
        request.until = prior.until
        if settings.options.pseudonymize:
            request.pseudonyms, request.pseudonym_key = earlier_pseudonyms(prior)
    plan_request(request, now)  # an unknown or bad variable is a usage error before any prompt
    # the passphrase prompt, then the last checks; warnings only once every option is known to be good
    request.encryption = resolve_encryption(settings.case, recipients, ask_passphrase, passphrase_env, sign_key,
                                            warn=False)
    if request.encryption.sign_key:
        signing.load_signing_key(request.encryption.sign_key)  # a bad key fails here, not after collecting
    out = resolve_output(output, encrypted=request.encryption.encrypts, force=force)
    request.output = out.path
    release = interrupt.on_abort(out.release)  # a second Ctrl-C exits at once: no empty reservation left
    log = None
    try:
        log = EventLog.open(events) if events else None
        if not request.encryption.encrypts and not quiet:
            click.echo(UNENCRYPTED_WARNING, err=True)
        if out.renamed_from is not None and not quiet:
            click.echo(f"casepack: {out.renamed_from} exists and is kept; writing {out.path} (--force replaces it)",
                       err=True)
        if sys.stdin.isatty() and sys.stderr.isatty() and not (no_input or as_json or quiet):
            request.case = prompt_fields(request.case)
        live = LiveProgress(enabled=sys.stderr.isatty() and not as_json and not quiet)
        try:
            result = collect(request, Fanout(live, log))
        finally:
            live.close()
        if log is not None:
            log.emit("bundle_written", path=str(result.path), size=result.size, sha256=result.sha256,
                     status=result.manifest.status, encryption=result.encryption,
                     exit_status=int(result.exit_status))
    except CasepackError as exc:
        if log is not None:
            log.emit("failed", message=exc.message, exit_status=int(exc.exit_status))
        raise
    finally:
        out.release()
        interrupt.forget_abort(release)
        if log is not None:
            log.close()
    if quiet:
        click.echo(str(result.path))
    elif as_json:
        click.echo(json.dumps({"bundle": str(result.path), "size": result.size, "sha256": result.sha256,
                               "encryption": result.encryption, "signer": result.signer,
                               "mapping": str(result.mapping) if result.mapping else None,
                               "record": str(result.record) if result.record else None,
                               "status": result.manifest.status,
                               "exit_status": int(result.exit_status), "manifest": result.manifest.to_dict()},
                              indent=2))
    else:
        click.echo(summary(result), err=bool(log and log.to_stdout))
    signum = interrupt.stop_signal()
    if signum:
        cut = sum(a.status == "interrupted" for a in result.manifest.artifacts)
        click.echo(f"casepack: {interrupt.describe(signum)}: partial bundle written ({cut} artifact(s) cut or "
                   f"not started): {safe(result.path)}", err=True)
    exit_now(int(result.exit_status))
