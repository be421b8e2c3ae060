"""Case authoring on the command line: ``casepack init`` and the prompts for missing case fields."""

from __future__ import annotations

import os

import click

from collector.casefile import FIELDS, case_file_example, validate_fields
from collector.errors import InputError


@click.command("init")
@click.argument("file", default="case.toml", metavar="[FILE]")
def init_cmd(file: str) -> None:
    """Write a commented case file with every field and section (default case.toml; - prints it).

    The file is created 0600 and never overwrites an existing one.
    """
    text = case_file_example(" ".join(file.split()))
    if file == "-":
        click.echo(text, nl=False)
        return
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise InputError(f"{file} exists; not overwritten", hint="choose another name, or edit that file") from None
    except OSError as exc:
        raise InputError(f"cannot create {file}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    click.echo(f"wrote {file} (mode 0600): fill it in, then `casepack collect --case {file}`", err=True)


def prompt_fields(fields: dict[str, str]) -> dict[str, str]:
    """Ask for every field SUPPORT_CASE.md shows that is still empty (Enter skips one)."""
    todo = [spec for spec in FIELDS if spec.prompt and not fields.get(spec.name)]
    if not todo:
        return fields
    click.echo("Describe the case (Enter skips a field; --no-input never asks; `casepack init` writes a case "
               "file):", err=True)
    for spec in todo:
        hint = f" [{'/'.join(spec.choices)}]" if spec.choices else ""
        while True:
            value = click.prompt(f"  {spec.label}: {spec.description}{hint}", default="", show_default=False,
                                 err=True)
            if not value.strip():
                break
            try:
                fields.update(validate_fields({spec.name: value}, "answer"))
                break
            except InputError as exc:
                click.echo(f"  {exc.message}", err=True)
    return fields
