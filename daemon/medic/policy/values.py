"""A policy's own values, read once into the model's types (durations in seconds).

After the envelope schema, :func:`read_values` reads every key of one policy that the
model holds as it is written, converting each well-formed value once: a duration to
seconds, a share like ``"20%"`` to a number, a list to a tuple. A value that does not
convert is left out: the schema has already said what is wrong with it. The semantic
checks read the converted values (the order of on-call levels, the share of targets)
and the builder hands them to the model as keyword arguments, so a key the policy
does not write takes the model's default (:mod:`medic.policy.defaults`).

Probe and step options are not read here: their plugins read them. Probe ``every`` and
``timeout`` and step ``timeout``, whose defaults are their type's, are read by the
builder (:mod:`medic.policy.build`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from medic.durations import parse_duration
from medic.policy.model import Level

# A written value -> the model's keyword arguments it gives; raises if it is malformed.
Convert = Callable[[Any], dict[str, Any]]
_MALFORMED = (ValueError, TypeError, AttributeError, KeyError)  # DurationError is a ValueError


def _same(value: Any) -> Any:
    return value


def _as(name: str, convert: Callable[[Any], Any] = _same) -> Convert:
    return lambda value: {name: convert(value)}


def _share(count: str, percent: str) -> Convert:
    """A count (``2``) or a share of a whole (``"20%"``), into one of two model fields."""

    def convert(value: Any) -> dict[str, Any]:
        if isinstance(value, int) and not isinstance(value, bool):
            return {count: value}
        if isinstance(value, str) and value.endswith("%"):
            return {percent: float(value[:-1])}
        raise ValueError(value)

    return convert


_seconds = parse_duration
# Each mapping: a key as the file writes it -> how it becomes the model's keywords.
POLICY: dict[str, Convert] = {
    "for": _as("hold", _seconds),
    "dry_run": _as("dry_run"),
    "description": _as("description"),
    "labels": _as("labels", dict),
    "depends_on": _as("depends_on", tuple),
}
VERIFY: dict[str, Convert] = {"after": _as("after", _seconds)}
LIMITS: dict[str, Convert] = {
    "max": _as("max"),
    "per": _as("per", _seconds),
    "cooldown": _as("cooldown", _seconds),
    "max_targets": _share("max_targets", "max_targets_percent"),
}
ESCALATE: dict[str, Convert] = {
    "notify": _as("notify", tuple),
    "after_failures": _as("after_failures"),
    "on_suppressed": _as("on_suppressed"),
    "on_probe_failure": _as("on_probe_failure"),
    "repeat": _as("repeat", _seconds),
    "severity": _as("severity"),
    "notify_healed": _as("notify_healed", tuple),
}  # ``levels`` are read one by one (:func:`_level_after`)
APPROVAL: dict[str, Convert] = {"timeout": _as("timeout", _seconds), "notify": _as("notify", tuple)}
WINDOW: dict[str, Convert] = {
    "duration": _as("duration", _seconds),
    "timezone": _as("timezone"),
    "act": _as("act"),
    "reason": _as("reason"),
}
FLEET_BUDGET: dict[str, Convert] = {
    "group": _as("group"),
    "max": _share("max", "max_percent"),
    "per": _as("per", _seconds),
    "wait": _as("wait", _seconds),
    "on_unreachable": _as("on_unreachable"),
}


@dataclass(frozen=True)
class PolicyValues:
    """One policy's values as the model's keyword arguments, section by section."""

    policy: dict[str, Any]
    verify: dict[str, Any]
    limits: dict[str, Any]
    escalate: dict[str, Any]
    # Each on-call level's ``after`` in seconds, by index, where it is a duration.
    level_after: dict[int, float]
    # None: no ``approval: {required: true}``, the policy acts without asking.
    approval: dict[str, Any] | None
    windows: tuple[dict[str, Any], ...]
    fleet_budget: dict[str, Any] | None


def read_values(raw: Mapping[str, Any]) -> PolicyValues:
    """The values of one policy (a mapping the envelope schema has seen)."""
    escalate = _section(raw, "escalate")
    levels = escalate.get("levels")
    after = _level_after(levels)
    typed = _read(escalate, ESCALATE)
    if isinstance(levels, list) and len(after) == len(levels):
        with contextlib.suppress(*_MALFORMED):
            typed["levels"] = tuple(
                Level(after=after[i], notify=tuple(level["notify"]))
                for i, level in enumerate(levels)
            )
    approval = _section(raw, "approval")
    windows = raw.get("maintenance")
    budget = raw.get("fleet_budget")
    return PolicyValues(
        policy=_read(raw, POLICY),
        verify=_read(_section(raw, "verify"), VERIFY),
        limits=_read(_section(raw, "limits"), LIMITS),
        escalate=typed,
        level_after=after,
        approval=_read(approval, APPROVAL) if approval.get("required") else None,
        windows=tuple(
            _read(w if isinstance(w, dict) else {}, WINDOW)
            for w in (windows if isinstance(windows, list) else [])
        ),
        fleet_budget=_read(budget, FLEET_BUDGET) if isinstance(budget, dict) else None,
    )


def _section(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _read(section: Mapping[str, Any], table: Mapping[str, Convert]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, convert in table.items():
        if key in section:
            try:
                out.update(convert(section[key]))
            except _MALFORMED:
                continue  # the schema has reported it
    return out


def _level_after(levels: Any) -> dict[int, float]:
    out: dict[int, float] = {}
    for index, level in enumerate(levels if isinstance(levels, list) else []):
        try:
            out[index] = _seconds(level["after"])
        except _MALFORMED:
            continue
    return out
