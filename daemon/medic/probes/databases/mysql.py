"""The ``mysql`` probe: a MySQL or MariaDB server's connections, status counters and lag.

One connection per run (aiomysql; MariaDB keeps one connection beyond
``max_connections`` for CONNECTION ADMIN users, so give Medic's user that privilege and
it still logs in when the pool is full). It reads ``@@max_connections``, the process
list (client connections by command and time, leaving out system threads and its own
connection), the ``SHOW GLOBAL STATUS`` values the policy names, and the replication
lag when the server is a replica. The DSN (``mysql://user:password@host:port/db``) is
a secret reference resolved at each run; only ``host:port`` is ever reported. A server
that is down, refuses the login or does not answer yields ``reachable: false`` and
``error``, not a probe failure. It connects with
:mod:`medic.drivers.mysql`, as the ``mysql.terminate`` action does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from medic import secrets
from medic.drivers.mysql import (
    PROCESSLIST,
    USER_NAME,
    address,
    connect,
    connection_errors,
    is_system,
    rows,
)
from medic.errors import ProbeError
from medic.lazy import lazy_module
from medic.option_schemas import options_schema
from medic.probes.base import Field, Measurement, Probe, probes
from medic.redact import without_url_password

if TYPE_CHECKING:
    import asyncio
else:
    asyncio = lazy_module("asyncio")

ACCESS_DENIED = 1227  # ER_SPECIFIC_ACCESS_DENIED_ERROR
STATUS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


@probes.register("mysql")
class MysqlProbe(Probe):
    """Watch a MySQL or MariaDB server: connections by command and age, status counters, lag.

    ``users`` counts only those users' connections. ``status`` names ``SHOW GLOBAL
    STATUS`` variables to yield as fields ``status_<name>`` in lowercase
    (``Threads_running`` -> ``status_threads_running``). ``replication_lag_seconds`` is
    null unless the server is a replica (and Medic's user holds REPLICA MONITOR or
    REPLICATION CLIENT, else it stays null).

    ```yaml
    version: 1
    policies:
      - name: mysql-idle-connections
        description: Kill the app's connections idle for over 10 minutes when the pool fills.
        probe:
          type: mysql
          dsn: {env: MYSQL_DSN}
          status: [Threads_running, Aborted_connects]
          every: 30s
        when: percent_used > 80 and longest_idle_seconds > 600
        remediate:
          - mysql.terminate: {dsn: {env: MYSQL_DSN}, users: [app], older_than: 10m}
        limits: {max: 3, per: 1h, cooldown: 5m}
    ```
    """

    schema: ClassVar[dict[str, Any]] = options_schema(
        {
            "dsn": secrets.schema("The mysql:// DSN."),
            "users": {
                "type": "array",
                "items": USER_NAME,
                "maxItems": 50,
                "description": "Count only these users' connections (default: all clients).",
            },
            "status": {
                "type": "array",
                "items": {"type": "string", "pattern": STATUS_NAME.pattern},
                "maxItems": 50,
                "uniqueItems": True,
                "description": "SHOW GLOBAL STATUS variables to yield as status_<name>.",
            },
        },
        required=["dsn"],
    )
    fields: ClassVar[tuple[Field, ...]] = (
        Field("reachable", "boolean", "The server answered in time."),
        Field("error", "string", "Why it was not reachable (null when it was)."),
        Field("connections", "number", "Client connections (system threads and Medic's left out)."),
        Field("max_connections", "number", "The server's max_connections."),
        Field("percent_used", "number", "connections / max_connections.", "%"),
        Field("active", "number", "Connections running a command (not Sleep)."),
        Field("idle", "number", "Connections in Sleep."),
        Field("longest_idle_seconds", "number", "The longest Sleep.", "s"),
        Field("longest_query_seconds", "number", "The longest running Query.", "s"),
        Field("replication_lag_seconds", "number", "Seconds behind the primary (replicas).", "s"),
    )
    default_every = 30.0
    default_timeout = 10.0

    @classmethod
    def option_fields(cls, options: Mapping[str, Any]) -> list[str]:
        return [f"status_{name.lower()}" for name in options.get("status", [])]

    async def measure(self) -> Measurement:
        try:
            dsn = secrets.resolve(self.options["dsn"])
        except secrets.SecretError as exc:
            raise ProbeError(f"mysql dsn: {exc.message}", hint=exc.hint) from exc
        timeout = self.timeout
        try:
            async with asyncio.timeout(timeout):
                return {address(dsn): await self._read(dsn, timeout)}
        except TimeoutError:
            error = f"no answer within {timeout:g}s"
        except connection_errors() as exc:
            error = without_url_password(str(exc) or type(exc).__name__, dsn)
        empty = dict.fromkeys(self.field_names() + self.option_fields(self.options))
        return {address(dsn): {**empty, "reachable": False, "error": error}}

    async def _read(self, dsn: str, seconds: float) -> dict[str, Any]:
        conn = await connect(dsn, seconds)
        try:
            (limit,) = await rows(conn, "SELECT @@max_connections AS m")
            clients = [r for r in await rows(conn, PROCESSLIST) if not is_system(r)]
            status = {
                r["Variable_name"].lower(): r["Value"]
                for r in await rows(conn, "SHOW GLOBAL STATUS")
            }
            replica = await _replica(conn)
        finally:
            conn.close()
        users = self.options.get("users")
        if users:
            clients = [r for r in clients if r["USER"] in users]
        idle = [int(r["TIME"] or 0) for r in clients if r["COMMAND"] == "Sleep"]
        queries = [int(r["TIME"] or 0) for r in clients if r["COMMAND"] == "Query"]
        maximum = int(limit["m"])
        lag = replica[0].get("Seconds_Behind_Master") if replica else None
        fields: dict[str, Any] = {
            "reachable": True,
            "error": None,
            "connections": len(clients),
            "max_connections": maximum,
            "percent_used": round(100.0 * len(clients) / maximum, 2) if maximum else 0.0,
            "active": len(clients) - len(idle),
            "idle": len(idle),
            "longest_idle_seconds": max(idle, default=0),
            "longest_query_seconds": max(queries, default=0),
            "replication_lag_seconds": None if lag is None else int(lag),
        }
        for name in self.options.get("status", []):
            fields[f"status_{name.lower()}"] = _number(status.get(name.lower()))
        return fields


async def _replica(conn: Any) -> list[dict[str, Any]]:
    """The replica status rows; none when the user may not see them (lag is then null)."""
    import pymysql

    try:
        return await rows(conn, "SHOW SLAVE STATUS")
    except pymysql.err.OperationalError as exc:
        if exc.args and exc.args[0] == ACCESS_DENIED:
            return []
        raise


def _number(value: Any) -> Any:
    """A status value as a number when it is one (they arrive as text)."""
    if value is None:
        return None
    try:
        return float(value) if "." in str(value) else int(value)
    except ValueError:
        return str(value)
