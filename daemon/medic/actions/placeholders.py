"""Placeholders: the one place where values from targets and measurements enter a step.

Every action that fills ``{target}``, ``{policy}``, ``{incident}``, ``{host}`` or a probe
field goes through this module, with the rules of the slot the value lands in:

- **argv items** (``command``, ``container.exec``, a systemd ``unit``): a value never
  holds a NUL or a line break; a value that begins with ``-`` is refused unless the
  step sets ``allow_dash: true`` (it would be read as an option).
- **paths**: an argv item whose own text holds ``/`` is a path. There a value may not
  hold ``/``, and a path segment a value touches may not end up empty, ``.`` or ``..``,
  unless the step sets ``allow_path: true``: a value cannot leave the directory.
- **URLs** (``http.request``): values are percent-encoded, as a path segment before the
  ``?`` and as a query value after it; a path segment a value touches may not be empty,
  ``.`` or ``..`` (unless ``allow_path: true``, which also keeps ``/`` as is); a value
  in the host part must be a host name.
- **shell text** takes no placeholders at all (``command`` refuses them at validation):
  its values travel as ``$MEDIC_*`` environment variables, which the shell never
  re-parses. Quoting a value into shell text depends on the quotes around it, which a
  value can close, so Medic does not try.

A refused value is a :class:`PlaceholderRefused`, an :class:`~medic.errors.ActionError`:
the step fails with the reason in the audit log and nothing is run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from medic.errors import ActionError

# A name, or a dotted step output name (``steps.renew.json.cert.path``).
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*)\}")
_LINE_BREAKS = ("\x00", "\n", "\r")
_DOT_SEGMENTS = ("", ".", "..")
_HOST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
_SHOWN = 60  # characters of a refused value quoted in the message
_DOT_REASON = "it would make a path segment empty, '.' or '..'"
_PATH_FIX = "if the value is meant to be a path, set allow_path: true on the step"

ALLOW_DASH: dict[str, Any] = {
    "type": "boolean",
    "description": "Let a substituted value begin with '-' (default false: it could be "
    "read as an option).",
}
ALLOW_PATH: dict[str, Any] = {
    "type": "boolean",
    "description": "Let a substituted value hold '/' or be '.' or '..' inside a path "
    "(default false: it could leave the directory).",
}


@dataclass(frozen=True)
class Allow:
    """What a step lets its values do beyond the safe default."""

    dash: bool = False
    path: bool = False

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> Allow:
        return cls(bool(options.get("allow_dash")), bool(options.get("allow_path")))


class PlaceholderError(ActionError):
    """A placeholder that cannot be filled here; the step fails and nothing runs."""


class UnknownPlaceholder(PlaceholderError):
    def __init__(self, name: str, where: str, values: Mapping[str, Any]) -> None:
        known = ", ".join("{" + n + "}" for n in sorted(values))
        super().__init__(
            f"unknown placeholder {{{name}}} in {where}; known here: {known}",
            placeholder=name,
        )
        self.name = name


class MissingOutput(PlaceholderError):
    """A ``{steps.<id>...}`` placeholder whose step published no such value."""

    def __init__(self, name: str, where: str, values: Mapping[str, Any]) -> None:
        step = name.split(".")[1] if name.count(".") >= 1 else name
        mine = sorted(n for n in values if n.startswith(f"steps.{step}."))
        found = (
            "it published " + ", ".join("{" + n + "}" for n in mine[:20])
            if mine
            else "it published nothing (it has no output of that kind, or did not run)"
        )
        super().__init__(
            f"step output {{{name}}} in {where} is missing: {found}",
            hint="check what the earlier step prints (first line of stdout, or a JSON object)",
            placeholder=name,
        )
        self.name = name


class PlaceholderRefused(PlaceholderError):
    def __init__(self, name: str, value: str, where: str, reason: str, fix: str) -> None:
        shown = value if len(value) <= _SHOWN else value[:_SHOWN] + "..."
        super().__init__(
            f"refused to put {{{name}}} = {shown!r} in {where}: {reason}",
            hint=fix,
            placeholder=name,
            value=shown,
            where=where,
        )


def placeholders(text: str) -> list[str]:
    """The placeholder names in ``text``, in order."""
    return _PLACEHOLDER.findall(text)


@dataclass(frozen=True)
class _Filled:
    """One template filled: the text, and each value's name and span in it."""

    text: str
    spans: tuple[tuple[str, str, int, int], ...]  # name, value, start, end
    literal: str  # the template's own text, placeholders removed


