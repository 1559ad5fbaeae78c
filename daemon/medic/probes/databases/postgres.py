"""The ``postgres`` probe: how full a PostgreSQL server's connection pool is, and what holds it.

One query per run counts client connections by state and finds the longest
transaction, query and idle-in-transaction spell, per server, database, user or
application. The DSN is a secret reference resolved at each run; only its
``host:port`` is ever reported. Each policy keeps ONE connection (application_name
``medic``) and reconnects when it is lost: a full pool refuses new logins, exactly
when the policy must still see it. A server that is down, refuses the login or does
not answer in time yields ``reachable: false`` and ``error``, not a probe failure.
It connects with :mod:`medic.drivers.postgres`, as the ``postgres.terminate`` action does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic import secrets
from medic.drivers.postgres import connect, connection_errors, describe_error, server_name
from medic.durations import format_duration
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, Probe, probes

if TYPE_CHECKING:
    import asyncio

    import asyncpg
else:
    asyncio = lazy_module("asyncio")

GROUPS = ("none", "database", "user", "application")


# One round trip: the settings joined to one row per group of client connections (a
# single row with a null group when there are none).
# $1 group key, $2 true to count Medic's own connections, $3 database filter or null.
_QUERY = """
SELECT current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS reserved,
       array(SELECT datname FROM pg_database
             WHERE datallowconn AND NOT datistemplate ORDER BY 1) AS databases,
       a.*
