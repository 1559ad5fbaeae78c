"""FIFOs for tests of code that must never block on one.

:func:`outcome_within` runs a call in a daemon thread and fails the test when it has
not returned in time, instead of hanging the suite; it then opens the FIFO for writing
and closes it, so the stuck reader sees the end of the file and its thread ends.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SECONDS = 5.0


def make_fifo(path: Path) -> Path:
    """A FIFO at ``path`` with no writer: opening it for reading blocks."""
    os.mkfifo(path)
    return path


def _release(fifo: Path) -> None:
    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def outcome_within(call: Callable[[], Any], fifo: Path, seconds: float = SECONDS) -> Any:
    """What ``call()`` returned or raised (the exception object), failing the test when
    it is still blocked after ``seconds``."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # handed to the test to inspect
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        for _ in range(50):
            _release(fifo)
            thread.join(0.1)
            if not thread.is_alive():
                break
        pytest.fail(f"the call blocked on the FIFO {fifo} for {seconds:g}s")
    return box[0]
