"""Placeholder rules: no value becomes an option, leaves its directory or reshapes a URL."""

from __future__ import annotations

import asyncio
import posixpath
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from medic.actions.base import ActionContext
from medic.actions.command import CommandAction
from medic.actions.container import CONTAINER_NAME, RestartAction
from medic.actions.container_exec import ExecAction
from medic.actions.http import HttpRequestAction
from medic.actions.placeholders import Allow, PlaceholderError, fill_item
from medic.actions.systemd import RestartAction as UnitRestartAction
from medic.drivers.systemd import UNIT_NAME
from medic.errors import ActionError

# Text built mostly from the characters that matter to argv, paths, URLs and shells.
HOSTILE = st.text(
    alphabet=st.sampled_from(list("-/.\\\x00\n\r ?#&=%@:;$`'\"{}*a1")) | st.characters(),
    max_size=24,
)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_ctx(target: str, **fields: Any) -> ActionContext:
    return ActionContext(
        policy="p", target=target, incident="inc-1", fields=fields, timeout=5.0, host="node-1"
    )


def assert_safe_argv(template: list[str], argv: list[str]) -> None:
    """No item became an option, and path items stay in their directory."""
    for item, filled in zip(template, argv, strict=True):
        assert "\x00" not in filled and "\n" not in filled and "\r" not in filled
        if not item.startswith("-"):
            assert not filled.startswith("-")
        if "/" in item.replace("{target}", ""):
            head = item.split("{target}", 1)[0]
            folder = head[: head.rfind("/") + 1]
            assert posixpath.normpath(filled).startswith(folder.rstrip("/") + "/")
            assert filled.count("/") == item.count("/")


ARGV = ["tool", "{target}", "--name={target}", "/spool/{target}.lock", "/srv/{target}/x"]


@PROPERTY
@given(target=HOSTILE)
@example(target="--help")
@example(target="../victim")
@example(target="..")
@example(target="")
def test_command_argv_never_becomes_an_option_or_escapes(target: str) -> None:
    """command: a hostile target is refused or stays a plain, confined argument."""
    try:
        argv = CommandAction({"argv": ARGV}).argv(make_ctx(target))
    except PlaceholderError:
        return
    assert_safe_argv(ARGV, argv)


@PROPERTY
@given(target=HOSTILE)
@example(target="-rf")
@example(target="a/../../etc")
def test_container_exec_argv_never_becomes_an_option_or_escapes(target: str) -> None:
    """container.exec: the same rules as command, before anything reaches the engine."""
    try:
        argv = ExecAction({"argv": ARGV}).argv(make_ctx(target))
    except PlaceholderError:
        return
    assert_safe_argv(ARGV, argv)


URL = "http://svc.local:8080/api/{target}/restart?mount={target}&x=1#f{target}"


@PROPERTY
@given(target=HOSTILE)
@example(target="..")
@example(target="a/../../admin?x=1#f")
@example(target="")
def test_http_url_keeps_its_host_path_and_query(target: str) -> None:
    """http.request: a value never changes the host, the path segments or the query keys."""
    try:
        url = HttpRequestAction({"url": URL}).url(make_ctx(target))
    except PlaceholderError:
        return
    parts = urlsplit(url)
    assert parts.netloc == "svc.local:8080"
    segments = parts.path.split("/")
    assert segments[:2] == ["", "api"] and segments[3:] == ["restart"]
    assert segments[2] not in ("", ".", "..")
    assert [key for key, _ in parse_qsl(parts.query, keep_blank_values=True)] == ["mount", "x"]
    assert parts.fragment.startswith("f")


@PROPERTY
@given(target=HOSTILE)
@example(target="evil.example@good")
@example(target="a/b")
@example(target="web\n")
def test_http_host_placeholder_is_a_host_name(target: str) -> None:
    """A value in a URL's host is a host name or refused: it cannot add a user or a path."""
    try:
        url = HttpRequestAction({"url": "http://{target}:9000/x"}).url(make_ctx(target))
    except PlaceholderError:
        return
    parts = urlsplit(url)
    assert parts.hostname == target.lower() and parts.path == "/x" and parts.username is None


@PROPERTY
@given(target=HOSTILE)
@example(target="--force")
def test_systemd_unit_is_one_unit_name(target: str) -> None:
    """systemd.*: the unit is one unit name that never begins with '-', or it is refused."""
    for options in ({}, {"unit": "app@{target}"}):
        try:
            unit = UnitRestartAction(options).unit(make_ctx(target))
        except ActionError:
            continue
        assert UNIT_NAME.match(unit) and not unit.startswith("-")


