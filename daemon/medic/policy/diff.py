"""What changed between two policy sets, in the terms a reviewer cares about.

Both sides are loaded with the real loader, so the comparison is of the frozen
:class:`~medic.policy.model.Policy` objects, not of YAML text: reformatting a file,
reordering keys or writing ``90s`` instead of ``1m30s`` is no change; a threshold,
a window, a limit, a step, an escalation level is. Each policy becomes an ordered
list of ``field -> readable value`` pairs (:func:`describe`) and the two lists are
compared field by field. Steps are compared position by position while their action
types line up; otherwise the step list is shown whole (added, removed, reordered).

A policy that disappeared while one with another name but the very same fields
appeared is reported as renamed, not as one removal and one addition.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from medic.durations import format_duration
from medic.policy.model import Policy, Step
from medic.policy.windows import MaintenanceWindow

ChangeKind = Literal["added", "removed", "changed"]
NONE = "(none)"
_SIGN = {"added": "+", "removed": "-", "changed": "~"}


@dataclass(frozen=True)
class Change:
    """One difference: a whole policy added or removed, or one field of it changed."""

    policy: str
    kind: ChangeKind
    field: str = ""
    old: str | None = None
    new: str | None = None

    def __str__(self) -> str:
        head = f"{_SIGN[self.kind]} {self.policy}"
        if self.kind != "changed":
            return f"{head}: {self.new if self.kind == 'added' else self.old}"
        return f"{head}: {self.field} {self.old or NONE} -> {self.new or NONE}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "change": self.kind,
            "field": self.field or None,
            "old": self.old,
            "new": self.new,
        }


def render(value: Any) -> str:
    """A value as a reviewer reads it: flow-style lists and maps, strings bare when plain."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        plain = value and value.strip() == value and not set(value) & set(",:[]{}#\"'\n\t")
        return value if plain else json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render(v) for v in value) + "]"
    return repr(value)


def _names(names: Sequence[str]) -> str | None:
    return ", ".join(names) if names else None


def _window(window: MaintenanceWindow) -> str:
    text = f"{window.schedule.text!r} for {format_duration(window.duration)} {window.timezone}"
    return text + (" (acts)" if window.act else "")


def _step(step: Step) -> str:
    options = f" {render(dict(step.options))}" if step.options else ""
    return f"{step.type}{options} timeout {format_duration(step.timeout)}"


def _step_fields(index: int, step: Step) -> Iterable[tuple[str, str | None]]:
    yield f"remediate[{index}].type", step.type
    for key, value in step.options.items():
        yield f"remediate[{index}].{key}", render(value)
    yield f"remediate[{index}].timeout", format_duration(step.timeout)


def describe(policy: Policy, *, steps: bool = True) -> dict[str, str | None]:
    """Every semantic field of ``policy`` as ``path -> readable value`` (None: unset)."""
    probe, limits, esc = policy.probe, policy.limits, policy.escalate
    out: dict[str, str | None] = {
        "description": policy.description or None,
        "probe.type": probe.type,
        "probe.every": format_duration(probe.every),
        "probe.timeout": format_duration(probe.timeout),
    }
    out.update({f"probe.{key}": render(value) for key, value in probe.options.items()})
    out["when"] = policy.when.text
    out["clear_when"] = policy.clear_when.text if policy.clear_when else None
    out["for"] = format_duration(policy.hold) if policy.hold else None
    if steps:
        for index, step in enumerate(policy.remediate):
            out.update(_step_fields(index, step))
    out["verify.after"] = format_duration(policy.verify.after)
    out["limits.max"] = str(limits.max)
    out["limits.per"] = format_duration(limits.per)
    out["limits.cooldown"] = format_duration(limits.cooldown)
    out["limits.max_targets"] = None if limits.max_targets is None else str(limits.max_targets)
    percent = limits.max_targets_percent
    out["limits.max_targets_percent"] = None if percent is None else f"{percent:g}%"
    out["escalate.notify"] = _names(esc.notify)
    out["escalate.after_failures"] = str(esc.after_failures)
    out["escalate.on_suppressed"] = render(esc.on_suppressed)
    out["escalate.on_probe_failure"] = str(esc.on_probe_failure)
    for index, level in enumerate(esc.levels):
        out[f"escalate.levels[{index}]"] = (
            f"after {format_duration(level.after)}: {', '.join(level.notify)}"
        )
    out["escalate.repeat"] = None if esc.repeat is None else format_duration(esc.repeat)
    out["escalate.severity"] = esc.severity
    if policy.approval is None:
        out["approval"] = None
    else:
        out["approval.timeout"] = format_duration(policy.approval.timeout)
        out["approval.notify"] = _names(policy.approval.notify)
    out["depends_on"] = _names(policy.depends_on)
    out["dry_run"] = render(policy.dry_run)
    out.update({f"labels.{key}": value for key, value in sorted(policy.labels.items())})
    for index, window in enumerate(policy.maintenance):
        out[f"maintenance[{index}]"] = _window(window)
    return out


