"""``medic audit verify`` and ``medic audit checkpoint``: is the log the one written?

``verify`` recomputes the keyed hash chain (the key: ``--key-file``, the config's
``audit.key``, or ``audit.key`` next to the database) and holds it against
checkpoints given with ``--checkpoint COUNT:HASH`` or ``--checkpoints FILE``. Exit 0:
intact; 1: broken, naming the first bad event; 2: it could not be checked (no key,
the wrong key, a bad checkpoint). ``checkpoint`` prints the current head.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import click

from medic.audit.anchor import chain_head
from medic.audit.chain import ChainKey
from medic.audit.key import AuditKeyError, load_key, read_key_file
from medic.audit.verify import Checkpoint, Verdict, verify
from medic.cli.audit_source import SourceSpec, open_local, source_options
from medic.clock import iso
from medic.config import load_config
from medic.errors import ConfigError
from medic.regular_file import read_regular

MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024  # a checkpoint a line: millions of them
_POINT = re.compile(r"^(\d+):([0-9a-f]{64})$")
_LOGGED = re.compile(r"\bcount=(\d+)\b.*\bhead=([0-9a-f]{64})\b")
FORMS = (
    "COUNT:HASH (as medic audit checkpoint prints it), a JSON object with count and"
    " head, or an audit.checkpoint log line"
)


class CheckpointParam(click.ParamType[Checkpoint, str]):
    """``COUNT:HASH``: the event count and the hash of the last event then."""

    name = "COUNT:HASH"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> Checkpoint:
        if isinstance(value, Checkpoint):
            return value
        point = _parse_point(str(value).strip())
        if point is None:
            self.fail(f"{value!r} is not COUNT:HASH (e.g. 1200:<64 hex digits>)", param, ctx)
        return point


def _parse_point(text: str) -> Checkpoint | None:
    first = text.split(maxsplit=1)
    match = _POINT.fullmatch(first[0] if first else "")
    if match is None:
        match = _LOGGED.search(text)
    if match is None:
        return None
    return Checkpoint(int(match.group(1)), match.group(2))


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Every checkpoint in ``path``, one a line; blank lines and ``#`` comments skipped."""
    try:
        lines = read_regular(str(path), MAX_CHECKPOINT_BYTES).decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise click.ClickException(f"cannot read checkpoints {path}: {reason}") from exc
    points: list[Checkpoint] = []
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        point = _parse_point(text) if not text.startswith("{") else _json_point(text)
        if point is None:
            raise click.ClickException(f"{path}:{number}: not a checkpoint: write {FORMS}")
        points.append(point)
    return points


def _json_point(text: str) -> Checkpoint | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    count, head = data.get("count"), data.get("head")
    if type(count) is not int or not isinstance(head, str):
        return None
    return _parse_point(f"{count}:{head}")


def _key(key_file: Path | None, config: Path | None, db: Path) -> ChainKey | None:
    try:
        if key_file is not None:
            return read_key_file(key_file)
        ref = load_config(config).audit.key if config is not None else None
        return load_key(ref, db)
    except (AuditKeyError, ConfigError) as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        raise click.ClickException(f"{exc.message}{hint}") from exc


@click.command("verify")
@source_options()
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path), help="The chain key.")
@click.option(
    "--checkpoint",
    "points",
    type=CheckpointParam(),
    multiple=True,
    help="COUNT:HASH from medic audit checkpoint or the log; repeat.",
)
@click.option(
    "--checkpoints",
    "points_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file of checkpoints, one a line.",
)
def verify_cmd(
    source: SourceSpec,
    key_file: Path | None,
    points: tuple[Checkpoint, ...],
    points_file: Path | None,
) -> None:
    """Recompute the keyed hash chain and hold it against checkpoints: exit 0 intact,
    1 broken (naming the first bad event), 2 not checkable (no key, wrong key)."""
    wanted = [*points, *(read_checkpoints(points_file) if points_file else [])]
    with open_local(source) as local:
        verdict = verify(local.conn, _key(key_file, source.config, local.path), wanted)
        path = local.path
    click.echo(_describe(verdict, path))
    if not verdict.ok:
        raise click.exceptions.Exit(1 if verdict.checkable else 2)


def _describe(verdict: Verdict, path: Path) -> str:
    if not verdict.ok and verdict.bad is not None:
        return f"broken: event {verdict.bad} in {path} {verdict.reason}"
    if not verdict.ok and not verdict.checkable:
        return f"cannot verify {path}: {verdict.reason}"
    if not verdict.ok:
        return f"broken: {path}: {verdict.reason}"
    text = f"ok: {verdict.checked} events in {path}, hash chain intact"
    if not verdict.keyed and verdict.checked:
        text += (
            "; the chain is not keyed (written before the audit key existed): whoever could"
            " write the file could have rewritten it"
        )
    elif verdict.legacy:
        text += (
            f"; the first {verdict.legacy} predate the audit key and were checked unkeyed"
            " (whoever could write the file could have rewritten them)"
        )
    if verdict.pruned:
        text += f"; the first {verdict.pruned} were pruned by retention (checked from the anchor)"
    if verdict.checkpoints:
        text += f"; {verdict.checkpoints} checkpoint(s) match"
    return text


@click.command("checkpoint")
@source_options()
def checkpoint_cmd(source: SourceSpec) -> None:
    """Print the chain head now, COUNT:HASH and the time: keep it off this host, and
    pass it to verify --checkpoint later."""
    with open_local(source) as local:
        count, head = chain_head(local.conn)
    if not count:
        raise click.ClickException("the audit log is empty: there is no head to checkpoint yet")
    click.echo(f"{Checkpoint(count, head)} {iso(time.time())}")
