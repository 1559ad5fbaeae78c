"""The systemd actions, run by Medic's own Python inside the node against a real systemd."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from medic.actions.base import ActionContext
from medic.actions.systemd import ReloadAction, RestartAction, StartAction
from medic.errors import ActionError

if TYPE_CHECKING:
    from kit.systemd_node import Node

SLEEPER = "[Service]\nExecStart=/bin/sleep infinity\n"
RUN_ACTION = """
import asyncio, json, sys
from medic.actions.base import ActionContext, actions
from medic.errors import MedicError

name, target, options, timeout = json.loads(sys.argv[1])
action = actions.get(name)(options)
ctx = ActionContext(policy="t", target=target, incident="i", fields={}, timeout=timeout)
try:
    result = asyncio.run(action.run(ctx))
    print(json.dumps({"ok": result.ok, "summary": result.summary, "details": result.details}))
except MedicError as exc:
    print(json.dumps({"error": exc.message, "hint": exc.hint}))
"""


def act(
    node: Node, name: str, target: str, options: dict[str, Any] | None = None, timeout: float = 60
) -> dict[str, Any]:
    """Run action ``name`` on ``target`` in the node; its result as a dict."""
    args = json.dumps([name, target, options or {}, timeout])
    result: dict[str, Any] = node.python(RUN_ACTION, args, timeout=timeout + 30)
    return result


def ctx(target: str) -> ActionContext:
    return ActionContext(policy="p", target=target, incident="i", fields={}, timeout=10)


# -- on the host: naming the unit -------------------------------------------------------


def test_unit_defaults_to_the_target_and_may_use_placeholders() -> None:
    """Without unit: the target is the unit; unit: renders placeholders, adds .service."""
    assert RestartAction({}).unit(ctx("nginx.service")) == "nginx.service"
    assert RestartAction({"unit": "app@{target}"}).unit(ctx("blue")) == "app@blue.service"
    assert StartAction({}).describe(ctx("nginx")) == "systemctl start nginx.service"
    reload_or_restart = ReloadAction({"or_restart": True})
    assert reload_or_restart.describe(ctx("haproxy")) == (
        "systemctl reload-or-restart haproxy.service"
    )


@pytest.mark.asyncio
async def test_a_target_that_is_no_unit_name_is_refused_before_systemctl_runs() -> None:
    """A URL target (an http policy without unit:) raises ActionError with the fix."""
    with pytest.raises(ActionError) as caught:
        await RestartAction({}).run(ctx("http://example.org/health"))
    assert caught.value.message == "'http://example.org/health.service' is not a unit name"
    assert caught.value.hint == (
        "set unit: in the step when the probe's targets are not systemd units"
    )


def test_validate_refuses_globs_and_option_like_units() -> None:
    """unit: must name one unit: no glob, no leading dash; placeholders are fine."""
    message = (
        "unit '{}' is not one unit name: use letters, digits and :_.@-\\ (no globs, not "
        "starting with '-'), or a placeholder such as {{target}}"
    )
    assert RestartAction.validate({"unit": "app-*"}) == [message.format("app-*")]
    assert RestartAction.validate({"unit": "--force"}) == [message.format("--force")]
    assert RestartAction.validate({"unit": "worker@{target}"}) == []


def test_an_unknown_placeholder_names_the_known_ones() -> None:
    """A typo in a placeholder is an ActionError listing what exists."""
    with pytest.raises(ActionError) as caught:
        RestartAction({"unit": "{tagret}"}).unit(ctx("x"))
    assert caught.value.message == (
        "unknown placeholder {tagret} in unit; known here: {host}, {incident}, {policy}, {target}"
    )


# -- in the node ----------------------------------------------------------------------------


@pytest.mark.integration
def test_restart_gives_the_unit_a_new_main_process(node: Node) -> None:
    """systemd.restart restarts a running unit: ok, new main pid, both states audited."""
    node.add_unit("act-app.service", SLEEPER)
    node.run("systemctl", "restart", "act-app.service")
    old_pid = int(node.show("act-app.service")["MainPID"])
    result = act(node, "systemd.restart", "act-app.service")
    new_pid = int(node.show("act-app.service")["MainPID"])
    assert result["ok"] is True
    assert result["summary"] == "restarted unit act-app.service (now active)"
    assert result["details"]["before"]["main_pid"] == old_pid != new_pid
    assert result["details"]["after"] == {
        "active_state": "active",
        "sub_state": "running",
        "main_pid": new_pid,
        "restarts": 0,
    }


@pytest.mark.integration
def test_start_and_stop_change_the_units_state(node: Node) -> None:
    """systemd.stop leaves the unit inactive; systemd.start makes it active again."""
    node.add_unit("act-toggle.service", SLEEPER)
    node.run("systemctl", "start", "act-toggle.service")
    stopped = act(node, "systemd.stop", "act-toggle")
    assert (stopped["ok"], stopped["summary"]) == (
        True,
        "stopped unit act-toggle.service (now inactive)",
    )
    assert node.show("act-toggle.service")["ActiveState"] == "inactive"
    started = act(node, "systemd.start", "act-toggle")
    assert (started["ok"], started["summary"]) == (
        True,
        "started unit act-toggle.service (now active)",
    )
    assert node.show("act-toggle.service")["ActiveState"] == "active"


@pytest.mark.integration
def test_reload_uses_execreload_and_or_restart_covers_units_without_it(node: Node) -> None:
    """reload runs ExecReload=; without one it fails in systemd's words, or_restart restarts."""
    node.add_unit(
        "act-reload.service",
        "[Service]\nExecStart=/bin/sleep infinity\nExecReload=/bin/kill -CONT $MAINPID\n",
    )
    node.run("systemctl", "restart", "act-reload.service")
    pid = node.show("act-reload.service")["MainPID"]
    reloaded = act(node, "systemd.reload", "act-reload")
    assert (reloaded["ok"], reloaded["summary"]) == (
        True,
        "reloaded unit act-reload.service (now active)",
    )
    assert node.show("act-reload.service")["MainPID"] == pid  # reloaded, not restarted

    node.add_unit("act-noreload.service", SLEEPER)
    node.run("systemctl", "restart", "act-noreload.service")
    refused = act(node, "systemd.reload", "act-noreload")
    assert refused["ok"] is False
    assert refused["summary"] == (
        "systemctl reload act-noreload.service failed: Failed to reload "
        "act-noreload.service: Job type reload is not applicable for unit act-noreload.service."
    )
    pid = node.show("act-noreload.service")["MainPID"]
    restarted = act(node, "systemd.reload", "act-noreload", {"or_restart": True})
    assert restarted["ok"] is True
    assert node.show("act-noreload.service")["MainPID"] != pid


