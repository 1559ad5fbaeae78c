"""What :func:`medic.logsetup.configure` installs: structlog's pipeline and the standard
library's handler.

Kept apart from :mod:`medic.logsetup` so that importing a module that logs costs
neither ``logging`` nor the redaction patterns: ``medic validate`` imports this only
when it writes a line.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any, TextIO

import structlog

from medic.logsetup import (
    LEVELS,
    PriorityPrefix,
    colour_wanted,
    prefixed,
    syslog_priority,
    under_journal,
)
from medic.redact import redact_processor


class PriorityFormatter(logging.Formatter):
    """The standard library's lines (aiohttp, asyncio) with the same prefix."""

    def format(self, record: logging.LogRecord) -> str:
        return prefixed(super().format(record), syslog_priority(record.levelno))


class MedicHandler(logging.StreamHandler[IO[str]]):
    """The standard-library handler this module installs (and replaces on reconfigure)."""


def apply(fmt: str, level: str, stream: TextIO | None) -> None:
    """Send every log line to ``stream`` (stderr) as ``fmt`` at ``level`` and above."""
    out = stream if stream is not None else sys.stderr
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=colour_wanted(out))
        if console
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    journal = under_journal(out)
    if journal:
        renderer = PriorityPrefix(renderer)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_processor,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        # Not cached: log lines are rare next to evaluations, and a cached logger would
        # keep an old configuration after a reconfigure (`medic run` configures twice).
        cache_logger_on_first_use=False,
    )
    # aiohttp and asyncio log through the standard library: send them the same way.
    handler = MedicHandler(out)
    text = "%(levelname)s %(name)s: %(message)s"
    handler.setFormatter(PriorityFormatter(text) if journal else logging.Formatter(text))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, MedicHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS.get(level, logging.INFO))
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
