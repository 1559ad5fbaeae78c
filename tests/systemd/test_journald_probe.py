"""The ``journald`` probe on a real journal: a systemd container writes it, the host reads it.

The container's journal folder is copied to the host after each write (``journalctl
--sync`` first) and the probe reads the copy with ``directory:``, with the host's own
``journalctl``: real journal files, real cursors.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from kit.systemd_node import docker_cli
from medic.policy.loader import load_text
from medic.probes import probestate
from medic.probes.logs.journal_read import Selection, journal_argv, parse_entries
from medic.probes.logs.journald import JournaldProbe

if TYPE_CHECKING:
    from kit.systemd_node import Node

pytestmark = pytest.mark.integration

# Real `journalctl -o json` lines from the systemd container (systemd 252): a plain
# message, one written with a control character (a list of byte values).
CAPTURED = (
    '{"__CURSOR":"s=8135;i=31;b=6335;m=150523f8b;t=661b3dbbc8522;x=c87c","MESSAGE":"hello '
    'ERROR from 10.0.0.7","PRIORITY":"3","SYSLOG_IDENTIFIER":"medicprobe",'
    '"__REALTIME_TIMESTAMP":"1796274973869346"}\n'
    '{"__CURSOR":"s=8135;i=38;b=6335;m=15449317e;t=661b3dfb37715;x=76d6","MESSAGE":'
    '[98,105,110,1,97,114,121],"__REALTIME_TIMESTAMP":"1796275040384789"}\n'
)


def snapshot(node: Node, dest: Path) -> None:
    """Copy the node's journal folder to ``dest`` (replacing what was there)."""
    node.run("journalctl", "--sync")
    # Copied in the node first: tar of the live folder fails when journald writes meanwhile.
    node.sh("rm -rf /tmp/jc && cp -a /var/log/journal /tmp/jc")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    tar = subprocess.run(
        [docker_cli(), "exec", node.name, "tar", "-C", "/tmp/jc", "-c", "."],
        capture_output=True,
        check=True,
    )
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archive:
        archive.extractall(dest, filter="data")


def read_state(root: Path) -> dict[str, Any]:
    """The one state file under ``root``."""
    (path,) = root.iterdir()
    kept: dict[str, Any] = json.loads(path.read_text())
    return kept


def keep_state(root: Path, key: str, text: str) -> None:
    root.mkdir(parents=True)
    (root / f"{key}.json").write_text(text)


def say(node: Node, tag: str, *lines: str, priority: str = "info") -> None:
    for line in lines:
        node.run("systemd-cat", "-t", tag, "-p", priority, stdin=line + "\n")


async def measure(probe: JournaldProbe) -> dict[str, Any]:
    probe.timeout = 20.0
    out = await asyncio.wait_for(probe.measure(), 30)
    (fields,) = out.values()
    return fields


def test_parser_reads_real_output_and_byte_messages() -> None:
    """Cursors and messages come out; a byte-list MESSAGE is decoded; a cut line ends it."""
    entries, whole = parse_entries(CAPTURED)
    assert whole is True
    assert [e.message for e in entries] == ["hello ERROR from 10.0.0.7", "bin\x01ary"]
    assert entries[-1].cursor.startswith("s=8135;i=38;")
    entries, whole = parse_entries(CAPTURED + '{"__CURSOR":"s=1;i=')
    assert (len(entries), whole) == (2, False)


def test_argv_reads_after_the_cursor_else_since_the_start() -> None:
    """The cursor wins over the start time; filters become journalctl's own options."""
    selection = Selection(unit="xray.service", priority="err", directory="/j")
    argv = journal_argv("journalctl", selection, cursor="s=1;i=2", since=100)
    assert "--after-cursor=s=1;i=2" in argv and "--since=@100" not in argv
    assert {"--unit=xray.service", "--priority=err", "--directory=/j"} <= set(argv)
    assert "--since=@100" in journal_argv("journalctl", selection, cursor=None, since=100)


def test_policy_with_identifier_and_group_loads() -> None:
    """A journald policy naming last_<group> in when: validates."""
    text = (
        "version: 1\npolicies:\n  - name: p\n    probe: {type: journald, unit: a.service, "
        "pattern: 'from (?P<ip>[0-9.]+)'}\n    when: match_count > 1 and last_ip != null\n"
        "    escalate: {notify: [x]}\n"
    )
    assert load_text(text, "p.yaml").errors == ()


