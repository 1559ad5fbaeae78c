"""The `command` action against real programs: exit codes, output, env, cwd, timeouts."""

from __future__ import annotations

import asyncio
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import psutil
import pytest
import yaml

from medic.actions import actions
from medic.actions.base import ActionContext
from medic.actions.command import OUTPUT_LIMIT, CommandAction


def make_ctx(target: str = "web", timeout: float = 10.0, **fields: Any) -> ActionContext:
    return ActionContext(
        policy="app-down-restart",
        target=target,
        incident="inc-42",
        fields=fields,
        timeout=timeout,
        host="node-1",
    )


def gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for init counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pid: int, within: float) -> bool:
    """Poll until ``pid`` is gone; killed processes take a moment to be reaped."""
    deadline = time.monotonic() + within
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_registered_under_its_name() -> None:
    """The registry maps `command` to CommandAction."""
    assert actions.get("command") is CommandAction


def test_docstring_example_options_match_schema() -> None:
    """The docstring's YAML example parses and its command options satisfy the schema."""
    doc = CommandAction.__doc__ or ""
    block = re.search(r"```yaml\n(.*?)```", doc, re.DOTALL)
    assert block is not None
    policy = yaml.safe_load(block.group(1))["policies"][0]
    options = dict(policy["remediate"][0]["command"])
    options.pop("timeout")
    jsonschema.Draft202012Validator(CommandAction.schema).validate(options)
    assert CommandAction.validate(options) == []


@pytest.mark.integration
@pytest.mark.asyncio
async def test_success_captures_stdout_and_exit_code() -> None:
    """A zero exit is ok, with stdout, exit code and duration in the details."""
    result = await CommandAction({"argv": ["echo", "restarted", "{target}"]}).run(make_ctx())
    assert result.ok
    assert result.summary == "exited 0: echo restarted web"
    assert result.details["stdout"] == "restarted web\n"
    assert result.details["exit_code"] == 0
    assert result.details["timed_out"] is False
    assert result.details["truncated"] is False
    assert result.details["argv"] == ["echo", "restarted", "web"]
    assert result.details["duration"] >= 0


@pytest.mark.integration
@pytest.mark.asyncio
async def test_failure_summary_names_exit_code_and_stderr() -> None:
    """A non-zero exit fails; the summary carries the code and the first stderr line."""
    action = CommandAction({"shell": "echo 'unit web.service not found' >&2; exit 5"})
    result = await action.run(make_ctx())
    assert not result.ok
    assert result.summary == (
        "exited 5 (expected 0): echo 'unit web.service not found' >&2; exit 5: "
        "unit web.service not found"
    )
    assert result.details["stderr"] == "unit web.service not found\n"
    assert result.details["exit_code"] == 5


@pytest.mark.integration
@pytest.mark.asyncio
async def test_ok_exit_codes_widen_success() -> None:
    """An exit code listed in ok_exit_codes counts as success."""
    result = await CommandAction({"argv": ["sh", "-c", "exit 3"], "ok_exit_codes": [0, 3]}).run(
        make_ctx()
    )
    assert result.ok
    assert result.details["exit_code"] == 3


@pytest.mark.integration
@pytest.mark.asyncio
async def test_large_output_is_truncated() -> None:
    """Output beyond the limit is cut and marked truncated."""
    code = "import sys; sys.stdout.write('x' * 100000)"
    result = await CommandAction({"argv": [sys.executable, "-c", code]}).run(make_ctx())
    assert result.ok
    assert result.details["truncated"] is True
    assert result.details["stdout"] == "x" * OUTPUT_LIMIT


@pytest.mark.integration
@pytest.mark.asyncio
async def test_env_gets_options_and_medic_variables() -> None:
    """The program sees the policy's env plus MEDIC_POLICY/TARGET/INCIDENT/HOST."""
    action = CommandAction({"argv": ["env"], "env": {"APP_MODE": "safe"}})
    result = await action.run(make_ctx(target="db-1"))
    lines = set(result.details["stdout"].splitlines())
    assert {
        "APP_MODE=safe",
        "MEDIC_POLICY=app-down-restart",
        "MEDIC_TARGET=db-1",
        "MEDIC_INCIDENT=inc-42",
        "MEDIC_HOST=node-1",
    } <= lines
    assert result.details["env"] == ["APP_MODE"]


@pytest.mark.integration
@pytest.mark.asyncio
async def test_cwd_is_honoured(tmp_path: Path) -> None:
    """The program starts in the configured working directory."""
    result = await CommandAction({"argv": ["pwd"], "cwd": str(tmp_path)}).run(make_ctx())
    assert result.details["stdout"].strip() == str(tmp_path)
    assert result.details["cwd"] == str(tmp_path)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_target_cannot_inject_in_argv_mode() -> None:
    """A hostile target stays one argument: printed verbatim, never executed."""
    marker = Path(f"/tmp/pwned-{uuid.uuid4().hex}")
    target = f"x; touch {marker}"
    code = "import sys; print(len(sys.argv) - 1); print(sys.argv[1])"
    result = await CommandAction({"argv": [sys.executable, "-c", code, "{target}"]}).run(
        make_ctx(target=target)
    )
    assert result.ok
    assert result.details["stdout"] == f"1\n{target}\n"
    assert not await asyncio.to_thread(marker.exists)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_target_cannot_inject_in_shell_mode() -> None:
    """In shell mode the target arrives as $MEDIC_TARGET and is not re-parsed."""
    marker = Path(f"/tmp/pwned-{uuid.uuid4().hex}")
    target = f"$(touch {marker}); touch {marker}"
    action = CommandAction({"shell": 'printf "%s" "$MEDIC_TARGET"'})
    result = await action.run(make_ctx(target=target))
    assert result.ok
    assert result.details["stdout"] == target
    assert not await asyncio.to_thread(marker.exists)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_field_placeholder_fills_one_argument() -> None:
    """`{field}` placeholders render from the measurement, inside one argv item."""
    result = await CommandAction({"argv": ["echo", "--mount={mount}"]}).run(
        make_ctx(mount="/var lib")
    )
    assert result.details["argv"] == ["echo", "--mount=/var lib"]