FROM (SELECT 1) one LEFT JOIN (
    SELECT coalesce(CASE $1::text WHEN 'database' THEN datname
                                  WHEN 'user' THEN usename
                                  WHEN 'application' THEN application_name END, '') AS grp,
           count(*) AS connections,
           count(*) FILTER (WHERE state = 'active') AS active,
           count(*) FILTER (WHERE state = 'idle') AS idle,
           count(*) FILTER (WHERE state LIKE 'idle in transaction%') AS idle_in_transaction,
           count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting,
           greatest(0, max(extract(epoch FROM clock_timestamp() - xact_start)))::float8
               AS longest_transaction,
           greatest(0, max(extract(epoch FROM clock_timestamp() - query_start))
                    FILTER (WHERE state = 'active'))::float8 AS longest_query,
           greatest(0, max(extract(epoch FROM clock_timestamp() - state_change))
                    FILTER (WHERE state LIKE 'idle in transaction%'))::float8 AS longest_idle_tx
    FROM pg_stat_activity
    WHERE backend_type = 'client backend'
      AND ($2::bool OR application_name IS DISTINCT FROM 'medic')
      AND ($3::text[] IS NULL OR datname = ANY($3::text[]))
    GROUP BY 1
) a ON true
"""


@probes.register("postgres")
class PostgresProbe(Probe):
    """Connection-pool use and the oldest transactions of a PostgreSQL server.

    ``percent_used`` is client connections over the slots ordinary roles may use
    (``max_connections - superuser_reserved_connections``). Only client backends
    count (not autovacuum, walsenders); Medic's own connections (application_name
    ``medic``) are left out unless ``exclude_self: false``. Give the DSN's role
    ``pg_monitor``, or it sees other roles' sessions without their state. ``group_by``
    yields one target per database (every database that accepts connections, or the
    ``databases`` listed), user or application instead of one per server; when the
    server is unreachable the targets last seen report ``reachable: false``.

    ```yaml
    version: 1
    policies:
      - name: app-db-pool-exhausted
        description: Recycle the app's idle connections when the pool is 90 % used.
        probe:
          type: postgres
          dsn: {env: MEDIC_PG_DSN}
          every: 30s
        when: percent_used > 90
        for: 1m
        remediate:
          - postgres.terminate:
              dsn: {env: MEDIC_PG_DSN}
              state: [idle]
              older_than: 5m
              application_name: app
        verify: {after: 30s}
        limits: {max: 2, per: 1h, cooldown: 10m}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "dsn": secrets.schema("The postgresql:// DSN."),
            "group_by": {
                "enum": list(GROUPS),
                "description": "One target per server (none, default), database, user "
                "or application.",
            },
            "databases": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "minItems": 1,
                "description": "Count only connections to these databases.",
            },
            "exclude_self": {
                "type": "boolean",
                "description": "Leave out Medic's own connections (default true).",
            },
        },
        required=["dsn"],
    )
    fields = (
        Field("reachable", "boolean", "The server answered the query in time."),
        Field("error", "string", "Why it did not (null when reachable)."),
        Field("connections", "number", "Client connections (all states)."),
        Field("active", "number", "Connections running a query."),
        Field("idle", "number", "Connections waiting for a command."),
        Field("idle_in_transaction", "number", "Connections idle inside a transaction."),
        Field("waiting", "number", "Connections waiting for a lock."),
        Field("max_connections", "number", "The server's max_connections."),
        Field("percent_used", "number", "connections / (max - superuser reserved).", "percent"),
        Field("longest_transaction_seconds", "number", "Oldest open transaction.", "seconds"),
        Field("longest_query_seconds", "number", "Longest running query.", "seconds"),
        Field(
            "longest_idle_in_transaction_seconds",
            "number",
            "Longest spell idle inside a transaction.",
            "seconds",
        ),
    )
    default_every: ClassVar[float] = 30.0
    default_timeout: ClassVar[float] = 5.0

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        super().__init__(options, timeout=timeout)
        self.group_by: str = options.get("group_by", "none")
        self.databases: list[str] | None = options.get("databases")
        self.exclude_self: bool = options.get("exclude_self", True)
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._seen: list[str] = []

    async def measure(self) -> Measurement:
        try:
            dsn = secrets.resolve(self.options["dsn"])
        except secrets.SecretError as exc:  # configuration, not an outage
            raise ProbeError(f"postgres dsn: {exc.message}", hint=exc.hint) from exc
        timeout = self.timeout
        async with self._lock:
            try:
                async with asyncio.timeout(timeout):
                    rows = await self._query(dsn, timeout)
            except TimeoutError:
                await self._drop()
                return self._unreachable(dsn, f"no answer within {format_duration(timeout)}")
            except connection_errors() as exc:
                await self._drop()
                return self._unreachable(dsn, describe_error(exc, dsn))
        result = self._fields(dsn, rows)
        self._seen = list(result)
        return result

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def _query(self, dsn: str, seconds: float) -> list[Any]:
        """The query's rows, on the kept connection or, once that is lost, a new one."""
        reused = self._conn is not None and not self._conn.is_closed()
        if not reused:
            await self._drop()
            self._conn = await connect(dsn, seconds)
        try:
            return await self._fetch()
        except Exception:
            # Whatever a kept connection fails with (asyncpg may only find out that the
            # server ended it mid-call, as an internal error), one new one is tried.
            if not reused:
                raise
        # The kept connection died since the last run (server restart, terminated).
        await self._drop()
        self._conn = await connect(dsn, seconds)
        return await self._fetch()

    async def _fetch(self) -> list[Any]:
        assert self._conn is not None
        group = None if self.group_by == "none" else self.group_by
        return list(await self._conn.fetch(_QUERY, group, not self.exclude_self, self.databases))

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()  # no goodbye round trip: the server may be the problem

    def _unreachable(self, dsn: str, error: str) -> Measurement:
        values: dict[str, Any] = {f.name: None for f in self.fields}
        values.update(reachable=False, error=error)
        targets = self._seen if self.group_by != "none" and self._seen else [server_name(dsn)]
        return {target: dict(values) for target in targets}

    def _fields(self, dsn: str, rows: list[Any]) -> Measurement:
        settings, rows = rows[0], [r for r in rows if r["grp"] is not None]
        max_connections = int(settings["max_connections"])
        usable = max(1, max_connections - int(settings["reserved"]))
        if self.group_by == "none":
            groups: dict[str, list[Any]] = {server_name(dsn): rows}
        else:
            groups = {}
            if self.group_by == "database":
                for name in self.databases or settings["databases"]:
                    groups[name] = []
            for row in rows:
                groups.setdefault(row["grp"] or "(none)", []).append(row)
        return {
            target: _summary(members, max_connections, usable) for target, members in groups.items()
        }


def _summary(rows: list[Any], max_connections: int, usable: int) -> dict[str, Any]:
    """One target's fields from its activity rows (several when a server is summed)."""

    def total(key: str) -> int:
        return sum(int(r[key]) for r in rows)

    def longest(key: str) -> float:
        return round(max((float(r[key]) for r in rows), default=0.0), 3)

    counts = {k: total(k) for k in ("connections", "active", "idle", "idle_in_transaction")}
    return {
        "reachable": True,
        "error": None,
        **counts,
        "waiting": total("waiting"),
        "max_connections": max_connections,
        "percent_used": round(counts["connections"] / usable * 100, 2),
        "longest_transaction_seconds": longest("longest_transaction"),
        "longest_query_seconds": longest("longest_query"),
        "longest_idle_in_transaction_seconds": longest("longest_idle_tx"),
    }
