"""The shared read queries, run on a real database written by the store."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from kit.audit_chain import summary
from medic.audit import query as q
from medic.audit.chain import GENESIS
from medic.audit.events import AuditEvent, Kind
from medic.audit.migrations import is_current, migrate
from medic.audit.store import AuditStore
from medic.audit.verify import Checkpoint, Verdict, verify

pytestmark = pytest.mark.integration

T0 = 1_700_000_000.0
HOUR = 3600.0

# (offset seconds, kind, policy, target, incident, action, outcome)
HISTORY = [
    (0, Kind.DETECTED, "web", "c1", "inc-aaaa1111", None, None),
    (10, Kind.ACTION_STARTED, "web", "c1", "inc-aaaa1111", "inc-aaaa1111/1", None),
    (20, Kind.ACTION_SUCCEEDED, "web", "c1", "inc-aaaa1111", "inc-aaaa1111/1", "ok"),
    (30, Kind.VERIFY_HEALED, "web", "c1", "inc-aaaa1111", None, None),
    (HOUR, Kind.DETECTED, "db", "pg", "inc-bbbb2222", None, None),
    (HOUR + 5, Kind.SUPPRESSED, "db", "pg", "inc-bbbb2222", None, "rate_limit"),
    (2 * HOUR, Kind.PROBE_FAILED, "web", "c2", None, None, None),
    (3 * HOUR, Kind.DETECTED, "web", "c3", "inc-aaaa3333", None, None),
]


@pytest_asyncio.fixture
async def db_path(tmp_path: Path) -> AsyncIterator[Path]:
    path = tmp_path / "audit.db"
    store = AuditStore(path, host="node1")
    await store.start()
    for offset, kind, policy, target, incident, action, outcome in HISTORY:
        store.emit(
            AuditEvent(
                kind=kind,
                time=T0 + offset,
                policy=policy,
                target=target,
                incident=incident,
                action=action,
                outcome=outcome,
                values={"n": offset},
            )
        )
    await store.close()
    yield path


@pytest.fixture
def conn(db_path: Path) -> Iterator[sqlite3.Connection]:
    c = q.connect_readonly(db_path)
    yield c
    c.close()


def kinds(events: list[dict[str, object]]) -> list[object]:
    return [e["kind"] for e in events]


FILTER_CASES = [
    (q.AuditQuery(), [8, 7, 6, 5, 4, 3, 2, 1]),
    (q.AuditQuery(order="asc", limit=3), [1, 2, 3]),
    (q.AuditQuery(since=T0 + HOUR), [8, 7, 6, 5]),
    (q.AuditQuery(since=T0 + 10, until=T0 + HOUR), [4, 3, 2]),
    (q.AuditQuery(policy="db"), [6, 5]),
    (q.AuditQuery(target="c1", order="asc"), [1, 2, 3, 4]),
    (q.AuditQuery(incident="inc-aaaa1111", kinds=("action.",)), [3, 2]),
    (q.AuditQuery(kinds=("action",)), [6, 3, 2]),
    (q.AuditQuery(kinds=("incident.detected", "probe.")), [8, 7, 5, 1]),
    (q.AuditQuery(outcome="rate_limit"), [6]),
    (q.AuditQuery(policy="web", limit=2), [8, 7]),
    (q.AuditQuery(policy="nobody"), []),
]


@pytest.mark.parametrize(("query", "ids"), FILTER_CASES)
def test_list_events_filters(conn: sqlite3.Connection, query: q.AuditQuery, ids: list[int]) -> None:
    """Each filter narrows the events; kinds take exact names or prefixes."""
    assert [e["id"] for e in q.list_events(conn, query)] == ids


def test_kind_prefixes_become_known_kinds() -> None:
    """A prefix expands to the kinds it covers; an unknown prefix stays a text range."""
    assert q.kind_clause(["verify.", "incident.fired", "custom"]) == (
        "(kind IN (?, ?, ?) OR (kind >= ? AND kind < ?))",
        ["verify.healed", "verify.not_healed", "incident.fired", "custom.", "custom/"],
    )


def test_events_come_back_decoded(conn: sqlite3.Connection) -> None:
    """Rows are dicts with readable columns and the JSON columns decoded."""
    (event,) = q.list_events(conn, q.AuditQuery(outcome="ok"))
    assert {k: v for k, v in event.items() if k not in {"prev_hash", "hash"}} == {
        "id": 3,
        "time": "2023-11-14T22:13:40.000000Z",
        "host": "node1",
        "kind": "action.succeeded",
        "policy": "web",
        "target": "c1",
        "incident": "inc-aaaa1111",
        "action": "inc-aaaa1111/1",
        "outcome": "ok",
        "values": {"n": 20},
        "details": {},
    }


def test_limit_zero_means_everything(conn: sqlite3.Connection) -> None:
    """iter_events streams every match when limit is 0 (exports)."""
    assert len(list(q.iter_events(conn, q.AuditQuery(limit=0)))) == 8


def test_count_by_kind(conn: sqlite3.Connection) -> None:
    """Counts per kind over a time window."""
    assert q.count_by_kind(conn, T0 + HOUR) == {
        "action.suppressed": 1,
        "incident.detected": 2,
        "probe.failed": 1,
    }
    assert q.count_by_kind(conn, T0, T0 + 15) == {"action.started": 1, "incident.detected": 1}


def test_incident_story_and_lookup(conn: sqlite3.Connection) -> None:
    """An incident's events in time order; short prefixes find it when unique."""
    assert kinds(q.incident_events(conn, "inc-aaaa1111")) == [
        "incident.detected",
        "action.started",
        "action.succeeded",
        "verify.healed",
    ]
    assert q.match_incidents(conn, "inc-bbbb") == ["inc-bbbb2222"]
    assert q.match_incidents(conn, "inc-aaaa") == ["inc-aaaa3333", "inc-aaaa1111"]
    assert q.match_incidents(conn, "nope") == []
    incident = q.get_incident(conn, "inc-aaaa1111")
    assert incident is not None
    assert (incident["status"], incident["closed"]) == ("healed", "2023-11-14T22:13:50.000000Z")
    assert q.get_incident(conn, "missing") is None


