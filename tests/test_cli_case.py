"""``casepack init``, the case-file example, and the missing-fields line of SUPPORT_CASE.md."""

from __future__ import annotations

import json
import stat
import subprocess
import tomllib
from pathlib import Path

from collector.casefile import FIELDS, load_case_file, missing_fields, render_case, validate_fields
from collector.settings import Flags, plan_encryption, resolve_settings
from tests.cliutil import run_cli, write_probe


def test_init_writes_a_private_case_file_that_loads(tmp_path: Path) -> None:
    path = tmp_path / "case.toml"
    proc = run_cli("init", str(path))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = tomllib.loads(path.read_text())
    assert {"case", "contact", "support", "encryption", "vars", "collect", "redaction"} <= set(data)
    shown = {**data["case"], **{f"contact_{k}" if k != "company" else k: v for k, v in data["contact"].items()}}
    assert set(shown) == {f.name for f in FIELDS}  # every field, nothing else
    case = load_case_file(str(path))
    assert case.fields == {}  # empty values are "not given"
    settings = resolve_settings(Flags(case_file=str(path)), 0)  # every section is valid as written
    assert settings.probes and plan_encryption(case, (), False, None).recipients == []


def test_init_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "case.toml"
    path.write_text("mine")
    proc = run_cli("init", str(path))
    assert proc.returncode == 2 and "exists; not overwritten" in proc.stderr
    assert path.read_text() == "mine"


def test_init_defaults_to_case_toml_and_dash_prints(tmp_path: Path) -> None:
    assert run_cli("init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "case.toml").is_file()
    assert "[redaction]" in run_cli("init", "-").stdout


def test_filled_in_example_is_used_by_collect(tmp_path: Path) -> None:
    path = tmp_path / "case.toml"
    run_cli("init", str(path))
    text = path.read_text().replace('title = ""', 'title = "orders stuck"').replace('severity = ""',
                                                                                   'severity = "High"')
    path.write_text(text.replace('email = ""', 'email = "ops@example.com"'))
    probe = write_probe(tmp_path / "p.toml", ("hello", "echo hello"))
    proc = run_cli("collect", "-p", str(probe), "--case", str(path), "-o", f"{tmp_path}/out/", "--no-input", "--json")
    assert proc.returncode == 0, proc.stderr
    bundle = json.loads(proc.stdout)["bundle"]
    doc = subprocess.run(["tar", "--zstd", "-xOf", bundle, "SUPPORT_CASE.md"], capture_output=True, text=True,
                         check=True).stdout
    assert doc.startswith("# Support case: orders stuck\n")
    missing = next(line for line in doc.splitlines() if line.startswith("> **Missing:**"))
    assert "impact," in missing and "contact name" in missing and "contact phone" in missing
    assert "title" not in missing and "severity" not in missing and "contact e-mail" not in missing
    assert "reference" not in missing and "label" not in missing


def test_missing_fields() -> None:
    every = {f.name: "x" for f in FIELDS}
    assert missing_fields(every) == []
    assert missing_fields({}, ["system", "amps"])[:2] == ["title", "severity"]  # product found by a probe
    assert "product" in missing_fields({}, ["system"])
    assert "contact e-mail" in missing_fields({"title": "t"})


def test_template_without_missing_has_no_line() -> None:
    ctx = {"case": {f.name: "x" for f in FIELDS}, "products": [], "versions": {}, "hosts": [], "window": {}}
    assert "Missing" not in render_case(ctx)


def test_empty_field_is_not_given() -> None:
    assert validate_fields({"severity": "", "title": " "}, "t") == {}
