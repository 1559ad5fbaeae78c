"""Checking a test database's chain with the key its store made next to it."""

from __future__ import annotations

from pathlib import Path

from medic.audit import query as q
from medic.audit.key import load_key
from medic.audit.verify import Checkpoint, Verdict, verify


def check(path: Path, checkpoints: tuple[Checkpoint, ...] = ()) -> Verdict:
    """verify() on ``path`` with its own ``audit.key``."""
    conn = q.connect_readonly(path)
    try:
        return verify(conn, load_key(None, path), checkpoints)
    finally:
        conn.close()


def summary(path: Path) -> tuple[bool, int | None, int]:
    """(intact, id of the first bad event, events checked)."""
    verdict = check(path)
    return verdict.ok, verdict.bad, verdict.checked
