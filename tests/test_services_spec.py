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
    from collector.transport.sudo import wrap

    art = probe_from_toml(PROBE, "test").artifacts[0].expand({"user": "svc", "password": "pw x'y"})
    assert "pw x" not in (art.command or "") and dict(art.env) == {"TOOL_AUTH": "pw x'y"}
    line, dialogue = wrap(art.command or "", as_root=True, is_root=False, become=None, password="sudo-pw",
                          env=dict(art.env))
    assert "pw x" not in line and "sudo-pw" not in line
    assert dialogue is not None
    # sudo's password only at sudo's own prompt, then the env value only after the shell says it is ready
    assert dialogue.answer(b"[sudo] password for x:") == b""
    assert dialogue.answer(dialogue.prompt.encode()) == b"sudo-pw\n"
    assert not dialogue.finished
    assert dialogue.answer(dialogue.ready.encode()) == b"pw x'y\n"
    assert dialogue.finished


def test_empty_secret_is_not_exported() -> None:
    art = probe_from_toml(PROBE, "test").artifacts[0].expand({"user": "svc", "password": ""})
    assert art.env == () and art.command == "tool --user svc INFO"


def test_secret_variable_refused_in_command() -> None:
    bad = PROBE.replace("tool --user {user} INFO", "tool -a {password} INFO")
    with pytest.raises(ProbeSpecError, match="secret variable .password. may only be used in 'env'"):
        probe_from_toml(bad, "test").artifacts[0].expand({"user": "u", "password": "x"})


def test_bad_error_output_regex_is_refused() -> None:
    with pytest.raises(ProbeSpecError, match="error_output"):
        probe_from_toml(PROBE.replace("^(NOAUTH|ERR) ", "(unclosed"), "test")
