"""The support case: its fields, the case file, and the SUPPORT_CASE.md template."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from collector.errors import InputError
from redaction import RedactionConfig

TEMPLATE_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Field:
    name: str
    description: str
    choices: tuple[str, ...] = ()
    prompt: bool = False  # asked interactively on a TTY when missing (every field SUPPORT_CASE.md shows)

    @property
    def label(self) -> str:
        """Short name for people: ``contact_email`` → ``contact e-mail``."""
        return self.name.replace("_", " ").replace("email", "e-mail")

    @property
    def section_key(self) -> tuple[str, str]:
        """Where the field sits in a case file: ``("contact", "email")`` or ``("case", "title")``."""
        if self.name.startswith("contact_"):
            return "contact", self.name.removeprefix("contact_")
        return ("contact", self.name) if self.name == "company" else ("case", self.name)


FIELDS: tuple[Field, ...] = (  # in the order SUPPORT_CASE.md shows them (and the prompts ask)
    Field("title", "one-line summary of the problem", prompt=True),
    Field("product", "the vendor's product concerned", prompt=True),
    Field("severity", "how urgent", ("critical", "high", "medium", "low"), prompt=True),
    Field("impact_class", "what the impact is", ("full-outage", "partial-outage", "defect"), prompt=True),
    Field("category", "where the problem lies",
          ("infrastructure", "software", "content", "integration"), prompt=True),
    Field("impact", "business impact: who or what is affected, since when", prompt=True),
    Field("observed", "observed behaviour", prompt=True),
    Field("expected", "expected behaviour", prompt=True),
    Field("reference", "the vendor's case number, if one exists", prompt=True),
    Field("label", "short name used in the bundle's file name"),
    Field("contact_name", "who the vendor should talk to", prompt=True),
    Field("contact_email", "contact e-mail", prompt=True),
    Field("contact_phone", "contact phone", prompt=True),
    Field("company", "customer organisation", prompt=True),
)
FIELD_NAMES = {f.name: f for f in FIELDS}
NOT_MISSING = {"reference", "label"}  # never listed as missing: they exist only sometimes
_SECTIONS = {"case", "contact", "vars", "collect", "redaction", "encryption", "support"}


@dataclass
class CaseFile:
    fields: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    collect: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # sections later features read
    path: str | None = None


def load_case_file(path: str) -> CaseFile:
    """Read ``case.toml``: ``[case]``, ``[contact]``, ``[vars]``, ``[collect]`` …"""
    try:
        data = tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise InputError(f"cannot read case file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"case file {path} is not valid TOML: {exc}") from None
    unknown = set(data) - _SECTIONS
    if unknown:
        raise InputError(f"case file {path}: unknown section(s) {', '.join(sorted(unknown))}",
                         hint=f"known sections: {', '.join(sorted(_SECTIONS))}")
    fields = {k: v for k, v in data.get("case", {}).items()}
    for key, value in data.get("contact", {}).items():
        fields[key if key == "company" else f"contact_{key}"] = value
    variables = data.get("vars", {})
    if not isinstance(variables, dict):
        raise InputError(f"case file {path}: [vars] must be a table")
    return CaseFile(
        fields=validate_fields(fields, f"case file {path}"),
        variables={k: str(v) for k, v in variables.items()},
        collect=dict(data.get("collect", {})),
        extra={k: data[k] for k in ("redaction", "encryption", "support") if k in data},
        path=path,
    )


def validate_fields(fields: dict[str, Any], where: str) -> dict[str, str]:
    """Known fields, choices normalised; an empty value means "not given" and is dropped."""
    out = {}
    for key, value in fields.items():
        spec = FIELD_NAMES.get(key)
        if spec is None:
            raise InputError(f"{where}: unknown case field {key!r}",
                             hint=f"known fields: {', '.join(FIELD_NAMES)}")
        value = str(value).strip()
        if not value:
            continue
        if spec.choices:
            value = value.lower().replace(" ", "-").replace("_", "-")
            if value not in spec.choices:
                raise InputError(f"{where}: {key} must be one of {', '.join(spec.choices)}, not {value!r}")
        out[key] = value
    return out


def parse_field_args(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``["impact=orders stuck", ...]`` from ``--field`` flags."""
    fields = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--field {item!r}: expected NAME=VALUE")
        fields[key.strip()] = value
    return validate_fields(fields, "--field")


