"""Policy loading: every error kind as the operator reads it, and the model it builds."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from medic.actions.base import Action, ActionContext, ActionResult
from medic.errors import Location, PolicyError
from medic.policy.loader import FileResult, load_paths, load_text
from medic.probes.base import Field, Measurement, Probe
from medic.registry import Registry

FILE = "policies/web.yaml"


class MemoryProbe(Probe):
    """Memory use of this host (a test stand-in)."""

    fields = (
        Field("percent", "number", "memory in use", "%"),
        Field("available_bytes", "number", "memory free", "bytes"),
    )
    default_every = 15.0
    default_timeout = 5.0

    async def measure(self) -> Measurement:
        return {}


class FileProbe(Probe):
    """A file's age and size (a test stand-in with a required option)."""

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"path": {"type": "string"}},
        "required": ["path"],
        "additionalProperties": False,
    }
    fields = (Field("age", "number", "seconds since modified", "seconds"),)

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        if not str(options["path"]).startswith("/"):
            return [f"path {options['path']!r} must be absolute"]
        return []

    async def measure(self) -> Measurement:
        return {}


class ScriptProbe(Probe):
    """A script's perfdata: fields are only known when it runs."""

    dynamic_fields = True

    async def measure(self) -> Measurement:
        return {}


class BrokenProbe(Probe):
    """A probe whose validate() has a bug."""

    dynamic_fields = True

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        raise ZeroDivisionError("oops")

    async def measure(self) -> Measurement:
        return {}


class CommandAction(Action):
    """Run a program (a test stand-in)."""

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"argv": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
        "required": ["argv"],
        "additionalProperties": False,
    }
    default_timeout = 60.0

    @classmethod
    def validate(cls, options: Mapping[str, Any]) -> list[str]:
        if options["argv"][0] in ("sh", "bash"):
            return ["argv runs a shell; name the program itself"]
        return []

    async def run(self, ctx: ActionContext) -> ActionResult:
        return ActionResult(ok=True, summary="ran")


class SignalAction(Action):
    """Send a signal (a test stand-in with no required options)."""

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"signal": {"type": "string"}},
        "additionalProperties": False,
    }
    default_timeout = 5.0

    async def run(self, ctx: ActionContext) -> ActionResult:
        return ActionResult(ok=True, summary="sent")


def make_registries() -> tuple[Registry[type[Probe]], Registry[type[Action]]]:
    """Registries holding only the stand-ins above (no entry points are read)."""
    probes: Registry[type[Probe]] = Registry("probe", "medic.tests.no-such-group")
    actions: Registry[type[Action]] = Registry("action", "medic.tests.no-such-group")
    probes.register("host.memory")(MemoryProbe)
    probes.register("file")(FileProbe)
    probes.register("script")(ScriptProbe)
    probes.register("broken")(BrokenProbe)
    actions.register("command")(CommandAction)
    actions.register("process.signal")(SignalAction)
    return probes, actions


PROBES, ACTIONS = make_registries()


def load(text: str, file: str = FILE, **kw: Any) -> FileResult:
    """Load dedented YAML against the stand-in registries."""
    return load_text(
        textwrap.dedent(text), file, probe_registry=PROBES, action_registry=ACTIONS, **kw
    )


def only_error(text: str, **kw: Any) -> PolicyError:
    """The single error in ``text`` (fails when there are none or several)."""
    result = load(text, **kw)
    assert result.policies == ()
    assert len(result.errors) == 1, [str(e) for e in result.errors]
    return result.errors[0]


def policy(body: str) -> str:
    """A file holding one policy named ``web`` whose keys after name are ``body``."""
    return "version: 1\npolicies:\n  - name: web\n" + textwrap.indent(textwrap.dedent(body), "    ")


GOOD = policy(
    """\
    probe: {type: host.memory}
    when: percent > 90
    """
)


# -- stage 1: YAML ---------------------------------------------------------------------


