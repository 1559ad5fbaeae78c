"""The postgres probe against the real PostgreSQL 15 cluster (see tests/db/conftest.py)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from medic.drivers.postgres import server_name
from medic.errors import ProbeError
from medic.policy.loader import load_text
from medic.probes.databases.postgres import PostgresProbe

if TYPE_CHECKING:
    from kit.databases import Scratch

pytestmark = pytest.mark.integration

ENV = "MEDIC_TEST_PG_DSN"


async def measure(options: dict[str, Any], limit: float = 10.0) -> dict[str, Any]:
    """One run of a fresh probe (closed after) with timeout ``limit``; a hang fails the test."""
    probe = PostgresProbe({"dsn": {"env": ENV}, **options})
    probe.timeout = limit
    try:
        return await asyncio.wait_for(probe.measure(), limit + 5)
    finally:
        await probe.close()


@pytest.fixture
def use_dsn(monkeypatch: pytest.MonkeyPatch) -> Any:
    def set_dsn(dsn: str) -> None:
        monkeypatch.setenv(ENV, dsn)

    return set_dsn


@pytest.mark.asyncio
async def test_fields_are_exactly_the_declared_ones(pg: Scratch, use_dsn: Any) -> None:
    """A reachable server yields every declared field and nothing else, on a host:port target."""
    role = await pg.role()
    use_dsn(pg.dsn(role))
    out = await measure({"databases": [pg.database]})
    assert list(out) == ["127.0.0.1:5432"]
    assert sorted(out["127.0.0.1:5432"]) == sorted(PostgresProbe.field_names())
    assert out["127.0.0.1:5432"]["reachable"] is True
    assert out["127.0.0.1:5432"]["error"] is None


@pytest.mark.asyncio
async def test_percent_used_is_connections_over_non_reserved_slots(
    pg: Scratch, use_dsn: Any
) -> None:
    """Three idle connections: percent_used is 3 / (max_connections - reserved) * 100."""
    role = await pg.role()
    for _ in range(3):
        await pg.connect(role, "app")
    use_dsn(pg.dsn(role))
    out = (await measure({"databases": [pg.database]}))["127.0.0.1:5432"]
    max_connections = int(await pg.admin.fetchval("SHOW max_connections"))
    reserved = int(await pg.admin.fetchval("SHOW superuser_reserved_connections"))
    assert out["connections"] == 3
    assert out["idle"] == 3
    assert out["max_connections"] == max_connections
    assert out["percent_used"] == round(3 / (max_connections - reserved) * 100, 2)


@pytest.mark.asyncio
async def test_states_locks_and_ages_are_counted(pg: Scratch, use_dsn: Any) -> None:
    """An idle-in-transaction lock holder, a query blocked on it and an idle session."""
    role = await pg.role()
    holder = await pg.connect(role, "holder")
    await holder.execute("BEGIN; SELECT pg_advisory_xact_lock(42)")
    blocked = await pg.connect(role, "blocked")
    pg.background(blocked, "SELECT pg_advisory_xact_lock(42)")
    await pg.connect(role, "idler")
    await pg.wait_state("blocked", "active", 1)
    await asyncio.sleep(0.2)  # let the ages grow past rounding
    use_dsn(pg.dsn(role))
    out = (await measure({"databases": [pg.database]}))["127.0.0.1:5432"]
    assert (out["connections"], out["active"], out["idle"]) == (3, 1, 1)
    assert (out["idle_in_transaction"], out["waiting"]) == (1, 1)
    assert out["longest_transaction_seconds"] >= 0.2
    assert out["longest_query_seconds"] >= 0.2
    assert out["longest_idle_in_transaction_seconds"] >= 0.2


@pytest.mark.asyncio
async def test_group_by_user_and_application(pg: Scratch, use_dsn: Any) -> None:
    """One target per role, or per application_name, with each group's own counts."""
    alice, bob = await pg.role(), await pg.role()
    await pg.connect(alice, "web")
    await pg.connect(alice, "web")
    await pg.connect(bob, "worker")
    use_dsn(pg.dsn(alice))
    by_user = await measure({"group_by": "user", "databases": [pg.database]})
    assert {u: f["connections"] for u, f in by_user.items()} == {alice: 2, bob: 1}
    by_app = await measure({"group_by": "application", "databases": [pg.database]})
    assert {a: f["connections"] for a, f in by_app.items()} == {"web": 2, "worker": 1}
    max_connections = by_app["web"]["max_connections"]
    assert by_app["web"]["percent_used"] > by_app["worker"]["percent_used"] > 0
    assert max_connections > 0


@pytest.mark.asyncio
async def test_group_by_database_lists_idle_databases_too(pg: Scratch, use_dsn: Any) -> None:
    """Every listed database is a target, with zeros when nobody is connected to it."""
    role = await pg.role()
    await pg.connect(role, "app")
    use_dsn(pg.dsn(role))
    out = await measure({"group_by": "database", "databases": [pg.database, "template1"]})
    assert sorted(out) == sorted([pg.database, "template1"])
    assert out[pg.database]["connections"] == 1
    assert out["template1"]["connections"] == 0
    assert out["template1"]["percent_used"] == 0.0


