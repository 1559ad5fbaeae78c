"""Run a child program with a hard timeout that kills its whole process group.

Used by every probe and action that starts a program. The child gets its own session
(so its own process group); on timeout or cancellation the group is sent SIGKILL, so
a hung check and anything it forked are gone, not orphaned.
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


async def _read_capped(stream: asyncio.StreamReader | None, cap: int) -> tuple[bytes, bool]:
    """Read a stream to its end, keeping at most ``cap`` bytes."""
    if stream is None:
        return b"", False
    kept = bytearray()
    truncated = False
    while chunk := await stream.read(65536):
        room = cap - len(kept)
        if room > 0:
            kept += chunk[:room]
        if len(chunk) > room:
            truncated = True
    return bytes(kept), truncated


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


async def run_process(
    argv: Sequence[str],
    *,
    timeout: float,
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
    readers = asyncio.gather(
        _read_capped(proc.stdout, max_output), _read_capped(proc.stderr, max_output)
    )
    timed_out = False
    try:
        (out, out_cut), (err, err_cut) = await asyncio.wait_for(readers, timeout)
        await asyncio.wait_for(proc.wait(), max(0.1, timeout - (time.monotonic() - start)))
    except TimeoutError:
        timed_out = True
        _kill_group(proc)
        readers.cancel()
        out, err, out_cut, err_cut = b"", b"", False, False
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await readers
        await proc.wait()
    except asyncio.CancelledError:
        _kill_group(proc)
        readers.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await readers
        await proc.wait()
        raise
    # Anything the child left running in its group goes with it.
    _kill_group(proc)
    return CompletedRun(
        argv=tuple(argv),
        exit_code=None if timed_out else proc.returncode,
        stdout=out.decode("utf-8", "replace"),
        stderr=err.decode("utf-8", "replace"),
        timed_out=timed_out,
        duration=time.monotonic() - start,
        truncated=out_cut or err_cut,
    )
