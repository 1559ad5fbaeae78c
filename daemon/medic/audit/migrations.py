"""The audit database's schema, as an ordered list of migrations.

Each migration is a function of a :class:`sqlite_utils.Database`, run once, inside one
transaction together with the row in ``_migrations`` that records it, so a crash
mid-migration leaves the database as it was. New migrations are appended, never
edited: a database written by an older agent is brought forward on the next start.

sqlite-utils is imported only when a migration is pending: an agent starting on a
current database (every start but the first after an upgrade) never loads it.

Columns are chosen for people who open the file in Datasette or ``sqlite3``: readable
names, times as fixed-width ISO-8601 UTC text (text order is time order), JSON columns
as JSON text.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from medic.clock import iso

if TYPE_CHECKING:
    import sqlite_utils

Migration = Callable[["sqlite_utils.Database"], None]

# The columns of ``events`` a writer supplies, in order (``id`` is assigned by SQLite).
EVENT_COLUMNS: tuple[str, ...] = (
    "time",
    "host",
    "kind",
    "policy",
    "target",
    "incident",
    "action",
    "outcome",
    "values",
    "details",
    "prev_hash",
    "hash",
)


def _events_and_incidents(db: sqlite_utils.Database) -> None:
    """The event log with its hash chain, and the incidents it opens and closes."""
    db.table("events").create(
        {
            "id": int,
            "time": str,
            "host": str,
            "kind": str,
            "policy": str,
            "target": str,
            "incident": str,
            "action": str,
            "outcome": str,
            "values": str,
            "details": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="id",
        not_null={"time", "host", "kind", "details", "prev_hash", "hash"},
    )
    events = db.table("events")
    events.create_index(["time"], index_name="events_time")
    events.create_index(["policy", "time"], index_name="events_policy_time")
    events.create_index(["incident"], index_name="events_incident")
    events.create_index(["kind", "time"], index_name="events_kind_time")
    events.create_index(["action"], index_name="events_action")
    db.table("incidents").create(
        {
            "id": str,
            "policy": str,
            "target": str,
            "host": str,
            "opened": str,
            "closed": str,
            "status": str,
            "escalated": int,
            "last_event": str,
        },
        pk="id",
        not_null={"opened", "status", "escalated"},
        defaults={"status": "open", "escalated": 0},
    )
    incidents = db.table("incidents")
    incidents.create_index(["status"], index_name="incidents_status")
    incidents.create_index(["policy", "opened"], index_name="incidents_policy_opened")


def _outbox(db: sqlite_utils.Database) -> None:
    """Notifications waiting to be delivered, kept across restarts until sent or given up.

    ``key`` is the idempotency key (one row per notification per channel, ever);
    ``state`` is pending, sent or dead; ``next_attempt`` is when the worker tries again.
    """
    db.table("outbox").create(
        {
            "id": int,
            "key": str,
            "notifier": str,
            "incident": str,
            "kind": str,
            "payload": str,
            "created": str,
            "next_attempt": str,
            "attempts": int,
            "state": str,
            "last_error": str,
            "sent": str,
        },
        pk="id",
        not_null={"key", "notifier", "kind", "payload", "created", "next_attempt", "state"},
        defaults={"attempts": 0, "state": "pending"},
    )
    outbox = db.table("outbox")
    outbox.create_index(["key"], index_name="outbox_key", unique=True)
    outbox.create_index(["state", "next_attempt"], index_name="outbox_due")


def _silences_and_approvals(db: sqlite_utils.Database) -> None:
    """Ad-hoc silences (from the CLI or API) and answers to approval requests."""
    db.table("silences").create(
        {
            "id": str,
            "created": str,
            "starts": str,
            "ends": str,
            "author": str,
            "reason": str,
            "matchers": str,
            "act": int,
            "expired_early": str,
        },
        pk="id",
        not_null={"created", "starts", "ends", "author", "reason", "matchers", "act"},
        defaults={"act": 0},
    )
    db.table("silences").create_index(["ends"], index_name="silences_ends")
    db.table("approvals").create(
        {
            "incident": str,
            "requested": str,
            "expires": str,
            "decision": str,
            "decided": str,
            "by": str,
            "comment": str,
        },
        pk="incident",
        not_null={"requested", "expires"},
    )


def _audit_chain(db: sqlite_utils.Database) -> None:
    """Where the keyed hash chain starts: one row, written by the agent that first
    holds a key (:mod:`medic.audit.chain`); older events keep their unkeyed links."""
    db.table("audit_chain").create(
        {"keyed_from": int, "key_id": str, "tag": str, "created": str},
        not_null={"keyed_from", "key_id", "tag", "created"},
    )


def _audit_anchor(db: sqlite_utils.Database) -> None:
    """Where the chain resumes after retention pruned its oldest events: how many were
    pruned, the id and hash of the last of them, and an HMAC tag over the three
    (:mod:`medic.audit.anchor`). At most one row; absent until the first prune."""
    db.table("audit_anchor").create(
        {"count": int, "last_id": int, "hash": str, "tag": str, "updated": str},
        not_null={"count", "last_id", "hash", "tag", "updated"},
    )


def _samples(db: sqlite_utils.Database) -> None:
    """What probes measured (:mod:`medic.audit.samples`): the history window functions
    read back after a restart, and the recording ``medic backtest`` replays. One row
    per measurement of one target: its numeric, boolean and short text fields as JSON;
    ``recorded`` is 1 when the row holds every such field (a recording), 0 when only the
    fields a window needs."""
    db.table("samples").create(
        {
            "id": int,
            "time": str,
            "policy": str,
            "target": str,
            "probe": str,
            "recorded": int,
            "fields": str,
        },
        pk="id",
        not_null={"time", "policy", "target", "probe", "recorded", "fields"},
    )
    db.table("samples").create_index(["policy", "time"], index_name="samples_policy_time")
    db.table("samples").create_index(["time"], index_name="samples_time")


def _ship_cursor(db: sqlite_utils.Database) -> None:
    """How far the events were shipped to the central database (medic.fleet.ship)."""
    db.table("ship_cursor").create({"name": str, "last_id": int}, pk="name", not_null={"last_id"})


def _link_uses(db: sqlite_utils.Database) -> None:
    """The signed links already spent (:mod:`medic.notify.links`): each works once.
    Before this migration the table was made on first use, outside the migrations; a
    database that has it keeps it as it is."""
    db.table("link_uses").create(
        {"token": str, "incident": str, "action": str, "recipient": str, "used": str},
        pk="token",
        not_null={"incident", "action", "recipient", "used"},
        if_not_exists=True,
    )


def _sample_runs(db: sqlite_utils.Database) -> None:
    """A ``samples`` row holds a run of measurements (:mod:`medic.audit.samples`):
    ``count`` of them evenly spread over ``span`` seconds from ``time``, the fields named
    in ``ticking`` (a JSON list, or null) growing by the time elapsed. Older rows read
    as runs of one."""
    table = db.table("samples")
    table.add_column("span", float, not_null_default=0.0)
    table.add_column("count", int, not_null_default=1)
    table.add_column("ticking", str)


# Append only. The name is what ``_migrations`` records; never rename one.
MIGRATIONS: tuple[tuple[str, Migration], ...] = (
    ("0001_events_and_incidents", _events_and_incidents),
    ("0002_outbox", _outbox),
    ("0003_silences_and_approvals", _silences_and_approvals),
    ("0004_audit_chain", _audit_chain),
    ("0005_audit_anchor", _audit_anchor),
    ("0006_samples", _samples),
    ("0007_ship_cursor", _ship_cursor),
    ("0008_link_uses", _link_uses),
    ("0009_sample_runs", _sample_runs),
)


def applied(conn: sqlite3.Connection) -> set[str]:
    """Names of the migrations this database has had (empty for a new file)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)"
    )
    return {row[0] for row in conn.execute("SELECT name FROM _migrations")}


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Bring the schema up to date; returns the names of the migrations it ran.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each migration
    runs in its own ``BEGIN IMMEDIATE`` transaction, so two processes starting at
    once cannot both apply the same one.
    """
    if conn.isolation_level is not None:
        raise ValueError("migrate() needs a connection opened with isolation_level=None")
    done = applied(conn)
    pending = [(name, migration) for name, migration in MIGRATIONS if name not in done]
    if not pending:
        return []
    import sqlite_utils  # only now: a current database needs none of it

    ran: list[str] = []
    db = sqlite_utils.Database(conn)
    for name, migration in pending:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if name in applied(conn):  # another process got here first
                conn.execute("ROLLBACK")
                continue
            migration(db)
            conn.execute(
                "INSERT INTO _migrations (name, applied) VALUES (?, ?)",
                (name, iso(time.time())),
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        ran.append(name)
    return ran


def is_current(conn: sqlite3.Connection) -> bool:
    """True when every migration has been applied (a read-only check)."""
    try:
        rows = conn.execute("SELECT name FROM _migrations").fetchall()
    except sqlite3.OperationalError:
        return False
    return {name for name, _ in MIGRATIONS} <= {row[0] for row in rows}


def is_audit_database(conn: sqlite3.Connection) -> bool:
    """True when the file holds Medic's event log, however old its schema (a reader
    copes with every version; only the agent brings it forward)."""
    try:
        rows = conn.execute("SELECT name FROM _migrations").fetchall()
    except sqlite3.OperationalError:
        return False
    return MIGRATIONS[0][0] in {row[0] for row in rows}
