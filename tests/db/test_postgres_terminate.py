"""postgres.terminate against the real PostgreSQL 15 cluster (see tests/db/conftest.py)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from medic.actions.base import ActionContext, ActionResult
from medic.actions.postgres import PostgresTerminateAction
from medic.policy.loader import load_text

if TYPE_CHECKING:
    from kit.databases import Scratch

pytestmark = pytest.mark.integration

ENV = "MEDIC_TEST_PG_DSN"


def context(timeout: float = 10.0) -> ActionContext:
    return ActionContext(
        policy="pool", target="127.0.0.1:5432", incident="inc-1", fields={}, timeout=timeout
    )


async def terminate(options: dict[str, Any], limit: float = 10.0) -> ActionResult:
    """One run with step timeout ``limit``; a hang fails the test."""
    action = PostgresTerminateAction({"dsn": {"env": ENV}, **options})
    return await asyncio.wait_for(action.run(context(limit)), limit + 5)


@pytest.fixture
def use_dsn(monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_dsn(dsn: str) -> None:
        monkeypatch.setenv(ENV, dsn)

    return set_dsn


async def aged(seconds: float = 0.3) -> None:
    """Let every connection made so far be older than ``seconds``."""
    await asyncio.sleep(seconds)


@pytest.mark.asyncio
async def test_idle_connections_of_the_app_are_terminated_others_kept(
    pg: Scratch, use_dsn: Any
) -> None:
    """Idle leaky-app connections end; another app's idle connection stays."""
    medic, app = await pg.role(), await pg.role()
    for _ in range(3):
        await pg.connect(app, "leaky-app")
    await pg.connect(app, "other-app")
    leaky, other = await pg.pids("leaky-app"), await pg.pids("other-app")
    await aged()
    use_dsn(pg.dsn(medic))
    result = await terminate(
        {"state": ["idle"], "older_than": "200ms", "application_name": "leaky-app"}
    )
    assert result.ok is True
    assert {e["pid"] for e in result.details["terminated"]} == leaky
    assert result.summary.startswith("terminated 3 connections on 127.0.0.1:5432: pids ")
    entry = result.details["terminated"][0]
    assert sorted(entry) == ["age_seconds", "application", "database", "pid", "state", "user"]
    assert (entry["user"], entry["application"], entry["state"]) == (app, "leaky-app", "idle")
    assert entry["database"] == pg.database and entry["age_seconds"] >= 0.2
    assert result.details["query_text"] == "omitted: it may hold secrets"
    assert pg.password not in json.dumps([result.summary, result.details])
    await asyncio.sleep(0.2)  # the backends exit after the signal
    assert await pg.pids("leaky-app") == set()
    assert await pg.pids("other-app") == other


@pytest.mark.asyncio
async def test_superuser_and_medic_connections_are_never_terminated(
    pg: Scratch, use_dsn: Any
) -> None:
    """With the widest filter, superusers' and application medic's sessions survive."""
    medic, su, app = await pg.role(), await pg.role(superuser=True), await pg.role()
    await pg.connect(su, "leaky-app")
    await pg.connect(app, "medic")
    await pg.connect(app, "leaky-app")
    kept = await pg.pids("leaky-app")
    await aged()
    use_dsn(pg.dsn(medic))
    result = await terminate(
        {
            "state": ["idle", "active", "idle in transaction"],
            "older_than": "0s",
            "database": pg.database,
        }
    )
    assert result.ok is True
    assert [(e["user"], e["application"]) for e in result.details["terminated"]] == [
        (app, "leaky-app")
    ]
    await asyncio.sleep(0.2)
    survivors = await pg.admin.fetch(
        "SELECT usename, application_name FROM pg_stat_activity WHERE datname = $1",
        pg.database,
    )
    assert sorted((r["usename"], r["application_name"]) for r in survivors) == sorted(
        [(su, "leaky-app"), (app, "medic")]
    )
    assert len(kept) == 2


@pytest.mark.asyncio
async def test_max_caps_the_run_oldest_first(pg: Scratch, use_dsn: Any) -> None:
    """Five candidates and max 2: the two oldest end, three remain."""
    medic, app = await pg.role(), await pg.role()
    first = [await pg.connect(app, "leaky-app") for _ in range(2)]
    await asyncio.sleep(0.3)
    for _ in range(3):
        await pg.connect(app, "leaky-app")
    oldest = {c.get_server_pid() for c in first}
    await aged(0.1)
    use_dsn(pg.dsn(medic))
    result = await terminate(
        {"state": ["idle"], "older_than": "50ms", "application_name": ["leaky-app"], "max": 2}
    )
    assert result.ok is True
    assert {e["pid"] for e in result.details["terminated"]} == oldest
    await asyncio.sleep(0.2)
    assert len(await pg.pids("leaky-app")) == 3


