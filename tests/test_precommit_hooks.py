"""`.pre-commit-hooks.yaml`: every hook runs a real `medic` sub-command with real options."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import yaml
from click.testing import CliRunner

from medic.cli import main

HOOKS = Path(__file__).resolve().parents[1] / ".pre-commit-hooks.yaml"


def hooks() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(HOOKS.read_text())
    assert isinstance(loaded, list)
    return loaded


def test_hooks_are_the_two_we_document() -> None:
    """medic-validate and medic-test, python hooks on YAML files."""
    assert [h["id"] for h in hooks()] == ["medic-validate", "medic-test"]
    for hook in hooks():
        assert hook["language"] == "python"
        assert re.search(hook["files"], "policies/web/health.yaml")
    validate = hooks()[0]
    assert re.search(validate["exclude"], "policies/web/health.test.yaml")


def test_each_entry_is_a_medic_command_with_existing_options() -> None:
    """Each entry names a sub-command that answers --help and options it declares."""
    for hook in hooks():
        program, name, *args = shlex.split(hook["entry"])
        assert program == "medic"
        ctx = click.Context(main)
        command = main.get_command(ctx, name)
        assert command is not None, f"{hook['id']}: no `medic {name}`"
        result = CliRunner().invoke(main, [name, "--help"])
        assert result.exit_code == 0, result.output
        known = {opt for param in command.params for opt in param.opts}
        for arg in args:
            if arg.startswith("-"):
                assert arg.split("=")[0] in known, f"{hook['id']}: `medic {name}` has no {arg}"
