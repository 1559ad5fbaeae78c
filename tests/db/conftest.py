"""PostgreSQL and Redis fixtures (tests/kit/databases.py says what each one makes)."""

from kit.databases import (  # noqa: F401  (fixtures, found by pytest by name)
    closed_port,
    pg,
    redis_server,
    redis_with_password,
    silent_port,
)
