"""The policy file's JSON Schema (Draft 2020-12), generated from the registries.

Nothing here lists a probe or an action by hand: each registered class brings its
options schema, its docstring (the first line becomes the editor's help text, the
fenced ``yaml`` block is its example) and, for probes, the fields ``when:`` may name.
``medic schema`` prints :func:`policy_file_schema`; editors use it through the
``# yaml-language-server: $schema=...`` modeline.

The loader does not validate against the whole schema at once: it validates the
envelope (:func:`envelope_schema`, where a probe ``type`` is any string and each
remediation step any one-key mapping), then each probe's and each action's options
against their own schema, so every message is about one thing. Both views are built
from the same pieces here, so they cannot drift apart. Validators are compiled once
per schema (:func:`envelope_validator`, :func:`probe_validator`,
:func:`action_validator`) because compiling costs far more than validating, and each
answers a valid value with quick tests of its own (:mod:`medic.policy.quickcheck`),
leaving jsonschema to word the errors.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

from medic.actions.base import Action, actions
from medic.errors import PluginSchemaError
from medic.option_schemas import duration
from medic.policy import bounds
from medic.policy.bounds import count
from medic.policy.defaults import written
from medic.policy.model import SEVERITIES
from medic.policy.quickcheck import SchemaCheck
from medic.policy.windows import WINDOW_PROPERTIES
from medic.probes.base import Probe, probes
from medic.registry import Registry

DRAFT = "https://json-schema.org/draft/2020-12/schema"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
PERCENT_PATTERN = r"^\d+(\.\d+)?%$"
_EXAMPLE = re.compile(r"```ya?ml[ \t]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)


def summary(cls: type) -> str:
    """The first line of a class's own docstring (not an inherited one)."""
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    return doc.splitlines()[0].strip() if doc else ""


def docstring_example(cls: type) -> str | None:
    """The fenced ```yaml block in a class's own docstring: a complete policy file."""
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    match = _EXAMPLE.search(doc)
    return inspect.cleandoc(match.group(1)) + "\n" if match else None


def _closed(properties: dict[str, Any], required: list[str], description: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "description": description,
    }
    if required:
        out["required"] = required
    return out


def _shared_probe_keys(cls: type[Probe] | None) -> dict[str, Any]:
    every = f" Default {cls.default_every:g}s." if cls else ""
    timeout = f" Default {cls.default_timeout:g}s." if cls else ""
    return {
        "every": duration(f"How often the probe runs.{every}", span=bounds.EVERY),
        "timeout": duration(
            f"How long one run may take before it is killed.{timeout}", span=bounds.PROBE_TIMEOUT
        ),
    }


def _probe_description(cls: type[Probe]) -> str:
    text = summary(cls)
    if cls.fields:
        listed = "; ".join(
            f"{f.name} ({f.type}{', ' + f.unit if f.unit else ''}): {f.help}" for f in cls.fields
        )
        text += f"\n\nFields for when: {listed}"
    if cls.dynamic_fields:
        text += "\n\nMore fields are discovered when it runs."
    return text


def probe_options_schema(cls: type[Probe]) -> dict[str, Any]:
    """A probe's own options merged with ``type``, ``every`` and ``timeout``: a closed object."""
    own = bounds.harden(cls.schema)
    properties = {
        **own.get("properties", {}),
        "type": {"const": cls.type_name, "description": summary(cls)},
        **_shared_probe_keys(cls),
    }
    required = ["type", *own.get("required", [])]
    merged = {**own, **_closed(properties, required, _probe_description(cls))}
    return merged


STEP_ID_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


def action_options_schema(cls: type[Action]) -> dict[str, Any]:
    """An action's own options merged with the shared ``timeout``: a closed object."""
    own = bounds.harden(cls.schema)
    properties = {
        **own.get("properties", {}),
        "timeout": duration(
            f"How long the step may take before it is killed. Default {cls.default_timeout:g}s.",
            span=bounds.STEP_TIMEOUT,
        ),
        "id": {
            "type": "string",
            "pattern": STEP_ID_PATTERN,
            "description": "Names the step's output for later steps: {steps.<id>.stdout}, "
            "{steps.<id>.json.<key>} (lowercase letters, digits, _).",
        },
    }
    return {**own, **_closed(properties, list(own.get("required", [])), summary(cls))}


def action_step_schema(cls: type[Action]) -> dict[str, Any]:
    """One remediation step using ``cls``: ``{<type>: options}`` (or ``{<type>: null}``)."""
    options = action_options_schema(cls)
    value = options if options.get("required") else {"anyOf": [{"type": "null"}, options]}
    return _closed({cls.type_name: value}, [cls.type_name], summary(cls))


