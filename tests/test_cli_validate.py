"""`medic validate` and `medic schema` as a user runs them: output, exit status, files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from medic.cli import main
from medic.config_schema import SCHEMA as CONFIG_SCHEMA
from medic.policy.schema import policy_file_schema


def policy_file(name: str, notify: str = "oncall") -> str:
    """A valid one-policy file using installed plugins."""
    return textwrap.dedent(
        f"""\
        version: 1
        policies:
          - name: {name}
            probe: {{type: host.memory, every: 15s}}
            when: percent > 90
            remediate:
              - command: {{argv: [systemctl, restart, web]}}
            escalate: {{notify: [{notify}]}}
        """
    )


BROKEN = textwrap.dedent(
    """\
    version: 1
    policies:
      - name: web
        probe: {type: host.memory, evrey: 15s}
        when: percnt > 90
    """
)


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    """A policies/ directory with two valid files."""
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "a.yaml").write_text(policy_file("alpha"))
    (directory / "b.yaml").write_text(policy_file("beta"))
    return directory


def test_valid_files_exit_zero_with_a_summary(policies: Path) -> None:
    """All valid: one summary line and exit status 0."""
    result = CliRunner().invoke(main, ["validate", str(policies)])
    assert (result.exit_code, result.stdout) == (0, "ok: 2 policies in 2 files\n")


def test_errors_are_printed_one_per_line_then_counted(policies: Path) -> None:
    """Each error on its own line as file:line:column, then the count; exit status 1."""
    (policies / "c.yaml").write_text(BROKEN)
    result = CliRunner().invoke(main, ["validate", str(policies)])
    c = policies / "c.yaml"
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{c}:4:32: policy 'web': unknown key 'evrey' in probe; did you mean 'every'? "
        "valid keys: every, timeout, type (hint: check the spelling and the indentation)",
        f"{c}:5:11: policy 'web': field 'percnt' is not yielded by probe 'host.memory'; "
        "did you mean 'percent'? fields: available_bytes, percent, swap_percent, total_bytes, "
        "used_bytes (hint: `medic probe host.memory` runs the probe once and prints its fields)",
        "2 errors in 1 file",
    ]


def test_json_format_lists_error_objects(policies: Path) -> None:
    """--format json prints the errors as a JSON list of objects."""
    (policies / "c.yaml").write_text(BROKEN)
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(policies)])
    assert result.exit_code == 1
    errors = json.loads(result.stdout)
    assert errors[0] == {
        "error": "PolicyError",
        "message": "unknown key 'evrey' in probe; did you mean 'every'? "
        "valid keys: every, timeout, type",
        "hint": "check the spelling and the indentation",
        "file": str(policies / "c.yaml"),
        "line": 4,
        "column": 32,
        "policy": "web",
    }
    assert len(errors) == 2


def test_json_format_when_valid_is_an_empty_list(policies: Path) -> None:
    """Valid files in JSON format: an empty list and exit status 0."""
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(policies)])
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])


def test_config_checks_notifiers_and_supplies_the_paths(tmp_path: Path, policies: Path) -> None:
    """--config checks escalate.notify against its notifiers and defaults PATHS to its list."""
    (policies / "c.yaml").write_text(policy_file("gamma", notify="pager"))
    config = tmp_path / "medic.yaml"
    config.write_text(
        "policies: [policies]\nnotifiers:\n  oncall: {type: webhook, url: http://127.0.0.1:9/}\n"
    )
    result = CliRunner().invoke(main, ["validate", "--config", str(config)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{policies / 'c.yaml'}:8:25: policy 'gamma': unknown notifier 'pager'; "
        "notifiers in the agent config: oncall (hint: add it under `notifiers:` in the agent "
        "config, or fix the name)",
        "1 error in 1 file",
    ]


def test_broken_config_exits_one(tmp_path: Path) -> None:
    """An invalid agent config is reported on stderr with exit status 1."""
    config = tmp_path / "medic.yaml"
    config.write_text("nonsense: true\n")
    result = CliRunner().invoke(main, ["validate", "--config", str(config)])
    assert result.exit_code == 1
    assert str(config) in result.stderr


def test_default_path_is_policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without PATHS, ./policies is validated; a missing one is an error."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["validate"])
    assert (result.exit_code, result.stdout) == (
        1,
        "policies: no such file or directory (hint: check the path, or create the file)\n"
        "1 error in 1 file\n",
    )
    Path("policies").mkdir()
    Path("policies/a.yaml").write_text(policy_file("alpha"))
    result = CliRunner().invoke(main, ["validate"])
    assert (result.exit_code, result.stdout) == (0, "ok: 1 policy in 1 file\n")


def test_schema_prints_the_generated_schema() -> None:
    """`medic schema` prints the policy schema as stable, sorted JSON."""
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == policy_file_schema()
    assert result.stdout == json.dumps(policy_file_schema(), indent=2, sort_keys=True) + "\n"


def test_schema_output_writes_the_file(tmp_path: Path) -> None:
    """--out writes the schema to a file, creating its directory."""
    target = tmp_path / ".medic" / "policy.schema.json"
    result = CliRunner().invoke(main, ["schema", "--out", str(target)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert json.loads(target.read_text())["title"] == "Medic policy file"


def test_schema_config_prints_the_agent_config_schema() -> None:
    """--config prints the agent config schema instead."""
    result = CliRunner().invoke(main, ["schema", "--config"])
    printed = json.loads(result.stdout)
    assert result.exit_code == 0
    assert printed["title"] == "Medic agent config"
    assert printed["properties"] == json.loads(json.dumps(CONFIG_SCHEMA["properties"]))
