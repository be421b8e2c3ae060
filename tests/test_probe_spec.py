"""Probe loading: every built-in loads; bad probe files give clear errors; variables expand safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from probes.loader import builtin_names, load_probe, probe_from_toml
from probes.spec import Artifact, ProbeSpecError, expand_text, parse_size

GOOD = """
name = "mine"
[vars]
root = "/srv/my app"
[[artifact]]
name = "conf"
kind = "config"
paths = ["{root}/etc/*.conf"]
[[artifact]]
name = "count"
kind = "check"
command = "ls {root} | awk '{print $1}' | wc -l"
check = { warn_below = 1 }
"""


def test_every_builtin_probe_loads_and_describes_itself() -> None:
    from probes.describe import describe

    names = builtin_names()
    assert {"system", "amps", "postgresql", "nginx", "redis", "app"} <= set(names)
    for name in names:
        probe = load_probe(name)
        assert probe.name == name
        assert probe.artifacts or probe.discover
        assert f"probe {name}" in describe(probe)


def test_variables_expand_and_are_quoted_in_commands_only() -> None:
    probe = probe_from_toml(GOOD, "good.toml")
    conf, count = (a.expand(probe.variables) for a in probe.artifacts)
    assert conf.paths == ("/srv/my app/etc/*.conf",)
    assert count.command == "ls '/srv/my app' | awk '{print $1}' | wc -l"


def test_literal_braces_and_unknown_variables() -> None:
    assert expand_text("{{x}} {a}", {"a": "1"}, "t", quote=False) == "{x} 1"
    with pytest.raises(ProbeSpecError, match=r"unknown variable \{nope\}.*--var nope=VALUE"):
        Artifact("a", "command", command="echo {nope}").expand({})


@pytest.mark.parametrize("text, message", [
    ("name = ", "not valid TOML"),
    ('description = "x"', "'name' is required"),
    ('name = "Bad Name"', "'name' is required"),
    ('name = "x"', "at least one"),
    ('name = "x"\n[[artifact]]\nname = "a"\nkind = "logs"\npaths=["/x"]', "'kind' must be one of"),
    ('name = "x"\n[[artifact]]\nname = "a"\nkind = "log"', "needs 'paths'"),
    ('name = "x"\n[[artifact]]\nname = "a"\nkind = "command"', "needs 'command'"),
    ('name = "x"\n[[artifact]]\nname = "a"\nkind = "command"\ncommand = "x"\ntimeout = -1', "positive"),
    ('name = "x"\n[[artifact]]\nname = "a"\nkind = "command"\ncommand = "x"\ncolour = 1', "unknown field"),
    ('name = "x"\n[[artifact]]\nname = "a"\nkind = "config"\npaths = "/x"\nmax_size = "lots"', "cannot read size"),
    ('name = "x"\n[[artifact]]\nname = "a"\nkind = "check"\ncommand = "x"\ncheck = { value_regex = "(" }',
     "bad regex"),
    ('name = "x"\n[[artifact]]\nname = "a"\nkind = "command"\ncommand = "x"\n'
     '[[artifact]]\nname = "a"\nkind = "command"\ncommand = "y"', "duplicate artifact"),
    ('name = "x"\n[[artifact]]\nname = "a"\nkind = "command"\ncommand = 3', "must be a str"),
])
def test_bad_probe_files_give_clear_errors(text: str, message: str) -> None:
    with pytest.raises(ProbeSpecError, match=message) as info:
        probe_from_toml(text, "bad.toml")
    assert str(info.value).startswith("bad.toml")
    assert "\n" not in str(info.value)


def test_probe_file_by_path_and_unknown_name(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GOOD)
    assert load_probe(str(path)).name == "mine"
    with pytest.raises(ProbeSpecError, match="unknown probe 'nope'; built-in probes: "):
        load_probe("nope")
    with pytest.raises(ProbeSpecError, match="cannot read probe file"):
        load_probe(str(tmp_path / "missing.toml"))


@pytest.mark.parametrize("text, value", [("50MB", 50_000_000), ("2GiB", 2 << 30), ("512", 512), ("1.5k", 1500),
                                         (4096, 4096)])
def test_sizes(text, value) -> None:
    assert parse_size(text) == value
