"""PostgreSQL connections, shared by the ``postgres`` probe and the ``postgres.terminate``
action: connect as application ``medic`` with the server's statement timeout set, name
the server by ``host:port`` only (errors go through ``medic.redact.without_url_password``).
asyncpg is imported on first use.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from medic.redact import without_url_password

if TYPE_CHECKING:
    import asyncpg

APPLICATION_NAME = "medic"


@functools.cache
def connection_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean "cannot talk to the server", as opposed to a bug in Medic.

    A function, so that importing this module does not import asyncpg."""
    import asyncpg

    return (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError)


def server_name(dsn: str) -> str:
    """``host:port`` of a ``postgresql://`` DSN, never its user or password."""
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    hostspec = parts.netloc.rpartition("@")[2]
    if hostspec and ":" in hostspec.rsplit("]", 1)[-1]:
        return unquote(hostspec)
    host = unquote(hostspec) or query.get("host", ["localhost"])[0]
    port = query.get("port", ["5432"])[0]
    return f"{host}:{port}"


def describe_error(exc: BaseException, dsn: str) -> str:
    """One line for an error: its text scrubbed, or its type when it has none."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return without_url_password(text, dsn)


async def connect(dsn: str, seconds: float) -> asyncpg.Connection:
    """A connection named ``medic`` whose statements stop at ``seconds`` on the server too."""
    if urlsplit(dsn).scheme not in ("postgresql", "postgres"):  # said without the DSN
        raise ValueError("the DSN must be a postgresql:// URL")
    import asyncpg

    return await asyncpg.connect(
        dsn,
        timeout=seconds,
        command_timeout=seconds,
        statement_cache_size=0,
        server_settings={
            "application_name": APPLICATION_NAME,
            "statement_timeout": str(max(1, int(seconds * 1000))),
        },
    )
