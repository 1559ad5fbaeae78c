"""Where ``medic audit`` reads from: one :class:`AuditSource`, local or central.

Every audit command takes the same three options (``--db``, ``--config`` and, for the
commands that read events and incidents, ``--central``) and gets one source:
:class:`LocalSource` over the agent's SQLite file, opened read-only through
sqlite-utils, or :class:`~medic.cli.audit_central.CentralSource` over the fleet's
PostgreSQL. The commands print what the source returns and never ask which it is. A
missing or foreign file, or a source that cannot answer, is a ClickException that
says what to do.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import click

from medic.audit import query as q
from medic.audit.migrations import is_audit_database
from medic.config import load_config
from medic.errors import ConfigError

if TYPE_CHECKING:
    import sqlite_utils

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_DB = Path(".medic/audit.db")
Row = dict[str, Any]


class AuditSource(Protocol):
    """What the audit commands read: events, one incident's story, incidents."""

    @property
    def name(self) -> str:
        """Where the rows come from, for messages (a path, or the central database)."""
        ...

    def events(self, query: q.AuditQuery) -> Iterable[Row]:
        """Events matching ``query`` (``incident`` may be a unique id prefix), in its order."""
        ...

    def incident(self, text: str) -> tuple[Row, list[Row]]:
        """The incident ``text`` names (a unique prefix is enough) and its events."""
        ...

    def incidents(
        self, *, open_only: bool, policy: str | None, target: str | None, limit: int
    ) -> list[Row]:
        """Incidents, most recently opened first."""
        ...


@dataclass(frozen=True)
class SourceSpec:
    """The source options as given: ``--db``, ``--config``, ``--central``."""

    db: Path | None
    config: Path | None
    central: bool = False


def one_match(text: str, matches: list[str], where: str) -> str:
    """The one incident id ``text`` matched, or a ClickException naming the candidates."""
    if not matches:
        raise click.ClickException(f"no incident {text!r} in {where}")
    if len(matches) > 1:
        raise click.ClickException(
            f"incident {text!r} is ambiguous ({', '.join(matches)}): give more of the id"
        )
    return matches[0]


class LocalSource:
    """The agent's audit database, read-only; reads go through sqlite-utils."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        import sqlite_utils  # the CLI's reads only: the agent never loads it for them

        self.conn = conn
        self.path = path
        # No plugins run against the audit log, and no pragma changes it.
        self.db: sqlite_utils.Database = sqlite_utils.Database(
            conn, recursive_triggers=False, execute_plugins=False
        )

    @property
    def name(self) -> str:
        return str(self.path)

    def _incident_id(self, text: str) -> str:
        return one_match(text, q.match_incidents(self.conn, text), self.name)

    def events(self, query: q.AuditQuery) -> Iterator[Row]:
        if query.incident is not None:
            query = replace(query, incident=self._incident_id(query.incident))
        condition, params = q.event_filter(query)
        rows = self.db.table("events").rows_where(
            condition or None,
            params,
            order_by=q.event_order(query),
            limit=query.limit or None,
        )
        return map(q.decode_row, rows)

    def incident(self, text: str) -> tuple[Row, list[Row]]:
        found = self._incident_id(text)
        rows = self.db.table("incidents").rows_where("id = ?", [found])
        header = q.incident_row(q.decode_row(next(iter(rows))))
        events = self.db.table("events").rows_where("incident = ?", [found], order_by="time, id")
        return header, [q.decode_row(row) for row in events]

    def incidents(
        self, *, open_only: bool, policy: str | None, target: str | None, limit: int
    ) -> list[Row]:
        condition, params = q.incident_filter(open_only=open_only, policy=policy, target=target)
        rows = self.db.table("incidents").rows_where(
            condition or None, params, order_by="opened DESC, id", limit=limit or None
        )
        return [q.incident_row(q.decode_row(row)) for row in rows]


def database_path(db: Path | None, config: Path | None) -> Path:
    """The local database ``--db`` or ``--config``'s state_dir names (default .medic)."""
    if db is not None and config is not None:
        raise click.ClickException("pass either --db or --config, not both")
    if config is not None:
        try:
            return load_config(config).audit_path
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
    return db or DEFAULT_DB


@contextmanager
def open_local(spec: SourceSpec) -> Iterator[LocalSource]:
    """The local database, opened read-only, or a ClickException that says what to do."""
    path = database_path(spec.db, spec.config)
    if not path.is_file():
        raise click.ClickException(
            f"no audit database at {path}: start the agent with medic run, or pass --db"
        )
    try:
        conn = q.connect_readonly(path)
        current = is_audit_database(conn)
    except sqlite3.Error as exc:
        raise click.ClickException(f"cannot read the audit database {path}: {exc}") from exc
    if not current:
        conn.close()
        raise click.ClickException(
            f"{path} is not a Medic audit database: pass --db with the agent's audit.db"
        )
    with closing(conn):
        try:
            yield LocalSource(conn, path)
        except sqlite3.Error as exc:  # locked for too long, corrupt page, ...
            raise click.ClickException(f"reading {path} failed: {exc}") from exc


@contextmanager
def open_source(spec: SourceSpec) -> Iterator[AuditSource]:
    """The source ``spec`` names: the central database with ``--central``, else local."""
    if not spec.central:
        with open_local(spec) as local:
            yield local
        return
    if spec.db is not None:
        raise click.ClickException("pass either --db or --central, not both")
    from medic.cli.audit_central import CentralSource, central_dsn

    yield CentralSource(central_dsn(spec.config))


def source_options(*, with_central: bool = False) -> Callable[[F], F]:
    """``--db`` and ``--config`` (and ``--central`` when the command can read the
    fleet's database), handed to the command as one ``source: SourceSpec``."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(
            *args: Any, db: Path | None, config: Path | None, central: bool = False, **kw: Any
        ) -> Any:
            return fn(*args, source=SourceSpec(db, config, central), **kw)

        command: Any = wrapper
        if with_central:
            command = click.option(
                "--central",
                is_flag=True,
                help="Read the fleet's central PostgreSQL (the config's "
                "fleet.central_audit.dsn, or $MEDIC_CENTRAL_AUDIT_DSN) instead of the "
                "local database.",
            )(command)
        command = click.option(
            "--config",
            "config",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Agent config file; its state_dir names the database.",
        )(command)
        command = click.option(
            "--db",
            "db",
            type=click.Path(dir_okay=False, path_type=Path),
            help=f"The audit database [default: {DEFAULT_DB}].",
        )(command)
        return command  # type: ignore[no-any-return]

    return decorate
