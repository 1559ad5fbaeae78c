"""Run a child program with a hard timeout that kills it and everything it started.

Used by every probe and action that starts a program. The child gets its own session
(so its own process group) and a mark in its environment (``MEDIC_RUN``); on timeout
or cancellation its group and every process of the run are sent SIGKILL, including
ones that called ``setsid`` or double-forked away (:mod:`medic.proctree`), so a hung
check and anything it forked are gone, not orphaned. A program that exits on its own
may leave a detached daemon behind on purpose; that is not killed. Orphans adopted by
Medic (a child subreaper) are reaped by :mod:`medic.reaper`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from medic import childwatch, proctree
from medic.deadline import within
from medic.lazy import lazy_module
from medic.reaper import REAPER

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

MAX_OUTPUT = 16 * 1024
# How long to keep reading output after the child exited (descendants may hold the pipe).
OUTPUT_GRACE = 0.5
# The same after a timeout: everything was killed, so the pipes close at once unless a
# process could not be killed; short, so the result (with its output) is ready well
# within the runner's grace (medic.engine.remediation.ACTION_GRACE).
KILLED_OUTPUT_GRACE = 0.15


@dataclass(frozen=True)
class CompletedRun:
    argv: tuple[str, ...]
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration: float
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.exit_code == 0


class _Capture:
    """Bytes read from one pipe, at most ``cap`` of them kept, readable at any moment."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.truncated = False

    async def drain(self, stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            room = self.cap - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if len(chunk) > room:
                self.truncated = True


async def _exited(pid: int, timeout: float) -> bool:  # noqa: ASYNC109 - see run_process
    """True once process ``pid`` has exited (a pidfd becomes readable), False at the timeout.

    asyncio's ``Process.wait()`` on Python 3.11 also waits for the pipes to close, which
    a detached grandchild can hold open for ever; the pidfd says when the child itself ends.
    """
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        await within(done, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


def _kill_run(proc: asyncio.subprocess.Process, mark: str) -> None:
    """Kill the program, its group and every process of the run; reap the orphans later."""
    killed = proctree.kill_step(proc.pid, mark)
    killed.pop(proc.pid, None)  # asyncio reaps the program itself
    REAPER.expect(killed)


async def run_process(
    argv: Sequence[str],
    *,
    timeout: float,  # noqa: ASYNC109 - the timeout must kill the process group, not just cancel
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    max_output: int = MAX_OUTPUT,
) -> CompletedRun:
    """Run ``argv`` (never through a shell unless argv itself names one)."""
    start = time.monotonic()
    REAPER.become_subreaper()
    childwatch.install()  # its exit seen through a pidfd: no thread started per program
    mark = proctree.new_mark()
    full_env = {**os.environ, **(env or {}), proctree.RUN_MARK: mark}
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=full_env,
        cwd=cwd,
        start_new_session=True,
    )
    REAPER.owned.add(proc.pid)
    try:
        return await _finish(proc, mark, argv, timeout, max_output, start)
    finally:
        REAPER.owned.discard(proc.pid)
        asyncio.get_running_loop().call_soon(REAPER.sweep)


async def _finish(
    proc: asyncio.subprocess.Process,
    mark: str,
    argv: Sequence[str],
    timeout: float,  # noqa: ASYNC109 - see run_process
    max_output: int,
    start: float,
) -> CompletedRun:
    stdout, stderr = _Capture(max_output), _Capture(max_output)
    readers = asyncio.gather(stdout.drain(proc.stdout), stderr.drain(proc.stderr))
    try:
        timed_out = not await _exited(proc.pid, timeout)
    except asyncio.CancelledError:
        _kill_run(proc, mark)
        readers.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await readers
        await proc.wait()
        raise
    if timed_out:
        # A hung program and everything it started go, setsid or not. After a normal
        # exit nothing is killed: a program may detach a daemon on purpose (`setsid -f`).
        _kill_run(proc, mark)
    # A program it detached into a session of its own (setsid, a daemon) may still hold
    # the pipes open: read what is there for a moment, never wait for its end-of-file.
    cut_short = False
    grace = KILLED_OUTPUT_GRACE if timed_out else OUTPUT_GRACE
    try:
        await within(asyncio.shield(readers), grace)
    except TimeoutError:
        cut_short = True
        readers.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await readers
        transport = getattr(proc, "_transport", None)  # no public way to let go of the pipes
        if transport is not None:
            transport.close()
    await proc.wait()
    return CompletedRun(
        argv=tuple(argv),
        exit_code=None if timed_out else proc.returncode,
        stdout=stdout.data.decode("utf-8", "replace"),
        stderr=stderr.data.decode("utf-8", "replace"),
        timed_out=timed_out,
        duration=time.monotonic() - start,
        truncated=stdout.truncated or stderr.truncated or cut_short,
    )
