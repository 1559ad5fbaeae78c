"""Caught by `medic validate`, not at run time: container steps, maintenance reasons."""

from __future__ import annotations

import textwrap

from medic.config import AgentConfig
from medic.engine.human_input import windows
from medic.policy.loader import FileResult, load_text

FILE = "/etc/medic/policies/pool.yaml"


def load(body: str) -> FileResult:
    """One policy named ``pool`` whose keys after name are ``body``, with the real registries."""
    text = "version: 1\npolicies:\n  - name: pool\n" + textwrap.indent(
        textwrap.dedent(body), "    "
    )
    return load_text(text, FILE)


POOL = """\
probe: {type: postgres, dsn: {env: APP_DSN}}
when: percent_used > 90
"""


def test_container_step_under_a_non_container_probe_is_an_error_at_its_line() -> None:
    """A container action with no container: under a postgres probe names file, line and fix."""
    result = load(POOL + "remediate:\n  - container.restart: {timeout: 60s}\n")
    assert result.policies == ()
    assert [str(e) for e in result.errors] == [
        f"{FILE}:7:9: policy 'pool': action 'container.restart': probe 'postgres' does not "
        "name containers, so there is no container to restart; add container: <name> to the "
        "step, or use a container probe"
    ]


def test_container_step_naming_another_container_loads() -> None:
    """container: backend lets a database probe restart the backend container."""
    result = load(POOL + "remediate:\n  - container.restart: {container: backend}\n")
    assert result.errors == ()
    (policy,) = result.policies
    assert policy.remediate[0].options == {"container": "backend"}


def test_container_option_must_be_a_container_name() -> None:
    """A container: value that is not a Docker name (a path) is refused by the schema."""
    result = load(POOL + "remediate:\n  - container.exec: {container: ../x, argv: [/bin/true]}\n")
    assert [e.message for e in result.errors] == [
        "'../x' does not have the expected form ^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    ]


def test_container_probe_steps_need_no_container_option() -> None:
    """Under a container probe the target is the container, as before."""
    result = load(
        "probe: {type: container.logs, name: web, pattern: oops}\n"
        "when: match_count > 0\nremediate:\n  - container.kill: {signal: HUP}\n"
    )
    assert result.errors == ()


def test_policy_maintenance_accepts_a_reason_and_the_window_carries_it() -> None:
    """maintenance: [{..., reason: ...}] loads (as in the agent config) and names the window."""
    result = load(
        "probe: {type: host.memory}\nwhen: percent > 90\n"
        "maintenance:\n  - {cron: '0 2 * * *', duration: 1h, reason: nightly backup}\n"
    )
    assert result.errors == ()
    (window,) = windows(AgentConfig(), result.policies)
    assert window.reason == "nightly backup"
