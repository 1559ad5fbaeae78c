"""The probe contract.

A probe is one class in one module, registered with ``@probes.register("type.name")``.
It carries:

- a docstring: one summary line, then a fenced ``yaml`` block holding a complete,
  valid policy file that uses it (a meta-test validates every one);
- ``schema``: a JSON-Schema object for its options, built with
  :func:`medic.plugin.options_schema` so it is closed (``additionalProperties: false``)
  (the keys every probe shares, ``type``, ``every`` and ``timeout``, are added by the
  policy schema and must not be repeated here);
- ``fields``: what it yields per target, which is what ``when:`` may name;
- an optional ``validate()`` for checks a schema cannot express;
- ``measure()``: one async call returning ``{target_id: {field: value}}``;
- for a cheap probe, ``runs_on_loop = True`` and ``read()``: the same measurement done
  synchronously, without waiting on anything.

A probe never touches the scheduler, the engine or the database. One instance is made
per policy, so a probe may keep state between runs (a previous CPU sample, a log
offset). The scheduler enforces ``timeout`` around ``measure()``; a probe that starts
programs uses :func:`medic.proc.run_process` so the timeout kills them.

A probe whose whole measurement is a few reads of kernel memory (``/proc``, ``stat`` of
a path on a local filesystem) takes microseconds; handing it to a worker thread and
back costs more than the reading (about eight context switches). Such a probe sets
``runs_on_loop`` and implements ``read()``: the engine then calls ``read()`` on the
event loop itself. ``read()`` must never wait (no network, no lock held by another
thread, no file on a network mount); the engine times every call and moves a probe
whose ``read()`` took longer than :data:`LOOP_BUDGET` to a worker thread for good
(``measure()``), so one slow filesystem cannot stall the other policies twice.

``uses(names)`` tells a probe which of its fields the policy reads (its conditions and
the placeholders of its steps): a probe may then skip an expensive read that only
feeds fields nobody looks at (the container probe's resource stats).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from medic.option_schemas import options_schema
from medic.registry import Registry

FieldType = Literal["number", "boolean", "string", "list", "mapping"]
Measurement = dict[str, dict[str, Any]]

# A read() on the event loop over this budget SLOW_READS times in a row (or once over
# the probe's timeout) moves its probe to a worker thread for good.
LOOP_BUDGET = 0.01
SLOW_READS = 3


@dataclass(frozen=True)
class Field:
    """One named value a probe yields per target."""

    name: str
    type: FieldType
    help: str
    unit: str | None = None


class Probe(ABC):
    type_name: ClassVar[str]
    schema: ClassVar[dict[str, Any]] = options_schema({})
    fields: ClassVar[tuple[Field, ...]] = ()
    # True when fields are discovered at run time (perfdata of a Nagios check):
    # `when:` may then name fields that are not listed.
    dynamic_fields: ClassVar[bool] = False
    default_every: ClassVar[float] = 30.0
    default_timeout: ClassVar[float] = 10.0
    # True when watch() reports changes as they happen (pidfd, Docker events).
    watches: ClassVar[bool] = False
    # True when read() measures without waiting, in microseconds: the engine calls it
    # on the event loop instead of hopping to a worker thread.
    runs_on_loop: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any], *, timeout: float | None = None) -> None:
        self.options = options
        # How long one run may take (the policy's ``timeout``): the engine sets it after
        # construction (a plugin's own __init__ need not take it) and enforces it around
        # measure(); a probe passes it on to the clients and programs it waits on.
        self.timeout: float = self.default_timeout if timeout is None else float(timeout)
        # The policy this probe measures for, when the engine made it (names state files).
        self.policy_name: str | None = None
        # The fields the policy reads; None until the engine says (then: all of them).
        self.used: frozenset[str] | None = None

    def uses(self, names: frozenset[str]) -> None:
        """The engine says which fields the policy reads; the others may be left null."""
        self.used = names

    def reads(self, *names: str) -> bool:
        """True when the policy reads any of ``names`` (or has not said what it reads)."""
        return self.used is None or not self.used.isdisjoint(names)

    def read(self) -> Measurement | None:
        """For a probe that ``runs_on_loop``: measure now, synchronously, never waiting.

        Return None to have the engine await ``measure()`` this time instead (a first
        CPU reading needs two samples some time apart).
        """
        raise NotImplementedError(f"{type(self).__name__} does not run on the loop")

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