@pytest.mark.asyncio
async def test_own_connection_is_left_out_unless_asked(pg: Scratch, use_dsn: Any) -> None:
    """Medic's connection (application medic) counts only with exclude_self: false."""
    role = await pg.role()
    use_dsn(pg.dsn(role))
    default = await measure({"group_by": "application", "databases": [pg.database]})
    assert "medic" not in default
    counted = await measure(
        {"group_by": "application", "databases": [pg.database], "exclude_self": False}
    )
    assert counted["medic"]["connections"] == 1
    assert counted["medic"]["active"] == 1


@pytest.mark.asyncio
async def test_lost_connection_is_replaced_on_the_next_run(pg: Scratch, use_dsn: Any) -> None:
    """The kept connection terminated between runs: the next run reconnects and answers."""
    role = await pg.role()
    use_dsn(pg.dsn(role))
    probe = PostgresProbe({"dsn": {"env": ENV}, "databases": [pg.database]})
    probe.timeout = 10
    try:
        await probe.measure()
        killed = await pg.admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'medic' AND usename = $1",
            role,
        )
        assert killed == 1
        out = await probe.measure()
        assert out["127.0.0.1:5432"]["reachable"] is True
    finally:
        await probe.close()


@pytest.mark.asyncio
async def test_refused_connection_is_reachable_false(closed_port: int, use_dsn: Any) -> None:
    """Nothing listening: reachable is false, the error says why, every number is null."""
    port = closed_port
    use_dsn(f"postgresql://app:pw-never-shown@127.0.0.1:{port}/app")
    out = await measure({})
    fields = out[f"127.0.0.1:{port}"]
    assert fields["reachable"] is False
    assert fields["error"] == f"[Errno 111] Connect call failed ('127.0.0.1', {port})"
    assert fields["percent_used"] is None and fields["connections"] is None
    assert "pw-never-shown" not in json.dumps(out)


@pytest.mark.asyncio
async def test_silent_server_is_cut_off_at_the_timeout(silent_port: int, use_dsn: Any) -> None:
    """A server that accepts TCP and never answers: reachable false at the probe's timeout."""
    use_dsn(f"postgresql://app:pw-never-shown@127.0.0.1:{silent_port}/app")
    out = await measure({}, limit=0.5)
    assert out[f"127.0.0.1:{silent_port}"]["reachable"] is False
    assert out[f"127.0.0.1:{silent_port}"]["error"] == "no answer within 500ms"


@pytest.mark.asyncio
async def test_wrong_password_never_shows_the_password(pg: Scratch, use_dsn: Any) -> None:
    """A refused login reports the server's reason; neither password appears anywhere."""
    role = await pg.role()
    use_dsn(pg.dsn(role).replace(pg.password, "wrong-Secret-42"))
    out = await measure({})
    fields = out["127.0.0.1:5432"]
    assert fields["reachable"] is False
    assert fields["error"] == f'password authentication failed for user "{role}"'
    assert "wrong-Secret-42" not in json.dumps(out)
    assert pg.password not in json.dumps(out)


@pytest.mark.asyncio
async def test_good_login_output_holds_no_password(pg: Scratch, use_dsn: Any) -> None:
    """Targets and fields of a grouped run never carry the DSN's password."""
    role = await pg.role()
    await pg.connect(role, "web")
    use_dsn(pg.dsn(role))
    out = await measure({"group_by": "user", "databases": [pg.database]})
    assert pg.password not in json.dumps(out)


@pytest.mark.asyncio
async def test_grouped_targets_report_unreachable_when_the_server_goes(
    pg: Scratch, use_dsn: Any, closed_port: int
) -> None:
    """After the server is lost, the groups seen last run report reachable false."""
    role = await pg.role()
    await pg.connect(role, "web")
    use_dsn(pg.dsn(role))
    probe = PostgresProbe({"dsn": {"env": ENV}, "group_by": "application"})
    probe.timeout = 10
    try:
        seen = await probe.measure()
        assert "web" in seen
        await probe.close()
        use_dsn(f"postgresql://{role}:x@127.0.0.1:{closed_port}/app")
        lost = await probe.measure()
        assert sorted(lost) == sorted(seen)
        assert all(f["reachable"] is False for f in lost.values())
    finally:
        await probe.close()


@pytest.mark.asyncio
async def test_unset_secret_is_a_probe_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A DSN variable that is not set is a configuration error, named without a value."""
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(ProbeError) as caught:
        await measure({})
    assert caught.value.message == f"postgres dsn: environment variable {ENV} is not set"


def test_server_name_never_includes_credentials() -> None:
    """Targets are host:port, from the URL or its query, with the default port."""
    assert server_name("postgresql://u:p@db.internal:6432/app") == "db.internal:6432"
    assert server_name("postgres://u:p@db.internal/app") == "db.internal:5432"
    assert server_name("postgresql:///app?host=/run/postgresql&port=5433") == (
        "/run/postgresql:5433"
    )
    assert server_name("postgresql://u:p@[::1]:5432/app") == "[::1]:5432"


def test_policy_may_name_fields_and_rejects_unknown_ones() -> None:
    """`when:` on percent_used validates; a misspelt field is refused with a suggestion."""
    text = """
version: 1
policies:
  - name: pool
    probe: {type: postgres, dsn: {env: PG_DSN}, group_by: application}
    when: percent_used > 90 and not reachable == false
"""
    assert load_text(text, "p.yaml").errors == ()
    bad = load_text(text.replace("percent_used > 90", "percent_usd > 90"), "p.yaml")
    assert len(bad.errors) == 1
    assert "percent_usd" in str(bad.errors[0])
    assert "percent_used" in str(bad.errors[0])