def test_yaml_syntax_error_names_line_and_column() -> None:
    """A YAML syntax error points at the problem mark with a hint."""
    err = only_error("version: 1\npolicies:\n  - name: web\n    when: a: b\n")
    assert str(err) == (
        "policies/web.yaml:4:12: not valid YAML: mapping values are not allowed in this "
        "context (hint: quote a value that contains ': ', or fix the indentation)"
    )
    assert err.policy is None


def test_tab_indentation_is_named() -> None:
    """A tab in the indentation gets its own plain message."""
    err = only_error("version: 1\npolicies:\n\t- name: web\n")
    assert str(err) == (
        "policies/web.yaml:3:1: not valid YAML: found a tab character "
        "(hint: indent with spaces; YAML does not allow tabs)"
    )


def test_duplicate_key_is_an_error_at_the_second() -> None:
    """PyYAML would keep the last of two equal keys; we reject it at the second."""
    result = load(GOOD + "    when: percent > 95\n")
    assert [str(e) for e in result.errors] == [
        "policies/web.yaml:6:5: policy 'web': duplicate key 'when' (first at line 5) "
        "(hint: a key may appear once in a mapping; remove or rename one)"
    ]


def test_empty_file_is_an_error() -> None:
    """A file with nothing in it says how to start one."""
    err = only_error("# just a comment\n")
    assert str(err) == (
        "policies/web.yaml:1:1: the file is empty "
        "(hint: start it with `version: 1` and a `policies:` list)"
    )


def test_recursive_alias_is_an_error() -> None:
    """An alias inside the list it names would expand forever; it is refused."""
    err = only_error("version: 1\npolicies: &p [*p]\n")
    assert str(err) == (
        "policies/web.yaml:2:11: an alias refers to the mapping or list that contains it"
    )


def test_custom_tags_are_refused() -> None:
    """Custom tags (!env) are not plain data; the file says so at the tag."""
    err = only_error(policy("probe: {type: host.memory}\nwhen: !env COND\n"))
    assert str(err) == (
        "policies/web.yaml:5:11: cannot read this value: could not determine a constructor "
        "for the tag '!env' (hint: policy files use plain YAML: no custom tags (!name))"
    )


# -- stage 2: schema ---------------------------------------------------------------


def test_unknown_key_suggests_the_close_one() -> None:
    """An unknown key lists the valid keys and guesses the intended one."""
    err = only_error(policy("probe: {type: host.memory, evrey: 15s}\nwhen: percent > 90\n"))
    assert str(err) == (
        "policies/web.yaml:4:32: policy 'web': unknown key 'evrey' in probe; "
        "did you mean 'every'? valid keys: every, timeout, type "
        "(hint: check the spelling and the indentation)"
    )
    assert (err.policy, err.hint) == ("web", "check the spelling and the indentation")


def test_missing_required_key_points_at_the_policy() -> None:
    """A policy without `when:` is reported at its `- name:` line."""
    err = only_error(policy("probe: {type: host.memory}\n"))
    assert str(err) == (
        "policies/web.yaml:3:5: policy 'web': missing required key 'when' "
        "(hint: add the condition that fires the policy, like `when: percent > 90`)"
    )


def test_bad_duration_says_how_to_write_one() -> None:
    """A duration that does not parse explains the accepted forms."""
    err = only_error(GOOD + "    for: 5 mins\n")
    assert str(err) == (
        "policies/web.yaml:6:10: policy 'web': '5 mins' is not a duration: "
        "write a number with a unit, like 500ms, 30s, 5m, 1h or 1h30m"
    )
    assert err.hint is None


def test_wrong_type_names_what_was_expected() -> None:
    """A string where an integer belongs says both."""
    err = only_error(GOOD + "    limits: {max: three}\n")
    assert str(err) == "policies/web.yaml:6:19: policy 'web': expected an integer, got 'three'"


def test_limits_max_must_be_at_least_one() -> None:
    """limits.max of 0 would never act; it is rejected."""
    err = only_error(GOOD + "    limits:\n      max: 0\n")
    assert str(err) == "policies/web.yaml:7:12: policy 'web': expected at least 1, got 0"


