"""`medic validate` refuses regexes RE2 cannot run, at the policy file's line and column."""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner

from medic.cli import main

POLICIES = textwrap.dedent(
    """\
    version: 1
    policies:
      - name: check-output
        probe: {type: command, argv: [/usr/bin/true]}
        when: output matches "ok(?=x)"
      - name: app-log
        probe:
          type: log
          path: /var/log/app.log
          pattern: '(a)\\1'
        when: match_count > 0
    """
)


def test_lookahead_and_backreference_are_validate_errors(tmp_path: Path) -> None:
    """A lookahead in when: points into the string; a probe's pattern names its character."""
    path = tmp_path / "regex.yaml"
    path.write_text(POLICIES)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:5:29: policy 'check-output': bad condition in when: invalid regex: lookahead "
        "`(?=` is not supported (patterns run on RE2, in linear time) (hint: rewrite without "
        "it: match the text itself, or test it with two patterns)",
        f"{path}:7:5: policy 'app-log': probe 'log': pattern '(a)\\\\1': invalid regex: "
        "backreference `\\1` is not supported (patterns run on RE2, in linear time) "
        "(character 4 of the pattern); rewrite without it: RE2 cannot match a group's text "
        "again; spell out the alternatives",
        "2 errors in 1 file",
    ]
