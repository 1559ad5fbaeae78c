"""The mysql probe and mysql.terminate on a real MariaDB (scripts/provision-mariadb.sh)."""

from __future__ import annotations

import asyncio
import secrets as pysecrets
from collections.abc import AsyncIterator
from typing import Any

import aiomysql
import pytest
import pytest_asyncio

from medic.actions.base import ActionContext
from medic.actions.mysql import MysqlTerminateAction
from medic.probes.databases.mysql import MysqlProbe

HOST, PORT = "127.0.0.1", 3306
ADMIN = {"host": HOST, "port": PORT, "user": "medic_test", "password": "medic-test"}
HINT = "run scripts/provision-mariadb.sh as root (installs and starts MariaDB)"

pytestmark = pytest.mark.integration


async def admin(sql: str) -> None:
    try:
        conn = await aiomysql.connect(**ADMIN, autocommit=True)
    except OSError as exc:  # pragma: no cover - the message says how to fix it
        pytest.fail(f"MariaDB is not reachable on {HOST}:{PORT}: {exc}; {HINT}")
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
    finally:
        conn.close()


@pytest_asyncio.fixture
async def users(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, str]]:
    """Two scratch users (app and other) with random names; Medic's DSN in $MYSQL_DSN."""
    made = {role: f"mt_{role}_{pysecrets.token_hex(4)}" for role in ("app", "other", "medic")}
    password = pysecrets.token_hex(8)
    for name in made.values():
        await admin(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'")
    await admin(f"GRANT PROCESS, CONNECTION ADMIN ON *.* TO '{made['medic']}'@'%'")
    monkeypatch.setenv("MYSQL_DSN", f"mysql://{made['medic']}:{password}@{HOST}:{PORT}/")
    yield {**made, "password": password}
    for name in made.values():
        await admin(f"DROP USER IF EXISTS '{name}'@'%'")


async def hold(user: str, password: str, n: int) -> list[Any]:
    """``n`` idle connections of ``user``."""
    return [
        await aiomysql.connect(host=HOST, port=PORT, user=user, password=password) for _ in range(n)
    ]


async def alive(conn: Any) -> bool:
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT 1")
        return True
    except Exception:
        return False


@pytest.mark.asyncio
async def test_probe_counts_idle_connections_and_status(users: dict[str, str]) -> None:
    """Three idle app connections: counted, their idle age seen, status values as numbers."""
    held = await hold(users["app"], users["password"], 3)
    try:
        await asyncio.sleep(1.2)
        options = {"dsn": {"env": "MYSQL_DSN"}, "users": [users["app"]], "status": ["Uptime"]}
        ((target, fields),) = (await MysqlProbe(options).measure()).items()
    finally:
        for conn in held:
            conn.close()
    assert target == f"{HOST}:{PORT}"
    assert fields["error"] is None and fields["reachable"] is True
    assert (fields["connections"], fields["idle"], fields["active"]) == (3, 3, 0)
    assert fields["longest_idle_seconds"] >= 1
    assert fields["max_connections"] > 0
    assert fields["replication_lag_seconds"] is None
    assert isinstance(fields["status_uptime"], int) and fields["status_uptime"] > 0


@pytest.mark.asyncio
async def test_probe_reports_an_unreachable_server_as_a_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A closed port is reachable: false with the error, the password never shown."""
    monkeypatch.setenv("MYSQL_DSN", "mysql://u:s3cret-pw@127.0.0.1:1/")
    ((target, fields),) = (await MysqlProbe({"dsn": {"env": "MYSQL_DSN"}}).measure()).items()
    assert target == "127.0.0.1:1"
    assert fields["reachable"] is False
    assert "s3cret-pw" not in str(fields["error"]) and fields["error"]


@pytest.mark.asyncio
async def test_terminate_kills_old_idle_connections_of_the_named_user_only(
    users: dict[str, str],
) -> None:
    """The app's idle connections are killed; another user's, and fresh ones, survive."""
    old = await hold(users["app"], users["password"], 2)
    other = await hold(users["other"], users["password"], 1)
    await asyncio.sleep(2.2)
    fresh = await hold(users["app"], users["password"], 1)
    options = {"dsn": {"env": "MYSQL_DSN"}, "users": [users["app"]], "older_than": "2s"}
    assert MysqlTerminateAction.validate(options) == []
    ctx = ActionContext("p", "t", "i", {}, 20.0)
    try:
        result = await MysqlTerminateAction(options).run(ctx)
        assert result.ok is True, result.summary
        assert result.summary == f"killed 2 Sleep connections on {HOST}:{PORT}"
        assert {k["user"] for k in result.details["killed"]} == {users["app"]}
        assert [await alive(c) for c in old] == [False, False]
        assert await alive(other[0]) and await alive(fresh[0])
    finally:
        for conn in old + other + fresh:
            conn.close()


def test_terminate_refuses_administrator_accounts() -> None:
    """users: [root] is a validate error: such accounts are never killed."""
    options = {"dsn": {"env": "X"}, "users": ["root"], "older_than": "1m"}
    assert MysqlTerminateAction.validate(options) == [
        "users: 'root' is never terminated (a system or administrator account); "
        "name the application's users"
    ]