def test_policy_name_pattern() -> None:
    """Names are lowercase slugs, said in words rather than as a regex."""
    err = only_error(GOOD.replace("name: web", "name: Web Leak"))
    assert str(err) == (
        "policies/web.yaml:3:11: policy 'Web Leak': policy name 'Web Leak' may use only "
        "lowercase letters, digits, '_', '.' and '-', and must start with a letter or digit"
    )


def test_top_level_must_be_a_mapping() -> None:
    """A file that is a bare list says what it should be."""
    err = only_error("- name: web\n")
    assert str(err) == "policies/web.yaml:1:1: expected a mapping (key: value), got a list"


def test_missing_version() -> None:
    """A file without `version:` is told to start with it."""
    err = only_error("policies: []\n")
    assert str(err) == (
        "policies/web.yaml:1:1: missing required key 'version' in the file "
        "(hint: start the file with `version: 1`)"
    )


def test_step_written_as_a_string() -> None:
    """A step that is just a word gets the step form as a hint."""
    err = only_error(GOOD + "    remediate:\n      - restart\n")
    assert str(err) == (
        "policies/web.yaml:7:9: policy 'web': expected a mapping (key: value), got 'restart' "
        "(hint: write each step as `- <action>: {options}`; a step's timeout goes inside its "
        "options)"
    )


def test_unsupported_version() -> None:
    """Only version 1 is understood."""
    err = only_error(GOOD.replace("version: 1", "version: 2"))
    assert str(err) == (
        "policies/web.yaml:1:10: unsupported version 2; this medic reads version 1 "
        "(hint: write `version: 1`)"
    )


def test_remediation_step_with_two_keys() -> None:
    """A step is one action; a stray sibling key (often a mis-indented timeout) is named."""
    err = only_error(
        GOOD + "    remediate:\n      - command: {argv: [true]}\n        timeout: 5s\n"
    )
    assert str(err) == (
        "policies/web.yaml:7:9: policy 'web': a remediation step names exactly one action; "
        "found 2: command, timeout (hint: write each step as `- <action>: {options}`; "
        "a step's timeout goes inside its options)"
    )


def test_action_options_are_checked_against_its_schema() -> None:
    """An action missing a required option is reported at the action."""
    err = only_error(GOOD + "    remediate:\n      - command: {timeout: 5s}\n")
    assert str(err) == (
        "policies/web.yaml:7:18: policy 'web': missing required key 'argv' in action 'command'"
    )


# -- stage 3: semantics --------------------------------------------------------------


def test_unknown_probe_type() -> None:
    """An unregistered probe type guesses the close one and lists all."""
    err = only_error(policy("probe: {type: host.mem}\nwhen: percent > 90\n"))
    assert str(err) == (
        "policies/web.yaml:4:19: policy 'web': unknown probe type 'host.mem'; "
        "did you mean 'host.memory'? valid types: broken, file, host.memory, script"
    )
    assert err.hint is None


def test_unknown_action_type() -> None:
    """An unregistered action type is reported at its key."""
    err = only_error(GOOD + "    remediate:\n      - comand: {argv: [true]}\n")
    assert str(err) == (
        "policies/web.yaml:7:9: policy 'web': unknown action type 'comand'; "
        "did you mean 'command'? valid types: command, process.signal"
    )


def test_expression_error_column_is_in_the_file() -> None:
    """A syntax error in a one-line plain `when:` points at the column in the file."""
    err = only_error(policy("probe: {type: host.memory}\nwhen: percent > > 90\n"))
    assert str(err) == (
        "policies/web.yaml:5:21: policy 'web': bad condition in when: "
        "unexpected '>': expected a value after '>'"
    )
    assert err.location == Location(FILE, 5, 21)


def test_expression_error_in_a_quoted_value() -> None:
    """A quoted one-line value shifts the column by its opening quote."""
    err = only_error(policy("probe: {type: host.memory}\nwhen: 'percent $ 3'\n"))
    assert err.location == Location(FILE, 5, 20)
    assert err.message == "bad condition in when: unexpected character '$'"


