"""The ``postgres.terminate`` action: end the connections a runbook says may be recycled.

It selects client connections by state and age (and optionally application, user and
database), oldest first, at most ``max`` per run, and ends each with
``pg_terminate_backend``. Whatever the filter says, it never touches a superuser's
session, a replication or background process, its own connection or any connection
of application ``medic``; those rules are checked again, in the same statement, at
the moment each backend is terminated, so a pid that changed hands in between is
left alone. Query text is never read: it may hold secrets, so the details list pid,
user, application, database, state and age only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from medic import secrets
from medic.actions.base import Action, ActionContext, ActionResult, actions
from medic.drivers.postgres import (
    connect,
    connection_errors,
    describe_error,
    server_name,
)
from medic.durations import format_duration, parse_duration
from medic.lazy import lazy_module
from medic.option_schemas import duration, options_schema

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

STATES = ("idle", "idle in transaction", "active")
DEFAULT_MAX = 10
_FILTERS = (("application_name", "application"), ("user", "user"), ("database", "database"))

# Both statements repeat the rules for what may never be terminated, whatever the
# policy says: only client backends, not this session, not application medic, not a
# superuser (nor a role that cannot be looked up). Ages count from the start of the
# query when active, from the last state change otherwise.
# $1 states, $2 older than (seconds), $3 applications, $4 users, $5 databases, $6 max.
_CANDIDATES = """
SELECT pid, usename, application_name, datname, state, age FROM (
    SELECT a.*, extract(epoch FROM clock_timestamp() - CASE WHEN a.state = 'active'
                THEN a.query_start ELSE a.state_change END)::float8 AS age
    FROM pg_stat_activity a
    WHERE a.backend_type = 'client backend'
      AND a.pid <> pg_backend_pid()
      AND a.application_name IS DISTINCT FROM 'medic'
      AND NOT coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.oid = a.usesysid), true)
) c
WHERE state = ANY($1::text[])
  AND age >= $2::float8
  AND ($3::text[] IS NULL OR application_name = ANY($3::text[]))
  AND ($4::text[] IS NULL OR usename = ANY($4::text[]))
  AND ($5::text[] IS NULL OR datname = ANY($5::text[]))
ORDER BY age DESC
LIMIT $6
"""
# No row when the pid is gone or no longer allowed; else whether the signal was sent.
_TERMINATE = """
SELECT pg_terminate_backend(a.pid)
FROM pg_stat_activity a
WHERE a.pid = $1
  AND a.backend_type = 'client backend'
  AND a.pid <> pg_backend_pid()
  AND a.application_name IS DISTINCT FROM 'medic'
  AND NOT coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.oid = a.usesysid), true)