@pytest.mark.asyncio
async def test_active_and_idle_in_transaction_by_age(pg: Scratch, use_dsn: Any) -> None:
    """A long query and a stale open transaction end; a young idle session does not match."""
    medic, app = await pg.role(), await pg.role()
    runner = await pg.connect(app, "report")
    pg.background(runner, "SELECT pg_sleep(30)")
    stale = await pg.connect(app, "report")
    await stale.execute("BEGIN; SELECT 1")
    await pg.wait_state("report", "active", 1)
    await asyncio.sleep(0.4)
    await pg.connect(app, "report")  # young and idle
    use_dsn(pg.dsn(medic))
    result = await terminate(
        {"state": ["active", "idle in transaction"], "older_than": "300ms", "user": app}
    )
    assert result.ok is True
    states = sorted(e["state"] for e in result.details["terminated"])
    assert states == ["active", "idle in transaction"]
    await asyncio.sleep(0.2)
    assert len(await pg.pids("report")) == 1


@pytest.mark.asyncio
async def test_nothing_matched_is_ok_and_says_so(pg: Scratch, use_dsn: Any) -> None:
    """No connection fits the filter: success with nothing terminated."""
    medic = await pg.role()
    use_dsn(pg.dsn(medic))
    result = await terminate({"state": ["idle"], "older_than": "5m", "user": "nobody-here"})
    assert result.ok is True
    assert result.summary == (
        "no connection on 127.0.0.1:5432 matched (idle for 5m or more, user nobody-here)"
    )
    assert result.details["terminated"] == []


@pytest.mark.asyncio
async def test_role_without_signal_privilege_fails_per_pid(pg: Scratch, use_dsn: Any) -> None:
    """Lacking pg_signal_backend, each refused pid is listed and the step fails."""
    weak, app = await pg.role(grants=False), await pg.role()
    await pg.admin.execute(f"GRANT pg_monitor TO {weak}")
    await pg.connect(app, "leaky-app")
    await aged()
    use_dsn(pg.dsn(weak))
    result = await terminate({"state": ["idle"], "older_than": "100ms", "database": pg.database})
    assert result.ok is False
    assert result.summary == (
        "terminated 0, failed 1 on 127.0.0.1:5432: must be a member of the role whose "
        "process is being terminated or member of pg_signal_backend"
    )
    assert result.details["failed"][0]["user"] == app
    assert len(await pg.pids("leaky-app")) == 1


@pytest.mark.asyncio
async def test_unreachable_server_fails_without_the_password(
    closed_port: int, use_dsn: Any
) -> None:
    """Connection refused: ok is false, and the password is nowhere in the result."""
    use_dsn(f"postgresql://medic:Pw-Secret-77@127.0.0.1:{closed_port}/app")
    result = await terminate({"state": ["idle"], "older_than": "5m"})
    assert result.ok is False
    assert result.summary == (
        f"cannot terminate on 127.0.0.1:{closed_port}: "
        f"[Errno 111] Connect call failed ('127.0.0.1', {closed_port})"
    )
    assert "Pw-Secret-77" not in json.dumps([result.summary, result.details])


@pytest.mark.asyncio
async def test_silent_server_times_out_at_the_step_timeout(silent_port: int, use_dsn: Any) -> None:
    """A server that never answers: the step gives up at its own timeout."""
    use_dsn(f"postgresql://medic:Pw-Secret-77@127.0.0.1:{silent_port}/app")
    result = await terminate({"state": ["idle"], "older_than": "5m"}, limit=0.5)
    assert result.ok is False
    assert result.details["timed_out"] is True
    assert result.summary == (
        f"timed out after 500ms on 127.0.0.1:{silent_port}; 0 terminated before that"
    )


def test_describe_names_the_filter_not_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """describe() reads no database and no secret: it states the filter and the reference."""
    monkeypatch.setenv(ENV, "postgresql://medic:Pw-Secret-77@127.0.0.1:1/app")
    action = PostgresTerminateAction(
        {
            "dsn": {"env": ENV},
            "state": ["idle", "idle in transaction"],
            "older_than": "5m",
            "application_name": ["web", "worker"],
            "max": 5,
        }
    )
    assert action.describe(context()) == (
        "terminate up to 5 connections (idle or idle in transaction for 5m or more, "
        f"application web, worker) on the server of ${ENV}; never superusers, "
        "replication or background processes, or medic's own"
    )


def test_state_and_older_than_are_required() -> None:
    """A step without state or older_than is refused when the policy is validated."""
    text = """
version: 1
policies:
  - name: pool
    probe: {type: postgres, dsn: {env: PG_DSN}}
    when: percent_used > 90
    remediate:
      - postgres.terminate: {dsn: {env: PG_DSN}, state: [idle]}
"""
    errors = load_text(text, "p.yaml").errors
    assert len(errors) == 1
    assert "older_than" in str(errors[0])
    good = text.replace("state: [idle]}", "state: [idle], older_than: 5m}")
    assert load_text(good, "p.yaml").errors == ()
