"""The ``systemd.unit`` probe: parsing on the host, measuring against a real systemd.

The measuring tests run the probe inside the node (``medic probe systemd.unit`` and
small scripts with Medic's own Python there), on units they install and break.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from medic.drivers.systemd import canonical, parse_show
from medic.errors import ProbeError
from medic.probes.services.systemd import UnitProbe, unit_fields

if TYPE_CHECKING:
    from kit.systemd_node import Node

SLEEPER = "[Service]\nExecStart=/bin/sleep infinity\n"
FAILING = "[Service]\nExecStart=/bin/false\n"


def probe(node: Node, unit: str) -> dict[str, Any]:
    """What ``medic probe systemd.unit unit=UNIT --json`` prints in the node."""
    done = node.run("medic", "probe", "systemd.unit", f"unit={unit}", "--json")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- on the host: parsing and validation --------------------------------------------------


def test_show_output_is_split_per_unit_and_unset_values_become_null() -> None:
    """Blank lines separate units; [not set], infinity and 0 pids read as null."""
    text = (
        "Id=a.service\nActiveState=active\nMainPID=42\nMemoryCurrent=1024\n"
        "CPUUsageNSec=2500000000\nTasksCurrent=[not set]\nNRestarts=3\n"
        "StateChangeTimestampMonotonic=1000000\nActiveEnterTimestampMonotonic=1000000\n\n"
        "Id=b.service\nActiveState=failed\nMainPID=0\nMemoryCurrent=infinity\n"
        "CPUUsageNSec=18446744073709551615\nStateChangeTimestampMonotonic=0\n"
    )
    units = parse_show(text)
    assert [u["Id"] for u in units] == ["a.service", "b.service"]
    a = unit_fields(units[0], now_usec=4_000_000)
    assert (a["active"], a["main_pid"], a["memory_bytes"], a["tasks"]) == (True, 42, 1024, None)
    assert (a["cpu_seconds"], a["restarts"], a["state_age"], a["uptime"]) == (2.5, 3, 3.0, 3.0)
    b = unit_fields(units[1], now_usec=4_000_000)
    assert (b["active"], b["main_pid"], b["memory_bytes"], b["cpu_seconds"]) == (
        False,
        None,
        None,
        None,
    )
    assert (b["state_age"], b["uptime"]) == (None, None)


def test_unit_names_get_the_service_suffix_but_globs_do_not() -> None:
    """``nginx`` means nginx.service; typed names and globs stay as written."""
    assert canonical("nginx") == "nginx.service"
    assert canonical("getty@tty1") == "getty@tty1.service"
    assert canonical("docker.socket") == "docker.socket"
    assert canonical("app-*") == "app-*"


def test_a_unit_option_that_is_no_unit_name_is_rejected_with_the_fix() -> None:
    """Spaces, slashes or a leading dash are refused by validate()."""
    assert UnitProbe.validate({"unit": "app-*.service"}) == []
    assert UnitProbe.validate({"unit": "--all"}) == [
        "unit '--all' is not a unit name or glob: use letters, digits and :_.@-\\ "
        "(and *?[] in a glob), not starting with '-'."
    ]
    assert UnitProbe.validate({"unit": "my app"}) != []


def _fake_systemctl(tmp_path: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Put a real program named systemctl first on PATH (this host has no systemd)."""
    program = tmp_path / "systemctl"
    program.write_text("#!/bin/sh\n" + script)
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_systemctl_that_fails_becomes_a_probe_error_with_its_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """systemctl's first line of complaint is the probe error; the hint names the cause."""
    _fake_systemctl(
        tmp_path,
        "echo 'System has not been booted with systemd as init system (PID 1).' >&2\nexit 1\n",
        monkeypatch,
    )
    with pytest.raises(ProbeError) as caught:
        await UnitProbe({"unit": "nginx"}).measure()
    assert caught.value.message == (
        "systemctl show failed: System has not been booted with systemd as init system (PID 1)."
    )
    assert caught.value.hint == "is systemd PID 1 on this host, and does Medic run as root?"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_hung_systemctl_is_killed_at_the_probe_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PID 1 that does not answer costs one killed child, reported as a probe error."""
    _fake_systemctl(tmp_path, "exec sleep 30\n", monkeypatch)
    unit_probe = UnitProbe({"unit": "nginx"})
    unit_probe.timeout = 0.75
    with pytest.raises(ProbeError) as caught:
        await asyncio.wait_for(unit_probe.measure(), 5)
    assert caught.value.message == "systemctl show did not answer within 0.5s"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_without_systemctl_the_probe_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No systemctl on PATH: the probe says the host does not run systemd."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ProbeError) as caught:
        await UnitProbe({"unit": "nginx"}).measure()
    assert caught.value.message == "systemctl is not installed: this host does not run systemd"


# -- in the node: a real systemd ----------------------------------------------------------


@pytest.mark.integration
def test_a_running_unit_reports_its_state_pid_and_resources(node: Node) -> None:
    """State, sub-state, main pid (as systemd says), memory, tasks and ages of a service."""
    node.add_unit("probe-run.service", SLEEPER)
    node.run("systemctl", "restart", "probe-run.service")
    measured = probe(node, "probe-run")
    fields = measured["probe-run.service"]
    main_pid = int(node.show("probe-run.service")["MainPID"])
    assert fields["active"] is True
    assert (fields["active_state"], fields["sub_state"]) == ("active", "running")
    assert (fields["load_state"], fields["result"]) == ("loaded", "success")
    assert fields["main_pid"] == main_pid > 0
    assert fields["restarts"] == 0
    assert fields["tasks"] == 1
    assert fields["memory_bytes"] > 0
    assert 0 <= fields["state_age"] < 60
    assert 0 <= fields["uptime"] < 60
    assert fields["unit_file_state"] == "static"


@pytest.mark.integration
def test_a_failed_unit_reports_failed_and_why(node: Node) -> None:
    """A service whose process exited 1 is failed with result exit-code and no pid."""
    node.add_unit("probe-fail.service", FAILING)
    node.run("systemctl", "start", "probe-fail.service", check=False)
    node.wait_for(
        lambda: node.show("probe-fail.service")["ActiveState"] == "failed",
        what="probe-fail.service to fail",
    )
    fields = probe(node, "probe-fail.service")["probe-fail.service"]
    assert (fields["active"], fields["active_state"], fields["sub_state"]) == (
        False,
        "failed",
        "failed",
    )
    assert fields["result"] == "exit-code"
    assert (fields["main_pid"], fields["uptime"]) == (None, None)


@pytest.mark.integration
def test_a_unit_named_but_absent_is_one_target_not_found(node: Node) -> None:
    """Naming a unit that does not exist still yields its target, load_state not-found."""
    measured = probe(node, "probe-nothing-here")
    assert list(measured) == ["probe-nothing-here.service"]
    fields = measured["probe-nothing-here.service"]
    assert (fields["load_state"], fields["active_state"], fields["active"]) == (
        "not-found",
        "inactive",
        False,
    )


@pytest.mark.integration
def test_a_glob_selects_the_loaded_units_that_match(node: Node) -> None:
    """A glob yields one target per loaded matching unit, and none when nothing matches."""
    for name in ("probe-glob-a.service", "probe-glob-b.service"):
        node.add_unit(name, SLEEPER)
        node.run("systemctl", "start", name)
    node.add_unit("probe-glab.service", SLEEPER)
    node.run("systemctl", "start", "probe-glab.service")
    measured = probe(node, "probe-glob-*.service")
    assert sorted(measured) == ["probe-glob-a.service", "probe-glob-b.service"]
    assert all(f["active_state"] == "active" for f in measured.values())
    done = node.run("medic", "probe", "systemd.unit", "unit=probe-none-*")
    assert done.stdout.strip() == (
        "(no targets selected: a policy with this probe would act on nothing)"
    )


@pytest.mark.integration
def test_a_restart_loop_shows_systemds_restarts_and_start_limit(node: Node) -> None:
    """A unit systemd restarted until its start limit is failed with systemd's NRestarts."""
    node.add_unit(
        "probe-loop.service",
        "[Unit]\nStartLimitIntervalSec=60\nStartLimitBurst=3\n"
        "[Service]\nExecStart=/bin/false\nRestart=always\nRestartSec=100ms\n",
    )
    node.run("systemctl", "start", "probe-loop.service", check=False)
    node.wait_for(
        lambda: node.show("probe-loop.service")["ActiveState"] == "failed",
        what="systemd to give up restarting probe-loop.service",
    )
    fields = probe(node, "probe-loop")["probe-loop.service"]
    assert fields["restarts"] == int(node.show("probe-loop.service")["NRestarts"]) >= 2
    assert (fields["active_state"], fields["result"]) == ("failed", "exit-code")


