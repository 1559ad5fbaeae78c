"""The command probe runs real check scripts, Nagios-plugin style."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from medic.errors import ProbeError
from medic.probes.commands.command import CommandProbe

pytestmark = pytest.mark.integration

CORE = set(CommandProbe.field_names())


def script(tmp_path: Path, body: str, name: str = "check") -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


async def run(options: dict[str, Any], limit: float | None = None) -> dict[str, Any]:
    """Measure once; ``limit`` stands in for the timeout the scheduler sets."""
    probe = CommandProbe(options)
    if limit is not None:
        probe.timeout = limit
    out = await probe.measure()
    assert list(out) == [probe.target]
    return out[probe.target]


@pytest.mark.parametrize(
    ("code", "status"),
    [(0, "ok"), (1, "warning"), (2, "critical"), (3, "unknown"), (7, "unknown")],
)
@pytest.mark.asyncio
async def test_exit_code_gives_status(tmp_path: Path, code: int, status: str) -> None:
    """Exit codes 0-3 map to ok/warning/critical/unknown; others are unknown."""
    check = script(tmp_path, f"echo 'STATE {code} | load=0.5;1;2'\nexit {code}")
    fields = await run({"argv": [check]})
    assert set(fields) - CORE == {"load", "load_warn", "load_crit"}
    assert set(fields) >= CORE
    assert fields["status"] == status
    assert fields["exit_code"] == code
    assert fields["ok"] is (code == 0)
    assert fields["timed_out"] is False
    assert fields["output"] == f"STATE {code}"
    assert (fields["load"], fields["load_warn"], fields["load_crit"]) == (0.5, 1, 2)
    assert 0 < fields["duration"] < 5


@pytest.mark.asyncio
async def test_perfdata_and_long_output(tmp_path: Path) -> None:
    """Perfdata on the first line and after a bar in the long output all become fields."""
    check = script(
        tmp_path,
        "printf \"DISK WARNING - / at 85%% | '/ used'=85%%;80;90;0;100\\n"
        "mount / is filling\\nsecond line | inodes=12%%;;;0;100\\n"
        "'time taken'=0.25s\\n\"\nexit 1",
    )
    fields = await run({"argv": [check]})
    assert fields["output"] == "DISK WARNING - / at 85%"
    assert fields["long_output"] == "mount / is filling\nsecond line"
    assert {k: v for k, v in fields.items() if k not in CORE} == {
        "used": 85,
        "used_warn": 80,
        "used_crit": 90,
        "used_min": 0,
        "used_max": 100,
        "inodes": 12,
        "inodes_min": 0,
        "inodes_max": 100,
        "time_taken": 0.25,
    }


@pytest.mark.asyncio
async def test_timeout_kills_check_and_its_children(tmp_path: Path) -> None:
    """A hung check is killed at the timeout with what it forked, and reads unknown."""
    pidfile = tmp_path / "child.pid"
    check = script(tmp_path, f"sleep 60 &\necho $! > {pidfile}\nsleep 60")
    started = time.monotonic()
    fields = await run({"argv": [check]}, limit=0.5)
    assert time.monotonic() - started < 5
    assert set(fields) == CORE
    assert fields["status"] == "unknown"
    assert fields["timed_out"] is True
    assert fields["exit_code"] is None
    assert fields["ok"] is False
    assert fields["output"] == "check timed out after 500ms"
    assert 0.5 <= fields["duration"] < 5
    grandchild = int(pidfile.read_text())
    for _ in range(200):
        if not grandchild_alive(grandchild):
            break
        await asyncio.sleep(0.005)
    assert not grandchild_alive(grandchild)


def grandchild_alive(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie waiting for its reaper is dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.mark.asyncio
async def test_default_timeout_without_scheduler(tmp_path: Path) -> None:
    """Without a timeout set by the scheduler the class default applies."""
    probe = CommandProbe({"argv": [script(tmp_path, "echo OK")]})
    assert probe.timeout == 10.0
    assert (await probe.measure())[probe.target]["status"] == "ok"


@pytest.mark.asyncio
async def test_shell_only_when_asked(tmp_path: Path) -> None:
    """shell text runs through /bin/sh; argv items are passed as they are."""
    assert (await run({"shell": "echo hello | tr a-z A-Z"}))["output"] == "HELLO"
    fields = await run({"argv": ["/bin/echo", "$HOME | x=1"]})
    assert fields["output"] == "$HOME"
    assert fields["x"] == 1


@pytest.mark.asyncio
async def test_env_and_cwd(tmp_path: Path) -> None:
    """env adds variables and cwd sets the working directory of the check."""
    check = script(tmp_path, 'echo "$CHECK_MODE in $(pwd)"')
    fields = await run({"argv": [check], "env": {"CHECK_MODE": "deep"}, "cwd": "/tmp"})
    assert fields["output"] == "deep in /tmp"


@pytest.mark.asyncio
async def test_stderr_when_stdout_is_empty(tmp_path: Path) -> None:
    """A check that only writes to stderr still has an output line."""
    check = script(tmp_path, "echo 'CRITICAL - cannot connect' >&2\nexit 2")
    fields = await run({"argv": [check]})
    assert (fields["status"], fields["output"]) == ("critical", "CRITICAL - cannot connect")


@pytest.mark.asyncio
async def test_missing_program_is_a_probe_error(tmp_path: Path) -> None:
    """A check that cannot start fails the probe with the reason and a hint."""
    missing = str(tmp_path / "check_nothing")
    with pytest.raises(ProbeError) as info:
        await run({"argv": [missing]})
    assert str(info.value) == f"cannot start {missing}: No such file or directory"
    assert info.value.hint == "check the program path in argv and that Medic may execute it"


def test_target_names() -> None:
    """The target is name if given, else the command text cut to 60 characters."""
    assert CommandProbe({"argv": ["check_x"], "name": "x-check"}).target == "x-check"
    assert CommandProbe({"argv": ["check_disk", "-p", "/var lib"]}).target == (
        "check_disk -p '/var lib'"
    )
    long = CommandProbe({"shell": "echo " + "a" * 100}).target
    assert long == "echo " + "a" * 54 + "…"
    assert len(long) == 60


@pytest.mark.parametrize(
    ("options", "problems"),
    [
        ({"argv": ["/bin/true"]}, []),
        ({"shell": "true"}, []),
        ({}, ["give exactly one of argv (preferred, no shell) or shell."]),
        (
            {"argv": ["x"], "shell": "x"},
            ["give exactly one of argv (preferred, no shell) or shell."],
        ),
        ({"argv": [""]}, ["argv starts with an empty program name; put the check's path first."]),
    ],
)
def test_validate(options: dict[str, Any], problems: list[str]) -> None:
    """argv/shell mistakes are reported as sentences with the fix."""
    assert CommandProbe.validate(options) == problems


def open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


@pytest.mark.asyncio
async def test_many_runs_leak_no_descriptors(tmp_path: Path) -> None:
    """Repeated runs, timed out or not, leave the agent's descriptor count flat."""
    probe = CommandProbe({"argv": [script(tmp_path, "echo OK | a=1")]})
    hung = CommandProbe({"argv": [script(tmp_path, "sleep 60", name="hung")]})
    hung.timeout = 0.05
    await probe.measure()
    before = open_fds()
    for _ in range(10):
        await probe.measure()
        await hung.measure()
    assert open_fds() == before