@PROPERTY
@given(target=HOSTILE.filter(lambda t: not CONTAINER_NAME.match(t)))
@example(target="../../images/x")
def test_container_actions_refuse_what_is_no_container_name(target: str) -> None:
    """container.*: a target that is no container name is refused before the engine is asked."""
    result = asyncio.run(RestartAction({}).run(make_ctx(target)))
    assert not result.ok
    assert result.summary.startswith("refused: ")


def test_refusal_names_the_value_the_slot_and_the_fix() -> None:
    """A refused dash value says which placeholder, where, why and how to allow it."""
    with pytest.raises(PlaceholderError) as caught:
        CommandAction({"argv": ["touch", "{target}"]}).argv(make_ctx("--help"))
    assert caught.value.message == (
        "refused to put {target} = '--help' in argv[1]: a value that begins with '-' "
        "would be read as an option"
    )
    assert caught.value.hint == (
        "if the program expects such values, set allow_dash: true on the step"
    )


@pytest.mark.parametrize(
    ("template", "value", "reason"),
    [
        ("/spool/{target}.lock", "../victim", "a value in a path may not hold '/'"),
        ("/spool/{target}", "..", "it would make a path segment empty, '.' or '..'"),
        ("/spool/{target}", "", "it would make a path segment empty, '.' or '..'"),
        ("{target}", "a\nb", "a value may not hold a NUL or a line break"),
        ("x{target}", "a\x00b", "a value may not hold a NUL or a line break"),
    ],
)
def test_each_rule_has_its_reason(template: str, value: str, reason: str) -> None:
    """Every argv rule refuses with its own reason."""
    with pytest.raises(PlaceholderError) as caught:
        fill_item(template, {"target": value}, Allow(), "argv[1]")
    assert caught.value.message.endswith(f"in argv[1]: {reason}")


def test_allow_options_let_values_through() -> None:
    """allow_dash and allow_path are per-step: the step says what its program expects."""
    ctx = make_ctx("-v", path="/var/log/app.log")
    action = CommandAction(
        {"argv": ["tool", "{target}", "--file=/{path}"], "allow_dash": True, "allow_path": True}
    )
    assert action.argv(ctx) == ["tool", "-v", "--file=//var/log/app.log"]
    assert fill_item("/spool/{a}{b}", {"a": ".", "b": "."}, Allow(path=True), "x") == "/spool/.."


def test_whole_item_values_are_not_paths() -> None:
    """An item without '/' of its own passes a value with '/' whole (it names a path itself)."""
    assert fill_item("{mount}", {"mount": "/var lib"}, Allow(), "argv[1]") == "/var lib"
    assert fill_item("--mount={mount}", {"mount": "/x"}, Allow(), "argv[1]") == "--mount=/x"


def test_values_combined_into_dot_segments_are_refused() -> None:
    """Two values that together make '..' are refused like one."""
    with pytest.raises(PlaceholderError, match=r"\{a\} = '\.'"):
        fill_item("/spool/{a}{b}", {"a": ".", "b": "."}, Allow(), "argv[1]")


def test_schema_offers_the_allow_options() -> None:
    """Steps that fill argv or URLs declare the allow options in their schema."""
    for cls in (CommandAction, ExecAction):
        assert {"allow_dash", "allow_path"} <= set(cls.schema["properties"])
    assert "allow_path" in HttpRequestAction.schema["properties"]


def test_describe_says_what_was_refused() -> None:
    """A dry run shows the refusal instead of a command that would never run."""
    action = CommandAction({"argv": ["touch", "{target}"]})
    assert action.describe(make_ctx("--help")) == (
        "touch '{target}' (refused to put {target} = '--help' in argv[1]: "
        "a value that begins with '-' would be read as an option)"
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_dash_target_fails_the_step_and_runs_nothing(tmp_path: Path) -> None:
    """Finding 7: `touch {target}` with target `--help` fails; touch never runs."""
    code = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"
    marker = tmp_path / "ran"
    action = CommandAction({"argv": [sys.executable, "-c", code, str(marker), "{target}"]})
    result = await action.run(make_ctx("--help"))
    assert not result.ok
    assert result.summary.startswith("refused to put {target} = '--help' in argv[4]")
    assert result.details["placeholder"] == "target"
    assert not marker.exists()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_traversal_target_cannot_delete_outside_the_spool(tmp_path: Path) -> None:
    """Finding 7: `rm -f <spool>/{target}.lock` with `../victim` deletes nothing outside."""
    spool = tmp_path / "spool"
    spool.mkdir()
    victim = tmp_path / "victim.lock"
    victim.write_text("keep me")
    action = CommandAction({"argv": ["rm", "-f", f"{spool}/{{target}}.lock"]})
    result = await action.run(make_ctx("../victim"))
    assert not result.ok
    assert "a value in a path may not hold '/'" in result.summary
    assert victim.read_text() == "keep me"
