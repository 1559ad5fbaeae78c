"""Pending migrations run in a short-lived child process, so the agent never loads
sqlite-utils.

sqlite-utils (with python-dateutil and pluggy, which it imports) costs the agent about
3.4 MB, and a module once imported stays for the life of the process: an agent whose
first start created its audit database would carry it for months. So ``medic run``
starts :func:`start_apart` as soon as it holds the state directory's lock; the child
opens the database the way the audit store does (:func:`open_for_writing`), applies
what is pending (each migration in its own transaction, as always) and exits, while
the agent goes on importing its modules. :meth:`Apart.wait` then waits for it before
the store opens.

Nothing depends on the child: if it cannot start, fails or times out, the store
migrates in-process exactly as it did before, and any error is the store's own, with
its usual message. An up-to-date database (every start but the first after an
install or an upgrade) starts no child at all.

    python -P -m medic.audit.upgrade PATH   # what the child runs
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import structlog

from medic.audit.migrations import is_current
from medic.audit.query import connect_readonly, limit_cache

log = structlog.get_logger(__name__)

# Migrating a large old log (a new index over millions of rows) takes this long at most
# before the store takes over in-process.
CHILD_TIMEOUT = 300.0


def open_for_writing(path: Path) -> sqlite3.Connection:
    """The writer's connection: autocommit (migrations open their own transactions),
    WAL, and a busy timeout for a reader that holds a lock a moment."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        limit_cache(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def needs_migrating(path: Path) -> bool:
    """True unless ``path`` is a database with every migration applied (read-only check)."""
    if not path.is_file():
        return True
    try:
        conn = connect_readonly(path)
    except sqlite3.Error:
        return True
    try:
        return not is_current(conn)
    except sqlite3.Error:  # not a database: the store's error will name the file
        return True
    finally:
        conn.close()


@dataclass
class Apart:
    """A child migrating one database; ``None`` process: none was needed or it could
    not start."""

    path: Path
    process: subprocess.Popen[str] | None

    def wait(self, timeout: float = CHILD_TIMEOUT) -> list[str] | None:
        """The migrations the child applied, or None when it did not finish cleanly
        (the store will migrate in-process)."""
        if self.process is None:
            return None
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            log.warning("audit.migrate_apart_failed", db=str(self.path), error="timed out")
            return None
        if self.process.returncode != 0:
            error = err.strip().splitlines()[-1:] or [f"exit status {self.process.returncode}"]
            log.warning("audit.migrate_apart_failed", db=str(self.path), error=error[0])
            return None
        try:
            ran = json.loads(out)
        except ValueError:
            ran = None
        if not isinstance(ran, list):
            shown = f"the child printed {out.strip()[:200] or 'nothing'!r}"
            log.warning("audit.migrate_apart_failed", db=str(self.path), error=shown)
            return None
        return [str(name) for name in ran]


def start_apart(path: Path) -> Apart:
    """Start migrating ``path`` in a child when it needs it; returns at once."""
    if not needs_migrating(path):
        return Apart(path, None)
    try:
        process = subprocess.Popen(
            # -P: the working directory is not put on the import path (no module of
            # whatever directory the agent was started in can stand in for Medic's).
            [sys.executable, "-P", "-m", "medic.audit.upgrade", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as exc:
        log.warning("audit.migrate_apart_failed", db=str(path), error=str(exc))
        return Apart(path, None)
    return Apart(path, process)


def main(argv: list[str]) -> int:
    """The child: migrate the database at ``argv[0]``; print what ran as JSON."""
    from medic.audit.migrations import migrate

    path = Path(argv[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = open_for_writing(path)
    try:
        ran = migrate(conn)
    finally:
        conn.close()
    print(json.dumps(ran))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