@pytest.mark.asyncio
async def test_unknown_placeholder_fails_without_running() -> None:
    """A placeholder the context cannot fill fails the step and lists known names."""
    result = await CommandAction({"argv": ["echo", "{servce}"]}).run(make_ctx(mount="/"))
    assert not result.ok
    assert result.summary == (
        "unknown placeholder {servce} in argv[1]; known here: "
        "{host}, {incident}, {mount}, {policy}, {target}"
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_missing_program_is_reported() -> None:
    """A program that does not exist fails with the reason and the name."""
    result = await CommandAction({"argv": ["/nonexistent/medic-fixer"]}).run(make_ctx())
    assert not result.ok
    assert result.summary == (
        "cannot start /nonexistent/medic-fixer: No such file or directory: /nonexistent/medic-fixer"
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_timeout_kills_program_and_grandchild(tmp_path: Path) -> None:
    """At the timeout the hung program and the child it forked are both killed."""
    pidfile = tmp_path / "grandchild.pid"
    action = CommandAction(
        {"shell": 'sleep 60 & echo $! > "$PIDFILE"; wait', "env": {"PIDFILE": str(pidfile)}}
    )
    result = await action.run(make_ctx(timeout=0.5))
    assert not result.ok
    assert result.details["timed_out"] is True
    assert result.details["exit_code"] is None
    assert result.summary == (
        'timed out after 500ms, process group killed: sleep 60 & echo $! > "$PIDFILE"; wait'
    )
    grandchild = int(pidfile.read_text())
    assert await asyncio.to_thread(wait_gone, grandchild, 5.0)


def test_validate_rejects_placeholders_in_shell_text() -> None:
    """Shell text with placeholders is refused with a pointer to the environment."""
    assert CommandAction.validate({"shell": "systemctl restart {target}"}) == [
        "placeholders are not allowed in shell text; pass values through the environment: "
        "$MEDIC_TARGET, $MEDIC_POLICY, $MEDIC_INCIDENT, $MEDIC_HOST"
    ]


def test_validate_allows_shell_parameter_expansion() -> None:
    """`${MEDIC_TARGET}` and awk braces are shell syntax, not placeholders."""
    text = "systemctl restart \"${MEDIC_TARGET}\" && ps | awk '{print $1}'"
    assert CommandAction.validate({"shell": text}) == []


def test_validate_requires_exactly_one_of_argv_and_shell() -> None:
    """Both or neither of argv and shell is refused with the fix."""
    assert CommandAction.validate({"argv": ["true"], "shell": "true"}) == [
        "give either argv (a program and its arguments) or shell (text for /bin/sh), "
        "not both; prefer argv"
    ]
    assert CommandAction.validate({}) == [
        "say what to run: add argv: [program, arg, ...] (or shell: text)"
    ]


def test_validate_other_semantic_checks() -> None:
    """Placeholder programs, reserved env names and relative cwd are refused."""
    assert CommandAction.validate(
        {"argv": ["{target}", "x"], "env": {"MEDIC_TARGET": "x"}, "cwd": "srv"}
    ) == [
        "the program (argv[0] '{target}') cannot contain placeholders; name the program "
        "literally and pass values like {target} as later arguments",
        "env MEDIC_TARGET is set by medic on every run; choose another name",
        "cwd 'srv' must be an absolute path, like /srv/app",
    ]


def test_schema_rejects_unknown_keys() -> None:
    """The options schema is strict and does not define timeout itself."""
    validator = jsonschema.Draft202012Validator(CommandAction.schema)
    assert not validator.is_valid({"argv": ["true"], "args": ["x"]})
    assert "timeout" not in CommandAction.schema["properties"]
    assert CommandAction.schema["additionalProperties"] is False


def test_describe_quotes_arguments_for_display() -> None:
    """describe() shows the rendered command, shell-quoted for reading."""
    action = CommandAction({"argv": ["systemctl", "restart", "{target}"]})
    assert action.describe(make_ctx(target="my app")) == "systemctl restart 'my app'"
    shell = CommandAction({"shell": "systemctl restart web"})
    assert shell.describe(make_ctx()) == "/bin/sh -c 'systemctl restart web'"
    broken = CommandAction({"argv": ["echo", "{nope}"]})
    assert broken.describe(make_ctx()) == "echo '{nope}' (unknown placeholder {nope})"
