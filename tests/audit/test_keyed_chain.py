"""The keyed chain: a rewrite without the key, a cut tail, an old database."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner, Result

from kit.audit_chain import check
from medic.audit.chain import GENESIS, sha_link
from medic.audit.events import AuditEvent, Kind
from medic.audit.key import AuditKeyError
from medic.audit.migrations import MIGRATIONS
from medic.audit.options import AuditOptions
from medic.audit.store import AuditStore
from medic.cli.audit import command

pytestmark = pytest.mark.integration
COLUMNS = 'time, host, kind, policy, target, incident, action, outcome, "values", details'


async def write(path: Path, count: int, options: AuditOptions | None = None) -> None:
    store = AuditStore(path, host="node1", options=options)
    await store.start()
    for i in range(count):
        store.emit(AuditEvent(Kind.PROBE_FAILED, 1_700_000_000.0 + i, policy="p", details={"i": i}))
    await store.close()


def run(*args: str) -> Result:
    return CliRunner().invoke(command, list(args), catch_exceptions=False)


def rechain_unkeyed(path: Path, start: int = 1) -> None:
    """What an attacker with write access did before keys: recompute every SHA-256 link."""
    conn = sqlite3.connect(path)
    prev = GENESIS
    rows = conn.execute(f"SELECT id, {COLUMNS} FROM events ORDER BY id").fetchall()  # noqa: S608 -- fixed text
    for event_id, *row in rows:
        if event_id >= start:
            conn.execute(
                "UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?",
                (prev, sha_link(prev, (*row, prev)), event_id),
            )
        prev = conn.execute("SELECT hash FROM events WHERE id = ?", (event_id,)).fetchone()[0]
    conn.commit()
    conn.close()


@pytest.mark.asyncio
async def test_a_rewrite_with_another_key_is_caught(tmp_path: Path) -> None:
    """A whole log rewritten under the attacker's own key fails under the real one."""
    db, forged = tmp_path / "real" / "audit.db", tmp_path / "forged" / "audit.db"
    await write(db, 3)
    await write(forged, 3)
    assert check(forged).ok
    forged.replace(db)
    result = run("verify", "--db", str(db))
    assert result.exit_code == 2
    assert result.stdout.startswith(f"cannot verify {db}: the key from file {db.parent}/audit.key")
    assert "is not the key this database was written with" in result.stdout


@pytest.mark.asyncio
async def test_a_checkpoint_catches_a_rewrite_even_with_the_key(tmp_path: Path) -> None:
    """A log rebuilt with the key still differs from the head sent off the host."""
    db = tmp_path / "audit.db"
    await write(db, 4)
    point = run("checkpoint", "--db", str(db)).stdout.split()[0]
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM events WHERE id >= 3")
    conn.commit()
    conn.close()
    await write(db, 2)  # the agent (holding the key) writes two new events in their place
    assert run("verify", "--db", str(db)).exit_code == 0
    result = run("verify", "--db", str(db), "--checkpoint", point)
    assert (result.exit_code, result.stdout) == (
        1,
        f"broken: event 4 in {db} does not match checkpoint {point}"
        " (the log was rewritten up to here)\n",
    )


@pytest.mark.asyncio
async def test_checkpoints_file_takes_every_form_and_names_a_bad_line(tmp_path: Path) -> None:
    """A file of COUNT:HASH lines, JSON objects and log lines; a bad line is file:line."""
    db = tmp_path / "audit.db"
    await write(db, 3)
    count, head = run("checkpoint", "--db", str(db)).stdout.split()[0].split(":")
    points = tmp_path / "points.txt"
    points.write_text(
        f"# shipped\n{count}:{head} 2024-05-01T00:00:00Z\n"
        + json.dumps({"event": "audit.checkpoint", "count": int(count), "head": head})
        + f"\n2024-05-01 [info] audit.checkpoint at=x count={count} db=y head={head}\n"
    )
    result = run("verify", "--db", str(db), "--checkpoints", str(points))
    assert result.stdout == f"ok: 3 events in {db}, hash chain intact; 3 checkpoint(s) match\n"
    points.write_text(f"{count}:{head}\n3:nothex\n")
    result = run("verify", "--db", str(db), "--checkpoints", str(points))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {points}:2: not a checkpoint: write COUNT:HASH (as medic audit checkpoint"
        " prints it), a JSON object with count and head, or an audit.checkpoint log line\n"
    )


def old_database(path: Path, count: int) -> None:
    """A database as an agent before keys left it: migrations 1-3, SHA-256 links."""
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
    for name, migration in MIGRATIONS[:3]:
        migration(db)
        conn.execute("INSERT INTO _migrations VALUES (?, '2024-01-01T00:00:00.000000Z')", (name,))
    prev = GENESIS
    for i in range(count):
        row = (f"2024-01-01T00:00:0{i}.000000Z", "old", "probe.failed", "p")
        row += (None, None, None, None, None, json.dumps({"i": i}), prev)
        prev = sha_link(prev, row)
        insert = f"INSERT INTO events ({COLUMNS}, prev_hash, hash) VALUES ({'?, ' * 11}?)"  # noqa: S608 -- fixed text
        conn.execute(insert, (*row, prev))
    conn.close()


