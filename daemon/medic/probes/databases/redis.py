"""The ``redis`` probe: a Redis server's memory and clients, and the length of its queues.

One pipelined round trip reads ``INFO memory``, ``INFO clients``, ``INFO stats`` (the
keyspace hits and misses) and the ``TYPE`` of each key in ``lists``; a second one reads
the lengths (``LLEN`` for a list, ``XLEN`` for a stream, ``ZCARD``/``SCARD`` for the
sorted sets and sets that job queues keep scheduled and retried jobs in) and those of
the ``queues`` (:mod:`medic.probes.databases.redis_queues`). A missing key has length 0. Each key
becomes a field ``len_<key>`` with every character outside ``[A-Za-z0-9_]`` replaced by
``_``, so ``queue:default`` is ``len_queue_default``.

The client (named ``medic``) keeps one connection between runs and makes a new one
when that is lost. A server that is down or does not answer within the probe's
timeout yields ``reachable: false`` and ``error`` instead of failing the probe. A URL
may carry a password, so ``url`` is a secret reference; ``host``/``port`` are plain.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from medic import secrets
from medic.durations import format_duration
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, Probe, probes
from medic.probes.databases.redis_queues import QUEUE_OPTIONS, QueueSet, queue_problems
from medic.redact import without_url_password

if TYPE_CHECKING:
    import asyncio

    import redis.asyncio as aioredis
else:
    asyncio = lazy_module("asyncio")

CLIENT_NAME = "medic"
DEFAULT_PORT = 6379
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_LENGTH_COMMAND = {"list": "LLEN", "stream": "XLEN", "zset": "ZCARD", "set": "SCARD"}


def length_field(key: str) -> str:
    """The field that carries ``key``'s length: ``queue:default`` -> ``len_queue_default``."""
    return "len_" + _UNSAFE.sub("_", key)


def hit_rate(hits: int, misses: int) -> float | None:
    """Hits as a percentage of lookups (None before the first lookup)."""
    return round(hits / (hits + misses) * 100, 2) if hits + misses else None


def _keys(options: Mapping[str, Any]) -> list[str]:
    keys = options.get("lists")
    if not isinstance(keys, list):
        return []
    return [k for k in keys if isinstance(k, str)]


def with_db(url: str, db: int) -> str:
    """``url`` pointing at database ``db`` (the path of redis://, ``?db=`` of unix://)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        query["db"] = str(db)
        # Spelt out: urlunsplit would drop the empty host of unix:///path.
        return f"unix://{parts.netloc}{parts.path}?{urlencode(query)}"
    return parts._replace(path=f"/{db}").geturl()


def url_server(url: str) -> str:
    """``host:port`` (or the socket path) of a Redis URL, never its user or password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    hostspec = parts.netloc.rpartition("@")[2]
    if ":" in hostspec.rsplit("]", 1)[-1]:
        return unquote(hostspec)
    return f"{unquote(hostspec) or 'localhost'}:{DEFAULT_PORT}"


