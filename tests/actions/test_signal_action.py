"""The `process.signal` action against real `sleep` processes."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from medic.actions import actions
from medic.actions.base import ActionContext
from medic.actions.signal import SignalAction
from medic.regular_file import NOT_REGULAR

Spawn = Callable[[], subprocess.Popen[bytes]]


def make_ctx(**fields: Any) -> ActionContext:
    return ActionContext(
        policy="worker-reload", target="worker", incident="inc-7", fields=fields, timeout=5.0
    )


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start `sleep 60` processes; any still running are killed afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(["/bin/sleep", "60"])
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_registered_under_its_name() -> None:
    """The registry maps `process.signal` to SignalAction."""
    assert actions.get("process.signal") is SignalAction


def test_docstring_example_options_match_schema() -> None:
    """The docstring's YAML example parses and its options satisfy the schema."""
    block = re.search(r"```yaml\n(.*?)```", SignalAction.__doc__ or "", re.DOTALL)
    assert block is not None
    policy = yaml.safe_load(block.group(1))["policies"][0]
    options = dict(policy["remediate"][0]["process.signal"])
    options.pop("timeout")
    jsonschema.Draft202012Validator(SignalAction.schema).validate(options)
    assert SignalAction.validate(options) == []


@pytest.mark.integration
@pytest.mark.asyncio
async def test_signals_listed_pids(spawn: Spawn) -> None:
    """Every pid in the measurement gets the signal."""
    first, second = spawn(), spawn()
    result = await SignalAction({"signal": "TERM"}).run(make_ctx(pids=[first.pid, second.pid]))
    assert result.ok
    assert result.summary == f"sent SIGTERM to pids {first.pid}, {second.pid}"
    assert first.wait(timeout=5) == -signal.SIGTERM
    assert second.wait(timeout=5) == -signal.SIGTERM
    assert result.details["outcomes"] == {str(first.pid): "sent", str(second.pid): "sent"}


@pytest.mark.integration
@pytest.mark.asyncio
async def test_signal_by_number_and_sig_prefix(spawn: Spawn) -> None:
    """Numbers and SIG-prefixed names select the same signals as bare names."""
    by_number, by_prefix = spawn(), spawn()
    await SignalAction({"signal": 10}).run(make_ctx(pids=[by_number.pid]))
    await SignalAction({"signal": "SIGUSR2"}).run(make_ctx(pids=[by_prefix.pid]))
    assert by_number.wait(timeout=5) == -signal.SIGUSR1
    assert by_prefix.wait(timeout=5) == -signal.SIGUSR2


@pytest.mark.integration
@pytest.mark.asyncio
async def test_never_signals_unlisted_processes(spawn: Spawn) -> None:
    """A process the measurement does not list keeps running."""
    listed, bystander = spawn(), spawn()
    await SignalAction({"signal": "KILL"}).run(make_ctx(pids=[listed.pid]))
    assert listed.wait(timeout=5) == -signal.SIGKILL
    assert bystander.poll() is None


@pytest.mark.integration
@pytest.mark.parametrize(
    ("pid", "why"),
    [
        (1, "pid 1 is init"),
        (os.getpid(), f"pid {os.getpid()} is medic itself"),
        (os.getppid(), f"pid {os.getppid()} is medic's parent"),
        (0, "pid 0 would address a process group"),
        (-5, "pid -5 would address a process group"),
    ],
)
@pytest.mark.asyncio
async def test_refuses_dangerous_pids_and_signals_nothing(spawn: Spawn, pid: int, why: str) -> None:
    """A forbidden pid anywhere in the list stops the whole step before any signal."""
    innocent = spawn()
    result = await SignalAction({"signal": "USR1"}).run(make_ctx(pids=[innocent.pid, pid]))
    assert not result.ok
    assert result.summary == f"refused to send SIGUSR1: {why}"
    assert innocent.poll() is None


