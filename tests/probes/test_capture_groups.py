"""Named groups of a log pattern are fields: in when:, in placeholders, under their rules."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from medic.actions.base import ActionContext
from medic.actions.command import CommandAction
from medic.actions.placeholders import Allow, PlaceholderRefused, fill_argv
from medic.patterns import compile_pattern
from medic.policy.loader import load_text
from medic.probes.containers.container_logs import count_lines
from medic.probes.logs.logfile import LogProbe

FAILED = r"Failed password for \S+ from (?P<ip>[0-9a-f.:-]+) port (?P<port>\d+)"


def log_policy(when: str, pattern: str = FAILED) -> str:
    return textwrap.dedent(
        f"""\
        version: 1
        policies:
          - name: ssh-brute
            probe: {{type: log, path: /var/log/auth.log, pattern: '{pattern}'}}
            when: {when}
            remediate:
              - command: {{argv: [/usr/local/sbin/block-ip, "{{last_ip}}"]}}
        """
    )


@pytest.mark.asyncio
async def test_log_probe_yields_the_groups_of_the_latest_matching_line(tmp_path: Path) -> None:
    """last_ip and last_port come from the newest matching line; no match gives None."""
    path = tmp_path / "auth.log"
    path.write_text("")
    probe = LogProbe({"path": str(path), "pattern": FAILED})
    try:
        first = (await probe.measure())[str(path)]
        assert (first["last_ip"], first["last_port"]) == (None, None)
        with path.open("a") as f:
            f.write("Failed password for root from 10.0.0.1 port 4242 ssh2\n")
            f.write("Accepted password for bob from 10.0.0.9 port 1 ssh2\n")
            f.write("Failed password for admin from 192.0.2.7 port 5555 ssh2\n")
        fields = (await probe.measure())[str(path)]
    finally:
        await probe.close()
    assert fields["match_count"] == 2
    assert (fields["last_ip"], fields["last_port"]) == ("192.0.2.7", "5555")


def test_container_log_lines_yield_groups_too() -> None:
    """container.logs counting keeps the latest match's groups, each cut to 500 characters."""
    pattern = compile_pattern(r"status=(?P<status>\d+) path=(?P<path>\S+)")
    chunks = [b"status=200 path=/a\nstatus=503 path=/" + b"x" * 900 + b"\nok\n"]
    found = count_lines(chunks, pattern, 1 << 20).fields()
    assert found["last_status"] == "503"
    assert found["last_path"] == "/" + "x" * 499


def test_when_and_placeholders_may_name_group_fields() -> None:
    """The loader accepts last_<group> in when: and as a step placeholder."""
    result = load_text(
        log_policy('match_count > 5 and last_ip != null and last_port != "22"'), "p.yaml"
    )
    assert result.errors == ()


def test_an_unknown_group_field_is_named_with_the_choices() -> None:
    """A group the pattern lacks is an error with a did-you-mean among its fields."""
    result = load_text(log_policy("last_addr != null"), "p.yaml")
    assert [e.message for e in result.errors] == [
        "field 'last_addr' is not yielded by probe 'log'; did you mean 'last_port'? fields: "
        "file_exists, files, last_ip, last_match, last_port, lines, match_count, rotated, truncated"
    ]


def test_a_group_that_shadows_a_field_is_refused() -> None:
    """(?P<match>...) would yield last_match, which the probe already yields."""
    result = load_text(log_policy("match_count > 0", pattern="x(?P<match>y)"), "p.yaml")
    assert [e.message for e in result.errors] == [
        "probe 'log': pattern: the group (?P<match>...) would yield last_match, which the "
        "probe already yields; rename the group"
    ]


def test_a_captured_value_meets_the_placeholder_rules() -> None:
    """A log line cannot smuggle an option or a path through a group's value."""
    argv = ["/usr/local/sbin/block-ip", "{last_ip}"]
    with pytest.raises(PlaceholderRefused, match="would be read as an option"):
        fill_argv(argv, {"last_ip": "--all"}, Allow())
    with pytest.raises(PlaceholderRefused, match="may not hold '/'"):
        fill_argv(["/var/lib/bans/{last_ip}"], {"last_ip": "../../etc/passwd"}, Allow())
    ctx = ActionContext("p", "/var/log/auth.log", "i", {"last_ip": "10.0.0.1"}, 5.0)
    assert "block-ip 10.0.0.1" in CommandAction({"argv": argv}).describe(ctx)
