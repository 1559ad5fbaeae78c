"""The review reads: keyset paging through every incident, filters, the overview."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from medic.audit.events import AuditEvent, Kind
from medic.audit.migrations import migrate
from medic.audit.review import (
    BadCursor,
    IncidentFilter,
    decode_cursor,
    encode_cursor,
    list_incidents,
    overview,
)
from medic.audit.review_incident import incident_review, timeline
from medic.audit.rows import encode_event, update_incidents

T0 = 1_700_000_000.0


def _write(conn: sqlite3.Connection, events: list[AuditEvent]) -> None:
    rows = []
    for event in events:
        row, _ = encode_event(event, "h")
        rows.append((*row, "0", "0"))
    conn.executemany(
        'INSERT INTO events (time, host, kind, policy, target, incident, action, outcome, "values",'
        " details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    update_incidents(conn, rows)


@pytest.fixture
def conn(tmp_path: Path) -> sqlite3.Connection:
    """An audit database with 230 incidents of ``p`` (every 3rd escalated, every 5th
    healed after 60 s) and one dry-run incident of ``q``."""
    c = sqlite3.connect(tmp_path / "audit.db", isolation_level=None)
    migrate(c)
    events = []
    for n in range(230):
        inc, t = f"i{n:03d}", T0 + n * 100
        events.append(AuditEvent(Kind.DETECTED, t, "p", f"t{n % 3}", inc, values={"v": n}))
        events.append(AuditEvent(Kind.FIRED, t + 1, "p", f"t{n % 3}", inc, values={"v": n}))
        if n % 3 == 0:
            events.append(
                AuditEvent(Kind.ESCALATED, t + 2, "p", f"t{n % 3}", inc, outcome="escalated")
            )
        if n % 5 == 0:
            events.append(
                AuditEvent(Kind.VERIFY_HEALED, t + 60, "p", f"t{n % 3}", inc, values={"v": 0})
            )
    events.append(AuditEvent(Kind.DETECTED, T0 + 30_000, "q", "x", "dry", values={"v": 1}))
    events.append(
        AuditEvent(Kind.ACTION_WOULD_RUN, T0 + 30_001, "q", "x", "dry", outcome="dry_run")
    )
    _write(c, events)
    return c


def test_paging_visits_every_incident_once_both_ways(conn: sqlite3.Connection) -> None:
    """Following next from the first page lists all 230 in order; prev walks back."""
    filt = IncidentFilter(policy="p")
    page = list_incidents(conn, filt, limit=50, now=T0 + 40_000)
    pages, seen = [page], [i["id"] for i in page.incidents]
    while page.next is not None:
        page = list_incidents(conn, filt, limit=50, now=T0 + 40_000, cursor=("after", page.next))
        pages.append(page)
        seen += [i["id"] for i in page.incidents]
    assert seen == [f"i{n:03d}" for n in reversed(range(230))]
    assert page.total == 230 and len(pages) == 5 and pages[0].prev is None
    assert page.prev is not None
    back = list_incidents(conn, filt, limit=50, now=T0 + 40_000, cursor=("before", page.prev))
    assert back.incidents == pages[-2].incidents


def test_status_and_target_filters(conn: sqlite3.Connection) -> None:
    """status=escalated, healed and dry_run, and target, keep only the matching incidents."""
    now = T0 + 40_000

    def ids(**kw: object) -> list[str]:
        return [
            i["id"]
            for i in list_incidents(conn, IncidentFilter(**kw), limit=500, now=now).incidents
        ]  # type: ignore[arg-type]

    assert len(ids(status="escalated")) == len([n for n in range(230) if n % 3 == 0])
    assert len(ids(status="healed")) == 46
    assert ids(status="dry_run") == ["dry"]
    assert all(int(i[1:]) % 3 == 1 for i in ids(target="t1", policy="p"))
    dry = list_incidents(conn, IncidentFilter(policy="q"), limit=5, now=now).incidents[0]
    assert dry["dry_run"] is True and dry["status"] == "open" and dry["duration"] == 10_000


def test_overview_counts_and_median_time_to_heal(conn: sqlite3.Connection) -> None:
    """Per policy: opened, fired, healed, escalated, heal rate and median time to heal."""
    rows = {r["policy"]: r for r in overview(conn, T0, T0 + 50_000)}
    p = rows["p"]
    assert (p["opened"], p["fired"], p["healed"], p["escalated"]) == (230, 230, 46, 77)
    assert p["heal_rate"] == round(46 / 230, 4) and p["time_to_heal_median"] == 60.0
    assert rows["q"]["dry_run"] == 1 and rows["q"]["heal_rate"] is None


def test_cursor_round_trip_and_garbage() -> None:
    """A cursor decodes to what encoded it; anything else is BadCursor."""
    assert decode_cursor(encode_cursor("2024-05-01T00:00:00.000000Z", "a|b")) == (
        "2024-05-01T00:00:00.000000Z",
        "a|b",
    )
    for bad in ("", "!!", encode_cursor("not a time", "x"), "Zm9v"):
        with pytest.raises(BadCursor):
            decode_cursor(bad)


def test_timeline_shows_fields_only_where_they_change(conn: sqlite3.Connection) -> None:
    """The first event shows every field, later ones only the fields that changed."""
    events = [
        {
            "id": 1,
            "time": "t",
            "kind": "incident.detected",
            "action": None,
            "outcome": None,
            "values": {"a": 1, "b": 2},
            "details": {},
        },
        {
            "id": 2,
            "time": "t",
            "kind": "incident.fired",
            "action": None,
            "outcome": None,
            "values": {"a": 1, "b": 3},
            "details": {},
        },
        {
            "id": 3,
            "time": "t",
            "kind": "action.started",
            "action": "x",
            "outcome": None,
            "values": None,
            "details": {"dry_run": True},
        },
    ]
    assert [e["changed"] for e in timeline(events)] == [{"a": 1, "b": 2}, {"b": 3}, None]
    assert [e["dry_run"] for e in timeline(events)] == [False, False, True]
    review = incident_review(conn, "i000", T0 + 40_000)
    assert review is not None
    assert [m["mark"] for m in review["chart"]["markers"]] == ["fired", "verified"]
    assert review["chart"]["field"] == "v" and incident_review(conn, "nope", T0) is None
