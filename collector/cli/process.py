"""CLI for ``casepack process-test``. Parses, calls collector.processtest, renders."""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import click

from collector.bundle.casedoc import human_size
from collector.cli.crypto import encryption_options, resolve_encryption
from collector.cli.fleetopts import fleet_options, shard_hosts
from collector.cli.outpath import make_directory
from collector.cli.sshopts import ssh_options, ssh_settings
from collector.defaults import MAX_FILE_SIZE
from collector.engine.run import CollectRequest, collect
from collector.errors import CasepackError, ExitStatus, InputError
from collector.hosts.resolve import resolve_hosts
from collector.preflight.inspect import Finding
from collector.preflight.processtest import ProcessReport, ProcessTestRequest, run_process_test
from collector.preflight.runbook import MARK, render_runbook
from collector.settings import Flags, parse_size_option, plan_encryption, resolve_settings

TEST_BUNDLE_CAP = 4096  # bytes per artifact in a --bundle test bundle


@click.command("process-test")
@click.argument("hosts", nargs=-1)
@click.option("-i", "--inventory", metavar="FILE", help="TOML or Ansible inventory of hosts.")
@click.option("-p", "--probe", "probes", multiple=True, metavar="PROBE", help="Probe (repeatable). Default: system.")
@click.option("--case", "case_file", metavar="FILE", help="Case file: fields, contacts, [support] plan, vars.")
@click.option("-o", "--output", metavar="DIR", help="Where bundles will be written (checked for space); the runbook "
              "and test bundle go here (created 0700 if missing). Default: current directory.")
@click.option("--max-file-size", metavar="SIZE", help=f"Cap per file (default: the case file's, else {MAX_FILE_SIZE}).")
@click.option("--max-bundle-size", metavar="SIZE", help="Fail when the estimated bundle is larger.")
@click.option("-j", "--jobs", default=8, show_default=True, type=click.IntRange(1, 256), help="Hosts in parallel.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Probe variable (repeatable).")
@click.option("--runbook", metavar="FILE", help="Write the runbook here (default: DIR/PROCESS.md).")
@click.option("--bundle", "make_bundle", is_flag=True,
              help="Also write a small end-to-end test bundle (a few KB per artifact), encrypted to -r.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@fleet_options
@encryption_options
@ssh_options
def process_test_cmd(hosts: tuple[str, ...], inventory: str | None, probes: tuple[str, ...], case_file: str | None,
                     output: str | None, max_file_size: str | None, max_bundle_size: str | None, jobs: int,
                     variables: tuple[str, ...], runbook: str | None, make_bundle: bool, as_json: bool,
                     recipients: tuple[str, ...], ask_passphrase: bool, passphrase_env: str | None,
                     sign_key: str | None, shard: str | None, host_timeout: float | None, **ssh: object) -> None:
    """Prove that collection works on the real hosts, without copying the bulk data.

    Every line is PASS / WARN / FAIL with a remedy. Exit status 0 when nothing failed, 1 otherwise.
    """
    # the same settings collect would resolve from the same flags and case file
    settings = resolve_settings(Flags(
        probes=probes, case_file=case_file, max_file_size=max_file_size, variables=variables,
        host_timeout=host_timeout), time.time())
    case, selected, fields = settings.case, settings.probes, settings.fields
    out_dir = make_directory(output) if output else Path.cwd()
    selected_hosts = resolve_hosts(list(hosts), inventory, ssh_settings(ssh, interactive=sys.stdin.isatty()))
    targets, shard_key = shard_hosts(selected_hosts, shard, inventory)
    if not targets:
        raise InputError(f"shard {shard} holds none of the {len(selected_hosts)} selected host(s)")
    request = CollectRequest(hosts=targets, probes=selected, output=out_dir, case=fields,
                             variables=settings.variables, options=settings.options,
                             jobs=jobs, process_test=True, label="process-test", host_timeout=settings.host_timeout,
                             inventory=selected_hosts, shard=shard_key)
    report = run_process_test(ProcessTestRequest(
        collect=request, support=case.extra.get("support") if case else None,
        check_encryption=lambda: _encryption_findings(case, recipients, bool(ask_passphrase or passphrase_env)),
        max_bundle_size=parse_size_option(max_bundle_size, "--max-bundle-size") if max_bundle_size else None,
        has_case_file=case is not None))
    command = _incident_command(hosts, inventory, selected, case_file, recipients)
    for flag, value in (("--shard", shard), ("--host-timeout", host_timeout)):
        if value is not None:  # the runbook's command collects what was tested
            command += f" {flag} {shlex.quote(f'{value:g}' if isinstance(value, float) else value)}"
    runbook_path = Path(runbook) if runbook else out_dir / "PROCESS.md"
    text = render_runbook(report, fields, command)
    runbook_path.write_text(text)
    bundle_info = None
    if make_bundle:
        bundle_info = _test_bundle(request, text, case, recipients, ask_passphrase, passphrase_env, sign_key)
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "runbook": str(runbook_path), "bundle": bundle_info}, indent=2))
    else:
        click.echo(render_report(report, runbook_path, bundle_info))
    sys.exit(int(ExitStatus.ERROR) if report.failed else 0)