def test_expression_error_in_a_block_value() -> None:
    """A folded block value maps the expression column to its line and column."""
    err = only_error(
        policy("probe: {type: host.memory}\nwhen: >\n  percent > 1 and\n  percent <\n")
    )
    assert err.location == Location(FILE, 7, 16)
    assert err.message == (
        "bad condition in when: unexpected end of expression: expected a value after '<'"
    )


def test_expression_error_in_a_multiline_plain_value() -> None:
    """A plain value folded over lines maps the column onto the right line."""
    err = only_error(policy("probe: {type: host.memory}\nwhen: percent > 1\n  and percent $ 2\n"))
    assert err.location == Location(FILE, 6, 19)


def test_expression_error_with_escapes_uses_the_expression_column() -> None:
    """When the text cannot be matched to its source: the value's line, expression column."""
    err = only_error(policy('probe: {type: host.memory}\nwhen: "percent $ \\"x\\""\n'))
    assert err.location == Location(FILE, 5, 9)
    assert err.message == "bad condition in when: unexpected character '$'"


def test_unknown_field() -> None:
    """A field the probe does not yield is named, with the probe's fields."""
    err = only_error(
        policy("probe: {type: host.memory}\nwhen: available_bytes < 1 or percnt > 9\n")
    )
    assert str(err) == (
        "policies/web.yaml:5:34: policy 'web': field 'percnt' is not yielded by probe "
        "'host.memory'; did you mean 'percent'? fields: available_bytes, percent "
        "(hint: `medic probe host.memory` runs the probe once and prints its fields)"
    )


def test_dynamic_fields_are_not_checked() -> None:
    """A probe whose fields appear at run time accepts any field name."""
    result = load(policy("probe: {type: script}\nwhen: anything > 1\n"))
    assert result.errors == ()
    assert [p.name for p in result.policies] == ["web"]


def test_probe_validate_message() -> None:
    """A probe's own validate() message is reported at the probe key."""
    err = only_error(policy("probe: {type: file, path: data.log}\nwhen: age > 60\n"))
    assert (
        str(err)
        == "policies/web.yaml:4:5: policy 'web': probe 'file': path 'data.log' must be absolute"
    )


def test_action_validate_message() -> None:
    """An action's own validate() message is reported at the action key."""
    err = only_error(GOOD + "    remediate:\n      - command: {argv: [sh, -c, x]}\n")
    assert str(err) == (
        "policies/web.yaml:7:9: policy 'web': action 'command': "
        "argv runs a shell; name the program itself"
    )


def test_plugin_validate_crash_is_an_error_not_a_crash() -> None:
    """A plugin whose validate() raises rejects the policy with a plain message."""
    err = only_error(policy("probe: {type: broken}\nwhen: x > 1\n"))
    assert err.message == "probe 'broken' could not check its options: ZeroDivisionError('oops')"
    assert err.hint == "this is a bug in the plugin that provides it"


def test_unknown_notifier_when_notifiers_are_known() -> None:
    """escalate.notify must name configured notifiers when the config is given."""
    text = GOOD + "    escalate: {notify: [oncal]}\n"
    err = only_error(text, notifiers={"oncall", "slack"})
    assert str(err) == (
        "policies/web.yaml:6:25: policy 'web': unknown notifier 'oncal'; did you mean "
        "'oncall'? notifiers in the agent config: oncall, slack (hint: add it under "
        "`notifiers:` in the agent config, or fix the name)"
    )
    assert load(text).errors == ()


def test_zero_interval_is_rejected() -> None:
    """every: 0 would probe without pause."""
    err = only_error(policy("probe: {type: host.memory, every: 0s}\nwhen: percent > 1\n"))
    assert str(err) == (
        "policies/web.yaml:4:39: policy 'web': `every: 0s` is below the 100ms floor "
        "(hint: every may be from 100ms up to 1d)"
    )


def test_max_targets_share_over_100_percent() -> None:
    """A percentage of targets must be between 1% and 100%."""
    err = only_error(GOOD + "    limits: {max_targets: 150%}\n")
    assert err.message == "max_targets '150%' is not a share of the targets"
    assert err.location == Location(FILE, 6, 27)


