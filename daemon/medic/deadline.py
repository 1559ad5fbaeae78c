"""Awaiting something under a deadline without ever losing a cancellation.

On Python 3.11, ``asyncio.wait_for`` runs the awaited coroutine as a task of its own;
when a cancellation reaches the waiter just as that task finishes, ``wait_for``
returns the result and the cancellation is gone. A runner stopped at that instant
goes on probing forever and the agent's stop never returns. ``asyncio.timeout`` runs
the coroutine in the caller's own task, so a cancellation always arrives. Medic
awaits probes, actions and programs with :func:`within` (a test keeps
``asyncio.wait_for`` out of the code).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from medic.lazy import lazy_module

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """The result of ``awaitable``; TimeoutError once ``seconds`` have passed."""
    async with asyncio.timeout(seconds):
        return await awaitable
