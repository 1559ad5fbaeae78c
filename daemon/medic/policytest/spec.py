"""``*.test.yaml``: what a policy test file says, checked like a policy file.

A file names the policy files it tests (``policies:``, relative to itself; default:
the other ``*.yaml`` files of its folder) and holds ``tests:``, each a case: the
policy, the readings of its targets over time, what remediation attempts do, the
humans' part (silences, approvals, acknowledgements) and what the engine must decide,
when. Every mistake is a :class:`~medic.errors.PolicyError` with file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from medic.audit.events import Kind
from medic.durations import format_duration, parse_duration
from medic.errors import Location, PolicyError
from medic.option_schemas import duration
from medic.policy.bounds import MAX_FILE_BYTES
from medic.policy.loader import SUFFIXES, is_test_file
from medic.policy.messages import error_at, schema_errors
from medic.policy.schema import _closed
from medic.policy.yamlpos import Document, parse_yaml
from medic.policytest.fleet import FleetPhase, fleet_schema, out_of_order, parse_fleet
from medic.policytest.series import Series, SeriesError, parse_series
from medic.regular_file import read_regular

ATTEMPT_OUTCOMES = ("heals", "fails", "no_effect")
# Runs longer than this (in readings) are refused: a test is a short story.
MAX_STEPS = 20_000


@dataclass(frozen=True)
class Expectation:
    """One event the engine must write: its kind, and optionally when, for which target,
    why (``details.reason`` or the outcome) and at which on-call level."""

    event: str
    where: Location
    at: float | None = None
    target: str | None = None
    reason: str | None = None
    level: int | None = None
    outcome: str | None = None

    def describe(self) -> str:
        parts = [self.event]
        if self.target is not None:
            parts.append(f"target {self.target}")
        if self.reason is not None:
            parts.append(f"reason {self.reason}")
        if self.level is not None:
            parts.append(f"level {self.level}")
        if self.outcome is not None:
            parts.append(f"outcome {self.outcome}")
        text = " ".join(parts)
        return text if self.at is None else f"{text} at {_show(self.at)}"


@dataclass(frozen=True)
class Human:
    """A silence, an approval answer or an acknowledgement at a simulated time."""

    kind: str  # silence | approve | deny | ack
    at: float
    until: float = 0.0
    by: str = "test"
    target: str | None = None
    act: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    policy: str
    where: Location
    interval: float | None
    duration: float | None
    input: dict[str, dict[str, Series]]
    healed: dict[str, Any]
    attempts: tuple[str, ...]
    humans: tuple[Human, ...]
    expect: tuple[Expectation, ...]
    never: tuple[str, ...]
    nothing: bool
    # The fleet budget over time (a policy with `fleet_budget:`); empty: every slot free.
    fleet: tuple[FleetPhase, ...] = ()
    # A policy with probes: reads probe -> target -> field -> series (``input`` is empty).
    named: dict[str, dict[str, dict[str, Series]]] | None = None


@dataclass
class TestFile:
    path: Path
    policy_paths: list[Path]
    cases: list[Case] = field(default_factory=list)
    errors: list[PolicyError] = field(default_factory=list)


def _list(items: dict[str, Any], description: str) -> dict[str, Any]:
    return {"type": "array", "items": items, "description": description}


@cache
def test_file_schema() -> dict[str, Any]:
    """The JSON Schema of a ``*.test.yaml`` file."""
    series = {"type": ["string", "number", "boolean"], "description": "Readings, e.g. `0+10x5`."}
    expectation = _closed(
        {
            "event": {"enum": [k.value for k in Kind], "description": "An audit event kind."},
            "at": duration("When, since the start of the test."),
            "target": {"type": "string"},
            "reason": {"type": "string", "description": "details.reason, or the outcome."},
            "level": {"type": "integer", "minimum": 1, "description": "On-call level."},
            "outcome": {"type": "string", "description": "The event's outcome column."},
        },
        ["event"],
        "An event the engine must write.",
    )
    human = {
        "from": duration("Start of a silence."),
        "until": duration("End of a silence."),
        "at": duration("When the human answers."),
        "by": {"type": "string"},
        "target": {"type": "string"},
    }
    case = _closed(
        {
            "name": {"type": "string", "minLength": 1},
            "policy": {"type": "string", "minLength": 1},
            "interval": duration("Time between readings (default: the policy's `every`)."),
            "duration": duration("How long to run (default: the longest series)."),
            "input": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": {
                        "anyOf": [series, {"type": "object", "additionalProperties": series}]
                    },
                },
                "description": "target -> field -> series; with probes: in the policy, "
                "probe name -> target -> field -> series.",
            },
            "healed": {"type": "object", "description": "What a healed target reads."},
            "attempts": _list({"enum": list(ATTEMPT_OUTCOMES)}, "What each attempt does."),
            "silences": _list(
                _closed({**human, "act": {"type": "boolean"}}, ["from", "until"], "A silence."),
                "Silences covering the policy.",
            ),
            "approvals": _list(
                _closed({**human, "answer": {"enum": ["approve", "deny"]}}, ["at", "answer"], ""),
                "Answers to approval requests.",
            ),
            "acknowledge": _list(_closed(human, ["at"], "An ack."), "Acknowledgements."),
            "expect": {
                "anyOf": [{"const": "nothing"}, _list(expectation, "Events, in order.")],
                "description": "The events the engine must write, in order, or `nothing`.",
            },
            "never": _list({"enum": [k.value for k in Kind]}, "Kinds that must not occur."),
            "fleet": fleet_schema(),
        },
        ["name", "policy", "input", "expect"],
        "One test case.",
    )
    return _closed(
        {
            "version": {"const": 1},
            "policies": _list({"type": "string"}, "Policy files, relative to this file."),
            "tests": _list(case, "The cases."),
        },
        ["version", "tests"],
        "A policy test file.",
    )


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(test_file_schema())


def load_test_file(path: Path) -> TestFile:
    """Read and check one test file; problems land in ``errors``, never raise."""
    file = str(path)
    try:
        text = read_regular(file, MAX_FILE_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        error = PolicyError(
            f"cannot read the test file: {reason}",
            location=Location(file, 1),
            hint="point medic test at a YAML test file",
        )
        return TestFile(path, [], errors=[error])
    doc, errors = parse_yaml(text, file)
    result = TestFile(path, [], errors=list(errors))
    if doc is None or errors:
        return result
    result.errors = schema_errors(_validator(), doc.data, (), doc, file)
    if result.errors:
        return result
    named = doc.data.get("policies")
    if named:
        result.policy_paths = [path.parent / name for name in named]
    else:
        result.policy_paths = sorted(
            p for p in path.parent.iterdir() if p.suffix in SUFFIXES and not is_test_file(p)
        )
    for index, raw in enumerate(doc.data["tests"]):
        try:
            result.cases.append(_case(doc, file, index, raw))
        except PolicyError as exc:
            result.errors.append(exc)
    return result


def _case(doc: Document, file: str, index: int, raw: dict[str, Any]) -> Case:
    base = ("tests", index)

    def at(path: tuple[Any, ...]) -> Location:
        where = doc.locate((*base, *path))
        return Location(file, where.line, where.column)

    def seconds(value: Any, _path: tuple[Any, ...]) -> float:
        return float(parse_duration(value))

    named = _named_input(doc, file, base, raw["input"])
    inputs = {} if named is not None else _input(doc, file, (*base, "input"), raw["input"])
    humans: list[Human] = []
    for item in raw.get("silences", ()):
        start, end = seconds(item["from"], ()), seconds(item["until"], ())
        humans.append(
            Human("silence", start, end, target=item.get("target"), act=item.get("act", False))
        )
    for item in raw.get("approvals", ()):
        humans.append(Human(item["answer"], seconds(item["at"], ()), by=item.get("by", "test")))
    for item in raw.get("acknowledge", ()):
        humans.append(
            Human(
                "ack", seconds(item["at"], ()), by=item.get("by", "test"), target=item.get("target")
            )
        )
    expect = raw["expect"]
    expectations: tuple[Expectation, ...] = ()
    if expect != "nothing":
        expectations = tuple(
            Expectation(
                event=item["event"],
                where=at(("expect", i)),
                at=seconds(item["at"], ()) if "at" in item else None,
                target=item.get("target"),
                reason=item.get("reason"),
                level=item.get("level"),
                outcome=item.get("outcome"),
            )
            for i, item in enumerate(expect)
        )
    interval = seconds(raw["interval"], ()) if "interval" in raw else None
    if interval is not None and interval <= 0:
        raise error_at(doc, file, (*base, "interval"), "interval must be more than 0", "like 15s")
    fleet = parse_fleet(raw.get("fleet", ()), lambda value: seconds(value, ()))
    wrong = out_of_order(fleet)
    if wrong is not None:
        raise error_at(
            doc,
            file,
            (*base, "fleet", wrong),
            "fleet phases must come in time order",
            "give each phase a later `at:` than the one before it",
        )
    return Case(
        name=raw["name"],
        policy=raw["policy"],
        where=at(()),
        interval=interval,
        duration=seconds(raw["duration"], ()) if "duration" in raw else None,
        input=inputs,
        named=named,
        healed=dict(raw.get("healed", {})),
        attempts=tuple(raw.get("attempts", ())),
        humans=tuple(sorted(humans, key=lambda h: h.at)),
        expect=expectations,
        never=tuple(raw.get("never", ())),
        nothing=expect == "nothing",
        fleet=fleet,
    )


def _input(
    doc: Document, file: str, base: tuple[Any, ...], raw: dict[str, Any]
) -> dict[str, dict[str, Series]]:
    """target -> field -> series, each series parsed (an error names its line)."""
    inputs: dict[str, dict[str, Series]] = {}
    for target, fields in raw.items():
        inputs[target] = {}
        for name, text in fields.items():
            try:
                inputs[target][name] = parse_series(text)
            except (SeriesError, AttributeError, TypeError) as exc:
                part = f" (at `{exc.part}`)" if isinstance(exc, SeriesError) else ""
                problem = str(exc) if isinstance(exc, SeriesError) else "not a series"
                raise error_at(
                    doc,
                    file,
                    (*base, target, name),
                    f"bad series for {target}.{name}: {problem}{part}",
                    "write readings like `0+10x5 _ 90` (see docs/testing.md); a policy "
                    "with probes: takes probe -> target -> field -> series",
                ) from exc
    return inputs


def _named_input(
    doc: Document, file: str, base: tuple[Any, ...], raw: dict[str, Any]
) -> dict[str, dict[str, dict[str, Series]]] | None:
    """probe -> target -> field -> series when the input is written that way, else None."""
    nested = any(isinstance(v, dict) for targets in raw.values() for v in targets.values())
    if not nested:
        return None
    return {probe: _input(doc, file, (*base, "input", probe), t) for probe, t in raw.items()}


def _show(seconds: float) -> str:
    return show_time(seconds)


def show_time(seconds: float) -> str:
    """Simulated time for people: ``2m30s``, ``0s``, or ``15.01s`` off the second."""
    if abs(seconds - round(seconds)) < 0.005:
        return format_duration(round(seconds)) if round(seconds) else "0s"
    minutes = int(seconds // 60) * 60
    return f"{format_duration(minutes) if minutes else ''}{seconds - minutes:.2f}s"
