"""Zero policies is an error for `medic validate` and a logged error for `medic run`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from structlog.testing import capture_logs

from medic.cli import main
from medic.policy.empty import warn_if_empty
from medic.policy.loader import load_paths


def test_validate_fails_on_a_directory_without_policies(tmp_path: Path) -> None:
    """An empty directory: exit 1, naming the path searched and how to go on."""
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{tmp_path}: no policies found in {tmp_path} (0 policy files read) (hint: point "
        "the config's `policies:` (or PATHS) at your policy files; `medic init DIR` writes "
        "the example packs; --allow-empty if none is intended)",
        "1 error in 0 files",
    ]


def test_validate_fails_on_files_that_hold_no_policy(tmp_path: Path) -> None:
    """Files with `policies: []` only are as empty as no files, and both paths are named."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "none.yaml").write_text("version: 1\npolicies: []\n")
    other = tmp_path / "b.yaml"
    other.write_text("version: 1\npolicies: []\n")
    result = CliRunner().invoke(
        main, ["validate", "--format", "json", str(tmp_path / "a"), str(other)]
    )
    assert result.exit_code == 1
    assert f"no policies found in {tmp_path / 'a'}, {other} (2 policy files read)" in result.stdout


def test_validate_allow_empty_accepts_zero_policies(tmp_path: Path) -> None:
    """--allow-empty: zero policies is fine when that is what you meant."""
    result = CliRunner().invoke(main, ["validate", "--allow-empty", str(tmp_path)])
    assert (result.exit_code, result.stdout) == (0, "ok: 0 policies in 0 files\n")


def test_validate_with_a_config_names_its_policy_paths(tmp_path: Path) -> None:
    """With --config and no PATHS, the config's `policies:` are the paths named."""
    config = tmp_path / "medic.yaml"
    config.write_text("policies: [mounted]\n")
    (tmp_path / "mounted").mkdir()
    result = CliRunner().invoke(main, ["validate", "--config", str(config)])
    assert result.exit_code == 1
    assert f"no policies found in {tmp_path / 'mounted'} (0 policy files read)" in result.stdout


def test_an_agent_load_of_nothing_logs_an_error(tmp_path: Path) -> None:
    """What `medic run` does at each load that finds nothing: policies.none at error."""
    with capture_logs() as logs:
        assert warn_if_empty(load_paths([tmp_path]), [tmp_path]) is True
    assert [(e["event"], e["log_level"]) for e in logs] == [("policies.none", "error")]
    assert "--allow-empty" not in logs[0]["hint"]
    (tmp_path / "p.yaml").write_text(
        "version: 1\npolicies:\n  - name: m\n    probe: {type: host.memory, every: 15s}\n"
        "    when: percent > 90\n"
    )
    with capture_logs() as logs:
        assert warn_if_empty(load_paths([tmp_path]), [tmp_path]) is False
    assert logs == []
