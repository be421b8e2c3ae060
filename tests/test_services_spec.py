"""Probe-spec features for production auth: secret variables, ``env`` on stdin, ``error_output``."""

from __future__ import annotations

import pytest

from probes.describe import describe
from probes.loader import probe_from_toml
from probes.spec import ProbeSpecError

PROBE = """
name = "auth"
[vars]
user = "svc"
password = { value = "", secret = true, env = "CASEPACK_TEST_PW", help = "service password" }
[[artifact]]
name = "info"
kind = "command"
command = "tool --user {user} INFO"
env = { TOOL_AUTH = "{password}" }
error_output = "^(NOAUTH|ERR) "
"""


def test_secret_variable_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEPACK_TEST_PW", "S3cretFromEnv")
    probe = probe_from_toml(PROBE, "test")
    assert probe.secrets == {"password"} and probe.variables["password"] == "S3cretFromEnv"
    text = describe(probe, {"password": "S3cretFromVar"})
    assert "S3cret" not in text
    assert "password = [secret] (secret)" in text and "env TOOL_AUTH=[secret]" in text


def test_env_goes_on_stdin_not_argv() -> None:
    art = probe_from_toml(PROBE, "test").artifacts[0].expand({"user": "svc", "password": "pw x'y"})
    command, stdin = art.invocation()
    assert "pw x" not in command and "pw x" not in (art.command or "")
    assert stdin == b"pw x'y\n"
    assert command.startswith("IFS= read -r TOOL_AUTH; export TOOL_AUTH; exec </dev/null; tool --user svc INFO")


def test_empty_secret_is_not_exported() -> None:
    art = probe_from_toml(PROBE, "test").artifacts[0].expand({"user": "svc", "password": ""})
    assert art.env == () and art.invocation() == ("tool --user svc INFO", None)


def test_secret_variable_refused_in_command() -> None:
    bad = PROBE.replace("tool --user {user} INFO", "tool -a {password} INFO")
    with pytest.raises(ProbeSpecError, match="secret variable .password. may only be used in 'env'"):
        probe_from_toml(bad, "test").artifacts[0].expand({"user": "u", "password": "x"})


def test_bad_error_output_regex_is_refused() -> None:
    with pytest.raises(ProbeSpecError, match="error_output"):
        probe_from_toml(PROBE.replace("^(NOAUTH|ERR) ", "(unclosed"), "test")
