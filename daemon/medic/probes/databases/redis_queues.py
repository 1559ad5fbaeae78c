"""Laravel-style job queues in Redis, for the ``redis`` probe's ``queues`` option.

Laravel keeps a queue ``emails`` as a list ``<prefix>emails`` of waiting jobs and two
sorted sets beside it: ``<prefix>emails:delayed`` (jobs due later) and
``<prefix>emails:reserved`` (jobs a worker has taken and not finished). The prefix is
``queues:`` plus the application's Redis prefix, if any (``laravel_database_`` by
default in older releases): ``laravel_database_queues:emails``. Each queue yields three
fields: ``queue_<name>``, ``queue_<name>_delayed``, ``queue_<name>_reserved`` (characters
outside ``[A-Za-z0-9_]`` become ``_``). A missing key counts 0; a key of another type
(not a list, not a sorted set) yields null rather than failing the other readings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the client library loads when a probe first runs (medic.lazy)
    import redis.asyncio as aioredis


DEFAULT_PREFIX = "queues:"
SETS = ("delayed", "reserved")
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")

QUEUE_OPTIONS: dict[str, Any] = {
    "queues": {
        "type": "array",
        "items": {"type": "string", "minLength": 1, "maxLength": 200},
        "minItems": 1,
        "maxItems": 100,
        "uniqueItems": True,
        "description": "Job queues (Laravel style) whose waiting, delayed and reserved "
        "jobs to count, as queue_<name>, queue_<name>_delayed, queue_<name>_reserved.",
    },
    "prefix": {
        "type": "string",
        "maxLength": 200,
        "description": "What precedes a queue's name in its key (default queues:; "
        "laravel_database_queues: with Laravel's default app prefix).",
    },
}


def queue_field(name: str) -> str:
    """``emails`` -> ``queue_emails``; ``high-priority`` -> ``queue_high_priority``."""
    return "queue_" + _UNSAFE.sub("_", name)


@dataclass(frozen=True)
class QueueSet:
    """The queues to read and the prefix of their keys."""

    names: tuple[str, ...] = ()
    prefix: str = DEFAULT_PREFIX

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> QueueSet:
        names = options.get("queues")
        prefix = options.get("prefix", DEFAULT_PREFIX)
        return cls(
            tuple(n for n in names if isinstance(n, str)) if isinstance(names, list) else (),
            prefix if isinstance(prefix, str) else DEFAULT_PREFIX,
        )

    def fields(self) -> list[str]:
        """Every field the queues yield, three per queue."""
        out: list[str] = []
        for name in self.names:
            base = queue_field(name)
            out.extend([base, *(f"{base}_{kind}" for kind in SETS)])
        return out

    async def read(self, client: aioredis.Redis) -> dict[str, int | None]:
        """One pipelined round trip: LLEN of each queue, ZCARD of its delayed and reserved."""
        if not self.names:
            return {}
        pipe = client.pipeline(transaction=False)
        for name in self.names:
            key = self.prefix + name
            pipe.llen(key)
            for kind in SETS:
                pipe.zcard(f"{key}:{kind}")
        answers = await pipe.execute(raise_on_error=False)
        return {
            field: int(value) if isinstance(value, int) else None  # WRONGTYPE: no length
            for field, value in zip(self.fields(), answers, strict=True)
        }


def queue_problems(options: Mapping[str, Any]) -> list[str]:
    """Queues whose fields collide (``a-b`` and ``a_b``), a prefix without queues."""
    problems: list[str] = []
    if "prefix" in options and "queues" not in options:
        problems.append("prefix applies to queues: name the queues, or drop prefix")
    seen: dict[str, str] = {}
    for name in QueueSet.from_options(options).names:
        field = queue_field(name)
        if field in seen:
            problems.append(
                f"queues {seen[field]!r} and {name!r} would both be field {field}; keep one"
            )
        seen[field] = name
    return problems
