"""``disk_warn``/``disk_fail`` of the system probe are the disk check's thresholds (not hard-coded)."""

from __future__ import annotations

from pathlib import Path

import pytest

from probes.describe import describe
from probes.loader import load_probe, probe_from_toml
from probes.spec import ProbeSpecError
from tests.services import collect


def disk_check(variables: dict[str, str]):  # noqa: ANN201 - probes.spec.Check
    probe = load_probe("system")
    art = next(a for a in probe.artifacts if a.name == "disk-usage")
    return art.expand({**probe.variables, "since": "x", **variables}).check


def test_defaults_and_overrides_reach_the_check() -> None:
    default = disk_check({})
    assert (default.warn_above, default.fail_above) == (80.0, 90.0) and default.threshold_vars == ()
    custom = disk_check({"disk_warn": "1", "disk_fail": "97.5"})
    assert (custom.warn_above, custom.fail_above) == (1.0, 97.5)
    assert "warn above 1, fail above 97.5" in describe(load_probe("system"), {"disk_warn": "1", "disk_fail": "97.5"})


def test_a_threshold_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(ProbeSpecError, match="disk_warn.*not a number"):
        disk_check({"disk_warn": "lots"})
    bad = 'name = "x"\n[[artifact]]\nname = "c"\nkind = "check"\ncommand = "true"\ncheck = { warn_above = "80%" }\n'
    with pytest.raises(ProbeSpecError, match="must be a number or"):
        probe_from_toml(bad, "test")


def test_disk_warn_1_makes_the_collected_check_warn(tmp_path: Path) -> None:
    bundle = collect(tmp_path, ["system"], {"disk_warn": "1", "disk_fail": "100"})
    check = bundle.named("system", "disk-usage")["check"]
    assert check["result"] == "warn" and "(warn)" in check["message"], check