def _fill(
    template: str,
    values: Mapping[str, Any],
    where: str,
    encode: Callable[[str], str] | None = None,
) -> _Filled:
    out: list[str] = []
    literal: list[str] = []
    spans: list[tuple[str, str, int, int]] = []
    size, last = 0, 0
    for match in _PLACEHOLDER.finditer(template):
        before = template[last : match.start()]
        out.append(before)
        literal.append(before)
        size += len(before)
        name = match.group(1)
        if name not in values:
            if name.startswith("steps."):
                raise MissingOutput(name, where, values)
            raise UnknownPlaceholder(name, where, values)
        raw = values[name]
        value = "" if raw is None else str(raw)
        try:
            value.encode("utf-8", "surrogateescape")  # how argv and URLs will encode it
        except UnicodeEncodeError:
            raise PlaceholderRefused(
                name, value, where, "it is not valid text", "fix what the probe reports"
            ) from None
        text = encode(value) if encode else value
        spans.append((name, value, size, size + len(text)))
        out.append(text)
        size += len(text)
        last = match.end()
    out.append(template[last:])
    literal.append(template[last:])
    return _Filled("".join(out), tuple(spans), "".join(literal))


def _dot_segment(filled: _Filled, start: int = 0) -> tuple[str, str] | None:
    """A value (name, value) that makes a ``/``-separated segment empty, ``.`` or ``..``."""
    stop = len(filled.text)
    begin = start
    while begin <= stop:
        cut = filled.text.find("/", begin, stop)
        finish = stop if cut < 0 else cut
        if filled.text[begin:finish] in _DOT_SEGMENTS:
            for name, value, s, e in filled.spans:
                inside = begin <= s <= finish if s == e else s < finish and e > begin
                if inside:
                    return name, value
        begin = finish + 1
    return None


def fill_item(template: str, values: Mapping[str, Any], allow: Allow, where: str) -> str:
    """One argv item (or another single program argument) with its values checked."""
    filled = _fill(template, values, where)
    is_path = "/" in filled.literal
    for name, value, _s, _e in filled.spans:
        if any(ch in value for ch in _LINE_BREAKS):
            raise PlaceholderRefused(
                name,
                value,
                where,
                "a value may not hold a NUL or a line break",
                "pass such text to the program in a file, not as an argument",
            )
        if value.startswith("-") and not allow.dash:
            raise PlaceholderRefused(
                name,
                value,
                where,
                "a value that begins with '-' would be read as an option",
                "if the program expects such values, set allow_dash: true on the step",
            )
        if is_path and not allow.path and "/" in value:
            raise PlaceholderRefused(
                name, value, where, "a value in a path may not hold '/'", _PATH_FIX
            )
    if is_path and not allow.path and (bad := _dot_segment(filled)) is not None:
        raise PlaceholderRefused(*bad, where, _DOT_REASON, _PATH_FIX)
    return filled.text


def fill_argv(
    items: Iterable[str], values: Mapping[str, Any], allow: Allow, what: str = "argv"
) -> list[str]:
    """Every argv item filled; each stays one argument whatever its value holds."""
    return [fill_item(item, values, allow, f"{what}[{i}]") for i, item in enumerate(items)]


def fill_url(template: str, values: Mapping[str, Any], allow: Allow) -> str:
    """A URL with its values percent-encoded for the part they land in."""
    scheme_end = template.find("://")
    after_scheme = scheme_end + 3 if scheme_end >= 0 else 0
    path_start = _first(template, "/?#", after_scheme)
    query_start = _first(template, "?#", path_start)
    host = _fill(template[:path_start], values, "url")
    for name, value, _s, _e in host.spans:
        if not _HOST_NAME.fullmatch(value):
            raise PlaceholderRefused(
                name,
                value,
                "the url's host",
                "a host must be letters, digits, '.' and '-'",
                "put the value in the path or the query instead",
            )
    safe = "/" if allow.path else ""
    path = _fill(template[path_start:query_start], values, "url", lambda v: _quote(v, safe))
    bad = _dot_segment(path, 1) if not allow.path and path.text.startswith("/") else None
    if bad is not None:
        raise PlaceholderRefused(*bad, "the url's path", _DOT_REASON, _PATH_FIX)
    rest = _fill(template[query_start:], values, "url", lambda v: _quote(v, ""))
    return host.text + path.text + rest.text


def _quote(value: str, safe: str) -> str:
    return quote(value, safe=safe, errors="surrogateescape")


def _first(text: str, chars: str, start: int) -> int:
    """Where the first of ``chars`` is in ``text`` from ``start`` (else the length)."""
    found = [i for i in (text.find(c, start) for c in chars) if i >= 0]
    return min(found, default=len(text))
