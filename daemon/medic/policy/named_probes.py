"""Stage-3 checks for ``probes:``, several named probes in one policy.

Each named probe is checked like a ``probe:`` (type, options, ``validate()``); the
first named gives the targets (its class is the policy's for the action checks).
A condition must name a field as ``<probe>.<field>``: the probe must be one of the
names and the field one that probe yields. (A window, ``p95(x[5m])``, reads a top-level
field only, so the condition compiler already refuses one over ``app.latency``.)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from medic.policy.expr import Expression
from medic.policy.expr_nodes import Field, Node
from medic.policy.messages import choices
from medic.policy.yamlpos import JsonPath

if TYPE_CHECKING:
    from medic.policy.semantic import PolicyChecker


def check_named_probes(checker: PolicyChecker, named: Mapping[str, Any]) -> None:
    """Check every probe under ``probes:``; the first one's class gives the targets."""
    result = checker.result
    result.named = {}
    for name, probe in named.items():
        found = checker.check_probe(probe, (*checker.base, "probes", name))
        if found is None:
            continue
        result.named[name] = found
        if result.probe_cls is None and name == next(iter(named)):
            result.probe_cls = found[0]


def field_paths(node: Node) -> Iterator[tuple[str, ...]]:
    """Every field path a syntax tree reads (``app.error_rate`` -> ("app", "error_rate"))."""
    if isinstance(node, Field):
        yield node.path
        return
    for item in dataclasses.fields(node):  # type: ignore[arg-type]
        value = getattr(node, item.name)
        for child in value if isinstance(value, tuple | list) else (value,):
            if isinstance(child, Node):
                yield from field_paths(child)


def check_named_fields(
    checker: PolicyChecker, expression: Expression, text: str, path: JsonPath
) -> None:
    """Each field in the condition is ``<probe>.<field>`` of a named probe that yields it."""
    named = checker.result.named or {}
    raw_names = checker.raw.get("probes")
    listed = list(raw_names) if isinstance(raw_names, dict) else list(named)
    where = checker.doc.locate(path)

    def report(name: str, message: str, hint: str) -> None:
        found = re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", text)
        at = (checker.doc.text_position(path, found.start()) if found else None) or where
        checker.at(at, message, hint)

    seen: set[tuple[str, ...]] = set()
    for parts in sorted(set(field_paths(expression.root))):
        if parts in seen:
            continue
        seen.add(parts)
        dotted = ".".join(parts)
        probe = parts[0]
        if probe not in listed:
            report(
                dotted,
                f"{dotted!r} names no probe of this policy{choices(probe, listed, 'probes')}",
                "with probes:, write each field as <probe name>.<field>",
            )
            continue
        if len(parts) < 2:
            found = named.get(probe)
            kind = found[0].type_name if found else "<type>"
            report(
                dotted,
                f"{dotted!r} is a probe, not a field",
                f"write {probe}.<field>; `medic probe {kind}` prints its fields",
            )
            continue
        _check_field(checker, named.get(probe), probe, parts[1], dotted, report)


def _check_field(
    checker: PolicyChecker,
    found: tuple[Any, list[str] | None] | None,
    probe: str,
    name: str,
    dotted: str,
    report: Callable[[str, str, str], None],
) -> None:
    if found is None:  # that probe's own errors are already reported
        return
    cls, added = found
    if cls.dynamic_fields or added is None:
        return
    fields = sorted({*cls.field_names(), *added})
    if name not in fields:
        report(
            dotted,
            f"field {name!r} is not yielded by probe {probe!r} ({cls.type_name})"
            f"{choices(name, fields, 'fields')}",
            f"`medic probe {cls.type_name}` runs the probe once and prints its fields",
        )
