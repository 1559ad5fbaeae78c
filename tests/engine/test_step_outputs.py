"""A step's output feeds the next step: {steps.<id>.stdout}, {steps.<id>.json.<key>}."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kit.runner import Kit, kit_fixture, load_policy, run_policy_steps  # noqa: F401  (the kit fixture)
from medic.actions.outputs import MAX_VALUE, step_outputs
from medic.audit.events import Kind
from medic.policy.loader import load_text
from medic.policy.model import Policy


def policy(steps: str) -> Policy:
    text = textwrap.dedent(
        """\
        version: 1
        policies:
          - name: cert-renew
            probe: {type: host.memory}
            when: percent > 90
            remediate:
        """
    ) + textwrap.indent(textwrap.dedent(steps), "          ")
    return load_policy(text, "renew.yaml")


async def run(kit: Kit, p: Policy) -> list[tuple[str, str]]:
    return [(o.kind.value, o.summary) for o in await run_policy_steps(kit, p)]


@pytest.mark.asyncio
async def test_stdout_and_json_reach_the_next_step(kit: Kit, tmp_path: Path) -> None:
    """The renewed certificate's path (stdout) and a JSON field fill the upload step's argv."""
    out = tmp_path / "got"
    p = policy(
        f"""\
        - command: {{id: renew, argv: [/bin/echo, /etc/ssl/new.pem]}}
        - command: {{id: info, argv: [/bin/echo, '{{"cert": {{"serial": "0A1B"}}}}']}}
        - command: {{argv: [/bin/sh, -c, 'echo "$1 $2" > {out}', sh,
                     "{{steps.renew.stdout}}", "{{steps.info.json.cert.serial}}"]}}
        """
    )
    results = await run(kit, p)
    assert [kind for kind, _ in results] == ["action.succeeded"] * 3
    assert out.read_text() == "/etc/ssl/new.pem 0A1B\n"
    (first, *_rest) = [e for e in kit.of(Kind.ACTION_SUCCEEDED.value)]
    assert first.details["outputs"] == ["steps.renew.exit_code", "steps.renew.stdout"]


@pytest.mark.asyncio
async def test_a_missing_output_fails_the_later_step_with_the_reason(kit: Kit) -> None:
    """A JSON field the earlier step did not print fails the step; nothing runs."""
    p = policy(
        """\
        - command: {id: renew, argv: [/bin/echo, not json]}
        - command: {argv: [/bin/echo, "{steps.renew.json.path}"]}
        """
    )
    results = await run(kit, p)
    assert results[1] == (
        "action.failed",
        "step output {steps.renew.json.path} in argv[1] is missing: it published "
        "{steps.renew.exit_code}, {steps.renew.stdout}; check what the earlier step prints "
        "(first line of stdout, or a JSON object)",
    )


@pytest.mark.asyncio
async def test_an_output_meets_the_placeholder_rules(kit: Kit) -> None:
    """An output beginning with '-' is refused like any value (it would be an option)."""
    p = policy(
        """\
        - command: {id: a, argv: [/bin/echo, --delete-everything]}
        - command: {argv: [/bin/echo, "{steps.a.stdout}"]}
        """
    )
    results = await run(kit, p)
    assert results[1][0] == "action.failed"
    assert "would be read as an option" in results[1][1]


def test_outputs_are_bounded() -> None:
    """Over-long values are left out, never cut; keys a placeholder cannot spell are skipped."""
    big = "x" * (MAX_VALUE + 1)
    made = step_outputs("s", {"stdout": f'{{"a": "{big}", "b": 1, "c d": 2, "e": [true]}}'})
    assert made == {"steps.s.json.b": "1", "steps.s.json.e.0": "true"}
    assert step_outputs("h", {"status": 200, "body": '{"result": "0x1"}'}) == {
        "steps.h.status": "200",
        "steps.h.json.result": "0x1",
    }


def test_validate_refuses_a_reference_to_no_earlier_step() -> None:
    """{steps.x...} must name the id of an earlier step; ids are unique."""
    text = textwrap.dedent(
        """\
        version: 1
        policies:
          - name: p
            probe: {type: host.memory}
            when: percent > 90
            remediate:
              - command: {argv: [/bin/echo, "{steps.later.stdout}"]}
              - command: {id: later, argv: [/bin/true]}
              - command: {id: later, argv: [/bin/true]}
        """
    )
    result = load_text(text, "p.yaml")
    assert [str(e) for e in result.errors] == [
        "p.yaml:7:9: policy 'p': placeholder {steps.later.stdout} names no earlier step with "
        "id 'later' (earlier ids: none) (hint: give the step that produces it `id: <name>`, "
        "before this one)",
        "p.yaml:9:23: policy 'p': step id 'later' is used twice (hint: ids are unique)",
    ]
