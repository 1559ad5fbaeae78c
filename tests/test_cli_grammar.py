"""The CLI's shared grammar: one table renderer, -o on every listing, --out for files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from medic import humanize
from medic.cli import COMMANDS, main, table


def test_tables_fit_the_terminal_by_cutting_free_text() -> None:
    """Wider than COLUMNS: the flexible column is cut with …, fixed ones never are."""
    rows = [["2024-05-01T12:00:00Z", "web", "x" * 200]]
    text = table.render(["TIME", "TARGET", "SUMMARY"], rows, width=60)
    assert max(len(line) for line in text.splitlines()) == 60
    assert "2024-05-01T12:00:00Z  web     xxx" in text and text.endswith("…")
    assert table.render(["A"], [["x" * 200]], width=None).endswith("x")  # a pipe: uncut


def test_columns_env_sets_the_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """COLUMNS is read when sane; nonsense falls back to the terminal (none in a pipe)."""
    monkeypatch.setenv("COLUMNS", "40")
    assert table.terminal_width() == 40
    monkeypatch.setenv("COLUMNS", "9" * 30)
    assert table.terminal_width() is None


def test_humanize_is_the_one_place_for_sizes_and_times() -> None:
    """Sizes in binary units, times to the second with Z, 'ago' coarse."""
    assert humanize.size(270553174016) == "252.0 GiB"
    assert humanize.size(512) == "512 B"
    assert humanize.seconds(-300) == "-5m"
    assert humanize.moment("2024-05-01T12:00:00.123456Z") == "2024-05-01T12:00:00Z"
    assert humanize.moment(None) == "-"
    assert humanize.ago(1_700_000_000 - 190, 1_700_000_000) == "3m ago"


LISTINGS = [
    ["audit", "list"],
    ["audit", "show"],
    ["audit", "incidents"],
    ["audit", "export"],
    ["status"],
    ["silence", "list"],
    ["probe"],
    ["schema"],
    ["fleet", "status"],
    ["fleet", "incidents"],
]


@pytest.mark.parametrize("words", LISTINGS, ids=" ".join)
def test_every_listing_and_show_command_takes_o_output(words: list[str]) -> None:
    """-o/--output FORMAT is on each of them, in the same words."""
    result = CliRunner().invoke(main, [*words, "--help"])
    assert result.exit_code == 0, result.output
    assert "-o, --output" in result.stdout
    assert "Output format [default:" in result.stdout


def test_the_listed_commands_are_every_command_that_prints_data() -> None:
    """A new command must be placed: in LISTINGS, or named here as not a listing."""
    # Commands that act, or print a report of their own (diff: text|markdown|json).
    acting = {"run", "validate", "test", "approve", "deny", "ack", "init", "diff", "backtest"}
    assert set(COMMANDS) - acting == {words[0] for words in LISTINGS}


def test_schema_writes_a_file_with_out_and_refuses_a_file_after_o(tmp_path: Path) -> None:
    """`medic schema --out FILE` writes it; `-o FILE` (the old spelling) says to use --out."""
    out = tmp_path / "s" / "policy.schema.json"
    result = CliRunner().invoke(main, ["schema", "--out", str(out)])
    assert result.exit_code == 0 and json.loads(out.read_text())["$schema"]
    old = CliRunner().invoke(main, ["schema", "-o", str(out)])
    assert old.exit_code == 2
    assert "write to a file with --out FILE" in old.stderr


def test_probe_json_old_flag_and_new_option_agree() -> None:
    """`medic probe host.load -o json` and the hidden `--json` print the same shape."""
    new = CliRunner().invoke(main, ["probe", "host.load", "-o", "json"])
    old = CliRunner().invoke(main, ["probe", "host.load", "--json"])
    assert new.exit_code == old.exit_code == 0, new.output
    assert json.loads(new.stdout).keys() == json.loads(old.stdout).keys()
