"""The ``mysql.terminate`` action: kill the MySQL or MariaDB connections a runbook may recycle.

It selects client connections by user, command (default ``Sleep``: idle) and age,
oldest first, at most ``max`` per run, and ends each with ``KILL CONNECTION``. Whatever
the filter says it never touches the server's own threads (system users, replication,
the event scheduler), its own connection, or a connection of a user listed in
``PROTECTED_USERS``; each id is checked again against the process list right before
it is killed (same user, same command, still old enough), so an id that changed hands
in between is left alone. Query text is never read: the details list id, user,
command and age only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic import secrets
from medic.actions.base import Action, ActionContext, ActionResult, actions
from medic.drivers.mysql import (
    PROCESSLIST,
    USER_NAME,
    address,
    connect,
    connection_errors,
    is_system,
    rows,
)
from medic.durations import format_duration, parse_duration
from medic.lazy import lazy_module
from medic.option_schemas import duration, options_schema
from medic.redact import without_url_password

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

PROTECTED_USERS = ("root", "mysql", "debian-sys-maint")
COMMANDS = ("Sleep", "Query", "Connect")
_RECHECK = PROCESSLIST + " AND ID = %s AND USER = %s AND COMMAND = %s AND TIME >= %s"


@actions.register("mysql.terminate")
class MysqlTerminateAction(Action):
    """Kill client connections of MySQL or MariaDB by user, command and age (oldest first).

    ``users`` is required: name the application's users. ``command`` is ``Sleep``
    (idle, the default), ``Query`` or ``Connect``; ``older_than`` (required) is the least
    age. At most ``max`` (default 10) per run. System threads, Medic's own connection
    and root, mysql and debian-sys-maint are never killed.

    ```yaml
    version: 1
    policies:
      - name: laravel-idle-connections
        description: The queue workers leak idle connections; kill those idle for 5 minutes.
        probe: {type: mysql, dsn: {env: MYSQL_DSN}, users: [laravel]}
        when: idle > 50
        remediate:
          - mysql.terminate:
              dsn: {env: MYSQL_DSN}
              users: [laravel]
              command: Sleep
              older_than: 5m
              max: 40
        limits: {max: 6, per: 1h, cooldown: 5m}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "dsn": secrets.schema("The mysql:// DSN."),
            "users": {
                "type": "array",
                "items": USER_NAME,
                "minItems": 1,
                "maxItems": 50,
                "description": "Only these users' connections.",
            },
            "command": {"enum": list(COMMANDS), "description": "Default Sleep (idle)."},
            "older_than": duration("Kill only connections in this command for this long."),
            "max": {"type": "integer", "minimum": 1, "maximum": 500, "default": 10},
        },
        required=["dsn", "users", "older_than"],
    )

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        protected = [u for u in options.get("users", []) if u in PROTECTED_USERS]
        return [
            f"users: {u!r} is never terminated (a system or administrator account); "
            "name the application's users"
            for u in protected
        ]

    @property
    def command(self) -> str:
        return str(self.options.get("command", "Sleep"))

    @property
    def older_than(self) -> int:
        return int(parse_duration(self.options["older_than"]))

    def describe(self, ctx: ActionContext) -> str:
        users = ", ".join(self.options["users"])
        age = format_duration(self.older_than)
        return (
            f"would kill up to {self.options.get('max', 10)} {self.command} connections of "
            f"{users} older than {age} on {secrets.describe(self.options['dsn'])}"
        )

    async def run(self, ctx: ActionContext) -> ActionResult:
        try:
            dsn = secrets.resolve(self.options["dsn"])
        except secrets.SecretError as exc:
            return ActionResult(False, f"mysql dsn: {exc.message}", {"error": exc.message})
        server = address(dsn)
        details: dict[str, Any] = {"server": server, "killed": [], "command": self.command}
        try:
            async with asyncio.timeout(ctx.timeout):
                await self._kill(dsn, ctx.timeout, details)
        except TimeoutError:
            done = len(details["killed"])
            return ActionResult(False, f"timed out; {done} killed before that", details)
        except connection_errors() as exc:
            details["error"] = without_url_password(str(exc) or type(exc).__name__, dsn)
            return ActionResult(False, f"cannot kill on {server}: {details['error']}", details)
        killed = len(details["killed"])
        return ActionResult(
            True, f"killed {killed} {self.command} connections on {server}", details
        )

    async def _kill(self, dsn: str, seconds: float, details: dict[str, Any]) -> None:
        import pymysql

        users = [u for u in self.options["users"] if u not in PROTECTED_USERS]
        conn = await connect(dsn, seconds)
        try:
            found = [
                r
                for r in await rows(conn, PROCESSLIST)
                if not is_system(r)
                and r["USER"] in users
                and r["COMMAND"] == self.command
                and int(r["TIME"] or 0) >= self.older_than
            ]
            found.sort(key=lambda r: -int(r["TIME"] or 0))
            for row in found[: int(self.options.get("max", 10))]:
                again = await rows(
                    conn, _RECHECK, row["ID"], row["USER"], self.command, self.older_than
                )
                if not again:
                    continue  # it changed hands or woke up since the list was read
                try:
                    async with conn.cursor() as cur:
                        await cur.execute("KILL CONNECTION %s", (int(row["ID"]),))
                except pymysql.err.InternalError as exc:
                    if exc.args and exc.args[0] == 1094:  # unknown thread id: it ended itself
                        continue
                    raise
                details["killed"].append(
                    {"id": row["ID"], "user": row["USER"], "seconds": int(row["TIME"] or 0)}
                )
        finally:
            conn.close()