def _policy_schema(probe: dict[str, Any], step: dict[str, Any] | bool) -> dict[str, Any]:
    limits = {
        "max": count(1, bounds.MAX_ACTIONS, "Actions per window.", default=written("limits.max")),
        "per": duration(
            "The window that max counts actions in.", written("limits.per"), bounds.PER
        ),
        "cooldown": duration(
            "Quiet time after each action on a target.", written("limits.cooldown"), bounds.COOLDOWN
        ),
        "max_targets": {
            "type": ["integer", "string"],
            "minimum": 1,
            "maximum": bounds.MAX_TARGETS,
            "pattern": PERCENT_PATTERN,
            "description": "Targets under remediation at once: a count (2) or a share ('20%').",
        },
    }
    escalate = {
        "after_failures": count(
            1,
            bounds.MAX_FAILURES,
            "Failed remediations before a human is notified.",
            default=written("escalate.after_failures"),
        ),
        "notify": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Notifier names from the agent config.",
        },
        "on_suppressed": {
            "type": "boolean",
            "default": written("escalate.on_suppressed"),
            "description": "Also notify when limits stopped an action.",
        },
        "on_probe_failure": count(
            0,
            bounds.MAX_FAILURES,
            "Consecutive probe failures before notifying that Medic cannot see; 0 never does.",
            default=written("escalate.on_probe_failure"),
        ),
        "levels": {
            "type": "array",
            "maxItems": 10,
            "items": _closed(
                {
                    "after": duration(
                        "Time since the first page of the incident.", span=bounds.LEVEL_AFTER
                    ),
                    "notify": {
                        "type": "array",
                        "items": {"type": "string"},
                        "minItems": 1,
                        "description": "Notifier names paged at this level.",
                    },
                },
                ["after", "notify"],
                "A further on-call level, paged if nobody acknowledged by then.",
            ),
            "description": "Further levels after `notify`, in order of `after`.",
        },
        "repeat": duration(
            "Re-send the latest level's page at this interval until acknowledged (1m to 1d).",
            span=bounds.REPEAT,
        ),
        "severity": {
            "enum": list(SEVERITIES),
            "description": "How loud the pages are; notifiers map it to their own (PagerDuty "
            "severity, Slack emoji, e-mail subject tag, Alertmanager label, webhook field). "
            "Unset: each notifier's own default.",
        },
        "notify_healed": {
            "type": "array",
            "items": {"type": "string"},
            "maxItems": 20,
            "description": "Notifier names told (not paged) when an incident heals by "
            "remediation and nobody was paged: a resolve-style notice.",
        },
    }
    properties = {
        "name": {
            "type": "string",
            "pattern": NAME_PATTERN,
            "description": "Unique name: lowercase letters, digits, '_', '.', '-'.",
        },
        "description": {"type": "string", "description": "What the policy is for, for humans."},
        "probe": probe,
        "probes": named_probes_schema(probe),
        "when": {
            "type": "string",
            "minLength": 1,
            "description": "Condition over the probe's fields that fires, like `percent > 90`.",
        },
        "clear_when": {
            "type": "string",
            "minLength": 1,
            "description": "Condition that counts as healed (default: when no longer holds).",
        },
        "for": duration(
            "How long when must hold before the policy fires.", written("for"), bounds.HOLD
        ),
        "remediate": {
            "type": "array",
            "items": step,
            "description": "Steps, each one action: `- <action>: {options}`.",
        },
        "finally": {
            "type": "array",
            "items": step,
            "description": "Steps run after remediate whatever happened to it (a step "
            "failed, timed out, the agent is stopping): leave maintenance mode, unlock.",
        },
        "verify": _closed(
            {
                "after": duration(
                    "Wait before re-probing to see if it healed.",
                    written("verify.after"),
                    bounds.VERIFY_AFTER,
                )
            },
            [],
            "How to check that the remediation healed the problem.",
        ),
        "limits": _closed(limits, [], "How often the policy may act on one target."),
        "escalate": _closed(escalate, [], "When and whom to notify."),
        "dry_run": {
            "type": "boolean",
            "default": written("dry_run"),
            "description": "Evaluate and audit, never act.",
        },
        **_human_keys(),
        "fleet_budget": fleet_budget_schema(),
    }
    policy = _closed(properties, ["name"], "One detect -> act rule.")
    # A policy reads one probe, or several named ones under probes: instead.
    return {
        **policy,
        "if": {"required": ["probes"]},
        "then": {"required": ["when"]},
        "else": {"required": ["probe", "when"]},
    }


PROBE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"


def named_probes_schema(probe: dict[str, Any]) -> dict[str, Any]:
    """``probes:``: several probes by name; the first gives the targets (docs/conditions.md)."""
    return {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 8,
        "propertyNames": {"pattern": PROBE_NAME_PATTERN},
        "additionalProperties": probe,
        "description": "Named probes instead of probe: conditions read `<name>.<field>`. "
        "The first named gives the targets; each other one must yield one target, "
        "shared by all.",
    }


MAINTENANCE_REASON: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "description": "Why the window exists, shown with what it suppressed.",
}


# A share of a group from 1% to 100% (one decimal place at most).
FLEET_PERCENT_PATTERN = r"^(100|[1-9][0-9]?)(\.[0-9])?%$"


