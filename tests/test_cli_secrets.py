"""Commands that only read files never need the API's secrets (the CI recipe in docs/cli.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from medic.audit.store import AuditStore
from medic.cli import main

CONFIG = """\
state_dir: state
policies: [policies]
api: {listen: 0.0.0.0:9325, token: {env: MEDIC_CI_UNSET_TOKEN}}
"""
POLICY = """\
version: 1
policies:
  - name: disk-full
    probe: {type: host.disk, every: 1m}
    when: percent > 95
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A node's config whose token variable is not set where the command runs (CI)."""
    monkeypatch.delenv("MEDIC_CI_UNSET_TOKEN", raising=False)
    monkeypatch.delenv("MEDIC_API_TOKEN", raising=False)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "disk.yaml").write_text(POLICY)
    path = tmp_path / "medic.yaml"
    path.write_text(CONFIG)
    return path


def test_validate_with_config_needs_no_api_token(config: Path) -> None:
    """`medic validate --config` checks the files without reading api.token."""
    result = CliRunner().invoke(main, ["validate", "--config", str(config)])
    assert (result.exit_code, result.output) == (0, "ok: 1 policy in 1 file\n")


def test_audit_with_config_needs_no_api_token(config: Path) -> None:
    """`medic audit list --config` reads the audit log without reading api.token."""

    async def make_db() -> None:
        store = AuditStore(config.parent / "state" / "audit.db", host="node1")
        await store.start()
        await store.close()

    asyncio.run(make_db())
    result = CliRunner().invoke(main, ["audit", "list", "--config", str(config)])
    assert result.exit_code == 0, result.output