WATCH = """
import asyncio, json, subprocess, sys
from medic.probes.services.systemd import UnitProbe

async def main():
    probe = UnitProbe({"unit": sys.argv[1]})
    first = await probe.measure()
    events = probe.watch()
    waiting = asyncio.ensure_future(events.__anext__())
    await asyncio.sleep(0.2)
    assert not waiting.done(), "watch() yielded before anything happened"
    subprocess.run(["systemctl", "kill", "-s", "KILL", sys.argv[1]], check=True)
    unit = await asyncio.wait_for(waiting, 10)
    again = await probe.measure()
    await events.aclose()
    await probe.close()
    print(json.dumps({"unit": unit, "before": first[unit], "after": again[unit]}))

asyncio.run(main())
"""


@pytest.mark.integration
def test_watch_reports_a_unit_the_moment_its_main_process_dies(node: Node) -> None:
    """watch() yields the unit when its main process is killed; a re-measure sees it failed."""
    node.add_unit("probe-watch.service", SLEEPER)
    node.run("systemctl", "restart", "probe-watch.service")
    seen = node.python(WATCH, "probe-watch.service")
    assert seen["unit"] == "probe-watch.service"
    assert seen["before"]["active_state"] == "active"
    assert (seen["after"]["active_state"], seen["after"]["result"]) == ("failed", "signal")