def test_duplicate_name_in_one_file() -> None:
    """The second policy with a name is the error, naming where the first is."""
    err = only_error(
        GOOD + "  - name: web\n    probe: {type: host.memory}\n    when: percent > 1\n"
    )
    assert str(err) == (
        "policies/web.yaml:6:11: policy 'web': duplicate policy name 'web'; first defined at "
        "policies/web.yaml:3:11 (hint: policy names must be unique across all policy files; "
        "rename one)"
    )


def test_all_errors_are_collected_in_line_order() -> None:
    """Every problem in a file is reported, not just the first."""
    text = policy(
        """\
        probe: {type: host.memory, evrey: 1s}
        when: percnt > 1
        for: soon
        remediate:
          - comand: {}
        """
    )
    result = load(text)
    assert [(e.location.line if e.location else 0) for e in result.errors] == [4, 5, 6, 8]


# -- files and the model ---------------------------------------------------------------


def write(directory: Path, name: str, text: str) -> Path:
    """Write a policy file under ``directory``, creating sub-directories."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_broken_file_among_good_ones(tmp_path: Path) -> None:
    """Good files still load when one file is broken; the broken one contributes nothing."""
    write(tmp_path, "a.yaml", GOOD.replace("web", "alpha"))
    write(tmp_path, "b.yaml", "version: 1\npolicies: [\n")
    write(tmp_path, "sub/c.yml", GOOD.replace("web", "gamma"))
    write(tmp_path, "notes.txt", "not a policy")
    result = load_paths([tmp_path], probe_registry=PROBES, action_registry=ACTIONS)
    assert [f.path.name for f in result.files] == ["a.yaml", "b.yaml", "c.yml"]
    assert [p.name for p in result.policies] == ["alpha", "gamma"]
    assert [str(e) for e in result.errors] == [
        f"{tmp_path}/b.yaml:3:1: not valid YAML: did not find expected node content; the '[' "
        "opened at line 2, column 11 is still open here (hint: close the bracket, or quote a "
        "value that contains [ ] { } or ,)"
    ]


def test_duplicate_name_across_files_rejects_the_later_file(tmp_path: Path) -> None:
    """A name reused by a later file is an error there, naming the first file's line."""
    first = write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD + "  - name: other\n    probe: {type: script}\n    when: x\n")
    result = load_paths([tmp_path], probe_registry=PROBES, action_registry=ACTIONS)
    assert [p.name for p in result.policies] == ["web"]
    assert [str(e) for e in result.errors] == [
        f"{tmp_path}/b.yaml:3:11: policy 'web': duplicate policy name 'web'; first defined at "
        f"{first}:3:11 (hint: policy names must be unique across all policy files; rename one)"
    ]


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    """A path that does not exist is reported, not skipped."""
    result = load_paths([tmp_path / "nope.yaml"])
    assert [str(e) for e in result.errors] == [
        f"{tmp_path}/nope.yaml: no such file or directory "
        "(hint: check the path, or create the file)"
    ]


def test_full_policy_builds_the_model() -> None:
    """Every key lands in the model, durations in seconds, defaults from the classes."""
    text = policy(
        """\
        description: Restart web when it leaks.
        probe: {type: host.memory, timeout: 2s}
        when: percent > 90
        clear_when: percent < 80
        for: 2m
        remediate:
          - command: {argv: [systemctl, restart, web], timeout: 90s}
          - process.signal:
        verify: {after: 45s}
        limits: {max: 2, per: 30m, cooldown: 1m, max_targets: 20%}
        escalate: {after_failures: 2, notify: [oncall], on_suppressed: false}
        dry_run: true
        """
    )
    result = load(text)
    assert result.errors == ()
    (p,) = result.policies
    assert (p.name, p.description, p.dry_run, p.hold) == (
        "web",
        "Restart web when it leaks.",
        True,
        120.0,
    )
    assert (p.probe.type, dict(p.probe.options), p.probe.every, p.probe.timeout) == (
        "host.memory",
        {},
        15.0,
        2.0,
    )
    assert p.when.text == "percent > 90" and p.clear_when is not None
    assert [(s.type, dict(s.options), s.timeout) for s in p.remediate] == [
        ("command", {"argv": ["systemctl", "restart", "web"]}, 90.0),
        ("process.signal", {}, 5.0),
    ]
    assert p.verify.after == 45.0
    assert (p.limits.max, p.limits.per, p.limits.cooldown) == (2, 1800.0, 60.0)
    assert (p.limits.max_targets, p.limits.max_targets_percent) == (None, 20.0)
    assert (p.escalate.notify, p.escalate.after_failures, p.escalate.on_suppressed) == (
        ("oncall",),
        2,
        False,
    )
    assert p.source == Location(FILE, 3, 5)
    assert len(p.digest) == 64