"""


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


@actions.register("postgres.terminate")
class PostgresTerminateAction(Action):
    """End idle, idle-in-transaction or long-running connections with pg_terminate_backend.

    ``state`` and ``older_than`` are required: idle connections count their age from
    their last state change, active ones from the start of their query.
    ``idle in transaction`` includes the aborted kind. ``application_name``, ``user``
    and ``database`` narrow the choice (one name or a list); ``max`` caps how many end
    per run (default 10), oldest first. Never terminated: superusers, replication and
    background processes, Medic's own connections. The DSN's role needs
    ``pg_signal_backend`` (and ``pg_monitor`` to see other roles' states). Query text
    is never read or recorded, since it may hold secrets.

    ```yaml
    version: 1
    policies:
      - name: app-db-idle-connections
        description: Kill the app's idle connections older than 5 minutes when the pool fills.
        probe: {type: postgres, dsn: {env: MEDIC_PG_DSN}, every: 30s}
        when: percent_used > 80
        for: 2m
        remediate:
          - postgres.terminate:
              dsn: {env: MEDIC_PG_DSN}
              state: [idle]
              older_than: 5m
              application_name: [app, app-worker]
              max: 20
              timeout: 30s
        verify: {after: 30s}
        limits: {max: 2, per: 1h, cooldown: 10m}
        escalate: {after_failures: 1, notify: [oncall]}
    ```
    """

    _names_schema: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {"type": "string", "minLength": 1},
            {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        ]
    }
    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "dsn": secrets.schema("The postgresql:// DSN."),
            "state": {
                "type": "array",
                "items": {"enum": list(STATES)},
                "minItems": 1,
                "uniqueItems": True,
                "description": "Which connections: idle, idle in transaction, active.",
            },
            "older_than": duration("Only connections in that state at least this long."),
            "application_name": {**_names_schema, "description": "Only these applications."},
            "user": {**_names_schema, "description": "Only connections of these roles."},
            "database": {**_names_schema, "description": "Only connections to these databases."},
            "max": {
                "type": "integer",
                "minimum": 1,
                "description": f"At most this many per run (default {DEFAULT_MAX}).",
            },
        },
        required=["dsn", "state", "older_than"],
    )
    default_timeout: ClassVar[float] = 30.0

    @property
    def older_than(self) -> float:
        return parse_duration(self.options["older_than"])

    @property
    def limit(self) -> int:
        return int(self.options.get("max", DEFAULT_MAX))

    def _filter_text(self) -> str:
        states = " or ".join(self.options["state"])
        text = f"{states} for {format_duration(self.older_than)} or more"
        for key, label in _FILTERS:
            names = _names(self.options.get(key))
            if names:
                text += f", {label} {', '.join(names)}"
        return text

    def describe(self, ctx: ActionContext) -> str:
        # The filter, not a live list: describing must not touch the database.
        return (
            f"terminate up to {self.limit} connections ({self._filter_text()}) "
            f"on the server of {secrets.describe(self.options['dsn'])}; never superusers, "
            "replication or background processes, or medic's own"
        )

    async def run(self, ctx: ActionContext) -> ActionResult:
        try:
            dsn = secrets.resolve(self.options["dsn"])
        except secrets.SecretError as exc:
            return ActionResult(False, f"postgres dsn: {exc.message}", {"error": exc.message})
        server = server_name(dsn)
        details: dict[str, Any] = {
            "server": server,
            "filter": self._filter_text(),
            "max": self.limit,
            "terminated": [],
            "query_text": "omitted: it may hold secrets",
        }
        try:
            async with asyncio.timeout(ctx.timeout):
                await self._terminate(dsn, ctx.timeout, details)
        except TimeoutError:
            details["timed_out"] = True
            done = len(details["terminated"])
            summary = f"timed out after {format_duration(ctx.timeout)} on {server}"
            return ActionResult(False, f"{summary}; {done} terminated before that", details)
        except connection_errors() as exc:
            details["error"] = describe_error(exc, dsn)
            return ActionResult(False, f"cannot terminate on {server}: {details['error']}", details)
        return self._result(server, details)

    async def _terminate(self, dsn: str, seconds: float, details: dict[str, Any]) -> None:
        """Find the candidates, then end each one, re-checking the never-rules per pid."""
        import asyncpg

        states = list(self.options["state"])
        if "idle in transaction" in states:
            states.append("idle in transaction (aborted)")
        conn = await connect(dsn, seconds)
        try:
            rows = await conn.fetch(
                _CANDIDATES,
                states,
                self.older_than,
                *(_names(self.options.get(key)) for key, _ in _FILTERS),
                self.limit,
            )
            details["matched"] = len(rows)
            for row in rows:
                entry = {
                    "pid": row["pid"],
                    "user": row["usename"],
                    "application": row["application_name"],
                    "database": row["datname"],
                    "state": row["state"],
                    "age_seconds": round(float(row["age"]), 1),
                }
                try:
                    sent = await conn.fetchval(_TERMINATE, row["pid"])
                except asyncpg.PostgresError as exc:  # e.g. lacking pg_signal_backend
                    error = describe_error(exc, dsn)
                    details.setdefault("failed", []).append({**entry, "error": error})
                    continue
                if sent:
                    details["terminated"].append(entry)
                else:
                    details.setdefault("skipped", []).append(entry)
        except BaseException:
            conn.terminate()  # cut at once: the timeout or the server is the problem
            raise
        await conn.close(timeout=min(seconds, 1.0))

    def _result(self, server: str, details: Mapping[str, Any]) -> ActionResult:
        done, failed = len(details["terminated"]), len(details.get("failed", []))
        if failed:
            reason = details["failed"][0]["error"]
            return ActionResult(
                False, f"terminated {done}, failed {failed} on {server}: {reason}", details
            )
        if not details.get("matched"):
            return ActionResult(
                True, f"no connection on {server} matched ({self._filter_text()})", details
            )
        pids = ", ".join(str(e["pid"]) for e in details["terminated"])
        return ActionResult(
            True, f"terminated {done} connections on {server}: pids {pids}", details
        )