def missing_fields(case: dict[str, str], products: list[str] | tuple[str, ...] = ()) -> list[str]:
    """What a vendor would ask for first: the shown fields still empty (product: unless a probe found one)."""
    found_product = any(p != "system" for p in products)
    return [f.label for f in FIELDS if f.prompt and f.name not in NOT_MISSING and not case.get(f.name)
            and not (f.name == "product" and found_product)]


def render_case(context: dict[str, Any], template_path: str | None = None) -> str:
    """Render SUPPORT_CASE.md from the built-in template or a user's Jinja2 file (``missing`` is added)."""
    context = {"missing": missing_fields(context.get("case") or {}, context.get("products") or ()), **context}
    loader = jinja2.FileSystemLoader([str(Path(template_path).parent)] if template_path else [str(TEMPLATE_DIR)])
    env = jinja2.Environment(loader=loader, autoescape=False, undefined=jinja2.ChainableUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["cell"] = lambda v: str(v).replace("|", "\\|").replace("\n", " ")
    name = Path(template_path).name if template_path else "SUPPORT_CASE.md.j2"
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound:
        raise InputError(f"cannot read template {template_path}") from None
    except jinja2.TemplateError as exc:
        raise InputError(f"template {template_path or name} failed: {exc}") from None


def case_file_example(name: str = "case.toml") -> str:
    """A commented case file with every field and section; it loads with :func:`load_case_file`."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=False,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    rows = [{"section": f.section_key[0], "key": f.section_key[1], "description": f.description,
             "choices": f.choices} for f in FIELDS]
    return env.get_template("case.toml.j2").render(
        name=name, case_fields=[r for r in rows if r["section"] == "case"],
        contact_fields=[r for r in rows if r["section"] == "contact"])


@dataclass
class EncryptionSection:
    required: bool = False
    recipients: list[str] = field(default_factory=list)
    sign: str | None = None
    base: Path | None = None  # relative key paths are read from the case file's folder


def encryption_section(case: CaseFile | None) -> EncryptionSection:
    """``[encryption]``: ``"required"``/``"optional"`` or ``{required, recipients, sign}``."""
    if case is None or "encryption" not in case.extra:
        return EncryptionSection()
    spec = case.extra["encryption"]
    where = f"case file {case.path}"
    base = Path(case.path).parent if case.path else None
    if isinstance(spec, str):
        if spec not in ("required", "optional"):
            raise InputError(f"{where}: encryption must be \"required\" or \"optional\", not {spec!r}")
        return EncryptionSection(spec == "required", base=base)
    if not isinstance(spec, dict):
        raise InputError(f"{where}: [encryption] must be a table or \"required\"/\"optional\"")
    unknown = set(spec) - {"required", "recipients", "sign"}
    if unknown:
        raise InputError(f"{where}: unknown [encryption] key(s) {', '.join(sorted(unknown))}",
                         hint="known keys: required, recipients, sign")
    recipients = spec.get("recipients", [])
    if isinstance(recipients, str):
        recipients = [recipients]
    if not isinstance(spec.get("required", False), bool) or not isinstance(recipients, list):
        raise InputError(f"{where}: [encryption] required must be true/false and recipients a list of keys")
    sign = spec.get("sign")
    return EncryptionSection(bool(spec.get("required", False)), [str(r) for r in recipients],
                             str(sign) if sign else None, base)


def redaction_section(case: CaseFile | None) -> RedactionConfig | None:
    """``[redaction]`` checked and compiled; a bad rule is a one-line error naming the file."""
    from redaction import RuleError, parse_config
    from redaction.casekey import CaseKeyError, read_key_file

    data = case.extra.get("redaction") if case else None
    try:
        config = parse_config(data, f"case file {case.path if case else '-'} [redaction]")
    except RuleError as exc:
        raise InputError(str(exc), hint="see README, section Redaction") from None
    if config.case_key and case is not None:  # relative to the case file's folder, checked now (not mid-run)
        base = Path(case.path).parent if case.path else Path.cwd()
        config.case_key = str(base / Path(config.case_key).expanduser())
        try:
            read_key_file(config.case_key)
        except CaseKeyError as exc:
            raise InputError(f"case file {case.path} [redaction] case_key: {exc}",
                             hint="make one with: casepack case-key -o FILE (mode 0600)") from None
    return config
