"""Container actions against real containers: each does its one thing, or refuses."""

from __future__ import annotations

from typing import Any

import pytest

from medic.actions.base import ActionContext
from medic.actions.container import KillAction, RestartAction, StartAction, StopAction
from medic.actions.container_exec import ExecAction
from medic.drivers import docker as docker_client

pytestmark = pytest.mark.integration


def context(target: str, **fields: Any) -> ActionContext:
    return ActionContext(
        policy="web-down", target=target, incident="inc-1", fields=fields, timeout=30.0
    )


@pytest.mark.asyncio
async def test_restart(run_container: Any, container_state: Any) -> None:
    """restart gives a running container a new start time."""
    container = run_container()
    started = container_state(container)["StartedAt"]
    result = await RestartAction({"stop_timeout": 1}).run(context(container.name))
    assert result.ok is True
    assert result.summary == f"restarted container {container.name}"
    assert result.details["container_id"] == container.id[:12]
    assert result.details["status_before"] == "running"
    assert result.details["status_after"] == "running"
    assert result.details["started_at"] != started
    assert container_state(container)["StartedAt"] == result.details["started_at"]


@pytest.mark.asyncio
async def test_start_a_stopped_container(run_container: Any, container_state: Any) -> None:
    """start runs a stopped container again."""
    container = run_container()
    container.stop(timeout=1)
    result = await StartAction({}).run(context(container.name))
    assert result.ok is True
    assert result.summary == f"started container {container.name}"
    assert result.details["status_before"] == "exited"
    assert result.details["status_after"] == "running"
    assert container_state(container)["Running"] is True


@pytest.mark.asyncio
async def test_start_leaves_a_running_container_alone(
    run_container: Any, container_state: Any
) -> None:
    """start on a running container succeeds without restarting it."""
    container = run_container()
    started = container_state(container)["StartedAt"]
    result = await StartAction({}).run(context(container.name))
    assert result.ok is True
    assert result.summary == f"container {container.name} was already running"
    assert container_state(container)["StartedAt"] == started


@pytest.mark.asyncio
async def test_stop(run_container: Any, container_state: Any) -> None:
    """stop leaves the container exited."""
    container = run_container()
    result = await StopAction({"stop_timeout": "1s"}).run(context(container.name))
    assert result.ok is True
    assert result.summary == f"stopped container {container.name}"
    assert result.details["status_after"] == "exited"
    assert container_state(container)["Running"] is False


@pytest.mark.asyncio
async def test_kill_defaults_to_sigkill(run_container: Any, container_state: Any) -> None:
    """kill sends SIGKILL unless told otherwise: the container exits with 137."""
    container = run_container(init=False)
    result = await KillAction({}).run(context(container.name))
    assert result.ok is True
    assert result.summary == f"sent SIGKILL to container {container.name}"
    assert result.details["signal"] == "SIGKILL"
    assert container.wait(timeout=10)["StatusCode"] == 137
    assert container_state(container)["Running"] is False


@pytest.mark.asyncio
async def test_kill_with_a_named_signal(run_container: Any) -> None:
    """kill with signal TERM ends a container whose init forwards it."""
    container = run_container()
    result = await KillAction({"signal": "TERM"}).run(context(container.name))
    assert result.ok is True
    assert result.summary == f"sent SIGTERM to container {container.name}"
    assert container.wait(timeout=10)["StatusCode"] == 143


@pytest.mark.asyncio
async def test_kill_a_stopped_container_fails(run_container: Any) -> None:
    """The engine's refusal to kill a stopped container comes back as ok=False."""
    container = run_container("sh", "-c", "exit 0")
    container.wait(timeout=10)
    result = await KillAction({}).run(context(container.name))
    assert result.ok is False
    assert result.summary.startswith(f"could not kill container {container.name}: ")
    assert "is not running" in result.summary


@pytest.mark.asyncio
async def test_exec_fills_placeholders_per_item(run_container: Any) -> None:
    """exec runs argv in the container; {target} fills one item and is not shell text."""
    container = run_container()
    action = ExecAction({"argv": ["sh", "-c", 'echo "hello from $0"', "{target}; rm -rf /"]})
    result = await action.run(context(container.name))
    assert result.ok is True
    assert result.summary == f"ran sh in container {container.name}"
    assert result.details["stdout"] == f"hello from {container.name}; rm -rf /\n"
    assert result.details["exit_code"] == 0
    assert container.exec_run(["ls", "/bin/busybox"]).exit_code == 0