@probes.register("redis")
class RedisProbe(Probe):
    """Memory, clients and queue lengths of a Redis server.

    Give either ``url`` (a secret reference, since a URL may hold a password) or
    ``host`` and ``port`` (default 127.0.0.1:6379). ``memory_percent`` is
    ``used_memory`` over ``maxmemory``, null when no maxmemory is set. Each key in
    ``lists`` adds a field ``len_<key>`` (characters outside ``[A-Za-z0-9_]`` become
    ``_``): the length of a list, stream, sorted set or set, 0 when the key is missing,
    null for other types. ``hit_rate`` is ``keyspace_hits`` over all lookups since the
    server started, in percent. Each name in ``queues`` is a Laravel-style job queue
    under ``prefix`` (default ``queues:``; with an application prefix it is e.g.
    ``laravel_database_queues:``): ``queue_<name>`` is the length of the list
    ``<prefix><name>``, ``queue_<name>_delayed`` and ``queue_<name>_reserved`` the size of
    the sorted sets ``<prefix><name>:delayed`` and ``:reserved``.

    ```yaml
    version: 1
    policies:
      - name: jobs-backlog
        description: Page when the default job queue holds more than 5000 jobs.
        probe:
          type: redis
          url: {env: MEDIC_REDIS_URL}
          lists: ["queue:default"]
          every: 30s
        when: len_queue_default > 5000
        for: 10m
        escalate: {notify: [oncall]}
      - name: laravel-queue-backlog
        description: Page when Laravel's mail queue backs up.
        probe:
          type: redis
          host: 127.0.0.1
          queues: [default, emails]
          prefix: "laravel_database_queues:"
        when: queue_emails > 1000 or queue_emails_reserved > 50
        for: 5m
        escalate: {notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "url": secrets.schema("The redis://, rediss:// or unix:// URL."),
            "host": {"type": "string", "minLength": 1, "description": "Default 127.0.0.1."},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "6379."},
            "db": {"type": "integer", "minimum": 0, "description": "Database number for lists."},
            "lists": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "minItems": 1,
                "uniqueItems": True,
                "description": "Keys whose length to report, as len_<key>.",
            },
            **QUEUE_OPTIONS,
        },
    )
    fields = (
        Field("reachable", "boolean", "The server answered in time."),
        Field("error", "string", "Why it did not (null when reachable)."),
        Field("used_memory_bytes", "number", "Memory Redis has allocated.", "bytes"),
        Field("maxmemory_bytes", "number", "Configured maxmemory (0: no limit).", "bytes"),
        Field("memory_percent", "number", "used / maxmemory (null without one).", "percent"),
        Field("connected_clients", "number", "Client connections."),
        Field("blocked_clients", "number", "Clients waiting in a blocking call."),
        Field("keyspace_hits", "number", "Key lookups that found the key, since start."),
        Field("keyspace_misses", "number", "Key lookups that did not, since start."),
        Field("hit_rate", "number", "hits / (hits + misses) (null before any).", "percent"),
    )
    default_every: ClassVar[float] = 30.0
    default_timeout: ClassVar[float] = 5.0

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        problems: list[str] = []
        if "url" in options and ("host" in options or "port" in options):
            problems.append("give either url (a secret reference) or host and port, not both")
        seen: dict[str, str] = {}
        for key in _keys(options):
            name = length_field(key)
            if name in seen:
                problems.append(
                    f"lists {seen[name]!r} and {key!r} would both be field {name}; keep one of them"
                )
            seen[name] = key
        problems.extend(queue_problems(options))
        return problems

    @classmethod
    def option_fields(cls, options: Mapping[str, Any]) -> list[str]:
        return [length_field(k) for k in _keys(options)] + QueueSet.from_options(options).fields()

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.keys = _keys(options)
        self.queues = QueueSet.from_options(options)
        self._client: aioredis.Redis | None = None
        self._lock = asyncio.Lock()

    async def measure(self) -> Measurement:
        from redis.exceptions import RedisError  # the client library loads on first use

        url = self._url()
        timeout = self.timeout
        async with self._lock:
            try:
                async with asyncio.timeout(timeout):
                    values = await self._read(url, timeout)
            except TimeoutError:
                await self._drop()
                return self._unreachable(url, f"no answer within {format_duration(timeout)}")
            except (RedisError, OSError, ValueError) as exc:
                await self._drop()
                return self._unreachable(url, _scrub(str(exc) or type(exc).__name__, url))
        return {url_server(url): values}

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    def _url(self) -> str:
        """The URL to use: the secret, or one made of host and port; with ``db`` applied."""
        if "url" in self.options:
            try:
                url = secrets.resolve(self.options["url"])
            except secrets.SecretError as exc:
                raise ProbeError(f"redis url: {exc.message}", hint=exc.hint) from exc
        else:
            host = self.options.get("host", "127.0.0.1")
            host = f"[{host}]" if ":" in host else host
            url = f"redis://{host}:{self.options.get('port', DEFAULT_PORT)}"
        if "db" in self.options:
            url = with_db(url, int(self.options["db"]))
        return url

    async def _read(self, url: str, seconds: float) -> dict[str, Any]:
        if self._client is None:
            import redis.asyncio as aioredis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            self._client = aioredis.Redis.from_url(
                url,
                socket_timeout=seconds,
                socket_connect_timeout=seconds,
                retry=Retry(NoBackoff(), 0),  # the next run is the retry
                client_name=CLIENT_NAME,
                decode_responses=True,
            )
        pipe = self._client.pipeline(transaction=False)
        pipe.info("memory")
        pipe.info("clients")
        pipe.info("stats")
        for key in self.keys:
            pipe.type(key)
        memory, clients, stats, *types = await pipe.execute()
        lengths = await self._lengths(types)
        hits, misses = int(stats["keyspace_hits"]), int(stats["keyspace_misses"])
        used, limit = int(memory["used_memory"]), int(memory["maxmemory"])
        values: dict[str, Any] = {
            "reachable": True,
            "error": None,
            "used_memory_bytes": used,
            "maxmemory_bytes": limit,
            "memory_percent": round(used / limit * 100, 2) if limit else None,
            "connected_clients": int(clients["connected_clients"]),
            "blocked_clients": int(clients["blocked_clients"]),
            "keyspace_hits": hits,
            "keyspace_misses": misses,
            "hit_rate": hit_rate(hits, misses),
        }
        values.update({length_field(k): lengths[k] for k in self.keys})
        values.update(await self.queues.read(self._client))
        return values

    async def _lengths(self, types: list[str]) -> dict[str, int | None]:
        """Each key's length by its type: 0 when missing, None for a type with no length."""
        lengths: dict[str, int | None] = {}
        asks: list[str] = []
        assert self._client is not None
        pipe = self._client.pipeline(transaction=False)
        for key, kind in zip(self.keys, types, strict=True):
            if kind in _LENGTH_COMMAND:
                pipe.execute_command(_LENGTH_COMMAND[kind], key)
                asks.append(key)
            else:
                lengths[key] = 0 if kind == "none" else None
        if asks:
            for key, length in zip(asks, await pipe.execute(), strict=True):
                lengths[key] = int(length)
        return lengths

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            # Bounded: the run's timeout may already be spent when this is called.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(0.25):
                    await client.aclose()

    def _unreachable(self, url: str, error: str) -> Measurement:
        values: dict[str, Any] = {f.name: None for f in self.fields}
        values.update({length_field(k): None for k in self.keys})
        values.update(dict.fromkeys(self.queues.fields()))
        values.update(reachable=False, error=error)
        return {url_server(url): values}


def _scrub(text: str, url: str) -> str:
    """The first line of ``text``, without the URL's password or any other secret."""
    return without_url_password(text.strip().splitlines()[0] if text.strip() else text, url)
