"""asyncio learns a program's exit through a pidfd: no thread per program, right codes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading

import pytest

from medic import childwatch
from medic.childwatch import PidfdWatcher
from medic.proc import run_process

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def child(code: int) -> subprocess.Popen[bytes]:
    """A child of the test process that exits with ``code``."""
    return subprocess.Popen(["/bin/sh", "-c", f"exit {code}"])


def waitpid_threads() -> list[str]:
    """asyncio's thread-per-child watcher names its threads ``asyncio-waitpid-N``."""
    return [t.name for t in threading.enumerate() if "waitpid" in t.name]


async def test_a_program_runs_without_a_waitpid_thread() -> None:
    """While a program runs, no thread waits for it: its pidfd is on the loop."""
    run = asyncio.get_running_loop().create_task(run_process(["sleep", "0.3"], timeout=5))
    await asyncio.sleep(0.15)
    assert waitpid_threads() == []
    assert (await run).exit_code == 0


async def test_exit_codes_and_signals_come_through() -> None:
    """The exit code, and a death by signal as its negative number, reach the caller."""
    exited = await run_process(["sh", "-c", "exit 3"], timeout=5)
    killed = await run_process(["sh", "-c", "kill -9 $$"], timeout=5)
    assert (exited.exit_code, killed.exit_code) == (3, -9)


async def test_a_program_run_from_another_loop_is_watched_there() -> None:
    """A program started by a loop in another thread is reaped by that loop."""
    done = await asyncio.to_thread(asyncio.run, run_process(["sh", "-c", "exit 4"], timeout=5))
    assert done.exit_code == 4


async def test_install_sets_the_watcher_once() -> None:
    """install() makes the pidfd watcher the policy's, and a second call keeps it."""
    childwatch.install()
    policy = asyncio.get_event_loop_policy()
    first = policy.get_child_watcher()
    childwatch.install()
    assert isinstance(first, PidfdWatcher)
    assert policy.get_child_watcher() is first


async def test_without_a_pidfd_a_thread_waits_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the kernel gives no pidfd, the child is still reaped, with its exit code."""
    watcher = PidfdWatcher()

    def no_pidfd(pid: int) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    proc = child(5)
    loop = asyncio.get_running_loop()
    got: asyncio.Future[int] = loop.create_future()
    watcher.add_child_handler(
        proc.pid, lambda pid, code: loop.call_soon_threadsafe(got.set_result, code)
    )
    async with asyncio.timeout(5):
        assert await got == 5
    watcher.close()


async def test_a_removed_handler_is_never_called() -> None:
    """remove_child_handler() lets go of the pidfd: the callback does not run."""
    watcher = PidfdWatcher()
    proc = child(0)
    called: list[int] = []
    watcher.add_child_handler(proc.pid, lambda pid, code: called.append(code))
    assert watcher.remove_child_handler(proc.pid)
    proc.wait()
    await asyncio.sleep(0.05)
    assert called == []
