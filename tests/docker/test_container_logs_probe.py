"""The ``container.logs`` probe against the real engine: counting lines in a window."""

from __future__ import annotations

from typing import Any

import pytest

from medic.patterns import compile_pattern
from medic.probes.containers.container_logs import ContainerLogsProbe, count_lines

BURST = (
    "echo starting; "
    'for i in 1 2 3 4 5; do echo "ERROR: upstream failed $i" >&2; done; '
    "echo 'all good'; exec sleep 3600"
)


def log_lines(container: Any) -> int:
    return len(container.logs().splitlines())


async def measure(options: dict[str, Any], max_bytes: int | None = None) -> dict[str, Any]:
    probe = ContainerLogsProbe(options)
    if max_bytes is not None:
        probe.max_bytes = max_bytes
    try:
        return await probe.measure()
    finally:
        await probe.close()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_counts_an_error_burst(run_container: Any, wait_until: Any) -> None:
    """Matching lines from stdout and stderr are counted; the last one is kept."""
    container = run_container("sh", "-c", BURST)
    wait_until(lambda: log_lines(container) == 7, what="7 log lines")
    found = await measure({"name": container.name, "pattern": r"error: upstream"})
    assert found == {
        container.name: {
            "match_count": 5,
            "lines": 7,
            "last_match": "ERROR: upstream failed 5",
            "truncated": False,
        }
    }


@pytest.mark.integration
@pytest.mark.asyncio
async def test_ignore_case_false_is_exact(run_container: Any, wait_until: Any) -> None:
    """With ignore_case: false the pattern's case must match."""
    container = run_container("sh", "-c", BURST)
    wait_until(lambda: log_lines(container) == 7, what="7 log lines")
    options = {"name": container.name, "pattern": "error", "ignore_case": False}
    fields = (await measure(options))[container.name]
    assert fields["match_count"] == 0
    assert fields["last_match"] is None
    assert fields["lines"] == 7


@pytest.mark.integration
@pytest.mark.asyncio
async def test_window_leaves_older_lines_out(run_container: Any, wait_until: Any) -> None:
    """Only lines logged within the window are read."""
    script = "echo 'ERROR old'; sleep 2; echo 'ERROR new'; exec sleep 3600"
    container = run_container("sh", "-c", script)
    wait_until(lambda: log_lines(container) == 2, what="the second log line")
    found = await measure({"name": container.name, "pattern": "error", "window": "1s"})
    assert found[container.name]["lines"] == 1
    assert found[container.name]["last_match"] == "ERROR new"
    found = await measure({"name": container.name, "pattern": "error", "window": "1h"})
    assert found[container.name]["match_count"] == 2


@pytest.mark.integration
@pytest.mark.asyncio
async def test_read_is_capped(run_container: Any, wait_until: Any) -> None:
    """A log larger than the cap is read up to the cap and marked truncated."""
    container = run_container("sh", "-c", "yes line | head -n 20000; exec sleep 3600")
    wait_until(lambda: log_lines(container) == 20000, what="20000 log lines")
    found = await measure({"name": container.name, "pattern": "line"}, max_bytes=4096)
    # 4096 bytes hold 819 whole "line\n" lines; the cut last line is not counted.
    assert found[container.name] == {
        "match_count": 819,
        "lines": 819,
        "last_match": "line",
        "truncated": True,
    }


@pytest.mark.integration
@pytest.mark.asyncio
async def test_selects_like_the_container_probe(
    run_container: Any, wait_until: Any, unique: str
) -> None:
    """Label selection gives one target per container, stopped ones included."""
    running = run_container("sh", "-c", BURST, labels={"run": unique})
    stopped = run_container("sh", "-c", "echo 'ERROR once'", labels={"run": unique})
    ignored = run_container("sh", "-c", BURST, labels={"run": unique, "medic.ignore": "true"})
    stopped.wait(timeout=10)
    wait_until(lambda: log_lines(running) == 7, what="7 log lines")
    found = await measure({"labels": {"run": unique}, "pattern": "error"})
    assert set(found) == {running.name, stopped.name}
    assert found[stopped.name]["match_count"] == 1
    assert ignored.name not in found


def test_count_lines_joins_lines_split_across_chunks() -> None:
    """Lines cut between chunks are counted once; a last line without newline counts."""
    chunks = [b"ERR", b"OR one\nfine\nERROR t", b"wo"]
    found = count_lines(chunks, compile_pattern("error", ignore_case=True), 1024)
    assert (found.match_count, found.lines, found.last_match) == (2, 3, "ERROR two")
    assert found.truncated is False


def test_last_match_is_truncated_to_500_characters() -> None:
    """A long matching line is kept to its first 500 characters."""
    found = count_lines([b"E" * 2000 + b"\n"], compile_pattern("E"), 1 << 20)
    assert found.last_match == "E" * 500


def test_validate_messages() -> None:
    """validate() reports a bad regex, a bad window and a missing selector."""
    assert ContainerLogsProbe.validate({"name": "web", "pattern": "(unclosed"}) == [
        "pattern '(unclosed': invalid regex: missing ) to close `(` (character 1 of the "
        "pattern); close the group, or write \\( for a literal ("
    ]
    assert ContainerLogsProbe.validate({"name": "web", "pattern": "x", "window": "ten"}) == [
        "window: 'ten' is not a duration: write a number with a unit, "
        "like 500ms, 30s, 5m, 1h or 1h30m"
    ]
    assert ContainerLogsProbe.validate({"pattern": "x"}) == [
        "choose the containers with exactly one of name, id, labels, compose or opt_in_label"
    ]
