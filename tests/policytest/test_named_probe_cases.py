"""`medic test` with named probes: a case gives each probe's targets their series."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from medic.cli import main

POLICY = """\
version: 1
policies:
  - name: node-lagging
    probes:
      local: {type: http, url: "http://127.0.0.1:8545/height", every: 30s}
      network: {type: http, url: "https://explorer.example/height"}
    when: local.status < network.status - 10
    remediate:
      - command: {argv: [systemctl, restart, node], timeout: 30s}
    finally:
      - command: {argv: [/usr/local/bin/maintenance, "off"], timeout: 30s}
    verify: {after: 10s}
"""

CATCHES_UP = """\
  - name: a lagging node is restarted and catches up
    policy: node-lagging
    input:
      local: {node-a: {status: "100x3"}, node-b: {status: "119x3"}}
      network: {mainnet: {status: "120x3"}}
    healed: {local: {status: 120}}
    attempts: [heals]
    expect:
      - {at: 0s, event: incident.fired, target: node-a}
      - {at: 0s, event: action.started, target: node-a}
      - {at: 0s, event: action.succeeded, target: node-a}
      - {at: 0s, event: action.succeeded, target: node-a}
      - {at: 10s, event: verify.healed, target: node-a}
    never: [incident.escalated]
"""


def run(tmp_path: Path, *cases: str) -> tuple[Result, Path]:
    (tmp_path / "lag.yaml").write_text(POLICY, encoding="utf-8")
    path = tmp_path / "lag.test.yaml"
    path.write_text("version: 1\ntests:\n" + "".join(cases), encoding="utf-8")
    return CliRunner().invoke(main, ["test", str(path)]), path


def test_each_named_probe_reads_its_own_series(tmp_path: Path) -> None:
    """node-a (20 behind the network) is restarted (then its finally step) and healed."""
    result, path = run(tmp_path, CATCHES_UP)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"ok   {path}:3:5 a lagging node is restarted and catches up",
        "1 passed, 0 failed",
    ]


def test_flat_input_for_a_policy_with_named_probes_is_named_as_the_mistake(
    tmp_path: Path,
) -> None:
    """target -> field input for a probes: policy says which shape it needs."""
    flat = """\
  - name: flat
    policy: node-lagging
    input: {node-a: {status: 100}}
    expect: nothing
"""
    result, path = run(tmp_path, flat)
    assert result.exit_code != 0
    assert (
        f"{path}:3:5: test 'flat': policy 'node-lagging' has named probes; its input is "
        "probe -> target -> field -> series (hint: see docs/testing.md, named probes)"
    ) in result.output


def test_an_input_for_a_probe_the_policy_lacks_gets_a_did_you_mean(tmp_path: Path) -> None:
    """input.netwrk: the policy's probes are listed."""
    typo = """\
  - name: typo
    policy: node-lagging
    input:
      local: {node-a: {status: 100}}
      netwrk: {mainnet: {status: 120}}
    expect: nothing
"""
    result, path = run(tmp_path, typo)
    assert (
        f"{path}:3:5: test 'typo': input names probe 'netwrk', which policy 'node-lagging' "
        "does not have; did you mean 'network'? probes: local, network"
    ) in result.output