def test_defaults() -> None:
    """Keys left out take the documented defaults."""
    (p,) = load(GOOD).policies
    assert (p.hold, p.verify.after, p.dry_run, p.remediate) == (0.0, 30.0, False, ())
    assert (p.limits.max, p.limits.per, p.limits.cooldown, p.limits.max_targets) == (
        3,
        3600.0,
        300.0,
        None,
    )
    assert (p.escalate.notify, p.escalate.after_failures, p.escalate.on_suppressed) == ((), 1, True)
    assert (p.probe.every, p.probe.timeout) == (15.0, 5.0)


def test_digest_follows_the_policy_text_only() -> None:
    """The digest ignores comments and other policies, and changes when the policy does."""
    two = GOOD + "  - name: other\n    probe: {type: script}\n    when: x\n"
    base = load(two).policies[0].digest
    assert load("# note\n" + two).policies[0].digest == base
    assert load(two.replace("name: other", "name: else")).policies[0].digest == base
    assert load(two.replace("> 90", "> 91")).policies[0].digest != base


def test_yaml_merge_keys_and_count_targets() -> None:
    """Anchors and merge keys work, and an integer max_targets is a count."""
    text = """\
        version: 1
        policies:
          - name: web
            probe: &p {type: file, path: /var/log/x, every: 1m}
            when: age > 60
            limits: {max_targets: 2}
          - name: web2
            probe: {<<: *p, path: /var/log/y}
            when: age > 60
        """
    result = load(text)
    assert result.errors == ()
    assert [dict(p.probe.options) for p in result.policies] == [
        {"path": "/var/log/x"},
        {"path": "/var/log/y"},
    ]
    assert result.policies[0].limits.max_targets == 2


def test_no_policies_is_valid() -> None:
    """A file with an empty policies list is valid and contributes nothing."""
    assert load("version: 1\npolicies: []\n") == FileResult(Path(FILE), (), ())


def test_a_broken_file_never_takes_a_name_from_a_good_one(tmp_path: Path) -> None:
    """A rejected file that reuses a name (sorted first) leaves the good file loading."""
    (tmp_path / "a.yaml").write_text(
        "version: 1\npolicies:\n  - name: shared\n    probe: {type: host.nope}\n"
        "    when: percent > 90\n",
        encoding="utf-8",
    )
    (tmp_path / "b.yaml").write_text(
        "version: 1\npolicies:\n  - name: shared\n    probe: {type: host.memory}\n"
        "    when: percent > 90\n",
        encoding="utf-8",
    )
    result = load_paths([tmp_path])
    assert [p.name for p in result.policies] == ["shared"]
    broken, good = result.files
    assert good.errors == ()
    assert any("duplicate policy name" in e.message for e in broken.errors), broken.errors


def test_policy_test_files_in_a_folder_are_not_policies(tmp_path: Path) -> None:
    """`*.test.yaml` beside the policies is for `medic test`; loading the folder skips it."""
    (tmp_path / "p.yaml").write_text(
        "version: 1\npolicies:\n  - name: p\n    probe: {type: host.memory}\n"
        "    when: percent > 90\n",
        encoding="utf-8",
    )
    (tmp_path / "p.test.yaml").write_text("version: 1\ntests: []\n", encoding="utf-8")
    result = load_paths([tmp_path])
    assert [f.path.name for f in result.files] == ["p.yaml"] and not result.errors
