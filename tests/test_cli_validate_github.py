"""`medic validate -o github`: GitHub Actions annotations, escaped as the runner expects."""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner

from medic.cli import main
from medic.cli.annotations import github_annotation
from medic.errors import Location, PolicyError, PolicyWarning

BROKEN = textwrap.dedent(
    """\
    version: 1
    policies:
      - name: api
        probe: {type: host.memory, every: 15s}
        when: percnt > 90
    """
)
WARNED = textwrap.dedent(
    """\
    version: 1
    policies:
      - name: web
        probe: {type: host.memory, every: 15s}
        when: percent > 90
        remediate:
          - command: {argv: [systemctl, restart, web]}
        limits: {max: 1, per: 1h}
        escalate: {after_failures: 2, notify: [oncall]}
    """
)


def test_errors_and_warnings_as_annotations(tmp_path: Path) -> None:
    """Each error is an ::error and each warning a ::warning with file, line and column."""
    (tmp_path / "a.yaml").write_text(BROKEN)
    (tmp_path / "b.yaml").write_text(WARNED)
    result = CliRunner().invoke(main, ["validate", "-o", "github", str(tmp_path)])
    assert result.exit_code == 1
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert result.stdout == (
        f"::error file={a},line=5,col=11,title=medic validate::policy 'api': field "
        "'percnt' is not yielded by probe 'host.memory'; did you mean 'percent'? "
        "fields: available_bytes, percent, "
        "swap_percent, total_bytes, used_bytes (hint: "
        "`medic probe host.memory` runs the probe once and prints its fields)\n"
        f"::warning file={b},line=3,col=5,title=medic validate::policy 'web': "
        "escalate.after_failures is 2 but limits.max allows 1 attempt(s) per 1h: the rate "
        "limit refuses the next attempt and pages (suppressed:rate_limit) after 1 failed "
        "attempt(s), earlier than after_failures says (hint: lower "
        "escalate.after_failures to at most 1 or raise limits.max)\n"
        "1 warning\n"
        "1 error in 1 file\n"
    )


def test_escaping_keeps_one_command_per_problem() -> None:
    """%, CR and LF are escaped everywhere; `:` and `,` too in properties (file names)."""
    error = PolicyError(
        "100% bad\r\n::error::forged",
        location=Location("dir,x/a:b.yaml", 3, 7),
        hint="fix it",
    )
    assert github_annotation(error) == (
        "::error file=dir%2Cx/a%3Ab.yaml,line=3,col=7,title=medic validate::"
        "100%25 bad%0D%0A::error::forged (hint: fix it)"
    )
    warning = PolicyWarning("careful", location=Location("a.yaml"), policy="p")
    assert github_annotation(warning) == (
        "::warning file=a.yaml,title=medic validate::policy 'p': careful"
    )


def test_format_is_still_accepted(tmp_path: Path) -> None:
    """The old --format json keeps working (hidden), so existing CI jobs do not break."""
    (tmp_path / "a.yaml").write_text(WARNED)
    old = CliRunner().invoke(main, ["validate", "--format", "json", str(tmp_path)])
    new = CliRunner().invoke(main, ["validate", "-o", "json", str(tmp_path)])
    assert old.exit_code == new.exit_code == 0
    assert old.stdout == new.stdout and old.stdout.startswith("[")
    helptext = CliRunner().invoke(main, ["validate", "--help"]).stdout
    assert "--output" in helptext and "--format" not in helptext
