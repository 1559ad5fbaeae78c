"""`fleet_budget:` in policies and `fleet:` in the agent config: parsed, or rejected plainly."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from medic.config import load_config
from medic.errors import ConfigError
from medic.policy.loader import load_text
from medic.policy.model import FleetBudget

POLICY = """\
version: 1
policies:
  - name: node-down
    probe: {type: file, path: /run/fault}
    when: exists
    fleet_budget: %s
"""


def test_a_share_budget_becomes_the_model() -> None:
    """A share, a window and a wait parse into a FleetBudget with seconds."""
    result = load_text(POLICY % "{group: xai-nodes, max: 10%, per: 10m, wait: 30s}", "p.yaml")
    assert result.errors == ()
    assert result.policies[0].fleet_budget == FleetBudget(
        "xai-nodes", max_percent=10.0, per=600.0, wait=30.0
    )


def test_a_count_budget_fails_closed_by_default() -> None:
    """A count budget; etcd unreachable escalates unless the policy says act."""
    result = load_text(POLICY % "{group: g, max: 3}", "p.yaml")
    budget = result.policies[0].fleet_budget
    assert budget is not None and budget.max == 3 and budget.on_unreachable == "escalate"


@pytest.mark.parametrize("bad", ["{group: g, max: 150%}", "{group: g, max: 0}", "{max: 3}"])
def test_a_bad_budget_is_rejected_naming_the_line(bad: str) -> None:
    """A share over 100%, a zero count or a missing group rejects the file at its line."""
    result = load_text(POLICY % bad, "p.yaml")
    assert result.policies == ()
    assert result.errors[0].location is not None
    assert str(result.errors[0]).startswith("p.yaml:6:")


def test_the_fleet_config_section_is_read(tmp_path: Path) -> None:
    """etcd, groups, lease and heartbeat, and the central DSN reference."""
    path = tmp_path / "medic.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            fleet:
              etcd: [http://10.0.0.1:2379]
              groups: [xai-nodes]
              lease_ttl: 20s
              central_audit: {dsn: {env: CENTRAL}}
            """
        )
    )
    fleet = load_config(path).fleet
    assert fleet is not None
    assert fleet.etcd == ("http://10.0.0.1:2379",) and fleet.groups == ("xai-nodes",)
    assert fleet.lease_ttl == 20.0 and fleet.central_dsn == {"env": "CENTRAL"}


def test_a_lease_shorter_than_three_seconds_is_refused(tmp_path: Path) -> None:
    """A lease TTL of 1s would drop slots between renewals: the config says so."""
    path = tmp_path / "medic.yaml"
    path.write_text("fleet: {etcd: [http://127.0.0.1:2379], lease_ttl: 1s}\n")
    with pytest.raises(ConfigError, match=r"fleet.lease_ttl: 1s is out of range"):
        load_config(path)
