"""Stage 3 of policy validation: the checks that need the registries and the conditions.

For one policy (already through the envelope schema): is the probe type registered,
do its options fit that probe's schema and ``validate()``, do ``when:`` and
``clear_when:`` compile and name only fields the probe yields, is every remediation
step a registered action with valid options, do ``escalate.notify`` names exist in the
agent config, are maintenance windows' cron expressions and time zones usable, does
``depends_on`` avoid naming the policy itself. Every check tolerates malformed input
(the envelope schema has already said what is wrong with it) and records what it
learned in a :class:`PolicyCheck`, from which the loader builds a
:class:`~medic.policy.model.Policy` when nothing failed. The policy's own values are
read once, first (:mod:`medic.policy.values`: durations in seconds); the checks and
the builder both read them from the :class:`PolicyCheck`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from medic.actions.base import Action, placeholders
from medic.actions.outputs import step_reference
from medic.errors import ExpressionError, Location, PluginSchemaError, PolicyError
from medic.policy.expr import Expression, compile_expression
from medic.policy.messages import choices, error_at, schema_errors
from medic.policy.named_probes import check_named_fields, check_named_probes
from medic.policy.quickcheck import SchemaCheck
from medic.policy.schema import action_validator, probe_validator
from medic.policy.values import PolicyValues, read_values
from medic.policy.windows import CRON_HINT, ZONE_HINT, CronError, CronSchedule, zone
from medic.policy.yamlpos import Document, JsonPath, Position
from medic.probes.base import Probe
from medic.registry import Registry

SHARED_PROBE_KEYS = ("type", "every", "timeout")
STEP_KEYS = ("timeout", "id")
_PLUGIN_BUG = "this is a bug in the plugin that provides it"


@dataclass
class PolicyCheck:
    """What stage 3 learned about one policy: values, classes, conditions, problems."""

    values: PolicyValues
    probe_cls: type[Probe] | None = None
    when: Expression | None = None
    clear_when: Expression | None = None
    step_classes: dict[int, type[Action]] = field(default_factory=dict)
    schedules: dict[int, CronSchedule] = field(default_factory=dict)
    # Fields the probe's options add; None until the options passed their schema.
    option_fields: list[str] | None = None
    # ``probes:``: each name's class and the fields its options add (None: not named).
    named: dict[str, tuple[type[Probe], list[str] | None]] | None = None
    finally_classes: dict[int, type[Action]] = field(default_factory=dict)
    errors: list[PolicyError] = field(default_factory=list)


class PolicyChecker:
    """Runs every stage-3 check on ``policies[index]`` of a parsed file."""

    def __init__(
        self,
        doc: Document,
        file: str,
        index: int,
        *,
        probe_registry: Registry[type[Probe]],
        action_registry: Registry[type[Action]],
        notifiers: Collection[str] | None,
    ) -> None:
        self.doc, self.file = doc, file
        self.base: JsonPath = ("policies", index)
        self.raw: Mapping[str, Any] = doc.data["policies"][index]
        self.probes, self.actions, self.notifiers = probe_registry, action_registry, notifiers
        self.result = PolicyCheck(read_values(self.raw))

    def run(self) -> PolicyCheck:
        self._probe()
        for key in ("when", "clear_when"):
            self._condition(key)
        self._steps()
        self._limits()
        self._notify()
        self._levels()
        self._maintenance()
        self._approval()
        self._depends_on()
        return self.result

    def _error(self, path: JsonPath, message: str, hint: str | None = None, **kw: Any) -> None:
        self.result.errors.append(error_at(self.doc, self.file, path, message, hint, **kw))

    def _options(self, validator: Callable[[], SchemaCheck], options: Any, path: JsonPath) -> bool:
        """Check ``options`` against a plugin's compiled schema; True when they fit."""
        try:
            compiled = validator()
        except PluginSchemaError as exc:
            self._error(path, f"its options schema is broken: {exc.message}", _PLUGIN_BUG)
            return False
        errors = schema_errors(compiled, options, path, self.doc, self.file)
        self.result.errors.extend(errors)
        return not errors

    def _plugin_validate(
        self, what: str, check: Callable[[Mapping[str, Any]], list[str]], options: Any, at: JsonPath
    ) -> None:
        try:
            problems = check(options)
        except Exception as exc:  # a plugin's bug must not crash loading
            self._error(at, f"{what} could not check its options: {exc!r}", _PLUGIN_BUG, key=True)
            return
        for problem in problems:
            self._error(at, f"{what}: {problem}", key=True)

    def _probe(self) -> None:
        probe, named = self.raw.get("probe"), self.raw.get("probes")
        if probe is not None and named is not None:  # neither: the schema said so
            self._error(
                self.base,
                "the policy has both probe: and probes:",
                "write one probe: {type: ...}, or several named ones under probes:",
                key=True,
            )
        if isinstance(named, dict):
            check_named_probes(self, named)
            return
        found = self.check_probe(probe, (*self.base, "probe"))
        if found is not None:
            self.result.probe_cls, self.result.option_fields = found

    def check_probe(
        self, probe: Any, path: JsonPath
    ) -> tuple[type[Probe], list[str] | None] | None:
        """One probe's type and options: its class and the fields its options add."""
        if not isinstance(probe, dict) or not isinstance(probe.get("type"), str):
            return None
        kind = probe["type"]
        cls = self.probes.get(kind)
        if cls is None:
            names = self.probes.names()
            self._error(
                (*path, "type"),
                f"unknown probe type {kind!r}{choices(kind, names, 'valid types')}",
            )
            return None
        options = {k: v for k, v in probe.items() if k not in ("every", "timeout")}
        if not self._options(partial(probe_validator, cls), options, path):
            return cls, None
        own = {k: v for k, v in probe.items() if k not in SHARED_PROBE_KEYS}
        self._plugin_validate(f"probe {kind!r}", cls.validate, own, path)
        return cls, self._option_fields(cls, own, path)

    def _option_fields(self, cls: type[Probe], own: Mapping[str, Any], path: JsonPath) -> list[str]:
        """Fields the probe's (valid) options add; a plugin's bug is an error, not a crash."""
        try:
            return [str(name) for name in cls.option_fields(own)]
        except Exception as exc:  # a plugin's bug must not crash loading
            message = f"probe {cls.type_name!r} could not list its fields: {exc!r}"
            self._error(path, message, _PLUGIN_BUG)
            return []

    def _condition(self, key: str) -> None:
        text = self.raw.get(key)
        if not isinstance(text, str) or not text:
            return  # the envelope schema has reported it
        path = (*self.base, key)
        where = self.doc.locate(path)
        try:
            expression = compile_expression(text)
        except ExpressionError as exc:
            column = exc.column or 1
            # Exact when the text maps to its source; else the value's line, expression column.
            at = self.doc.text_position(path, column - 1) or Position(where.line, column)
            self._at(at, f"bad condition in {key}: {_plain(exc)}", exc.hint)
            return
        except RecursionError:
            self._error(path, f"the condition in {key} is nested too deeply", "simplify it")
            return
        setattr(self.result, key, expression)
        if self.result.named is not None:
            check_named_fields(self, expression, text, path)
            return
        cls = self.result.probe_cls
        if cls is None or cls.dynamic_fields:
            return
        added = self.result.option_fields
        if added is None:  # options that failed their schema: the plugin may not cope
            try:
                probe_raw = self.raw.get("probe")
                options = probe_raw if isinstance(probe_raw, dict) else {}
                added = [str(f) for f in cls.option_fields(options)]
            except Exception:  # its options are wrong and already reported
                return
        fields = sorted({*cls.field_names(), *added})
        for name in sorted(expression.names - set(fields)):
            found = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text)
            at = (self.doc.text_position(path, found.start()) if found else None) or where
            self._at(
                at,
                f"field {name!r} is not yielded by probe {cls.type_name!r}"
                f"{choices(name, fields, 'fields')}",
                f"`medic probe {cls.type_name}` runs the probe once and prints its fields",
            )

    def at(self, at: Position, message: str, hint: str | None) -> None:
        """An error at a position inside a value (a condition's field)."""
        self._at(at, message, hint)

    def _at(self, at: Position, message: str, hint: str | None) -> None:
        name = self.raw.get("name")
        self.result.errors.append(
            PolicyError(
                message,
                location=Location(self.file, at.line, at.column),
                policy=name if isinstance(name, str) else None,
                hint=hint,
            )
        )

    def _steps(self) -> None:
        earlier: list[str] = []  # finally steps may read remediate's outputs too
        self._step_list("remediate", self.result.step_classes, earlier)
        self._step_list("finally", self.result.finally_classes, earlier)

    def _step_list(self, key: str, classes: dict[int, type[Action]], earlier: list[str]) -> None:
        steps = self.raw.get(key)
        if not isinstance(steps, list):
            return
        for index, item in enumerate(steps):
            if not isinstance(item, dict) or len(item) != 1:
                continue  # the envelope schema has reported it
            ((kind, options),) = item.items()
            path = (*self.base, key, index, kind)
            cls = self.actions.get(kind)
            if cls is None:
                names = self.actions.names()  # only now: it imports every action module
                self._error(
                    path,
                    f"unknown action type {kind!r}{choices(kind, names, 'valid types')}",
                    key=True,
                )
                continue
            classes[index] = cls
            options = {} if options is None else options
            if self._options(partial(action_validator, cls), options, path):
                self._step_outputs(options, path, earlier)
                own = {k: v for k, v in options.items() if k not in STEP_KEYS}
                self._plugin_validate(f"action {kind!r}", cls.validate, own, path)
                if self.result.probe_cls is not None:
                    under = partial(cls.validate_under, probe_type=self.result.probe_cls.type_name)
                    self._plugin_validate(f"action {kind!r}", under, own, path)

    def _step_outputs(self, options: Mapping[str, Any], path: JsonPath, earlier: list[str]) -> None:
        """``{steps.<id>...}`` names an earlier step's id; ids are unique."""
        for name in sorted({n for text in _strings(options) for n in placeholders(text)}):
            step = step_reference(name)
            if step is not None and step not in earlier:
                known = ", ".join(earlier) or "none"
                self._error(
                    path,
                    f"placeholder {{{name}}} names no earlier step with id {step!r} "
                    f"(earlier ids: {known})",
                    "give the step that produces it `id: <name>`, before this one",
                    key=True,
                )
        step_id = options.get("id")
        if isinstance(step_id, str):
            if step_id in earlier:
                self._error((*path, "id"), f"step id {step_id!r} is used twice", "ids are unique")
            earlier.append(step_id)

    def _limits(self) -> None:
        percent = self.result.values.limits.get("max_targets_percent")
        if percent is not None and not 0 < percent <= 100:
            share = self.raw["limits"]["max_targets"]
            self._error(
                (*self.base, "limits", "max_targets"),
                f"max_targets {share!r} is not a share of the targets",
                "write a percentage from 1% to 100%, or a count",
            )

    def _notify(self, section: str = "escalate") -> None:
        block = self.raw.get(section)
        names = block.get("notify") if isinstance(block, dict) else None
        self._check_names(names, (*self.base, section, "notify"))
        if section == "escalate" and isinstance(block, dict):
            healed = block.get("notify_healed")
            self._check_names(healed, (*self.base, section, "notify_healed"))

    def _check_names(self, names: Any, path: JsonPath) -> None:
        """Each notifier name must be one of the agent config's (when it is known)."""
        if self.notifiers is None or not isinstance(names, list):
            return
        known = sorted(self.notifiers)
        for index, name in enumerate(names):
            if isinstance(name, str) and name not in self.notifiers:
                self._error(
                    (*path, index),
                    f"unknown notifier {name!r}"
                    f"{choices(name, known, 'notifiers in the agent config')}",
                    "add it under `notifiers:` in the agent config, or fix the name",
                )

    def _levels(self) -> None:
        """On-call levels: known notifiers, and each later than the one before."""
        block = self.raw.get("escalate")
        if not isinstance(block, dict):
            return
        levels = block.get("levels")
        previous = 0.0
        for index, level in enumerate(levels if isinstance(levels, list) else []):
            path = (*self.base, "escalate", "levels", index)
            if not isinstance(level, dict):
                continue
            self._check_names(level.get("notify"), (*path, "notify"))
            after = self.result.values.level_after.get(index)
            if after is None:
                continue
            if after <= previous:
                self._error(
                    (*path, "after"),
                    f"level {index + 2} comes after {level.get('after')!r}, not later than "
                    "the level before it",
                    "order levels by `after`, each later than the one before (and than 0s)",
                )
            previous = max(previous, after)

    def _maintenance(self) -> None:
        windows = self.raw.get("maintenance")
        for index, window in enumerate(windows if isinstance(windows, list) else []):
            if not isinstance(window, dict):
                continue
            path = (*self.base, "maintenance", index)
            text = window.get("cron")
            if isinstance(text, str) and text:
                try:
                    self.result.schedules[index] = CronSchedule.parse(text)
                except CronError as exc:
                    self._error((*path, "cron"), f"bad cron expression {text!r}: {exc}", CRON_HINT)
            name = window.get("timezone")
            if isinstance(name, str) and name:
                try:
                    zone(name)
                except CronError as exc:
                    self._error((*path, "timezone"), str(exc), ZONE_HINT)

    def _approval(self) -> None:
        approval = self.raw.get("approval")
        if isinstance(approval, dict):
            self._notify("approval")

    def _depends_on(self) -> None:
        names = self.raw.get("depends_on")
        own = self.raw.get("name")
        for index, name in enumerate(names if isinstance(names, list) else []):
            if name == own:
                self._error(
                    (*self.base, "depends_on", index),
                    "a policy cannot depend on itself",
                    "name the policies whose firing should stop this one from acting",
                )


def _strings(value: Any) -> list[str]:
    """Every string inside an options value (lists and mappings walked)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _plain(exc: ExpressionError) -> str:
    """The message without its own "at column N": the error's location carries it."""
    return re.sub(rf" at column {exc.column}(?!\d)", "", exc.message, count=1)