def fleet_budget_schema() -> dict[str, Any]:
    """``fleet_budget:``: how many agents of a group may act at once (docs/fleet.md)."""
    budget = {
        "group": {
            "type": "string",
            "pattern": NAME_PATTERN,
            "maxLength": 100,
            "description": "The fleet group whose agents share the budget (agent config "
            "fleet.groups).",
        },
        "max": {
            "type": ["integer", "string"],
            "minimum": 1,
            "maximum": 10000,
            "pattern": FLEET_PERCENT_PATTERN,
            "description": "Agents of the group acting at once: a count (3) or a share of "
            "its live agents ('10%', at least 1).",
        },
        "per": duration(
            "Also at most max actions start in any window this long.", written("fleet_budget.per")
        ),
        "wait": duration(
            "How long to wait for a free slot before giving up.", written("fleet_budget.wait")
        ),
        "on_unreachable": {
            "enum": ["escalate", "act"],
            "default": written("fleet_budget.on_unreachable"),
            "description": "etcd unreachable: escalate and do not act (fail closed), or "
            "act anyway (fail open).",
        },
    }
    return _closed(budget, ["group", "max"], "A disruption budget shared by the fleet.")


def maintenance_window_schema(
    extra: dict[str, Any], description: str, required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """One recurring window; ``extra`` adds keys (the agent config adds matchers)."""
    properties = {
        **WINDOW_PROPERTIES,
        "duration": duration("How long each window lasts.", span=bounds.WINDOW_DURATION),
        **extra,
    }
    return _closed(properties, ["cron", "duration", *required], description)


def _human_keys() -> dict[str, Any]:
    """Where people come in: labels to match, dependencies, approval, maintenance."""
    approval = {
        "required": {"type": "boolean", "description": "Ask a human before acting."},
        "timeout": duration(
            "How long to wait for an answer before escalating.",
            written("approval.timeout"),
            bounds.APPROVAL_TIMEOUT,
        ),
        "notify": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Notifier names asked for approval (default: escalate.notify).",
        },
    }
    return {
        "labels": {
            "type": "object",
            "propertyNames": {"minLength": 1},
            "additionalProperties": {"type": "string"},
            "description": "Free-form key: value labels that silences can match on.",
        },
        "depends_on": {
            "type": "array",
            "items": {"type": "string", "pattern": NAME_PATTERN},
            "uniqueItems": True,
            "description": "Policies that, while firing, stop this one from acting.",
        },
        "approval": _closed(
            approval, ["required"], "Whether a human must approve each incident's action."
        ),
        "maintenance": {
            "type": "array",
            "items": maintenance_window_schema(
                {"reason": MAINTENANCE_REASON}, "A recurring maintenance window."
            ),
            "description": "Recurring windows when this policy pages nobody (and acts only "
            "with act: true).",
        },
    }


def _file_schema(policy: dict[str, Any]) -> dict[str, Any]:
    properties = {
        "version": {"const": 1, "description": "Policy file format version: 1."},
        "policies": {"type": "array", "items": policy, "description": "The policies."},
    }
    return {
        "$schema": DRAFT,
        "title": "Medic policy file",
        **_closed(properties, ["version", "policies"], "Detect -> act policies for Medic."),
    }


def envelope_schema() -> dict[str, Any]:
    """The file with probe options and action steps left open (checked one by one)."""
    probe = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string"}, **_shared_probe_keys(None)},
    }
    step = {"type": "object", "minProperties": 1, "maxProperties": 1}
    return _file_schema(_policy_schema(probe, step))


def policy_file_schema(
    probe_registry: Registry[type[Probe]] = probes,
    action_registry: Registry[type[Action]] = actions,
) -> dict[str, Any]:
    """The whole policy-file schema, one branch per registered probe and action."""
    branches = [
        {
            "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
            "then": probe_options_schema(cls),
        }
        for name, cls in probe_registry.items()
    ]
    probe = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": probe_registry.names(), "description": "Probe type."}},
        "description": "What to measure; the options depend on the type.",
        "allOf": branches,
    }
    steps = [action_step_schema(cls) for _, cls in action_registry.items()]
    step: dict[str, Any] | bool = {"oneOf": steps} if steps else False
    return _file_schema(_policy_schema(probe, step))


@functools.cache
def envelope_validator() -> SchemaCheck:
    return SchemaCheck(envelope_schema())


def _check_plugin_schema(cls: type, schema: dict[str, Any]) -> None:
    """Raise PluginSchemaError when a third-party plugin's options schema is broken.

    Checking against the meta-schema costs more than validating a whole pack, so the
    built-ins' schemas are checked once by the test suite (``tests/test_schema.py``),
    not in every process that loads policies."""
    if cls.__module__.partition(".")[0] != "medic":
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise PluginSchemaError(exc.message) from exc


@functools.cache
def probe_validator(cls: type[Probe]) -> SchemaCheck:
    """The compiled options schema of one probe class (PluginSchemaError if it is broken)."""
    schema = probe_options_schema(cls)
    _check_plugin_schema(cls, schema)
    return SchemaCheck(schema)


@functools.cache
def action_validator(cls: type[Action]) -> SchemaCheck:
    """The compiled options schema of one action class (PluginSchemaError if it is broken)."""
    schema = action_options_schema(cls)
    _check_plugin_schema(cls, schema)
    return SchemaCheck(schema)
