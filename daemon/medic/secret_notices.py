"""Where a file still names a secret the old way, and what to write instead.

``token_env: NAME``, ``api.token_file: /path``, a webhook's ``secret_env`` keep working,
but ``medic validate`` and the agent's start print, for each one, the file, the line
and the new spelling (``token: {env: NAME}``). Which keys are old spellings is read
from the schemas (:func:`medic.secrets.old_spelling` marks them), so a plugin that
renames a secret option gets the same notice with no code here.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from medic import secrets
from medic.errors import Location, PolicyWarning
from medic.logsetup import get_logger
from medic.policy.bounds import MAX_FILE_BYTES
from medic.policy.yamlpos import Document, parse_yaml
from medic.regular_file import read_regular

log = get_logger("medic.secrets")


def old_keys(schema: Any) -> frozenset[str]:
    """Every key that some part of ``schema`` marks as an old spelling of a secret."""
    return frozenset(_old_keys(schema))


def _old_keys(schema: Any) -> Iterator[str]:
    if isinstance(schema, list):
        for item in schema:
            yield from _old_keys(item)
    elif isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                yield from (
                    n
                    for n, sub in value.items()
                    if isinstance(sub, dict) and secrets.NEW_SPELLING in sub
                )
            yield from _old_keys(value)


def notices(schema: Any, doc: Document, file: str) -> list[PolicyWarning]:
    """One warning per old spelling in ``doc`` (checked against ``schema``), at its key."""
    out = []
    for found in secrets.old_spellings(schema, doc.data):
        where = doc.locate(found.path, key=True)
        inside = found.path[2:] if found.path[:1] == ("policies",) else found.path
        out.append(
            PolicyWarning(
                f"{'.'.join(str(p) for p in inside)} is an old spelling of a secret",
                location=Location(file, where.line, where.column),
                policy=doc.policy_name(found.path),
                hint=found.hint,
            )
        )
    return out


# Every old spelling ends with its source: ``token_env``, ``token_file``
# (tests/test_secret_spellings.py holds the built-ins to it). A file without either
# ending is not searched, so learning the old keys (which imports every probe and
# action module) waits for a file that may hold one.
OLD_ENDINGS = ("_env", "_file")


def _may_hold_old_keys(text: str) -> bool:
    if not any(ending in text for ending in OLD_ENDINGS):
        return False
    return any(key in text for key in _policy_keys())


@functools.cache
def _policy_keys() -> frozenset[str]:
    """The old keys any probe or action accepts (cheap: no whole-file schema)."""
    from medic.actions.base import actions
    from medic.probes.base import probes

    return frozenset(
        key for reg in (probes, actions) for _, c in reg.items() for key in old_keys(c.schema)
    )


@functools.cache
def _policy_schema() -> dict[str, Any]:
    """The whole policy-file schema, built only when a file holds an old key."""
    from medic.policy.schema import policy_file_schema

    return policy_file_schema()


def policy_file_notices(path: Path) -> list[PolicyWarning]:
    """The old spellings in one policy file (nothing when it cannot be read or parsed:
    loading it reports that)."""
    try:  # as the loader reads it: a FIFO or a device there is its error, not a hang
        text = read_regular(str(path), MAX_FILE_BYTES).decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return []
    if not _may_hold_old_keys(text):  # most files: no parse at all
        return []
    doc, _ = parse_yaml(text, str(path))
    return list(text_notices(text, doc, str(path))) if doc is not None else []


@functools.cache
def _class_keys(cls: type) -> frozenset[str]:
    """The old keys one probe or action class accepts."""
    return old_keys(getattr(cls, "schema", None))


def text_notices(
    text: str, doc: Document, file: str, classes: Iterable[type] | None = None
) -> tuple[PolicyWarning, ...]:
    """The old spellings in a policy file already parsed (the loader's ``doc``).

    ``classes``: the probe and action classes the file uses, when the loader knows
    them; an old key is only ever found in the options of one of those, so the other
    plugins need not even be imported. None: every registered class."""
    if not any(ending in text for ending in OLD_ENDINGS):  # most files: no walk at all
        return ()
    keys = _policy_keys() if classes is None else {k for c in classes for k in _class_keys(c)}
    if not any(key in text for key in keys):
        return ()
    return tuple(notices(_policy_schema(), doc, file))


def policy_notices(paths: Sequence[Path]) -> list[PolicyWarning]:
    """:func:`policy_file_notices` for every policy file in ``paths`` (files, or
    folders searched the way the loader searches them), in order."""
    from medic.policy.loader import _expand  # the loader's own search: one list of files

    files = [path for path, missing in _expand(paths) if missing is None]
    return [notice for path in files for notice in policy_file_notices(path)]


def log_notices(found: Sequence[PolicyWarning]) -> None:
    """Log each notice once, as the agent starts: where, and what to write instead."""
    for notice in found:
        log.warning(
            "secret.old_spelling",
            file=notice.location.file if notice.location else None,
            line=notice.location.line if notice.location else None,
            message=notice.message,
            hint=notice.hint,
        )