@pytest.mark.integration
def test_a_start_that_fails_reports_systemds_reason(node: Node) -> None:
    """A oneshot unit whose program fails: the step fails with systemctl's first line."""
    node.add_unit("act-broken.service", "[Service]\nType=oneshot\nExecStart=/bin/false\n")
    result = act(node, "systemd.start", "act-broken")
    assert result["ok"] is False
    assert result["summary"] == (
        "systemctl start act-broken.service failed: Job for act-broken.service failed "
        "because the control process exited with error code."
    )
    assert result["details"]["after"]["active_state"] == "failed"
    assert result["details"]["exit_code"] == 1


@pytest.mark.integration
def test_reset_failed_clears_the_failed_state(node: Node) -> None:
    """systemd.reset_failed turns a failed unit inactive again."""
    node.add_unit("act-failed.service", "[Service]\nExecStart=/bin/false\n")
    node.run("systemctl", "start", "act-failed.service", check=False)
    node.wait_for(
        lambda: node.show("act-failed.service")["ActiveState"] == "failed",
        what="act-failed.service to fail",
    )
    result = act(node, "systemd.reset_failed", "act-failed")
    assert (result["ok"], result["summary"]) == (
        True,
        "reset the failed state of unit act-failed.service (now inactive)",
    )
    assert result["details"]["before"]["active_state"] == "failed"


@pytest.mark.integration
def test_a_unit_that_does_not_exist_is_not_acted_on(node: Node) -> None:
    """A unit systemd does not know fails the step without running the verb."""
    result = act(node, "systemd.restart", "act-no-such-unit")
    assert (result["ok"], result["summary"]) == (
        False,
        "unit act-no-such-unit.service does not exist",
    )
    assert "exit_code" not in result["details"]


@pytest.mark.integration
def test_a_job_longer_than_the_timeout_is_given_up_and_says_so(node: Node) -> None:
    """A start job still running at the step's timeout: systemctl killed, timed_out set."""
    node.add_unit("act-slow.service", "[Service]\nType=oneshot\nExecStart=/bin/sleep 60\n")
    try:
        result = act(node, "systemd.start", "act-slow", timeout=4)
        assert result["ok"] is False
        assert result["details"]["timed_out"] is True
        assert result["summary"].startswith(
            "systemctl start act-slow.service did not finish within "
        )
        assert node.show("act-slow.service")["ActiveState"] == "activating"
    finally:
        node.run("systemctl", "stop", "act-slow.service")


@pytest.mark.integration
def test_medic_refuses_to_act_on_the_unit_it_runs_in(node: Node) -> None:
    """Run inside act-self.service, Medic will not restart act-self.service."""
    args = json.dumps(["systemd.restart", "act-self", {}, 30])
    done = node.run(
        "systemd-run", "--unit=act-self", "--wait", "--pipe", "--quiet",
        "/opt/medic/venv/bin/python", "-c", RUN_ACTION, args,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["ok"], result["summary"]) == (
        False,
        "refused to act on unit act-self.service: it is the unit Medic runs in",
    )
