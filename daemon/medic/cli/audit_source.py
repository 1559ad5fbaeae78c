"""Where ``medic audit`` reads from: ``--db`` or ``--config``, opened read-only.

Shared by every ``medic audit`` sub-command; a missing or foreign file is a
ClickException that says what to do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from medic.audit import query as q
from medic.audit.migrations import is_audit_database
from medic.config import load_config
from medic.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_DB = Path(".medic/audit.db")


def source_options(fn: F) -> F:
    fn = click.option(
        "--config",
        "config",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Agent config file; its state_dir names the database.",
    )(fn)
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False, path_type=Path),
        help=f"The audit database [default: {DEFAULT_DB}].",
    )(fn)


@contextmanager
def open_database(
    db: Path | None, config: Path | None
) -> Iterator[tuple[sqlite3.Connection, Path]]:
    """The database, opened read-only, or a ClickException that says what to do."""
    if db is not None and config is not None:
        raise click.ClickException("pass either --db or --config, not both")
    if config is not None:
        try:
            db = load_config(config).audit_path
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
    path = db or DEFAULT_DB
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
            yield conn, path
        except sqlite3.Error as exc:  # locked for too long, corrupt page, ...
            raise click.ClickException(f"reading {path} failed: {exc}") from exc
