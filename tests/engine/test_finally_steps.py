"""finally: steps run after the remediation whatever happened, each audited like a step."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest

from kit.runner import (  # noqa: F401  (the kit fixture)
    Kit,
    ValueProbe,
    kit_fixture,
    load_policy,
    run_policy_steps,
    settle,
)
from medic.audit.events import Kind
from medic.policy.loader import load_text
from medic.policy.model import Policy


def policy(body: str) -> Policy:
    text = textwrap.dedent(
        """\
        version: 1
        policies:
          - name: weekly-vacuum
            probe: {type: host.memory}
            when: percent > 90
        """
    ) + textwrap.indent(textwrap.dedent(body), "    ")
    return load_policy(text, "jobs.yaml")


async def run(kit: Kit, p: Policy, *, dry_run: bool = False) -> list[tuple[int, str]]:
    return [(o.step, o.kind.value) for o in await run_policy_steps(kit, p, dry_run=dry_run)]


@pytest.mark.asyncio
async def test_finally_runs_after_a_failed_step_and_each_runs(kit: Kit, tmp_path: Path) -> None:
    """The vacuum fails: the step after it is skipped, both finally steps still run."""
    off = tmp_path / "off"
    p = policy(
        f"""\
        remediate:
          - command: {{argv: [/bin/true]}}
          - command: {{argv: [/bin/false]}}
          - command: {{argv: [/bin/touch, {tmp_path}/never]}}
        finally:
          - command: {{argv: [/bin/false]}}
          - command: {{argv: [/bin/touch, {off}]}}
        """
    )
    assert await run(kit, p) == [
        (0, "action.succeeded"),
        (1, "action.failed"),
        (3, "action.failed"),
        (4, "action.succeeded"),
    ]
    assert off.exists() and not (tmp_path / "never").exists()
    started = kit.of(Kind.ACTION_STARTED.value)
    assert [e.details.get("finally", False) for e in started] == [False, False, True, True]
    assert [e.details.get("finally") for e in kit.of(Kind.ACTION_SUCCEEDED.value)] == [None, True]


@pytest.mark.asyncio
async def test_finally_runs_after_a_timeout_and_reads_earlier_outputs(
    kit: Kit, tmp_path: Path
) -> None:
    """A step that timed out still leaves maintenance mode; finally reads {steps.<id>}."""
    out = tmp_path / "mode"
    p = policy(
        f"""\
        remediate:
          - command: {{id: mode, argv: [/bin/echo, maintenance-42]}}
          - command: {{argv: [/bin/sleep, "5"], timeout: 200ms}}
        finally:
          - command: {{argv: [/bin/sh, -c, 'echo "$1" > {out}', sh, "{{steps.mode.stdout}}"]}}
        """
    )
    assert await run(kit, p) == [
        (0, "action.succeeded"),
        (1, "action.timed_out"),
        (2, "action.succeeded"),
    ]
    assert out.read_text() == "maintenance-42\n"


@pytest.mark.asyncio
async def test_finally_runs_when_the_agent_stops_mid_step(kit: Kit, tmp_path: Path) -> None:
    """A remediation cancelled (agent stopping) is audited interrupted; finally still runs."""
    off = tmp_path / "off"
    p = policy(
        f"""\
        remediate:
          - command: {{argv: [/bin/sleep, "5"]}}
        finally:
          - command: {{argv: [/bin/touch, {off}]}}
        """
    )
    task = asyncio.create_task(run(kit, p))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await kit.engine.drain_writes()
    assert off.exists()
    assert kit.kinds() == [
        "action.started",
        "action.interrupted",
        "action.started",
        "action.succeeded",
    ]


@pytest.mark.asyncio
async def test_in_dry_run_finally_steps_are_would_run(kit: Kit, tmp_path: Path) -> None:
    """Dry-run runs nothing: every step, finally ones too, is recorded as would_run."""
    p = policy(
        f"""\
        remediate:
          - command: {{argv: [/bin/true]}}
        finally:
          - command: {{argv: [/bin/touch, {tmp_path}/off]}}
        """
    )
    assert await run(kit, p, dry_run=True) == [(0, "action.would_run"), (1, "action.would_run")]
    assert not (tmp_path / "off").exists()
    assert [e.details.get("finally") for e in kit.of("action.would_run")] == [None, True]


def test_a_finally_step_is_validated_like_any_step() -> None:
    """An unknown action under finally: is named at its file:line."""
    text = textwrap.dedent(
        """\
        version: 1
        policies:
          - name: job
            probe: {type: host.memory}
            when: percent > 90
            finally:
              - comand: {argv: [/bin/true]}
        """
    )
    (error,) = load_text(text, "jobs.yaml").errors
    assert str(error).startswith(
        "jobs.yaml:7:9: policy 'job': unknown action type 'comand'; did you mean 'command'?"
    )


def value_policy(tmp_path: Path, undo: str, *, dry_run: bool = False) -> Policy:
    """A live policy on the test probe: one step that works, one ``finally:`` step."""
    return load_policy(
        textwrap.dedent(
            f"""\
            version: 1
            policies:
              - name: drain-node
                probe: {{type: test.value, every: 10s}}
                when: down == 1
                dry_run: {str(dry_run).lower()}
                remediate:
                  - command: {{argv: [/bin/touch, {tmp_path}/drained]}}
                finally:
                  - command: {{argv: [{undo}]}}
                escalate: {{notify: [ops]}}
            """
        ),
        "drain.yaml",
    )


async def fire_once(kit: Kit, p: Policy) -> None:
    runner = kit.runner(p)
    assert isinstance(runner.probe, ValueProbe)
    runner.probe.readings = {"node-1": {"down": 1}}
    await runner.evaluate()
    await settle(runner)


@pytest.mark.asyncio
async def test_a_failed_finally_step_tells_the_escalation_channels(
    kit: Kit, tmp_path: Path
) -> None:
    """Maintenance mode left on is told to humans: reason cleanup_failed, the step named."""
    await fire_once(kit, value_policy(tmp_path, "/bin/false"))
    (call,) = kit.escalator.calls
    request = call["request"]
    assert (request.reason, call["target"], call["notify"]) == (
        "cleanup_failed",
        "node-1",
        ("ops",),
    )
    assert request.summary.startswith(
        "drain-node: a finally step failed, what it undoes may still be in place: step 1 (command):"
    )
    assert kit.engine.pager.book == {}  # a notice: no on-call levels started


@pytest.mark.asyncio
@pytest.mark.parametrize("dry_run", [False, True])
async def test_a_finally_step_that_works_tells_nobody(
    kit: Kit, tmp_path: Path, dry_run: bool
) -> None:
    """A cleanup that worked, or one that only would have run, sends nothing."""
    undo = "/bin/false" if dry_run else "/bin/true"
    await fire_once(kit, value_policy(tmp_path, undo, dry_run=dry_run))
    assert kit.escalator.reasons() == []
