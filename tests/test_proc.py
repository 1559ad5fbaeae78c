"""Programs Medic runs: at the timeout every descendant dies, setsid or not, and is reaped."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medic.actions.base import ActionContext
from medic.actions.command import CommandAction
from medic.audit.events import Kind
from medic.engine.remediation import _run_one
from medic.proc import run_process

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

# A child that leaves the program's session, writes its pid, then sleeps holding the pipes.
ESCAPEE = "setsid sh -c 'echo $$ > \"$PIDFILE\"; exec sleep 60'"


def ctx(timeout: float) -> ActionContext:
    return ActionContext(policy="p", target="t", incident="inc-1", fields={}, timeout=timeout)


def state(pid: int) -> str | None:
    """The /proc state letter of ``pid`` (Z for a zombie), None once it is reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def pid_in(pidfile: Path) -> int | None:
    text = pidfile.read_text().strip() if pidfile.exists() else ""
    return int(text) if text else None


async def read_pid(pidfile: Path) -> int:
    for _ in range(500):
        if (pid := pid_in(pidfile)) is not None:
            return pid
        await asyncio.sleep(0.01)
    raise AssertionError(f"no pid in {pidfile}")


def exited_child(code: int) -> subprocess.Popen[bytes]:
    """A child of the test process (not adopted) that has exited and awaits its wait()."""
    child = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    for _ in range(1000):
        if state(child.pid) == "Z":
            return child
        time.sleep(0.01)
    raise AssertionError("the child did not exit")


async def until_reaped(pid: int, within: float = 5.0) -> bool:
    """True once ``pid`` is gone from /proc entirely: dead and reaped, no zombie left."""
    deadline = time.monotonic() + within
    while state(pid) is not None:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_setsid_child_dies_at_the_timeout(tmp_path: Path) -> None:
    """Finding 10: a child that called setsid is killed with its step, then reaped."""
    pidfile = tmp_path / "escapee.pid"
    shell = f"echo started; {ESCAPEE} & wait"
    run = await run_process(
        ["sh", "-c", shell], timeout=0.5, env={"PIDFILE": str(pidfile)}, max_output=100
    )
    escapee = await read_pid(pidfile)
    assert run.timed_out
    assert run.stdout == "started\n"
    assert await until_reaped(escapee)


async def test_double_forked_child_dies_at_the_timeout(tmp_path: Path) -> None:
    """A grandchild orphaned into a session of its own (double fork) dies too, and is reaped."""
    pidfile = tmp_path / "escapee.pid"
    shell = f"({ESCAPEE} &); echo started; sleep 60"
    run = await run_process(["sh", "-c", shell], timeout=0.5, env={"PIDFILE": str(pidfile)})
    escapee = await read_pid(pidfile)
    assert run.timed_out
    assert await until_reaped(escapee)


async def test_timed_out_step_keeps_its_output(tmp_path: Path) -> None:
    """Finding 10: through the runner, a timed-out step whose child setsid'd keeps its output."""
    pidfile = tmp_path / "escapee.pid"
    action = CommandAction(
        {
            "shell": f"echo started; echo trouble >&2; {ESCAPEE} & wait",
            "env": {"PIDFILE": str(pidfile)},
        }
    )
    kind, result = await _run_one(action, ctx(0.5))
    assert kind is Kind.ACTION_TIMED_OUT
    assert result.details["stdout"] == "started\n"
    assert result.details["stderr"] == "trouble\n"
    assert result.summary.startswith("timed out after 500ms, process group killed")
    assert await until_reaped(await read_pid(pidfile))


async def test_daemon_detached_on_purpose_outlives_a_normal_exit(tmp_path: Path) -> None:
    """`setsid -f` from a step that exits by itself is left running; reaped when it ends."""
    from medic.reaper import REAPER

    pidfile = tmp_path / "daemon.pid"
    argv = ["setsid", "-f", "sh", "-c", 'echo $$ > "$PIDFILE"; exec sleep 60']
    run = await run_process(argv, timeout=5, env={"PIDFILE": str(pidfile)})
    assert run.exit_code == 0
    daemon = await read_pid(pidfile)
    await asyncio.sleep(0.3)
    assert state(daemon) in ("S", "R")
    os.kill(daemon, signal.SIGKILL)
    for _ in range(100):
        REAPER.sweep()
        if state(daemon) is None:
            break
        await asyncio.sleep(0.02)
    assert state(daemon) is None


async def test_reaping_takes_no_exit_status_from_other_children(tmp_path: Path) -> None:
    """A child Medic did not adopt keeps its exit status for whoever waits for it."""
    other = await asyncio.to_thread(exited_child, 7)
    pidfile = tmp_path / "escapee.pid"
    await run_process(["sh", "-c", f"{ESCAPEE} & wait"], timeout=0.3, env={"PIDFILE": str(pidfile)})
    assert await until_reaped(await read_pid(pidfile))
    assert other.wait(timeout=5) == 7


async def test_medic_is_a_child_subreaper() -> None:
    """After a run, orphans of programs re-parent to Medic (PR_GET_CHILD_SUBREAPER is 1)."""
    await run_process(["true"], timeout=5)
    flag = ctypes.c_int(0)
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(37, ctypes.byref(flag), 0, 0, 0) == 0  # PR_GET_CHILD_SUBREAPER
    assert flag.value == 1


async def test_each_run_carries_its_own_mark() -> None:
    """Every program gets MEDIC_RUN, different per run (it tells a step's processes apart)."""
    runs = [await run_process(["sh", "-c", 'echo "$MEDIC_RUN"'], timeout=5) for _ in range(2)]
    marks = [run.stdout.strip() for run in runs]
    assert all(marks) and marks[0] != marks[1]


async def test_cancelled_run_kills_its_setsid_child(tmp_path: Path) -> None:
    """A run cancelled from outside (the runner's hard stop) kills its setsid child too."""
    pidfile = tmp_path / "escapee.pid"
    task = asyncio.ensure_future(
        run_process(["sh", "-c", f"{ESCAPEE} & wait"], timeout=60, env={"PIDFILE": str(pidfile)})
    )
    escapee = await read_pid(pidfile)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await until_reaped(escapee)
