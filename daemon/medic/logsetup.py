"""structlog, configured once: JSON lines when not on a terminal, readable lines when on one.

Every line carries the policy, target and incident bound in contextvars, and passes
through the redaction processor so secrets never reach a log.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from medic.redact import redact_processor

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def configure(fmt: str = "auto", level: str = "info") -> None:
    console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if console
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
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
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Not cached: log lines are rare next to evaluations, and a cached logger would
        # keep an old configuration after a reconfigure (`medic run` configures twice).
        cache_logger_on_first_use=False,
    )
    # aiohttp and asyncio log through the standard library: send them the same way.
    logging.basicConfig(
        level=LEVELS.get(level, logging.INFO),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
