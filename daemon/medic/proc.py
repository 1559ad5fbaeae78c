"""Run a child program with a hard timeout that kills its whole process group.

Used by every probe and action that starts a program. The child gets its own session
(so its own process group); on timeout or cancellation the group is sent SIGKILL, so
a hung check and anything it forked are gone, not orphaned. A program that exits on
its own may leave a detached daemon behind on purpose; that is not killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_OUTPUT = 16 * 1024
# How long to keep reading output after the child exited (descendants may hold the pipe).
OUTPUT_GRACE = 0.5


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
        await asyncio.wait_for(done, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


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
    full_env = None if env is None else {**os.environ, **env}
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=full_env,
        cwd=cwd,
        start_new_session=True,
    )
    stdout, stderr = _Capture(max_output), _Capture(max_output)
    readers = asyncio.gather(stdout.drain(proc.stdout), stderr.drain(proc.stderr))
    try:
        timed_out = not await _exited(proc.pid, timeout)
    except asyncio.CancelledError:
        _kill_group(proc)
        readers.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await readers
        await proc.wait()
        raise
    if timed_out:
        # A hung program and everything it forked go. After a normal exit the group is
        # left alone: a program that detaches a daemon (`setsid -f`, a double fork) is
        # still in the group until its child calls setsid(), and must not be killed.
        _kill_group(proc)
    # A program it detached into a session of its own (setsid, a daemon) may still hold
    # the pipes open: read what is there for a moment, never wait for its end-of-file.
    cut_short = False
    try:
        await asyncio.wait_for(asyncio.shield(readers), OUTPUT_GRACE)
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
