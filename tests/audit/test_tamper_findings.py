"""Findings of issue 9, as an attacker with write access to audit.db would try them.

Only APIs that existed before the keyed chain are used here, so these tests run (and
fail) on the code from before it: there, the rewrite verified as intact and the cut
tail could not be noticed at all.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from medic.audit.events import AuditEvent, Kind
from medic.audit.store import AuditStore
from medic.cli.audit import command

pytestmark = pytest.mark.integration
COLUMNS = 'time, host, kind, policy, target, incident, action, outcome, "values", details'


async def write(path: Path, count: int) -> None:
    store = AuditStore(path, host="node1")
    await store.start()
    for i in range(count):
        store.emit(AuditEvent(Kind.PROBE_FAILED, 1_700_000_000.0 + i, policy="p", details={"i": i}))
    await store.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def rechain_unkeyed(path: Path) -> None:
    """Recompute every link as the old docs/audit.md told anyone: plain SHA-256."""
    conn = sqlite3.connect(path)
    prev = "0" * 64
    rows = conn.execute(f"SELECT id, {COLUMNS} FROM events ORDER BY id").fetchall()  # noqa: S608 -- fixed text
    for event_id, *row in rows:
        canonical = json.dumps([*row, prev], separators=(",", ":"), ensure_ascii=False)
        new = hashlib.sha256((prev + canonical).encode()).hexdigest()
        conn.execute(
            "UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?", (prev, new, event_id)
        )
        prev = new
    conn.commit()
    conn.close()


@pytest.mark.asyncio
async def test_an_edit_with_recomputed_hashes_is_caught(tmp_path: Path) -> None:
    """Edit a row and recompute the chain the documented unkeyed way: verify says broken."""
    db = tmp_path / "audit.db"
    await write(db, 5)
    conn = sqlite3.connect(db)
    conn.execute("""UPDATE events SET details = '{"i":99}' WHERE id = 3""")
    conn.commit()
    conn.close()
    rechain_unkeyed(db)
    result = run("verify", "--db", str(db))
    assert (result.exit_code, result.stdout) == (
        1,
        f"broken: event 1 in {db} was rewritten without the key (its hash is unkeyed SHA-256)\n",
    )


@pytest.mark.asyncio
async def test_cutting_the_tail_is_caught_by_a_checkpoint(tmp_path: Path) -> None:
    """Deleting the newest events passes the chain, not the checkpoint taken before."""
    db = tmp_path / "audit.db"
    await write(db, 6)
    point = run("checkpoint", "--db", str(db)).stdout.split()[0]
    assert point.startswith("6:")
    assert run("verify", "--db", str(db), "--checkpoint", point).exit_code == 0
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM events WHERE id > 4")
    conn.commit()
    conn.close()
    assert run("verify", "--db", str(db)).exit_code == 0  # the chain alone cannot tell
    result = run("verify", "--db", str(db), "--checkpoint", point)
    assert (result.exit_code, result.stdout) == (
        1,
        f"broken: {db}: the log ends after 4 events but checkpoint {point} had 6:"
        " events were deleted from the end\n",
    )