@pytest.mark.asyncio
async def test_an_old_database_keeps_working_and_says_what_is_unkeyed(tmp_path: Path) -> None:
    """Old rows verify the old way and are named as such; new rows are keyed after them."""
    db = tmp_path / "audit.db"
    old_database(db, 3)
    assert run("verify", "--db", str(db)).stdout == (
        f"ok: 3 events in {db}, hash chain intact; the chain is not keyed (written before"
        " the audit key existed): whoever could write the file could have rewritten it\n"
    )
    await write(db, 2)
    verdict = check(db)
    assert (verdict.ok, verdict.checked, verdict.legacy, verdict.keyed) == (True, 5, 3, True)
    assert run("verify", "--db", str(db)).stdout == (
        f"ok: 5 events in {db}, hash chain intact; the first 3 predate the audit key and were"
        " checked unkeyed (whoever could write the file could have rewritten them)\n"
    )


@pytest.mark.asyncio
async def test_the_start_of_the_keyed_chain_cannot_be_moved_or_removed(tmp_path: Path) -> None:
    """Moving the boundary (to pass keyed rows off as unkeyed) or deleting it is caught."""
    db = tmp_path / "audit.db"
    old_database(db, 2)
    await write(db, 2)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE audit_chain SET keyed_from = 100")
    conn.commit()
    assert check(db).reason == "the audit_chain row (where the keyed chain starts) was edited"
    conn.execute("DELETE FROM audit_chain")
    conn.commit()
    conn.close()
    rechain_unkeyed(db)
    verdict = check(db)
    assert (verdict.ok, verdict.bad) == (False, 1)
    assert verdict.reason == "is not keyed and the audit_chain row that would allow that is missing"


@pytest.mark.asyncio
async def test_the_key_file_is_private_and_never_replaced(tmp_path: Path) -> None:
    """audit.key is made 0600 on first start; a missing or open key stops the next start."""
    db = tmp_path / "audit.db"
    await write(db, 1)
    key = tmp_path / "audit.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) == 64
    key.chmod(0o644)
    with pytest.raises(AuditKeyError) as caught:
        await write(db, 1)
    assert (caught.value.message, caught.value.hint) == (
        f"the audit key {key} is open to other users (mode 0644)",
        f"chmod 600 {key}",
    )
    key.unlink()
    with pytest.raises(AuditKeyError) as caught:
        await write(db, 1)
    assert caught.value.message.endswith(f"{key} is missing")
    assert not key.exists()  # a new key would orphan the chain: none is made


@pytest.mark.asyncio
async def test_a_key_from_the_config_and_a_wrong_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """audit.key {env: NAME} keys the chain; another value stops the start; short is refused."""
    db = tmp_path / "audit.db"
    monkeypatch.setenv("MEDIC_TEST_AUDIT_KEY", "k" * 40)
    options = AuditOptions(key={"env": "MEDIC_TEST_AUDIT_KEY"})
    await write(db, 2, options)
    assert not (tmp_path / "audit.key").exists()
    config = tmp_path / "medic.yaml"
    config.write_text("state_dir: .\naudit: {key: {env: MEDIC_TEST_AUDIT_KEY}}\n")
    assert run("verify", "--config", str(config)).exit_code == 0
    monkeypatch.setenv("MEDIC_TEST_AUDIT_KEY", "j" * 40)
    with pytest.raises(AuditKeyError, match=r"is not the one .* was written with"):
        await write(db, 1, options)
    monkeypatch.setenv("MEDIC_TEST_AUDIT_KEY", "short")
    with pytest.raises(AuditKeyError) as caught:
        await write(db, 1, options)
    assert caught.value.message == (
        "the audit key from $MEDIC_TEST_AUDIT_KEY is 5 characters; it needs 32"
    )


@pytest.mark.asyncio
async def test_verify_without_the_key_says_so(tmp_path: Path) -> None:
    """A keyed log with no key at hand is not checkable: exit 2, pointing at --key-file."""
    db = tmp_path / "audit.db"
    await write(db, 2)
    key = tmp_path / "audit.key"
    moved = tmp_path / "elsewhere.key"
    key.replace(moved)
    result = run("verify", "--db", str(db))
    assert (result.exit_code, result.stdout) == (
        2,
        f"cannot verify {db}: the chain is keyed and no key was given (--key-file or --config)\n",
    )
    assert run("verify", "--db", str(db), "--key-file", str(moved)).exit_code == 0