@pytest.mark.asyncio
async def test_exec_nonzero_exit_fails(run_container: Any) -> None:
    """A command that exits non-zero makes the step fail, with its stderr kept."""
    container = run_container()
    result = await ExecAction({"argv": ["sh", "-c", "echo broken >&2; exit 3"]}).run(
        context(container.name)
    )
    assert result.ok is False
    assert result.summary == f"sh in container {container.name} exited with code 3"
    assert result.details["stderr"] == "broken\n"


@pytest.mark.asyncio
async def test_exec_output_is_capped_and_user_honoured(run_container: Any) -> None:
    """Output beyond 16 KiB is cut and flagged; user runs the command as that user."""
    container = run_container()
    big = await ExecAction({"argv": ["sh", "-c", "yes x | head -c 40000"]}).run(
        context(container.name)
    )
    assert big.ok is True
    assert len(big.details["stdout"]) == 16 * 1024
    assert big.details["truncated"] is True
    who = await ExecAction({"argv": ["id", "-u"], "user": "nobody"}).run(context(container.name))
    assert who.details["stdout"] == "65534\n"


@pytest.mark.asyncio
async def test_exec_unknown_placeholder(run_container: Any) -> None:
    """An argv placeholder the target does not have fails the step and lists the names."""
    container = run_container()
    result = await ExecAction({"argv": ["echo", "{nope}"]}).run(
        context(container.name, status="running")
    )
    assert result.ok is False
    assert result.summary == "unknown placeholder {nope} in argv[1]; known here: " + (
        "{host}, {incident}, {policy}, {status}, {target}"
    )


@pytest.mark.asyncio
async def test_refuses_ignored_container(run_container: Any, container_state: Any) -> None:
    """A container labelled medic.ignore=true is never acted on."""
    container = run_container(labels={"medic.ignore": "true"})
    for action in (RestartAction({}), StopAction({}), KillAction({})):
        result = await action.run(context(container.name))
        assert result.ok is False
        assert result.summary == (
            f"refused to act on container {container.name}: it is labelled medic.ignore=true"
        )
    assert container_state(container)["Running"] is True


@pytest.mark.asyncio
async def test_refuses_own_container(
    run_container: Any, container_state: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The container Medic runs in is never acted on."""
    container = run_container()
    monkeypatch.setattr(docker_client, "own_container_id", lambda: container.id)
    result = await KillAction({}).run(context(container.name))
    assert result.ok is False
    assert result.summary == (
        f"refused to act on container {container.name}: it is the container Medic runs in"
    )
    assert container_state(container)["Running"] is True


@pytest.mark.asyncio
async def test_missing_container_and_id_lookalikes(run_container: Any) -> None:
    """Only an exact container name is a target: ids and unknown names are not found."""
    container = run_container()
    result = await StartAction({}).run(context("medic-test-no-such-container"))
    assert (result.ok, result.summary) == (False, "no container named medic-test-no-such-container")
    short = container.id[:12]
    result = await KillAction({}).run(context(short))
    assert (result.ok, result.summary) == (False, f"no container named {short}")


def test_describe() -> None:
    """describe() says what each action does, in one neutral line (no "would")."""
    ctx = context("web", status="running")
    assert RestartAction({}).describe(ctx) == "restart container web (stop timeout 10s)"
    assert RestartAction({"stop_timeout": "1m"}).describe(ctx) == (
        "restart container web (stop timeout 1m)"
    )
    assert StartAction({}).describe(ctx) == "start container web"
    assert StopAction({"stop_timeout": 2}).describe(ctx) == ("stop container web (stop timeout 2s)")
    assert KillAction({"signal": "hup"}).describe(ctx) == "send SIGHUP to container web"
    assert KillAction({}).describe(ctx) == "send SIGKILL to container web"
    exec_action = ExecAction({"argv": ["nginx", "-s", "reload", "{target} x"], "user": "www"})
    assert exec_action.describe(ctx) == ("run nginx -s reload 'web x' in container web as user www")


@pytest.mark.asyncio
async def test_restart_names_another_container(run_container: Any, container_state: Any) -> None:
    """container: backend restarts that container whatever the target is (a database)."""
    container = run_container()
    started = container_state(container)["StartedAt"]
    action = RestartAction({"stop_timeout": 1, "container": container.name})
    result = await action.run(context("127.0.0.1:5432"))
    assert result.ok is True
    assert result.summary == f"restarted container {container.name}"
    assert result.details["container"] == container.name
    assert container_state(container)["StartedAt"] != started