@pytest.mark.asyncio
async def test_no_pids_in_measurement() -> None:
    """Without pids or a pidfile there is nothing to signal, and the summary says why."""
    result = await SignalAction({"signal": "HUP"}).run(make_ctx(percent=97))
    assert not result.ok
    assert result.summary == (
        "no pids to signal for worker: the measurement has no pids; "
        "use a process probe or set pidfile"
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_process_already_gone() -> None:
    """A pid whose process has exited is reported gone, and the step fails."""
    proc = await asyncio.create_subprocess_exec("/bin/true")
    await proc.wait()
    result = await SignalAction({"signal": "TERM"}).run(make_ctx(pids=[proc.pid]))
    assert not result.ok
    assert result.summary == f"no process left to signal: pid {proc.pid} gone"


@pytest.mark.integration
@pytest.mark.asyncio
async def test_pidfile_without_pids_field(spawn: Spawn, tmp_path: Path) -> None:
    """With a pidfile and no pids field, the pidfile's process is signalled."""
    proc = spawn()
    pidfile = tmp_path / "app.pid"
    pidfile.write_text(f"{proc.pid}\n")
    result = await SignalAction({"signal": "TERM", "pidfile": str(pidfile)}).run(make_ctx(age=900))
    assert result.ok
    assert proc.wait(timeout=5) == -signal.SIGTERM


@pytest.mark.integration
@pytest.mark.asyncio
async def test_pidfile_must_match_listed_pids(spawn: Spawn, tmp_path: Path) -> None:
    """A pidfile naming a pid the probe did not list is refused as stale."""
    stale, listed = spawn(), spawn()
    pidfile = tmp_path / "app.pid"
    pidfile.write_text(str(stale.pid))
    action = SignalAction({"signal": "TERM", "pidfile": str(pidfile)})
    result = await action.run(make_ctx(pids=[listed.pid]))
    assert not result.ok
    assert result.summary == (
        f"refused: {pidfile} names pid {stale.pid}, which the probe did not list "
        f"({listed.pid}); the pidfile may be stale"
    )
    assert stale.poll() is None
    assert listed.poll() is None


@pytest.mark.integration
@pytest.mark.asyncio
async def test_pidfile_problems(tmp_path: Path) -> None:
    """A missing or garbled pidfile fails with the path and the reason."""
    missing = tmp_path / "missing.pid"
    result = await SignalAction({"signal": "HUP", "pidfile": str(missing)}).run(make_ctx())
    assert result.summary == f"cannot read pidfile {missing}: No such file or directory"
    garbled = tmp_path / "garbled.pid"
    garbled.write_text("worker\n")
    result = await SignalAction({"signal": "HUP", "pidfile": str(garbled)}).run(make_ctx())
    assert not result.ok
    assert result.summary == f"pidfile {garbled} does not hold a pid (found 'worker')"


@pytest.mark.integration
def test_a_fifo_pidfile_is_refused_at_once(tmp_path: Path) -> None:
    """A pidfile that is a FIFO fails the step at once, saying so: opening it would
    block the event loop until a writer came, and no timeout interrupts that."""
    fifo = tmp_path / "app.pid"
    os.mkfifo(fifo)
    action = SignalAction({"signal": "HUP", "pidfile": str(fifo)})
    summaries: list[str] = []
    runner = threading.Thread(
        target=lambda: summaries.append(asyncio.run(action.run(make_ctx())).summary), daemon=True
    )
    runner.start()
    runner.join(2)
    if runner.is_alive():  # stuck in open(): a writer lets it go, then the test fails
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        runner.join(2)
    assert summaries == [f"cannot read pidfile {fifo}: {NOT_REGULAR}"]


def test_validate_messages() -> None:
    """Unknown signal numbers and relative pidfiles are refused with the fix."""
    assert SignalAction.validate({"signal": 33, "pidfile": "run/app.pid"}) == [
        "signal 33 is not a signal medic sends; use one of HUP, INT, QUIT, KILL, USR1, USR2, "
        "TERM, or a number that `kill -l` lists",
        "pidfile 'run/app.pid' must be an absolute path, like /run/app.pid",
    ]
    assert SignalAction.validate({"signal": "HUP"}) == []


def test_schema_names_the_valid_signals() -> None:
    """A misspelt signal name fails the schema with the list of names."""
    validator = jsonschema.Draft202012Validator(SignalAction.schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors({"signal": "HUPP"}))
    assert error is not None
    assert error.message.startswith("'HUPP' is not one of ['HUP', 'INT', 'QUIT', 'KILL'")
    assert validator.is_valid({"signal": 1})
    assert not validator.is_valid({"signal": "HUP", "pid": 4})


def test_describe() -> None:
    """describe() names the signal and the pids or the pidfile."""
    action = SignalAction({"signal": "HUP"})
    assert action.describe(make_ctx(pids=[120, 121])) == "send SIGHUP to pids 120, 121"
    assert action.describe(make_ctx(pids=[120])) == "send SIGHUP to pid 120"
    pidfile = SignalAction({"signal": 15, "pidfile": "/run/app.pid"})
    assert pidfile.describe(make_ctx()) == "send SIGTERM to the pid in /run/app.pid"
