"""`medic validate` reads each policy file once: old secret spellings come from the load."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from medic.cli import main
from medic.policy.loader import load_text

POLICY = """\
version: 1
policies:
  - name: rotate
    probe: {type: host.disk, every: 1m}
    when: percent > 95
    remediate:
      - http.request:
          url: http://127.0.0.1:9/rotate
          token_env: ROTATE_TOKEN
"""


def test_the_load_finds_old_spellings() -> None:
    """A file's old spellings are part of its load result, at the key's line."""
    result = load_text(POLICY, "rotate.yaml")
    assert [(str(n.location), n.message) for n in result.notices] == [
        (
            "rotate.yaml:9:11",
            "remediate.0.http.request.token_env is an old spelling of a secret",
        )
    ]


def test_validate_does_not_parse_a_file_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notice is printed although the notices module could not parse anything."""

    def refuse(text: str, file: str) -> None:
        raise AssertionError("the file was parsed a second time")

    monkeypatch.setattr("medic.secret_notices.parse_yaml", refuse)
    (tmp_path / "rotate.yaml").write_text(POLICY)
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "token_env is an old spelling of a secret" in result.output
