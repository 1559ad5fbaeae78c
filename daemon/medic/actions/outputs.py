"""Step outputs: what one remediation step hands to the steps after it.

A step with an ``id`` (``- command: {id: renew, argv: [...]}``) publishes, once it
succeeded, values the later steps of the same attempt may use as placeholders:

- ``{steps.<id>.stdout}``: the first line of its standard output (``command``,
  ``container.exec``), surrounding blanks removed;
- ``{steps.<id>.json.<key>.<key>...}``: a field of its output parsed as a JSON object
  (the standard output, or the body ``http.request`` received); list items by index
  (``json.items.0.name``); strings as they are, numbers, booleans and null as JSON;
- ``{steps.<id>.exit_code}`` and ``{steps.<id>.status}`` (an HTTP status).

They are bounded: the output itself is capped by the action (16 KiB), at most
``MAX_VALUES`` values per step and ``MAX_DEPTH`` levels of JSON are kept, and a value
longer than ``MAX_VALUE`` characters is left out rather than cut (a cut path or token
would be wrong in a way nobody sees). A value reaches the later step through the same
slot rules as a probe field (:mod:`medic.actions.placeholders`), and a placeholder naming
an output that does not exist fails that step with the names that do (nothing runs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

PREFIX = "steps."
MAX_VALUE = 4096
MAX_VALUES = 200
MAX_DEPTH = 8
ID_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
# A segment a placeholder can spell; JSON keys with other characters are not reachable.
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


def step_outputs(step_id: str, details: Mapping[str, Any]) -> dict[str, str]:
    """The placeholder values a successful step with ``step_id`` publishes."""
    base = f"{PREFIX}{step_id}."
    out: dict[str, str] = {}
    for key in ("exit_code", "status"):
        if isinstance(details.get(key), int) and not isinstance(details.get(key), bool):
            out[base + key] = str(details[key])
    stdout = details.get("stdout")
    if isinstance(stdout, str):
        lines = stdout.strip().splitlines()
        _put(out, base + "stdout", lines[0].strip() if lines else "")
    text = stdout if isinstance(stdout, str) else details.get("body")
    if isinstance(text, str) and text.lstrip().startswith(("{", "[")):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict | list):
            _flatten(out, base + "json", parsed, 0)
    return out


def _flatten(out: dict[str, str], name: str, value: Any, depth: int) -> None:
    if len(out) >= MAX_VALUES:
        return
    if isinstance(value, dict | list):
        if depth >= MAX_DEPTH:
            return
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if _SEGMENT.fullmatch(str(key)):
                _flatten(out, f"{name}.{key}", item, depth + 1)
        return
    _put(out, name, value if isinstance(value, str) else json.dumps(value))


def _put(out: dict[str, str], name: str, value: str) -> None:
    if len(value) <= MAX_VALUE and len(out) < MAX_VALUES:
        out[name] = value


def step_reference(name: str) -> str | None:
    """The step id a placeholder name refers to (``steps.renew.stdout`` -> ``renew``)."""
    if not name.startswith(PREFIX):
        return None
    return name[len(PREFIX) :].split(".", 1)[0]
