"""Human-readable description of a probe's plan (``casepack probes show``)."""

from __future__ import annotations

from probes.spec import Probe, ProbeSpecError


def describe(probe: Probe, overrides: dict[str, str] | None = None) -> str:
    variables = {**probe.shown_variables(overrides),
                 "host": "<host>", "since": "<window start>", "since_epoch": "<epoch>", "until": "<now>"}
    lines = [f"probe {probe.name} ({probe.source})", f"  {probe.description}", ""]
    if probe.variables or probe.variable_help:
        lines.append("variables (set with --var NAME=VALUE, the inventory or the case file):")
        for name in sorted(set(probe.variables) | set(probe.variable_help)):
            value = variables.get(name, "")
            help_text = probe.variable_help.get(name, "")
            shown = value if value == "[secret]" else repr(value)
            secret = " (secret)" if name in probe.secrets else ""
            lines.append(f"  {name} = {shown}{secret}" + (f"   # {help_text}" if help_text else ""))
        lines.append("")
    if probe.discover is not None:
        lines += ["discovery:", *("  " + ln for ln in (probe.discover_help or "runs on the host").splitlines()), ""]
    if not probe.artifacts:
        lines.append("artifacts: found at run time by discovery (see above)" if probe.discover is not None
                     else "artifacts: none")
        return "\n".join(lines)
    lines.append("artifacts:")
    for art in probe.artifacts:
        try:
            art = art.expand(variables)
        except ProbeSpecError as exc:
            lines.append(f"  {art.name}: {exc}")
            continue
        flags = [f for f, on in (("needs root", art.needs_root), ("optional", art.optional),
                                 ("first match", art.first_match)) if on]
        lines.append(f"  {art.kind:<8} {art.name}" + (f"  [{', '.join(flags)}]" if flags else ""))
        if art.description:
            lines.append(f"           {art.description}")
        if art.command:
            lines.append(f"           $ {art.command}")
        for env_name, env_value in art.env:
            lines.append(f"           env {env_name}={env_value}  (sent on stdin, not in argv)")
        if art.error_output:
            lines.append(f"           failed when the output matches /{art.error_output}/")
        for path in art.paths:
            lines.append(f"           {path}")
        limits = [f"timeout {art.timeout:g}s"]
        if art.max_size:
            limits.append(f"max {art.max_size} bytes")
        if art.max_files:
            limits.append(f"newest {art.max_files} files")
        if art.tail_lines:
            limits.append(f"last {art.tail_lines} lines")
        if art.requires:
            limits.append(f"requires {', '.join(art.requires)}")
        if art.check:
            limits.append(f"check: {_check_text(art.check)}")
        lines.append(f"           ({'; '.join(limits)})")
    return "\n".join(lines)


def _check_text(check) -> str:  # noqa: ANN001 - Check
    parts = []
    for key in ("warn_above", "fail_above", "warn_below", "fail_below"):
        value = getattr(check, key)
        if value is not None:
            parts.append(f"{key.replace('_', ' ')} {value:g}")
    if check.expect_output:
        parts.append(f"output matches /{check.expect_output}/ else {check.on_mismatch}")
    if not parts:
        parts.append(f"exit status {check.expect_exit}")
    return ", ".join(parts)
