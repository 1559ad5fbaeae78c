"""The action contract.

An action is one class in one module, registered with ``@actions.register("name")``,
with a docstring (summary line, then a fenced ``yaml`` block holding a complete valid
policy file that uses it), a ``schema`` for its options (built with
:func:`medic.plugin.options_schema`, so closed; the shared ``timeout`` key is added
by the policy schema), an optional ``validate()`` and one async ``run()``.

``run()`` gets a frozen :class:`ActionContext` and returns an :class:`ActionResult`.
It never touches the scheduler or the database: the runner writes the intent to the
audit log before calling it, enforces the timeout around it and writes the outcome.
In dry-run the runner does not call ``run()`` at all; it records ``describe()``.

Values that come from targets (names, labels, paths, pids) reach programs as separate
argv items, percent-encoded URL parts or environment variables, never as shell text:
:mod:`medic.actions.placeholders` fills ``{target}``, ``{policy}``, ``{incident}``,
``{host}`` and ``{<field>}`` for every action, with the rules of the slot they land in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from medic.actions.placeholders import (
    MissingOutput,
    PlaceholderError,
    UnknownPlaceholder,
    placeholders,
)
from medic.option_schemas import options_schema
from medic.registry import Registry

__all__ = [
    "Action",
    "ActionContext",
    "ActionResult",
    "actions",
    "not_filled",
    "placeholders",
    "unfilled_note",
]


@dataclass(frozen=True)
class ActionContext:
    """Everything an action may know: handed over frozen, one per step run."""

    policy: str
    target: str
    incident: str
    fields: Mapping[str, Any]
    timeout: float
    dry_run: bool = False
    host: str = ""
    attempt: int = 1
    # What earlier steps of this attempt published: ``steps.<id>.stdout`` ...
    outputs: Mapping[str, str] = field(default_factory=dict)

    def variables(self) -> dict[str, Any]:
        """Names usable as ``{name}`` placeholders."""
        return {
            **self.outputs,
            **self.fields,
            "target": self.target,
            "policy": self.policy,
            "incident": self.incident,
            "host": self.host,
        }


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)


def not_filled(exc: PlaceholderError, details: Mapping[str, Any]) -> ActionResult:
    """The failed result of a step whose placeholders could not be filled (nothing ran)."""
    summary = f"{exc.message}; {exc.hint}" if exc.hint else exc.message
    return ActionResult(False, summary, {**details, **exc.fields})


def unfilled_note(exc: PlaceholderError) -> str:
    """Why a dry-run description could not fill its placeholders, in parentheses."""
    if isinstance(exc, UnknownPlaceholder):
        return f"(unknown placeholder {{{exc.name}}})"
    if isinstance(exc, MissingOutput):
        return f"({{{exc.name}}} comes from an earlier step when it runs)"
    return f"({exc.message})"


class Action(ABC):
    type_name: ClassVar[str]
    schema: ClassVar[dict[str, Any]] = options_schema({})
    default_timeout: ClassVar[float] = 60.0

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = options

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        """Semantic problems in ``options`` (each a sentence that says the fix)."""
        return []

    @classmethod
    def validate_under(cls, options: Mapping[str, Any], probe_type: str) -> list[str]:
        """Problems of ``options`` under a probe of ``probe_type`` (what its targets are)."""
        return []

    def describe(self, ctx: ActionContext) -> str:
        """What this step does, in one neutral line: the plan of ``action.started`` and of
        ``action.would_run`` alike (the event's kind says whether it ran), so never
        "would ..." (``systemctl restart nginx.service``, ``POST https://...``)."""
        return f"{self.type_name} on {ctx.target}"

    @abstractmethod
    async def run(self, ctx: ActionContext) -> ActionResult:
        """Carry out the step once. Raise ActionError, or return ok=False, on failure."""


actions: Registry[type[Action]] = Registry("action", "medic.actions")
