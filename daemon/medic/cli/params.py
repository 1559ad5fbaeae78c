"""Click option types for times, durations and counts, held within :mod:`medic.bounds`.

Each converts with the same helper the API uses, so ``--since 2932896d`` or
``--limit 1e9`` is a one-line usage error naming the option (exit status 2), never a
traceback from ``datetime`` or SQLite further on.
"""

from __future__ import annotations

import time
from typing import Any

import click

from medic import bounds
from medic.cli.output import wants_local
from medic.clock import iso


class When(click.ParamType[float, Any]):
    """A moment: a duration ago (``24h``), an ISO time (UTC if bare), ``today`` or
    ``yesterday`` (UTC days, or local ones with ``--local``)."""

    name = "when"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            return bounds.when(str(value), time.time(), local=wants_local(ctx))
        except bounds.OutOfBounds as exc:
            self.fail(str(exc), param, ctx)


class Moment(click.ParamType[str, Any]):
    """An ISO time from 2000 to 2100, given back as ISO text in UTC (for the API)."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return iso(bounds.moment(str(value)))
        except bounds.OutOfBounds as exc:
            self.fail(str(exc), param, ctx)


class Duration(click.ParamType[float, Any]):
    """A duration like ``30m`` or ``2h``, in seconds, at most ``maximum``."""

    name = "duration"

    def __init__(self, maximum: float = bounds.MAX_DURATION) -> None:
        self.maximum = maximum

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            return bounds.duration(str(value), maximum=self.maximum)
        except bounds.OutOfBounds as exc:
            self.fail(str(exc), param, ctx)


class Count(click.ParamType[int, Any]):
    """A whole number from ``minimum`` to ``maximum``."""

    name = "integer"

    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return bounds.whole(value, minimum=self.minimum, maximum=self.maximum)
        except bounds.OutOfBounds as exc:
            self.fail(str(exc), param, ctx)