@pytest.mark.asyncio
async def test_counts_new_entries_and_restart_neither_rereads_nor_skips(
    bare_node: Node, tmp_path: Path, state_root: Path
) -> None:
    """History is not counted, new entries are; after a restart it resumes at the cursor."""
    tag = f"medic-{uuid.uuid4().hex[:8]}"
    journal = tmp_path / "journal"
    say(bare_node, tag, "history ERROR")
    await asyncio.sleep(1.1)  # the first run starts at the next second
    options = {"identifier": tag, "directory": str(journal), "pattern": "error from (?P<ip>\\S+)"}
    snapshot(bare_node, journal)
    probe = JournaldProbe(options)
    assert (await measure(probe))["lines"] == 0
    say(bare_node, tag, "fine", "ERROR from 10.0.0.7")
    snapshot(bare_node, journal)
    fields = await measure(probe)
    assert (fields["lines"], fields["match_count"], fields["last_ip"]) == (2, 1, "10.0.0.7")
    assert read_state(state_root)["cursor"] == probe.cursor
    say(bare_node, tag, "ERROR from 10.0.0.9")  # written while the agent is down
    snapshot(bare_node, journal)
    again = JournaldProbe(options)  # the restarted agent's probe
    fields = await measure(again)
    assert (fields["lines"], fields["match_count"], fields["last_ip"]) == (1, 1, "10.0.0.9")


@pytest.mark.asyncio
async def test_unit_and_priority_select_entries(
    bare_node: Node, tmp_path: Path, state_root: Path
) -> None:
    """unit: reads that unit's entries only; priority: err drops the info ones."""
    unit = f"medic-j-{uuid.uuid4().hex[:8]}"
    journal = tmp_path / "journal"
    options = {"unit": f"{unit}.service", "directory": str(journal), "pattern": "^boom$"}
    probe = JournaldProbe(options)
    probe.since = 1  # read the whole journal
    probe._loaded = True
    bare_node.run(
        "systemd-run", f"--unit={unit}", "--wait", "sh", "-c", "echo boom; echo boom >&2; echo ok"
    )
    say(bare_node, "other", "boom elsewhere")
    snapshot(bare_node, journal)
    out = await asyncio.wait_for(probe.measure(), 30)
    assert list(out) == [f"{unit}.service"]
    assert out[f"{unit}.service"]["match_count"] == 2
    tag = f"medic-{uuid.uuid4().hex[:8]}"
    say(bare_node, tag, "boom info")
    say(bare_node, tag, "boom err", priority="err")
    snapshot(bare_node, journal)
    strict = JournaldProbe({"identifier": tag, "priority": "err", "directory": str(journal),
                            "pattern": "^boom"})  # fmt: skip
    strict.since, strict._loaded = 1, True
    fields = await measure(strict)
    assert (fields["lines"], fields["last_match"]) == (1, "boom err")


@pytest.mark.asyncio
async def test_a_cursor_the_journal_refuses_starts_again_from_now(
    bare_node: Node, tmp_path: Path, state_root: Path
) -> None:
    """A damaged kept cursor is dropped (no failure for ever) and reading resumes from now."""
    tag = f"medic-{uuid.uuid4().hex[:8]}"
    journal = tmp_path / "journal"
    options = {"identifier": tag, "directory": str(journal), "pattern": "x"}
    key = probestate.state_key("journald", options)
    keep_state(state_root, key, '{"cursor": "garbage", "since": null}')
    say(bare_node, tag, "x before")
    await asyncio.sleep(1.1)  # "from now" has a resolution of one second
    snapshot(bare_node, journal)
    probe = JournaldProbe(options)
    fields = await measure(probe)
    assert fields["lines"] == 0 and probe.cursor is None and probe.since is not None


@pytest.mark.asyncio
async def test_more_output_than_the_bound_skips_ahead(
    bare_node: Node, tmp_path: Path, state_root: Path
) -> None:
    """Past max_bytes the run says truncated and the next one starts at the newest entry."""
    tag = f"medic-{uuid.uuid4().hex[:8]}"
    journal = tmp_path / "journal"
    probe = JournaldProbe({"identifier": tag, "directory": str(journal), "pattern": "x"})
    probe.since, probe._loaded = 1, True
    probe.max_bytes = 600
    say(bare_node, tag, *[f"x line {i}" for i in range(10)])
    snapshot(bare_node, journal)
    fields = await measure(probe)
    assert fields["truncated"] is True and fields["lines"] < 10
    say(bare_node, tag, "x after")
    snapshot(bare_node, journal)
    fields = await measure(probe)
    assert fields["truncated"] is False and fields["last_match"] == "x after"