def test_list_incidents_filters(conn: sqlite3.Connection) -> None:
    """Newest first; open_only, policy and limit narrow the list."""
    assert [i["id"] for i in q.list_incidents(conn)] == [
        "inc-aaaa3333",
        "inc-bbbb2222",
        "inc-aaaa1111",
    ]
    assert [i["id"] for i in q.list_incidents(conn, open_only=True, policy="web")] == [
        "inc-aaaa3333"
    ]
    assert [i["id"] for i in q.list_incidents(conn, limit=1)] == ["inc-aaaa3333"]
    assert q.open_incident_ids(conn) == {
        ("db", "pg"): "inc-bbbb2222",
        ("web", "c3"): "inc-aaaa3333",
    }


def test_action_records_and_unfinished_actions(conn: sqlite3.Connection) -> None:
    """A started action with its outcome is history, not unfinished."""
    assert [(r.policy, r.time, r.dry) for r in q.action_records(conn, T0)] == [
        ("web", T0 + 10, False)
    ]
    assert q.unfinished_actions(conn) == []


def test_hash_is_computed_as_documented(db_path: Path) -> None:
    """hash = HMAC-SHA256(key, prev_hash + compact JSON of time .. prev_hash), as documented."""
    conn = sqlite3.connect(db_path)
    columns = 'time, host, kind, policy, target, incident, action, outcome, "values", details'
    first, second = conn.execute(
        f"SELECT {columns}, prev_hash, hash FROM events ORDER BY id LIMIT 2"  # noqa: S608 -- fixed text
    ).fetchall()
    conn.close()
    secret = (db_path.parent / "audit.key").read_text().strip().encode()
    for row, prev in ((first, "0" * 64), (second, first[-1])):
        canonical = json.dumps(list(row[:-1]), separators=(",", ":"), ensure_ascii=False)
        assert row[-2] == prev
        mac = hmac.new(secret, (prev + canonical).encode(), hashlib.sha256)
        assert row[-1] == mac.hexdigest()


def test_verify_chain_reports_the_first_broken_event(db_path: Path) -> None:
    """Deleting an event breaks the link of the one after it."""
    assert summary(db_path) == (True, None, 8)
    writer = sqlite3.connect(db_path)
    writer.execute("DELETE FROM events WHERE id = 4")
    writer.commit()
    writer.close()
    assert summary(db_path) == (False, 5, 4)


def test_verify_chain_of_an_empty_database(tmp_path: Path) -> None:
    """An empty log is a valid chain of zero events."""
    conn = sqlite3.connect(tmp_path / "empty.db", isolation_level=None)
    migrate(conn)
    assert verify(conn, None) == Verdict(True, 0, head=Checkpoint(0, GENESIS))
    assert is_current(conn)
    conn.close()


def test_migrations_refuse_implicit_transactions(tmp_path: Path) -> None:
    """migrate() needs an autocommit connection so each migration is its own transaction."""
    conn = sqlite3.connect(tmp_path / "x.db")
    with pytest.raises(ValueError, match="isolation_level=None"):
        migrate(conn)
    assert not is_current(conn)
    conn.close()