def _merged(old: list[str], new: list[str]) -> list[str]:
    """The keys of both, in order: ``new``'s, each key only ``old`` has after its
    predecessor in ``old``."""
    keys = list(new)
    for index, key in enumerate(old):
        if key not in keys:
            before = next((k for k in reversed(old[:index]) if k in keys), None)
            keys.insert(0 if before is None else keys.index(before) + 1, key)
    return keys


def _field_changes(
    name: str, old: Mapping[str, str | None], new: Mapping[str, str | None]
) -> list[Change]:
    out = []
    for key in _merged(list(old), list(new)):
        before, after = old.get(key), new.get(key)
        if before != after:
            out.append(Change(name, "changed", key, before, after))
    return out


def _steps_changes(name: str, old: Sequence[Step], new: Sequence[Step]) -> list[Change]:
    """The same steps in another order, or a list whose action types changed, are
    shown whole, old and new; otherwise each step is compared in place."""
    before, after = list(map(_step, old)), list(map(_step, new))
    if before == after:
        return []
    reordered = sorted(before) == sorted(after)
    if not reordered and [s.type for s in old] == [s.type for s in new]:
        fields_old: dict[str, str | None] = {}
        fields_new: dict[str, str | None] = {}
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            fields_old.update(_step_fields(index, a))
            fields_new.update(_step_fields(index, b))
        return _field_changes(name, fields_old, fields_new)
    field = "remediate (reordered)" if reordered else "remediate"
    return [Change(name, "changed", field, "; ".join(before) or None, "; ".join(after) or None)]


def compare_policy(old: Policy, new: Policy) -> list[Change]:
    """The field changes from ``old`` to ``new`` (the same policy), in field order."""
    changes = _field_changes(new.name, describe(old, steps=False), describe(new, steps=False))
    steps = _steps_changes(new.name, old.remediate, new.remediate)
    # Steps go right after `for`, where a reader of the policy file finds them.
    at = next(
        (i for i, c in enumerate(changes) if not c.field.startswith(_BEFORE_STEPS)), len(changes)
    )
    return [*changes[:at], *steps, *changes[at:]]


_BEFORE_STEPS = ("description", "probe.", "when", "clear_when", "for")


def _summary(policy: Policy) -> str:
    return (
        f"{policy.probe.type} every {format_duration(policy.probe.every)}, when {policy.when.text}"
    )


def diff_policies(old: Iterable[Policy], new: Iterable[Policy]) -> list[Change]:
    """Every change from the ``old`` policy set to the ``new`` one: removed and renamed
    policies, then changed and added ones, each in the new set's order."""
    before = {p.name: p for p in old}
    after = {p.name: p for p in new}
    gone = [p for name, p in before.items() if name not in after]
    came = [p for name, p in after.items() if name not in before]
    renamed: dict[str, str] = {}  # new name -> old name
    for policy in gone:
        fields = describe(policy)
        match = next((p for p in came if p.name not in renamed and describe(p) == fields), None)
        if match is not None:
            renamed[match.name] = policy.name
    out = [
        Change(p.name, "removed", old=_summary(p)) for p in gone if p.name not in renamed.values()
    ]
    for name, policy in after.items():
        if name in renamed:
            out.append(Change(renamed[name], "changed", "name", renamed[name], name))
        elif name in before:
            out.extend(compare_policy(before[name], policy))
        else:
            out.append(Change(name, "added", new=_summary(policy)))
    return out
