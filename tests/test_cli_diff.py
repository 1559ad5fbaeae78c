"""`medic diff OLD NEW` as CI runs it: formats, exit status, load errors, git revisions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from medic.cli import main

POLICY = """\
version: 1
policies:
  - name: web-memory
    probe: {type: host.memory, every: 30s}
    when: percent > 90
    limits: {max: 3, per: 1h}
    escalate: {notify: [oncall]}
"""
CHANGED = POLICY.replace("max: 3", "max: 2").replace("> 90", "> 95 and percent < 101")


@pytest.fixture()
def sides(tmp_path: Path) -> tuple[Path, Path]:
    """Two policy directories: old, and new with a tighter limit and a new threshold."""
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    (tmp_path / "old" / "web.yaml").write_text(POLICY)
    (tmp_path / "new" / "web.yaml").write_text(CHANGED)
    # Policy tests sit beside policies; they are not policies and must not break a diff.
    (tmp_path / "new" / "web.test.yaml").write_text("tests: []\n")
    return tmp_path / "old", tmp_path / "new"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["diff", *args])
    return result.exit_code, result.stdout, result.stderr


def test_text_one_line_per_change(sides: tuple[Path, Path]) -> None:
    """Text output: one line per change; exit 1 because the sets differ."""
    code, out, _ = run(str(sides[0]), str(sides[1]))
    assert (code, out) == (
        1,
        "~ web-memory: when percent > 90 -> percent > 95 and percent < 101\n"
        "~ web-memory: limits.max 3 -> 2\n",
    )


def test_identical_exit_zero(sides: tuple[Path, Path]) -> None:
    """The same set on both sides: exit 0, and it says so."""
    assert run(str(sides[0]), str(sides[0])) == (0, "no changes\n", "")


def test_markdown_table_for_a_pull_request(sides: tuple[Path, Path]) -> None:
    """-o markdown: a summary, then a table per policy with values as code."""
    code, out, _ = run(str(sides[0]), str(sides[1]), "-o", "markdown")
    assert code == 1
    assert out == (
        "**medic diff**: 1 changed\n"
        "\n"
        "### `web-memory` (changed)\n"
        "\n"
        "| field | old | new |\n"
        "| --- | --- | --- |\n"
        "| when | `percent > 90` | `percent > 95 and percent < 101` |\n"
        "| limits.max | `3` | `2` |\n"
    )


def test_markdown_escapes_table_cells(tmp_path: Path) -> None:
    """A `|` in a value is escaped, so it cannot break the table."""
    old, new = tmp_path / "a.yaml", tmp_path / "b.yaml"
    old.write_text(POLICY)
    new.write_text(POLICY.replace("    probe:", "    description: memory | swap\n    probe:"))
    code, out, _ = run(str(old), str(new), "-o", "markdown")
    assert code == 1
    assert out.endswith("| description |  | `memory \\| swap` |\n")


def test_json_lists_change_objects(sides: tuple[Path, Path]) -> None:
    """-o json: identical flag and change objects with old and new values."""
    code, out, _ = run(str(sides[0]), str(sides[1]), "-o", "json")
    assert code == 1
    assert json.loads(out)["changes"][1] == {
        "policy": "web-memory",
        "change": "changed",
        "field": "limits.max",
        "old": "3",
        "new": "2",
    }


def test_load_errors_exit_two_with_file_and_line(sides: tuple[Path, Path]) -> None:
    """A side that does not load: its errors with file:line on stderr, exit 2."""
    bad = sides[1] / "web.yaml"
    bad.write_text(POLICY.replace("when: percent > 90", "when: percnt > 90"))
    code, out, err = run(str(sides[0]), str(sides[1]))
    assert code == 2 and out == ""
    assert err.startswith(f"{bad}:5:11: policy 'web-memory': field 'percnt' is not")
    assert err.endswith("medic diff: 1 error(s); nothing compared\n")


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],  # noqa: S607 -- git from PATH
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_git_revision_against_working_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """git:REV:PATH reads the set at a revision with real git; errors name git:REV:file."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "web.yaml").write_text(POLICY)
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "policies")
    git(tmp_path, "commit", "-q", "-m", "base")
    (tmp_path / "policies" / "web.yaml").write_text(CHANGED)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("git:main:policies", "policies")
    assert code == 1 and out.endswith("~ web-memory: limits.max 3 -> 2\n")
    git(tmp_path, "commit", "-q", "-am", "tighter")
    assert run("git:HEAD~1:policies", "git:HEAD:policies")[0] == 1
    assert run("git:HEAD:policies", "policies") == (0, "no changes\n", "")
    (tmp_path / "policies" / "web.yaml").write_text("version: 1\npolicies: [")
    git(tmp_path, "commit", "-q", "-am", "broken")
    code, _, err = run("git:HEAD:policies", "git:HEAD~1:policies")
    assert code == 2 and err.startswith("git:HEAD:policies/web.yaml:3:1: not valid YAML")


def test_git_revision_refuses_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A revision that looks like an option is refused before git runs."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run("git:--output=/tmp/x:policies", "policies")
    assert code == 2
    assert err.startswith(
        "git:--output=/tmp/x:policies: not a git revision and path "
        "(hint: write git:REV:PATH, like git:origin/main:policies)"
    )
