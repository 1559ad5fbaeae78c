"""The probe contract.

A probe is one class in one module, registered with ``@probes.register("type.name")``.
It carries:

- a docstring: one summary line, then a fenced ``yaml`` block holding a complete,
  valid policy file that uses it (a meta-test validates every one);
- ``schema``: a JSON-Schema object for its options, ``additionalProperties: false``
  (the keys every probe shares, ``type``, ``every`` and ``timeout``, are added by the
  policy schema and must not be repeated here);
- ``fields``: what it yields per target, which is what ``when:`` may name;
- an optional ``validate()`` for checks a schema cannot express;
- ``measure()``: one async call returning ``{target_id: {field: value}}``.

A probe never touches the scheduler, the engine or the database. One instance is made
per policy, so a probe may keep state between runs (a previous CPU sample, a log
offset). The scheduler enforces ``timeout`` around ``measure()``; a probe that starts
programs uses :func:`medic.proc.run_process` so the timeout kills them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from medic.registry import Registry

FieldType = Literal["number", "boolean", "string", "list", "mapping"]
Measurement = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Field:
    """One named value a probe yields per target."""

    name: str
    type: FieldType
    help: str
    unit: str | None = None


class Probe(ABC):
    type_name: ClassVar[str]
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }
    fields: ClassVar[tuple[Field, ...]] = ()
    # True when fields are discovered at run time (perfdata of a Nagios check):
    # `when:` may then name fields that are not listed.
    dynamic_fields: ClassVar[bool] = False
    default_every: ClassVar[float] = 30.0
    default_timeout: ClassVar[float] = 10.0
    # True when watch() reports changes as they happen (pidfd, Docker events).
    watches: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = options

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        """Semantic problems in ``options`` (each a sentence that says the fix)."""
        return []

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in cls.fields]

    @classmethod
    def option_fields(cls, options: Mapping[str, Any]) -> list[str]:
        """Fields the options add (a JSON field picked from an HTTP body, a list key).

        The loader accepts these names in ``when:`` on top of the declared ``fields``.
        """
        return []

    @abstractmethod
    async def measure(self) -> Measurement:
        """Measure every selected target once: ``{target_id: {field: value}}``."""

    async def watch(self) -> AsyncIterator[str | None]:
        """Yield a target id (or None for "re-measure all") whenever something changes.

        Only called when ``watches`` is True; the scheduler then evaluates the policy at
        once instead of waiting for its next interval. Polling stays the source of
        truth, so a missed change costs at most one interval.
        """
        if False:  # pragma: no cover - makes this an async generator
            yield None
        return

    def acted(self, target: str, at: float) -> None:  # noqa: B027 - optional hook
        """The policy's steps all succeeded (or would have run, in dry-run) for
        ``target`` at ``at``: a probe that yields work to do (a scheduled job) may now
        call it done. A failed attempt is not reported: the work is still to do."""

    async def close(self) -> None:  # noqa: B027 - optional hook; probes holding resources override it
        """Release what the probe holds (file descriptors, connections)."""


probes: Registry[type[Probe]] = Registry("probe", "medic.probes")
