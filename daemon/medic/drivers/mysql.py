"""MySQL and MariaDB connections, shared by the ``mysql`` probe and the
``mysql.terminate`` action: connect from a ``mysql://`` DSN, read the process list
without the server's own threads, name the server by ``host:port`` only (errors go
through ``medic.redact.without_url_password``). aiomysql and pymysql load on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

# Threads that are the server's own, never clients: not counted, never killed.
SYSTEM_USERS = ("system user", "event_scheduler", "unauthenticated user", "mariadb.sys")
SYSTEM_COMMANDS = ("Daemon", "Binlog Dump", "Binlog Dump GTID", "Slave_IO", "Slave_SQL")
# One item of a ``users:`` option (MySQL user names are at most 80 characters).
USER_NAME = {"type": "string", "minLength": 1, "maxLength": 80}


@functools.cache
def connection_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean "cannot talk to the server" (a function: pymysql loads on first use)."""
    import pymysql

    return (OSError, pymysql.err.MySQLError, ValueError)


PROCESSLIST = (
    "SELECT ID, USER, COMMAND, TIME FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()"
)


def address(dsn: str) -> str:
    """``host:port`` of a DSN: what is reported instead of the DSN."""
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 3306}"


async def connect(dsn: str, seconds: float) -> Any:
    """A connection for ``dsn`` (``mysql://`` or ``mariadb://``), given up after ``seconds``."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("mysql", "mariadb"):
        raise ValueError("the DSN must be a mysql:// URL")
    import aiomysql

    return await aiomysql.connect(
        host=parts.hostname or "localhost",
        port=parts.port or 3306,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        db=unquote(parts.path.lstrip("/")) or None,
        connect_timeout=seconds,
        autocommit=True,
    )


def is_system(row: Mapping[str, Any]) -> bool:
    return row["USER"] in SYSTEM_USERS or row["COMMAND"] in SYSTEM_COMMANDS


async def rows(conn: Any, sql: str, *args: Any) -> list[dict[str, Any]]:
    import aiomysql

    async with conn.cursor(aiomysql.DictCursor) as cur:
        await cur.execute(sql, args or None)
        return list(await cur.fetchall())