def _encryption_findings(case, recipients: tuple[str, ...], passphrase: bool) -> list[Finding]:  # noqa: ANN001
    """The encryption plan collect would use (same function, same refusals), as findings."""
    try:
        plan = plan_encryption(case, recipients, passphrase, None)
    except CasepackError as exc:
        if "requires encryption" in exc.message:
            return [Finding("-", "encryption", "fail", "the case file requires encryption but no recipient is "
                            "configured", "add the vendor's public key: [encryption] recipients = [\"age1…\"] "
                            "or -r KEY")]
        return [Finding("-", "encryption", "fail", exc.message, exc.hint or "fix the recipient key")]
    if plan.recipients:
        shown = ", ".join(f"{r.kind} {r.fingerprint}" for r in plan.recipients)
        return [Finding("-", "encryption", "pass", f"{len(plan.recipients)} recipient key(s) parse: {shown}")]
    if plan.passphrase:
        return [Finding("-", "encryption", "pass", "bundles will be encrypted with a passphrase")]
    return [Finding("-", "encryption", "warn", "no recipient: bundles would be written unencrypted",
                    "get the vendor's age or SSH public key and add it to the case file")]


def _incident_command(hosts: tuple[str, ...], inventory: str | None, probes: list, case_file: str | None,
                      recipients: tuple[str, ...]) -> str:
    parts = ["casepack", "collect", *hosts]
    if inventory:
        parts += ["-i", inventory]
    for p in probes:
        parts += ["-p", p.name if p.source == "built-in" or p.source.startswith("built-in") else p.source]
    if case_file:
        parts += ["--case", case_file]
    for r in recipients:
        parts += ["-r", r]
    parts += ["--since", "6h"]
    return " ".join(shlex.quote(p) for p in parts)


def _test_bundle(request: CollectRequest, runbook: str, case, recipients, ask_passphrase, passphrase_env,  # noqa: ANN001
                 sign_key) -> dict:  # noqa: ANN001
    request.options = replace(request.options, max_file_size=TEST_BUNDLE_CAP)
    request.encryption = resolve_encryption(case, recipients, ask_passphrase, passphrase_env, sign_key)
    request.extra_files = {"PROCESS.md": runbook.encode()}
    request.case = {**request.case, "title": request.case.get("title") or "PROCESS TEST — not an incident"}
    try:
        result = collect(request)
    except CasepackError as exc:
        return {"error": exc.message}
    return {"path": str(result.path), "size": result.size, "sha256": result.sha256, "status": result.manifest.status,
            "encryption": result.encryption}


def render_report(report: ProcessReport, runbook: Path, bundle: dict | None) -> str:
    lines = []
    for f in report.all_findings:
        where = f"{f.host:<14}" if f.host != "-" else f"{'(run)':<14}"
        lines.append(f"{MARK[f.result]}  {where} {f.subject:<26} {f.detail}")
        if f.remedy and f.result != "pass":
            lines.append(f"{'':6}{'':14} → {f.remedy}")
    fails = sum(f.result == "fail" for f in report.all_findings)
    warns = sum(f.result == "warn" for f in report.all_findings)
    lines += ["", f"estimate: bundle about {human_size(report.estimate_bytes)}, collection about "
                  f"{report.estimate_seconds:.0f} s; this test took {report.duration:.1f} s",
              f"runbook:  {runbook}"]
    if bundle:
        lines.append(f"bundle:   {bundle.get('path') or 'FAILED: ' + str(bundle.get('error'))}")
    lines.append(f"result:   {'FAIL' if fails else 'PASS'} ({fails} fail, {warns} warn)")
    return "\n".join(lines)
